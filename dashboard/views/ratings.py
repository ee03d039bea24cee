"""Clinician ratings of one visit (?visit=ID): MDS-UPDRS part III items, Hoehn & Yahr and the
outcome tests (balance totals, six-minute walk, stopwatch times), and the app's scores and video
times next to them."""
import streamlit as st

from dashboard import state
from dashboard.formatting import MEDICATION_LABELS, label
from dashboard.widgets import chrome
from dashboard.widgets.ratings import rating_vs_score_table, ratings_form, stopwatch_lines

visit, patient = state.require_visit("Clinician ratings")

chrome.back_to_visit(visit)
st.title(f"Clinician ratings · {visit.visit_date.isoformat()}")
chrome.patient_caption(patient, f"medication {label(MEDICATION_LABELS, visit.medication_state)}")
chrome.demo_patient_note(patient)
st.caption("MDS-UPDRS part III: 33 scores (items 3.1-3.18, per side or body part where the scale rates them), "
           "0 normal, 1 slight, 2 mild, 3 moderate, 4 severe; the part III total once all 33 are rated. "
           "Modified Hoehn & Yahr stage. Outcome tests: totals and times as entered, beside the video times.")
if state.may("rate"):
    ratings_form(visit.id)
else:
    st.info(state.cannot("rate"))
for line in stopwatch_lines(visit.id):
    st.text(line)

st.subheader("Rating vs app score")
table = rating_vs_score_table(patient.id, visit.id)
if table.empty:
    st.info("No model score stored for this visit yet.")
st.dataframe(table, hide_index=True, width="stretch")
st.page_link(state.TRENDS_PAGE, label="Ratings and measures over time", icon=":material/show_chart:",
             query_params={"patient": str(patient.id)})
