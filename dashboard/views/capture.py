"""Capture at the bedside for one visit (?visit=<id>): the checklist of the standard tasks with
their status, patient instructions, camera placement and a retake button; the browser recorder
of the chosen task; and the upload of clinic clips. Every clip, recorded or uploaded, is stored,
analysed, explained and written in one transaction: one clip through core.capture.add_clip, a
multi-file upload through core.capture.add_clips on the server's upload cluster
(dashboard.state.upload_executor: the files are analysed in parallel processes and each one's
outcome appears as it completes)."""
from pathlib import Path

import streamlit as st

from core.capture import STATUS_LABELS, ClipRequest, Slot, add_clip, add_clips, checklist, counted_items
from core.store import repository
from core.store.datadir import write_problem
from core.tasks import TASKS
from dashboard import state
from dashboard.formatting import escape_markdown, plural
from dashboard.widgets import chrome, recorder, upload

STATIC = Path(__file__).resolve().parent.parent / "static" / "capture"


def diagram_path(name: str):
    """The placement picture of a task (core.tasks.TaskSpec.diagram), the whole-body one if
    the task has none of its own."""
    path = STATIC / f"{name}.svg"
    return path if path.is_file() else STATIC / "body.svg"


BADGES = {"todo": "gray", "recorded": "blue", "analysed": "green", "needs_retake": "orange"}
CHOSEN_KEY = "capture-chosen-slot"

state.require_permission("record", "Capture")
visit, patient = state.require_visit("Capture")

with state.session() as s:
    recordings = repository.list_recordings(s, visit.id)
    actor_id = state.actor(s).id
items = checklist(recordings)


def save(source, name: str, task: str, side: str | None, source_kind: str, size: int | None = None,
         live_landmarks=None):
    return add_clip(state.store(), actor_id, visit.id, source, name, task, side, source_kind,
                    state.data_dir(), size=size, live_landmarks=live_landmarks)


def save_many(files: list[tuple]):
    """Several uploaded files at once, analysed in parallel on the server's upload cluster; each
    (file id, outcome) is yielded as its analysis completes."""
    requests = [ClipRequest(file_id, f, name, task, side, size) for file_id, f, name, task, side, size in files]
    yield from add_clips(state.store(), actor_id, visit.id, requests, "upload", state.data_dir(),
                         executor=state.upload_executor())


chrome.back_to_visit(visit)
st.title(f"Capture: visit of {visit.visit_date.isoformat()}")
chrome.patient_caption(patient)

if (problem := write_problem(state.data_dir())) is not None:  # full or read-only: say it before any recording
    st.error(escape_markdown("Clips cannot be saved now: " + problem), icon=":material/sd_card_alert:")

if (last := st.session_state.pop(f"capture-last-{visit.id}", None)) is not None:
    shown = {"stored": st.success if last.quality_ok else st.warning, "duplicate": st.info, "failed": st.error}
    message = last.message
    if last.task in TASKS and message.startswith(f"{last.name}: "):  # not the recorder's internal file name
        message = f"{Slot(last.task, last.side if TASKS[last.task].sided else None).label}, recorded: " \
                  + message[len(last.name) + 2:]
    shown[last.status](escape_markdown(message))

counted = counted_items(items)
done = sum(i.status == "analysed" for i in counted)
st.progress(done / len(counted), text=f"{done} of {len(counted)} tasks analysed")

# --- checklist ----------------------------------------------------------------------------------
chosen_key = st.session_state.get(CHOSEN_KEY, {}).get(visit.id)
for heading, caption, lines in (
        ("Tasks", "", [i for i in items if not TASKS[i.slot.task].optional]),
        ("Outcome tests", "Physical-therapy outcome tests, recorded when you run them: they count towards "
                          "the visit only once recorded.", [i for i in items if TASKS[i.slot.task].optional])):
    st.subheader(heading)
    if caption:
        st.caption(caption)
    for item in lines:
        row = st.columns([4, 2, 2], vertical_alignment="center")
        row[0].markdown(f"**{escape_markdown(item.slot.label)}**"
                        + (f"  \n{escape_markdown(' '.join(item.problems))}" if item.problems else ""))
        row[1].markdown(f":{BADGES[item.status]}-badge[{STATUS_LABELS[item.status]}]")
        verb = "Record" if item.status == "todo" else "Retake"
        if row[2].button(verb, key=f"choose-{visit.id}-{item.slot.key}", icon=":material/videocam:"
                         if TASKS[item.slot.task].modality == "movement" else ":material/mic:",
                         type="primary" if chosen_key == item.slot.key else "secondary"):
            st.session_state.setdefault(CHOSEN_KEY, {})[visit.id] = item.slot.key
            chosen_key = item.slot.key
            recorder.abort_other_recordings(visit.id, item.slot)
            st.rerun()

# --- the chosen task -------------------------------------------------------------------------------
chosen = next((i for i in items if i.slot.key == chosen_key), None)
if chosen is None:
    recorder.abort_other_recordings(visit.id, None)
    st.info("Choose **Record** beside a task to see its instructions and record it in the browser, "
            "or upload clips below.", icon=":material/checklist:")
else:
    slot: Slot = chosen.slot
    spec = TASKS[slot.task]
    st.subheader(slot.label)
    if chosen.status != "todo":
        st.caption(f"Currently: {STATUS_LABELS[chosen.status].lower()} ({plural(chosen.attempts, 'recording')}). "
                   "A new clip becomes the one used for this task; earlier clips stay in the record.")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Tell the patient**")
        st.markdown(escape_markdown(spec.instructions))
        side_text = f" Test the **{slot.side}** hand." if slot.side else ""
        st.markdown(f"Clip length: **{spec.target_seconds:.0f} s** (at least {spec.min_seconds:.0f} s).{side_text}")
    with right:
        st.image(str(diagram_path(spec.diagram)), caption="Where to place the device", width=320)

    def save_recorded(clip: bytes, suffix: str, live=None):
        # live: the recording's live tracker (its landmarks become the clip's landmark cache)
        outcome = save(clip, f"browser-{slot.key}{suffix}", slot.task, slot.side, "browser", live_landmarks=live)
        st.session_state[f"capture-last-{visit.id}"] = outcome  # shown after the checklist refreshes
        return outcome

    outcome = recorder.browser_recorder(visit.id, slot, save_recorded)
    if outcome is None:
        outcome = recorder.fallback(visit.id, slot, save_recorded)
    if outcome is not None:
        st.rerun()

# --- upload ------------------------------------------------------------------------------------------
st.subheader("Upload clips")
added = upload.upload_panel(
    visit.id, lambda f, name, task, side, size: save(f, name, task, side, "upload", size=size), add_files=save_many)
if added:
    st.rerun()  # the checklist shows the new clips; the results table stays under the uploader
