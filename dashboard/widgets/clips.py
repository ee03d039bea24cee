"""Which clip counts for each task of a visit, and why the others do not (results and visit
pages). Plain text only: reasons typed by the clinician are escaped."""
from __future__ import annotations

from typing import Any

import streamlit as st

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
