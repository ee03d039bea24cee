"""One patient: demographics, edit, archive, visits, new visit."""
import pandas as pd
import streamlit as st

from core.capture import checklist, checklist_status
from core.store import repository
from core.visits import current_visit_score
from dashboard import state
from dashboard.formatting import (
    DIAGNOSIS_LABELS,
    MEDICATION_LABELS,
    SEX_LABELS,
    SIDE_LABELS,
    age_years,
    escape_markdown,
    hours_text,
    label,
    plural,
)
from dashboard.widgets import chrome
from dashboard.widgets.facts import facts
from dashboard.widgets.patient_form import height_text, patient_fields
from dashboard.widgets.tables import table_opening
from dashboard.widgets.visit_form import visit_fields

patient = state.require_patient("Patient")

with state.session() as s:
    visits = repository.list_visits(s, patient.id)
    statuses, scores = {}, {}
    for visit in visits:
        recordings = repository.list_recordings(s, visit.id)
        statuses[visit.id] = checklist_status(checklist(recordings))
        if not recordings and repository.list_assessments(s, visit.id):
            statuses[visit.id] = "Imported measures, no clips"  # e.g. the demo's telemonitoring visits
        score = current_visit_score(s, visit.id)
        scores[visit.id] = "" if score is None else ("not scored" if score.probability is None
                                                     else f"{score.probability:.2f}")

st.page_link(state.PATIENTS_PAGE, label="All patients", icon=":material/arrow_back:")
st.title(escape_markdown(patient.name))
chrome.demo_patient_note(patient)
if patient.archived:
    st.warning("This patient is archived: hidden from the patient list, kept in the record.", icon=":material/inventory_2:")

facts(
    [
        ("MRN", patient.mrn),
        ("Birth date", f"{patient.birth_date.isoformat()} (age {age_years(patient.birth_date)})"),
        ("Sex", label(SEX_LABELS, patient.sex)),
        ("Diagnosis", label(DIAGNOSIS_LABELS, patient.diagnosis)),
        ("More affected side", label(SIDE_LABELS, patient.more_affected_side)),
        ("Height", f"{height_text(patient.height_cm)} cm" if patient.height_cm else "not recorded"),
    ],
    per_row=6,
)
trends_link, compare_link, reports_link = st.columns(3)
trends_link.page_link(state.TRENDS_PAGE, label="Trends over visits", icon=":material/monitoring:",
                      query_params={"patient": str(patient.id)})
compare_link.page_link(state.COMPARE_PAGE, label="Compare two visits", icon=":material/compare_arrows:",
                       query_params={"patient": str(patient.id)})
reports_link.page_link(state.REPORTS_PAGE, label="Reports and exports", icon=":material/description:",
                       query_params={"patient": str(patient.id)})

# --- visits -----------------------------------------------------------------------------------
st.subheader("Visits")
if not visits:
    st.info("No visits yet - create the first one below.", icon=":material/event:")
else:
    table = pd.DataFrame(
        {
            "Date": [visit.visit_date for visit in visits],
            "Medication": [label(MEDICATION_LABELS, visit.medication_state) for visit in visits],
            "Hours since dose": [hours_text(visit.hours_since_dose) for visit in visits],
            "Status": [statuses[visit.id] for visit in visits],
            "Visit score": [scores[visit.id] for visit in visits],
        }
    )
    st.caption(f"{plural(len(visits), 'visit')} · click a visit to open it. Visit score: 0 = like the healthy "
               "reference, 1 = Parkinson-like pattern (decision support, not a diagnosis).")
    table_opening(table, [visit.id for visit in visits], state.VISIT_PAGE, "visit", "visit_table",
                  column_config={"Date": st.column_config.DateColumn("Date", format="YYYY-MM-DD")})

if state.may("edit_record"):
    with st.expander("New visit", expanded=not visits, icon=":material/event:"):
        with st.form("new_visit"):
            fields = visit_fields("new_visit")
            submitted = st.form_submit_button("Create visit", type="primary")
        if submitted:
            visit = state.write(
                lambda s, actor: repository.create_visit(s, actor, patient.id, **fields)
            )
            if visit is not None:
                state.flash(f"Visit of {visit.visit_date.isoformat()} created.")
                st.switch_page(state.VISIT_PAGE, query_params={"visit": str(visit.id)})
else:
    st.caption(state.cannot("edit_record"))
    st.stop()  # nor the corrections and archiving below

# --- edit and archive -------------------------------------------------------------------------
with st.expander("Correct patient details", icon=":material/edit:"):
    with st.form(f"edit_patient_{patient.id}"):
        fields = patient_fields(f"edit_patient_{patient.id}", patient)
        saved = st.form_submit_button("Save changes", type="primary")
    if saved:
        updated = state.write(lambda s, actor: repository.update_patient(s, actor, patient.id, **fields))
        if updated is not None:
            state.flash("Patient details saved.")
            st.rerun()

confirm_key = f"confirm_archive_{patient.id}"
action = "Unarchive" if patient.archived else "Archive"
if not st.session_state.get(confirm_key):
    if st.button(f"{action} patient", icon=":material/inventory_2:", key="archive"):
        st.session_state[confirm_key] = True
        st.rerun()
else:
    if patient.archived:
        st.warning("Unarchive this patient? They will appear in the patient list again.")
    else:
        st.warning("Archive this patient? They disappear from the patient list; nothing is deleted.")
    yes_column, no_column, _ = st.columns([1, 1, 4])
    if yes_column.button(f"Yes, {action.lower()}", type="primary", key="archive_confirm"):
        change = repository.unarchive_patient if patient.archived else repository.archive_patient
        st.session_state[confirm_key] = False
        if state.write(lambda s, actor: change(s, actor, patient.id) or True) is not None:
            state.flash(f"Patient {'unarchived' if patient.archived else 'archived'}.")
            st.rerun()
    if no_column.button("Cancel", key="archive_cancel"):
        st.session_state[confirm_key] = False
        st.rerun()
