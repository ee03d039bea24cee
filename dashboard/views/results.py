"""Visit results: the fused visit score with its uncertainty, each clip's quality, measures
beside their healthy ranges, the explanation panels and a plain-language summary.

Opened with ?visit=<id> (the same query parameter as the Visit page)."""
import streamlit as st

from core.store import repository
from core.visits import latest_visit_score, score_visit
from dashboard import state
from dashboard.widgets import chrome
from dashboard.widgets import results as panels

visit, patient = state.require_visit("Visit results")

with state.session() as s:
    recordings = repository.list_recordings(s, visit.id)
    latest = {}
    for a in repository.list_assessments(s, visit.id):
        if a.recording_id is not None:
            _ = list(a.measures)  # load while the session is open (an assignment: no Streamlit magic)
            latest[a.recording_id] = a
    fused = latest_visit_score(s, visit.id)

chrome.back_to_visit(visit)
st.title(f"Results of the visit of {visit.visit_date.isoformat()}")
chrome.patient_caption(patient)
chrome.demo_patient_note(patient)

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
data_dir = state.data_dir()
for recording in recordings:
    per_recording_lines += panels.recording_panel(recording, latest.get(recording.id), data_dir)

panels.summary_panel(panels.visit_summary_lines(fused, per_recording_lines))
