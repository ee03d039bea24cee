"""One visit: its details and recordings, and the way to its capture, results and ratings."""
import pandas as pd
import streamlit as st

from core.capture import STATUS_LABELS
from core.store import repository
from core.tasks import TASKS
from dashboard import state
from dashboard.formatting import MEDICATION_LABELS, hours_text, label
from dashboard.widgets import chrome
from dashboard.widgets.facts import facts

visit, patient = state.require_visit("Visit")

with state.session() as s:
    recordings = repository.list_recordings(s, visit.id)
    clinician = s.merge(visit, load=True).clinician
    clinician_name = clinician.display_name if clinician else "not recorded"

chrome.back_to_patient(patient)
st.title(f"Visit of {visit.visit_date.isoformat()}")
chrome.patient_caption(patient)
chrome.demo_patient_note(patient)

facts(
    [
        ("Medication state", label(MEDICATION_LABELS, visit.medication_state)),
        ("Hours since last levodopa dose", hours_text(visit.hours_since_dose) or "not recorded"),
        ("Clinician", clinician_name),
    ]
)
if visit.notes:
    st.markdown("**Notes**")
    st.text(visit.notes)

visit_query = {"visit": str(visit.id)}
st.subheader("Recordings")
st.page_link(state.CAPTURE_PAGE, label="Record or upload clips for this visit", icon=":material/videocam:",
             query_params=visit_query)
if not recordings:
    st.info("No recordings in this visit yet: record the standard tasks or upload clinic clips.",
            icon=":material/mic:")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "Task": [TASKS[r.task].label if r.task in TASKS else r.task for r in recordings],
                "Side": [r.side or "" for r in recordings],
                "Status": [label(STATUS_LABELS, r.status) for r in recordings],
                "Duration (s)": [r.duration_s for r in recordings],
                "Source": [r.source for r in recordings],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"Duration (s)": st.column_config.NumberColumn(format="%.1f")},
    )

results_link, ratings_link = st.columns(2)
results_link.page_link(state.RESULTS_PAGE, label="Results and explanations", icon=":material/insights:",
                       query_params=visit_query)
ratings_link.page_link(state.RATINGS_PAGE, label="Clinician ratings (MDS-UPDRS)", icon=":material/rate_review:",
                       query_params=visit_query)
