"""Which clip counts for each task of a visit, and why the others do not (results and visit
pages). Plain text only: reasons typed by the clinician are escaped."""
from __future__ import annotations

from typing import Any

import streamlit as st

from core.tasks import TASKS
from core.visits import TaskClips, clip_label
from dashboard.formatting import escape_markdown


def why_not_counted(recording: Any, task_clips: TaskClips) -> str:
    """One line: why a clip that exists does not count for its task."""
    if recording.excluded_reason is not None:
        return "excluded by the clinician: " + recording.excluded_reason
    if not recording.quality_ok:
        return "failed its quality check"
    if task_clips.counting is not None and task_clips.chosen_by_clinician:
        return "the clinician chose another clip"
    return "a later clip that passed its quality check replaced it"


def counting_line(task_clips: TaskClips) -> str:
    """"Counts: clip 12 added 09:41 (chosen by the clinician)" or why nothing counts."""
    if task_clips.counting is None:
        if task_clips.state == "needs_retake":
            return "No usable clip for this task: it needs a retake (or choose a clip yourself on the visit page)."
        return "No clip counts: every clip of this task is excluded."
    why = "chosen by the clinician" if task_clips.chosen_by_clinician else "the latest clip that passed its quality check"
    return f"Counts: {clip_label(task_clips.counting)} ({why})."


def other_clips(task_clips: TaskClips) -> None:
    """The clips of a task that do not count, each with its reason, folded away."""
    if not task_clips.others:
        return
    n = len(task_clips.others)
    with st.expander(f"{n} other clip{'s' if n != 1 else ''} of this task, not counted"):
        for r in task_clips.others:
            st.markdown("- " + escape_markdown(f"{clip_label(r)}: {why_not_counted(r, task_clips)}"))


def clips_table(tasks: list[TaskClips]) -> None:
    """Every clip of a visit, grouped by task, saying which one counts and why the others do not."""
    import pandas as pd

    from core.capture import STATUS_LABELS
    from dashboard.formatting import SIDE_LABELS, label

    rows = []
    for t in tasks:
        for r in sorted([*([t.counting] if t.counting else []), *t.others], key=lambda r: r.id):
            counts = r is t.counting
            rows.append({
                "Task": TASKS[r.task].label if r.task in TASKS else r.task,
                "Side": SIDE_LABELS.get(r.side, r.side) if r.side else "",
                "Clip": f"clip {r.id}" + (f" added {r.created_at:%H:%M}" if r.created_at else ""),
                "Counts": ("yes, chosen by the clinician" if t.chosen_by_clinician else "yes") if counts
                else "no: " + why_not_counted(r, t),
                "Status": label(STATUS_LABELS, r.status),
                "Duration (s)": round(r.duration_s, 1) if r.duration_s is not None else None,
            })
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"Duration (s)": st.column_config.NumberColumn(format="%.1f")})


def correction_panel(tasks: list[TaskClips], act) -> None:
    """Choose the clip that counts, exclude or include a clip, or give it another task or side.
    `act(kind, recording_id, **args)` runs the change (the page wires it to core.visits) and
    returns an error message or None."""
    clips_by_id = {r.id: (r, t) for t in tasks for r in ([t.counting] if t.counting else []) + t.others}
    if not clips_by_id:
        return
    with st.expander("Correct a clip: choose the clip that counts, exclude it, or relabel its task or side",
                     icon=":material/edit:"):
        recording_id = st.selectbox("Clip", sorted(clips_by_id), format_func=lambda i: clip_label(clips_by_id[i][0]),
                                    key="correct_clip")
        recording, task_clips = clips_by_id[recording_id]
        counts, chosen = recording is task_clips.counting, recording.chosen
        left, right = st.columns(2)
        if recording.excluded_reason is None:
            if not counts or not chosen:
                if left.button("Make this the clip that counts", icon=":material/check_circle:"):
                    _report(act("choose", recording_id))
            else:
                if left.button("Back to the automatic choice", icon=":material/restart_alt:",
                               help="The latest clip that passed its quality check counts."):
                    _report(act("automatic", recording_id))
            with right.form("exclude_clip", clear_on_submit=True, border=False):
                reason = st.text_input("Reason for excluding it", max_chars=500,
                                       placeholder="e.g. patient spoke during the vowel")
                if st.form_submit_button("Exclude this clip", icon=":material/block:"):
                    _report(act("exclude", recording_id, reason=reason))
        else:
            left.caption("Excluded: " + escape_markdown(recording.excluded_reason))
            if left.button("Include it again", icon=":material/undo:"):
                _report(act("include", recording_id))
        with st.form("relabel_clip", border=True):
            st.markdown("**Relabel**: the clip is analysed again as the task and side you choose.")
            task_keys = [k for k in TASKS if TASKS[k].modality == TASKS[recording.task].modality] \
                if recording.task in TASKS else list(TASKS)
            new_task = st.selectbox("Task", task_keys, index=task_keys.index(recording.task)
                                    if recording.task in task_keys else 0, format_func=lambda k: TASKS[k].label)
            new_side = st.selectbox("Side (finger tapping and tremor)", ["left", "right", "not sided"],
                                    index=["left", "right"].index(recording.side) if recording.side else 2,
                                    format_func={"left": "Left hand", "right": "Right hand",
                                                 "not sided": "No side (not a hand task)"}.get)
            if st.form_submit_button("Relabel and analyse again", icon=":material/label:"):
                _report(act("relabel", recording_id, task=new_task,
                            side=None if new_side == "not sided" else new_side))


def _report(problem: str | None) -> None:
    if problem:
        st.error(escape_markdown(problem))
    else:
        st.rerun()
