"""Upload of clinic clips for a visit: one or many files (drag and drop). Each file gets its own
labelled task and side choice (guessed from its name on whole words, always editable), with an
"apply to all" above them; then the files are analysed (in parallel processes when the page
passes `add_files`, core.executor: each file's outcome appears as soon as its analysis is done,
while the others run), and each file says what happened (stored / failed with the reason /
already on this visit).

A file that cannot be added yet (no task chosen, no side for a sided task) or whose analysis
failed stays listed with its message, so that it can be corrected and added again; the uploader
is emptied only once every file is on the visit."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd
import streamlit as st

from core.capture import MAX_UPLOAD_BYTES, SUPPORTED_TEXT, ClipOutcome, guess_task_and_side
from core.tasks import SIDES, TASKS
from dashboard.formatting import escape_markdown, plural

SIDE_TEXT = {"left": "Left hand", "right": "Right hand"}
RESULT_LABELS = {"stored": "Stored", "failed": "Failed", "duplicate": "Already on this visit"}
NO_SIDE = "No side for this task"

AddFile = Callable[..., ClipOutcome]  # add(file, name, task, side, size) -> ClipOutcome
# add_files([(file id, file, name, task, side, size), ...]) -> iterable of (file id, ClipOutcome),
# each yielded as soon as it is known (in any order)
AddFiles = Callable[[list[tuple]], Iterable[tuple[str, ClipOutcome]]]


def _size_text(size: int) -> str:
    return f"{size / 1024**2:.1f} MB" if size >= 1024**2 else f"{max(1, size // 1024)} KB"


def _server_limit_bytes() -> int:
    return int(st.get_option("server.maxUploadSize")) * 1024**2


def task_text(task: str | None) -> str:
    return TASKS[task].label if task in TASKS else ""


def results_table(outcomes: list[ClipOutcome], where=st) -> None:
    where.dataframe(pd.DataFrame({
        "File": [o.name for o in outcomes],
        "Task": [task_text(o.task) for o in outcomes],
        "Side": [SIDE_TEXT.get(o.side, "") for o in outcomes],
        "Result": [RESULT_LABELS[o.status] for o in outcomes],
        "Details": [o.message for o in outcomes],
    }), hide_index=True, width="stretch")


def missing_choice(name: str, task: str | None, side: str | None) -> str | None:
    """Why a file cannot be added as chosen (plain words), or None when it can."""
    if task not in TASKS:
        return f"{name}: choose the task of this file (its name does not say which task it is)."
    if TASKS[task].sided and side not in SIDES:
        return f"{name}: {TASKS[task].label} is recorded per hand: choose the left or the right hand."
    return None


def _keys(visit_id: int, nonce: int, file_id: str) -> tuple[str, str]:
    return f"upload-task-{visit_id}-{nonce}-{file_id}", f"upload-side-{visit_id}-{nonce}-{file_id}"


def _apply_to_all(visit_id: int, nonce: int, pending: list) -> None:
    """One task and/or one side for every file still to add."""
    with st.container(border=True):
        st.markdown("**Apply to all files**")
        task_column, side_column, button_column = st.columns([3, 2, 2], vertical_alignment="bottom")
        task = task_column.selectbox("Task for every file", list(TASKS), index=None, format_func=task_text,
                                     placeholder="Keep each file's task", key=f"upload-all-task-{visit_id}-{nonce}")
        side = side_column.selectbox("Side for every file", list(SIDES), index=None, format_func=SIDE_TEXT.get,
                                     placeholder="Keep each file's side", key=f"upload-all-side-{visit_id}-{nonce}",
                                     help="Used by finger tapping and rest tremor only.")
        if button_column.button("Apply to all files", key=f"upload-all-go-{visit_id}-{nonce}",
                                disabled=task is None and side is None, icon=":material/done_all:"):
            for f in pending:
                task_key, side_key = _keys(visit_id, nonce, f.file_id)
                if task is not None:
                    st.session_state[task_key] = task
                if side is not None:
                    st.session_state[side_key] = side


def _file_row(visit_id: int, nonce: int, f, message: str | None) -> tuple[str | None, str | None]:
    """One file: its name and size, a labelled task choice and side choice, and why it was not
    added last time. Returns the chosen (task, side)."""
    task_key, side_key = _keys(visit_id, nonce, f.file_id)
    if task_key not in st.session_state:  # the guess from the name, once; the choice is the user's after
        task, side = guess_task_and_side(f.name)
        st.session_state[task_key] = task
        st.session_state[side_key] = side
    with st.container(border=True):
        name_column, task_column, side_column = st.columns([3, 3, 2], vertical_alignment="bottom")
        name_column.markdown(f"**{escape_markdown(f.name)}**  \n{_size_text(f.size)}")
        task = task_column.selectbox("Task", list(TASKS), index=None, format_func=task_text,
                                     placeholder="Choose the task", key=task_key)
        sided = task in TASKS and TASKS[task].sided
        if sided:
            side = side_column.selectbox("Side", list(SIDES), index=None, format_func=SIDE_TEXT.get,
                                         placeholder="Choose the hand", key=side_key)
        else:
            side = None
            side_column.selectbox("Side", [NO_SIDE], disabled=True, key=f"{side_key}-none",
                                  help="Only finger tapping and rest tremor are recorded per hand.")
        if message:  # the file's name is on the row already: not repeated in front of the reason
            message = message.removeprefix(f"{f.name}: ")
            st.error(escape_markdown(message[:1].upper() + message[1:]), icon=":material/error:")
    return task, side


def upload_panel(visit_id: int, add_file: AddFile, add_files: AddFiles | None = None) -> list[ClipOutcome] | None:
    """The upload section of a visit. Returns the outcomes of the files added in this run.
    `add_files`, when given, analyses several files at once (in parallel) and yields each
    file's outcome as it completes; a single file goes through `add_file`."""
    nonce_key = f"upload-nonce-{visit_id}"
    nonce = st.session_state.setdefault(nonce_key, 0)
    limit = min(MAX_UPLOAD_BYTES, _server_limit_bytes())
    files = st.file_uploader(
        "Drop clips here, or browse", accept_multiple_files=True, key=f"upload-{visit_id}-{nonce}",
        help=f"Audio or video from a phone, a tablet or a camera. Supported: {SUPPORTED_TEXT}. "
             f"At most {_size_text(limit)} a file.")
    last = st.session_state.get(f"upload-results-{visit_id}")
    if not files:
        if last:
            st.markdown("**Last upload**")
            results_table(last)
        return None

    # file_id -> outcome of this uploader's files: "done" ones (stored or duplicate) are not added
    # again; a "failed" one stays to be corrected and added again
    tried: dict[str, ClipOutcome] = st.session_state.setdefault(f"upload-tried-{visit_id}-{nonce}", {})
    done = [f for f in files if f.file_id in tried and tried[f.file_id].status != "failed"]
    pending = [f for f in files if f not in done]
    if done:
        st.markdown("**Added to the visit**")
        results_table([tried[f.file_id] for f in done])
    if len(pending) > 1:
        _apply_to_all(visit_id, nonce, pending)
    st.caption("Task and side are guessed from each file name: check them, and choose them where empty. "
               "The side applies to finger tapping and rest tremor only.")
    choices = {f.file_id: _file_row(visit_id, nonce, f, tried[f.file_id].message if f.file_id in tried else None)
               for f in pending}
    if not st.button(f"Add {plural(len(pending), 'file')} to the visit", type="primary",
                     key=f"upload-go-{visit_id}-{nonce}", icon=":material/upload:"):
        return None

    outcomes: list[ClipOutcome] = []
    bar = st.progress(0.0, text="Starting...")
    live = st.empty()  # parallel analysis: the outcomes so far, file by file as each one completes
    with st.status(f"Analysing {plural(len(pending), 'file')}...", expanded=False) as status:
        def record(f, outcome: ClipOutcome) -> None:
            tried[f.file_id] = outcome
            outcomes.append(outcome)
            status.write(escape_markdown(outcome.message))  # quotes the file name: shown literally

        ready = []
        for f in pending:
            task, side = choices[f.file_id]
            side = side if task in TASKS and TASKS[task].sided else None
            problem = missing_choice(f.name, task, side)
            if problem:  # nothing to analyse: the file stays listed with the message
                record(f, ClipOutcome(f.name, task, side, "failed", problem))
            elif f.size > limit:  # refused by its declared size, before its bytes are touched
                record(f, ClipOutcome(f.name, task, side, "failed",
                                      f"{f.name} is {_size_text(f.size)}; at most {_size_text(limit)} a file: "
                                      "trim the clip to the task and upload it again."))
            else:
                ready.append((f, task, side))
        if add_files is not None and len(ready) > 1:
            by_id = {f.file_id: f for f, _, _ in ready}
            bar.progress(0.0, text=f"Analysing {plural(len(ready), 'file')} in parallel (0 of {len(ready)} done)")
            for n, (file_id, outcome) in enumerate(add_files([(f.file_id, f, f.name, task, side, f.size)
                                                              for f, task, side in ready]), start=1):
                record(by_id[file_id], outcome)
                bar.progress(n / len(ready), text=f"Analysing {plural(len(ready), 'file')} in parallel "
                                                  f"({n} of {len(ready)} done)")
                status.update(label=f"Analysing {plural(len(ready), 'file')}: {n} done, "
                                    f"{len(ready) - n} still running")
                results_table(outcomes, where=live)
            for f, task, side in ready:  # never lose a file: one the executor did not answer for
                if f.file_id not in tried or tried[f.file_id] not in outcomes:
                    record(f, ClipOutcome(f.name, task, side, "failed",
                                          f"{f.name}: the analysis did not finish; nothing was stored. Try again."))
            live.empty()
        else:
            for i, (f, task, side) in enumerate(ready):
                bar.progress(i / len(ready), text=f"Analysing {escape_markdown(f.name)} ({i + 1} of {len(ready)})")
                record(f, add_file(f, f.name, task, side, f.size))
        failed = sum(o.status == "failed" for o in outcomes)
        status.update(label=f"{len(outcomes) - failed} of {plural(len(outcomes), 'file')} added",
                      state="error" if failed else "complete")
    bar.progress(1.0, text="Done")
    everything = [tried[f.file_id] for f in files]
    st.session_state[f"upload-results-{visit_id}"] = everything
    if not any(o.status == "failed" for o in everything):
        st.session_state[nonce_key] = nonce + 1  # all on the visit: a fresh, empty uploader next run
    return outcomes
