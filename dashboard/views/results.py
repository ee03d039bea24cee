"""Visit results: the fused visit score with its uncertainty, each clip's quality, measures
beside their healthy ranges, the explanation panels and a plain-language summary.

Opened with ?visit=<id> (the same query parameter as the Visit page)."""
import streamlit as st

from core.store import repository
from core.visits import counting_clips, current_visit_score, score_visit
from dashboard import state
from dashboard.formatting import escape_markdown
from dashboard.widgets import chrome, clips, visit_summary
from dashboard.widgets import results as panels

visit, patient = state.require_visit("Visit results")

with state.session() as s:
    tasks = counting_clips(s, visit.id)
    for task_clips in tasks:
        if task_clips.assessment is not None:
            _ = list(task_clips.assessment.measures)  # load while the session is open
    shown_failed = {}
    for task_clips in tasks:
        usable = [r for r in task_clips.others if r.excluded_reason is None]
        if task_clips.counting is None and usable:  # nothing usable: show the latest attempt
            latest = usable[-1]
            current = [a for a in repository.list_assessments(s, visit.id) if a.recording_id == latest.id]
            for a in current:
                _ = list(a.measures)
            shown_failed[(task_clips.task, task_clips.side)] = (latest, current[-1] if current else None)
    fused = current_visit_score(s, visit.id)

chrome.back_to_visit(visit)
st.title(f"Results of the visit of {visit.visit_date.isoformat()}")
chrome.patient_caption(patient)
chrome.demo_patient_note(patient)

if tasks and st.button("Recompute the visit score", icon=":material/refresh:",
                       help="Fuse the scores of the clips that count again."):
    with state.session() as s:
        score_visit(state.store(), state.actor(s).id, visit.id)
    st.rerun()

panels.fused_panel(fused, panels.branch_rows_from(fused))
visit_summary.ratings_caption(visit)
visit_summary.summary_download(visit.id, patient.id, visit.visit_date.isoformat(), key="results_summary",
                               note=chrome.demo_note(patient))

st.subheader("Recordings")
if not tasks:
    st.info("No recordings in this visit yet.")
per_recording_lines: list[str] = []
data_dir = state.data_dir()
for task_clips in tasks:
    st.markdown(escape_markdown(clips.counting_line(task_clips)))
    if task_clips.counting is not None:
        per_recording_lines += panels.recording_panel(task_clips.counting, task_clips.assessment, data_dir)
    elif (task_clips.task, task_clips.side) in shown_failed:
        recording, assessment = shown_failed[(task_clips.task, task_clips.side)]
        per_recording_lines += panels.recording_panel(recording, assessment, data_dir)
    clips.other_clips(task_clips)

panels.summary_panel(panels.visit_summary_lines(fused, per_recording_lines))
