"""Visit results: the fused visit score with its uncertainty, each clip's quality, measures
beside their healthy ranges, the explanation panels and a plain-language summary.

Opened with ?visit=<id> (the same query parameter as the Visit page)."""
import streamlit as st

from core.config import settings
from core.store import repository
from core.visits import latest_visit_score, score_visit
from dashboard import state
from dashboard.formatting import escape_markdown
from dashboard.widgets import results as panels

visit_id = state.id_from_query("visit")
visit = None
if visit_id is not None:
    visit = state.read(lambda s, actor: repository.get_visit(s, actor, visit_id))
if visit is None:
    st.title("Visit results")
    st.info("No visit chosen, or this visit does not exist. Open a patient and choose one of their visits.")
    st.page_link(state.PATIENTS_PAGE, label="Back to patients", icon=":material/arrow_back:")
    st.stop()

with state.session() as s:
    patient = repository.get_patient(s, state.actor(s), visit.patient_id)
    recordings = repository.list_recordings(s, visit.id)
    latest = {}
    for a in repository.list_assessments(s, visit.id):
        if a.recording_id is not None:
            _ = list(a.measures)  # load while the session is open (an assignment: no Streamlit magic)
            latest[a.recording_id] = a
    fused = latest_visit_score(s, visit.id)

st.page_link(state.VISIT_PAGE, label="Back to the visit", icon=":material/arrow_back:",
             query_params={"visit": str(visit.id)})
st.title(f"Results of the visit of {visit.visit_date.isoformat()}")
st.caption(f"{escape_markdown(patient.name)} · MRN {escape_markdown(patient.mrn)}")

if recordings and st.button("Recompute the visit score", icon=":material/refresh:",
                            help="Fuse the latest score of every recording of this visit again."):
    with state.session() as s:
        score_visit(state.store(), state.actor(s).id, visit.id)
    st.rerun()

panels.fused_panel(fused, panels.branch_rows_from(fused))

st.subheader("Recordings")
if not recordings:
    st.info("No recordings in this visit yet.")
per_recording_lines: list[str] = []
data_dir = settings().data_dir
for recording in recordings:
    per_recording_lines += panels.recording_panel(recording, latest.get(recording.id), data_dir)

panels.summary_panel(panels.visit_summary_lines(fused, per_recording_lines))
