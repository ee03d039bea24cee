"""The one-page visit summary PDF (core.reports.visit_summary_pdf) as a prepare-then-download
pair of buttons, and the visit's part III total line: used on the results and reports pages.
Building the PDF is audited like every export (kind "visit_summary", ids only)."""
from __future__ import annotations

import streamlit as st

from core.reports import audit_export, visit_summary_pdf
from dashboard import state
from dashboard.widgets.ratings import part3_total_line, stopwatch_lines


def _kept_key(visit_id: int) -> str:
    return f"visit_summary_pdf_{visit_id}"


def summary_download(visit_id: int, patient_id: int, visit_date: str, key: str, note: str | None = None) -> None:
    """'Prepare visit summary (PDF)', then its download button (kept for this browser session).
    `note`: the demo database's provenance sentence for this patient (chrome.demo_note).
    A role that may not export identified data (a reviewer) is told so instead."""
    if not state.may("export_identified"):
        st.caption(f"Visit summary (PDF): {state.cannot('export_identified')}")
        return
    if st.button("Prepare visit summary (PDF)", key=f"{key}_prepare", icon=":material/picture_as_pdf:",
                 help="One page for the chart: the visit score and what it means, measures beside their healthy "
                      "ranges and the patient's baseline, ratings beside the app's estimates, changes flagged."):
        with st.spinner("Building the visit summary..."), state.session() as s:
            data = visit_summary_pdf(s, visit_id, note=note)
            audit_export(s, state.actor(s), "visit_summary", patient_id, f"visit={visit_id}")
        st.session_state[_kept_key(visit_id)] = data
    data = st.session_state.get(_kept_key(visit_id))
    if data is not None:
        st.download_button(f"Download visit summary ({len(data) / 1024:.0f} kB)", data,
                           file_name=f"pdlens-visit-summary-{patient_id}-{visit_date}.pdf", mime="application/pdf",
                           key=f"{key}_download", icon=":material/download:")


def ratings_caption(visit) -> None:
    """'Clinician ratings: MDS-UPDRS part III total ...' with a link to the ratings page."""
    columns = st.columns([3, 1])
    columns[0].caption(f"Clinician ratings: {part3_total_line(visit.id)}.")
    columns[1].page_link(state.RATINGS_PAGE, label="Clinician ratings", icon=":material/checklist:",
                         query_params={"visit": str(visit.id)})


def stopwatch_caption(visit) -> None:
    """Each outcome test's stopwatch time beside its video time ("TUG: video 12.4 s, stopwatch
    12.1 s"), as plain text; nothing when the visit has neither."""
    for line in stopwatch_lines(visit.id):
        st.text(line)
