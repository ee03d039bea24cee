"""Visit results: the fused visit score with its uncertainty, each clip's quality, measures
beside their healthy ranges, the explanation panels and a plain-language summary.

Opened with ?visit=<id> (the same query parameter as the Visit page)."""
import streamlit as st

from core.clinic_models import estimate_text, visit_estimates
from core.visits import counting_clips, current_visit_score, score_visit
from dashboard import state
from dashboard.formatting import escape_markdown
from dashboard.widgets import chrome, clips, floor_marks, visit_summary
from dashboard.widgets import results as panels

visit, patient = state.require_visit("Visit results")

with state.session() as s:
    tasks = counting_clips(s, visit.id)
    for task_clips in tasks:
        for a in task_clips.assessments.values():
            _ = list(a.measures)  # load while the session is open
    fused = current_visit_score(s, visit.id)
    estimates = [estimate_text(a) for a in visit_estimates(s, visit.id)]

chrome.back_to_visit(visit)
st.title(f"Results of the visit of {visit.visit_date.isoformat()}")
chrome.patient_caption(patient)
chrome.demo_patient_note(patient)

if tasks and state.may("record") and st.button("Recompute the visit score", icon=":material/refresh:",
                       help="Fuse the scores of the clips that count again."):
    with state.session() as s:
        score_visit(state.store(), state.actor(s).id, visit.id)
    st.rerun()

panels.fused_panel(fused, panels.branch_rows_from(fused))
if estimates:  # the clinic's own active models (Models page), each naming its version
    st.subheader("Clinic model estimates")
    for line in estimates:
        st.markdown("- " + escape_markdown(line))
visit_summary.ratings_caption(visit)
visit_summary.stopwatch_caption(visit)
visit_summary.summary_download(visit.id, patient.id, visit.visit_date.isoformat(), key="results_summary",
                               note=chrome.demo_note(patient))

st.subheader("Recordings")
if not tasks:
    st.info("No recordings in this visit yet.")
per_recording_lines: list[str] = []
data_dir = state.data_dir()
for task_clips in tasks:
    st.markdown(escape_markdown(clips.counting_line(task_clips)))
    shown = task_clips.counting or task_clips.latest_attempt  # nothing usable: the latest attempt
    if shown is not None:
        per_recording_lines += panels.recording_panel(shown, task_clips.assessments.get(shown.id), data_dir)
        if shown.task == "gait_speed":  # the walk's scale: floor marks clicked on a frame
            if state.may("record"):
                floor_marks.floor_marks_panel(shown, data_dir, patient.height_cm)
    clips.other_clips(task_clips)

panels.summary_panel(panels.visit_summary_lines(fused, per_recording_lines))
