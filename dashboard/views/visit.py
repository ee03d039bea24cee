"""One visit: its details and recordings, and the way to its capture, results and ratings."""
import streamlit as st

from core.pipeline import UnusableInput
from core.store import PermissionDenied, ValidationError, repository
from core.visits import automatic_clip, choose_clip, counting_clips, exclude_clip, include_clip, relabel_clip
from dashboard import state
from dashboard.formatting import MEDICATION_LABELS, hours_text, label
from dashboard.widgets import chrome, clips
from dashboard.widgets.facts import facts
from dashboard.widgets.visit_form import edit_visit_form

visit, patient = state.require_visit("Visit")

with state.session() as s:
    recordings = repository.list_recordings(s, visit.id)
    tasks = counting_clips(s, visit.id)
    clinician = s.merge(visit, load=True).clinician
    clinician_name = clinician.display_name if clinician else "not recorded"



DONE = {"choose": "This clip now counts for its task.", "automatic": "The automatic choice applies again.",
        "exclude": "The clip is excluded.", "include": "The clip is included again.",
        "relabel": "The clip was relabelled and analysed again."}


def correct_clip(kind: str, recording_id: int, **args) -> str | None:
    """Run one correction of a clip through core.visits; the visit is scored again. Returns the
    problem to show, or None (and a message for the next run)."""
    try:
        with state.session() as s:
            actor_id = state.actor(s).id
        sessions = state.store()
        if kind == "choose":
            choose_clip(sessions, actor_id, recording_id)
        elif kind == "automatic":
            automatic_clip(sessions, actor_id, recording_id)
        elif kind == "exclude":
            exclude_clip(sessions, actor_id, recording_id, args["reason"])
        elif kind == "include":
            include_clip(sessions, actor_id, recording_id)
        elif kind == "relabel":
            with st.spinner("Analysing the clip again..."):
                relabel_clip(sessions, actor_id, recording_id, args["task"], args["side"], state.data_dir())
    except (ValidationError, PermissionDenied, UnusableInput) as problem:
        return str(problem)
    state.flash(DONE[kind])
    return None


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
if state.may("record"):
    st.page_link(state.CAPTURE_PAGE, label="Record or upload clips for this visit", icon=":material/videocam:",
                 query_params=visit_query)
else:
    st.caption(state.cannot("record"))
if not recordings:
    st.info("No recordings in this visit yet: record the standard tasks or upload clinic clips.",
            icon=":material/mic:")
else:
    clips.clips_table(tasks)
    if state.may("record"):
        clips.correction_panel(tasks, correct_clip)

results_link, ratings_link = st.columns(2)
results_link.page_link(state.RESULTS_PAGE, label="Results and explanations", icon=":material/insights:",
                       query_params=visit_query)
ratings_link.page_link(state.RATINGS_PAGE, label="Clinician ratings (MDS-UPDRS)", icon=":material/rate_review:",
                       query_params=visit_query)

# --- correcting the visit's own details (date, medication, dose, notes) --------------------------------
if state.may("edit_record"):
    edit_visit_form(visit)
