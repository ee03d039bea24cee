"""Clinician ratings of one visit (?visit=ID): MDS-UPDRS part III items and Hoehn & Yahr, and
the app's scores next to them."""
import streamlit as st

from core.store import repository
from dashboard import state
from dashboard.formatting import MEDICATION_LABELS, escape_markdown, label
from dashboard.widgets.ratings import rating_vs_score_table, ratings_form

visit_id = state.id_from_query("visit")
visit = state.read(lambda s, actor: repository.get_visit(s, actor, visit_id)) if visit_id is not None else None
if visit is None:
    st.title("Clinician ratings")
    st.info("No visit chosen, or this visit does not exist. Open a patient and choose one of their visits.")
    st.page_link(state.PATIENTS_PAGE, label="Back to patients", icon=":material/arrow_back:")
    st.stop()

with state.session() as s:
    patient = repository.get_patient(s, state.actor(s), visit.patient_id)

st.page_link(state.VISIT_PAGE, label=f"Back to the visit of {visit.visit_date.isoformat()}",
             icon=":material/arrow_back:", query_params={"visit": str(visit.id)})
st.title(f"Clinician ratings · {visit.visit_date.isoformat()}")
st.caption(f"{escape_markdown(patient.name)} · medication {label(MEDICATION_LABELS, visit.medication_state)}. "
           "MDS-UPDRS part III items 0-4 (per side where the scale rates sides); modified Hoehn & Yahr.")
ratings_form(visit.id)

st.subheader("Rating vs app score")
table = rating_vs_score_table(patient.id, visit.id)
if table.empty:
    st.info("No model score stored for this visit yet.")
st.dataframe(table, hide_index=True, width="stretch")
st.page_link("views/trends.py", label="Ratings and measures over time", icon=":material/show_chart:",
             query_params={"patient": str(patient.id)})
