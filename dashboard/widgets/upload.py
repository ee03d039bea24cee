"""Upload of clinic clips for a visit: one or many files (drag and drop), each with a task and
side guessed from its name and editable, analysed one by one with progress, then a per-file
result (stored / failed with the reason / already on this visit)."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.capture import MAX_UPLOAD_BYTES, SUPPORTED_TEXT, ClipOutcome, guess_task_and_side
from core.tasks import TASKS
from dashboard.formatting import escape_markdown

TASK_BY_LABEL = {spec.label: key for key, spec in TASKS.items()}
SIDE_CHOICES = ["", "left", "right"]
RESULT_LABELS = {"stored": "Stored", "failed": "Failed", "duplicate": "Already on this visit"}

AddFile = Callable[..., ClipOutcome]  # add(file, name, task, side, size) -> ClipOutcome


def _size_text(size: int) -> str:
    return f"{size / 1024**2:.1f} MB" if size >= 1024**2 else f"{max(1, size // 1024)} KB"


def _server_limit_bytes() -> int:
    return int(st.get_option("server.maxUploadSize")) * 1024**2


def results_table(outcomes: list[ClipOutcome]) -> None:
    st.dataframe(pd.DataFrame({
        "File": [o.name for o in outcomes],
        "Task": [TASKS[o.task].label if o.task in TASKS else "" for o in outcomes],
        "Side": [o.side or "" for o in outcomes],
        "Result": [RESULT_LABELS[o.status] for o in outcomes],
        "Details": [o.message for o in outcomes],
    }), hide_index=True, width="stretch")


def upload_panel(visit_id: int, add_file: AddFile) -> list[ClipOutcome] | None:
    """The upload section of a visit. Returns the outcomes of the files added in this run."""
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

    guesses = [guess_task_and_side(f.name) for f in files]
    table = pd.DataFrame({
        "File": [f.name for f in files],
        "Size": [_size_text(f.size) for f in files],
        "Task": [TASKS[t].label if t else None for t, _ in guesses],
        "Side": [s or "" for _, s in guesses],
    })
    st.caption("Task and side are guessed from the file names: check them, and choose them where blank. "
               "The side applies to finger tapping and rest tremor only.")
    edited = st.data_editor(
        table, hide_index=True, width="stretch", key=f"upload-table-{visit_id}-{nonce}", disabled=["File", "Size"],
        column_config={
            "Task": st.column_config.SelectboxColumn("Task", options=list(TASK_BY_LABEL), required=True),
            "Side": st.column_config.SelectboxColumn("Side", options=SIDE_CHOICES),
        })
    if not st.button(f"Add {len(files)} file{'s' if len(files) != 1 else ''} to the visit", type="primary",
                     key=f"upload-go-{visit_id}-{nonce}", icon=":material/upload:"):
        return None

    outcomes: list[ClipOutcome] = []
    bar = st.progress(0.0, text="Starting...")
    with st.status(f"Analysing {len(files)} file(s)...", expanded=False) as status:
        for i, (f, row) in enumerate(zip(files, edited.itertuples(index=False))):
            bar.progress(i / len(files), text=f"Analysing {escape_markdown(f.name)} ({i + 1} of {len(files)})")
            task = TASK_BY_LABEL.get(row.Task) if isinstance(row.Task, str) else None
            side = row.Side or None
            if f.size > limit:  # refused by its declared size, before its bytes are touched
                outcome = ClipOutcome(f.name, task, side, "failed",
                                      f"{f.name} is {_size_text(f.size)}; at most {_size_text(limit)} a file: "
                                      "trim the clip to the task and upload it again.")
            else:
                outcome = add_file(f, f.name, task, side, f.size)
            outcomes.append(outcome)
            status.write(escape_markdown(outcome.message))  # quotes the file name: shown literally
        failed = sum(o.status == "failed" for o in outcomes)
        status.update(label=f"{len(outcomes) - failed} of {len(outcomes)} file(s) added",
                      state="error" if failed else "complete")
    bar.progress(1.0, text="Done")
    st.session_state[f"upload-results-{visit_id}"] = outcomes
    st.session_state[nonce_key] = nonce + 1  # a fresh, empty uploader on the next run
    results_table(outcomes)
    return outcomes
