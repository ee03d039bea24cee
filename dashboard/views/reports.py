"""Reports and exports: the chart PDF, CSV / Parquet of measures, scores and ratings (one
patient or the clinic, optionally de-identified) and FHIR R4 JSON. Every export is audited."""
import io
import tempfile
from datetime import date

import streamlit as st

from core.reports import audit_export, check_export, export_chunks, export_salt, fhir_json, patient_pdf, write_csv, write_parquet
from dashboard import state
from core.store import repository
from dashboard.formatting import MEDICATION_LABELS, label
from dashboard.widgets import chrome, visit_summary

patient = state.patient_from_query()

if patient is not None:
    chrome.back_to_patient(patient)
st.title("Reports and exports")
if patient is not None:
    chrome.patient_caption(patient)
    chrome.demo_patient_note(patient)
else:
    st.caption("No patient chosen: clinic-wide exports only. For one patient's PDF report or FHIR export, "
               "open the patient and choose Reports and exports.")

scope_options = (["patient", "clinic"] if patient is not None else ["clinic"])
scope = st.radio("Table export of", scope_options, horizontal=True, key="reports_scope",
                 format_func={"patient": "this patient", "clinic": "the whole clinic"}.get)
identified_allowed = state.may("export_identified")
if not identified_allowed:
    st.session_state["reports_deidentified"] = True
deidentified = st.checkbox(
    "De-identified (research): no name, MRN or birth date; salted-hash pseudonym; age in years; "
    "dates as days since the patient's first visit", key="reports_deidentified", disabled=not identified_allowed,
    help=None if identified_allowed else state.cannot("export_identified"))
ids = [patient.id] if scope == "patient" else None
stem = f"pdlens-{'patient-' + str(patient.id) if scope == 'patient' else 'clinic'}-{date.today().isoformat()}"
detail = f"scope={scope} deidentified={'yes' if deidentified else 'no'}"


def prepared(key: str):
    return st.session_state.get(f"reports_file_{key}")


def keep(key: str, data: bytes, name: str, mime: str) -> None:
    st.session_state[f"reports_file_{key}"] = (data, name, mime)


def export_table(kind: str) -> bytes:
    salt = export_salt() if deidentified else None
    with state.session() as s:
        check_export(s, state.actor(s), identified=not deidentified)
        chunks = export_chunks(s, ids, deidentified=deidentified, salt=salt)
        if kind == "csv":
            text = io.StringIO()
            write_csv(chunks, text, deidentified)
            data = text.getvalue().encode()
        else:
            with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
                write_parquet(chunks, spool, deidentified)
                spool.seek(0)
                data = spool.read()
        audit_export(s, state.actor(s), kind, ids[0] if ids else None, detail)
    return data


columns = st.columns(4)
if not identified_allowed:
    st.caption(f"PDF report: {state.cannot('export_identified')}")
if patient is not None and identified_allowed and columns[0].button("Prepare PDF report", key="reports_prepare_pdf", icon=":material/picture_as_pdf:"):
    with st.spinner("Building the report..."), state.session() as s:
        report = patient_pdf(s, patient.id, note=chrome.demo_note(patient))
        audit_export(s, state.actor(s), "pdf", patient.id)
    keep("pdf", report.data, f"{stem}.pdf", "application/pdf")
if columns[1].button("Prepare CSV", key="reports_prepare_csv", icon=":material/table:"):
    keep("csv", export_table("csv"), f"{stem}{'-deid' if deidentified else ''}.csv", "text/csv")
if columns[2].button("Prepare Parquet", key="reports_prepare_parquet", icon=":material/dataset:"):
    keep("parquet", export_table("parquet"), f"{stem}{'-deid' if deidentified else ''}.parquet",
         "application/vnd.apache.parquet")
if patient is not None and columns[3].button("Prepare FHIR JSON", key="reports_prepare_fhir", icon=":material/share:"):
    with state.session() as s:
        text = fhir_json(s, patient.id, include_identity=not deidentified)
        audit_export(s, state.actor(s), "fhir", patient.id, f"deidentified={'yes' if deidentified else 'no'}")
    keep("fhir", text.encode(), f"{stem}.fhir.json", "application/fhir+json")

for key, title in (("pdf", "PDF report"), ("csv", "CSV"), ("parquet", "Parquet"), ("fhir", "FHIR R4 Bundle")):
    ready = prepared(key)
    if ready is not None:
        data, name, mime = ready
        st.download_button(f"Download {title} ({len(data) / 1024:.0f} kB)", data, file_name=name, mime=mime,
                           key=f"reports_download_{key}", icon=":material/download:")

if patient is not None:
    st.subheader("One visit")
    with state.session() as s:
        visits = [(v.id, v.visit_date.isoformat(), v.medication_state) for v in repository.list_visits(s, patient.id)]
    if not visits:
        st.info("This patient has no visit yet.")
    else:
        visits.sort(key=lambda v: (v[1], v[0]), reverse=True)  # latest first
        labels = {vid: f"{day} (medication {label(MEDICATION_LABELS, med)})" for vid, day, med in visits}
        chosen = st.selectbox("Visit", [v[0] for v in visits], format_func=labels.get, key="reports_visit")
        day = next(v[1] for v in visits if v[0] == chosen)
        visit_summary.summary_download(chosen, patient.id, day, key="reports_summary", note=chrome.demo_note(patient))
        st.page_link(state.COMPARE_PAGE, label="Compare two visits", icon=":material/compare_arrows:",
                     query_params={"patient": str(patient.id)})

st.caption("Exports are recorded in the audit log (kind and scope only). The PDF and FHIR scores are decision "
           "support, not a diagnosis.")
