"""The upload widget (dashboard/widgets/upload.py) through AppTest: per-file labelled task and
side choices guessed from the names, "apply to all", and a file that cannot be added yet stays
listed with its message. The add function is a stand-in that records what it was given (the
real add_clip is tested in tests/core/test_capture.py). Synthetic bytes only."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def upload_script():
    import streamlit as st

    from core.capture import ClipOutcome
    from dashboard.widgets.upload import upload_panel

    calls = st.session_state.setdefault("calls", [])

    def add(f, name, task, side, size):
        calls.append((name, task, side))
        return ClipOutcome(name, task, side, "stored", f"{name}: stored.", len(calls), True)

    if upload_panel(7, add):
        st.rerun()  # as the capture page does: the checklist and the list show what was added


def start(*names: str) -> AppTest:
    at = AppTest.from_function(upload_script, default_timeout=30).run()
    at.file_uploader[0].set_value([(name, b"synthetic" * 100, "application/octet-stream") for name in names])
    return at.run()


def per_file(at: AppTest, kind: str) -> list:
    return [sb for sb in at.selectbox if sb.key.startswith(f"upload-{kind}-7-")]


def add_button(at: AppTest):
    [button] = [b for b in at.button if b.label.startswith("Add ")]
    return button


def plain(text: str) -> str:
    return text.replace("\\", "")


def test_each_file_has_a_labelled_task_and_side_choice_guessed_from_its_name():
    at = start("tap_L.mp4", "text_renamed.wav", "vowel.wav")
    assert not at.exception
    tasks = per_file(at, "task")
    assert [sb.label for sb in tasks] == ["Task", "Task", "Task"]
    assert [sb.value for sb in tasks] == ["finger_tapping", None, "vowel"]  # text_renamed: no guess
    assert all(sb.placeholder == "Choose the task" for sb in tasks)  # an empty choice says so, never "None"
    sides = [sb for sb in at.selectbox if sb.label == "Side"]
    assert sides[0].value == "left" and sides[0].options == ["Left hand", "Right hand"]
    assert sides[1].value == "No side for this task" and sides[1].disabled  # unsided (or no task yet)
    assert add_button(at).label == "Add 3 files to the visit"
    assert "None" not in [o for sb in at.selectbox for o in sb.options]


def test_apply_to_all_sets_task_and_side_of_every_file():
    at = start("clip one.mp4", "clip two.mp4", "vowel.wav")
    at.selectbox(key="upload-all-task-7-0").set_value("finger_tapping")
    at.selectbox(key="upload-all-side-7-0").set_value("right")
    at = at.run()
    at.button(key="upload-all-go-7-0").click()
    at = at.run()
    assert not at.exception
    assert [sb.value for sb in per_file(at, "task")] == ["finger_tapping"] * 3
    assert [sb.value for sb in per_file(at, "side")] == ["right"] * 3
    add_button(at).click()
    at = at.run()
    assert at.session_state["calls"] == [(n, "finger_tapping", "right") for n in ("clip one.mp4", "clip two.mp4", "vowel.wav")]


def test_a_file_without_a_task_stays_listed_with_the_message_and_can_be_added_after():
    at = start("IMG_0042.MOV", "vowel.wav")
    add_button(at).click()
    at = at.run()
    assert not at.exception
    assert at.session_state["calls"] == [("vowel.wav", "vowel", None)]  # the other was not sent anywhere
    [message] = [plain(e.value) for e in at.error]
    assert message == "Choose the task of this file (its name does not say which task it is)."  # on its row
    assert len(at.file_uploader[0].value) == 2  # still in the uploader, not lost
    [task] = per_file(at, "task")  # only the file still to add has choices
    assert add_button(at).label == "Add 1 file to the visit"
    assert "Added to the visit" in "\n".join(m.value for m in at.markdown)

    task.set_value("tremor")
    at = at.run()
    [side] = per_file(at, "side")
    assert side.value is None and side.placeholder == "Choose the hand"
    add_button(at).click()
    at = at.run()
    [message] = [plain(e.value) for e in at.error]
    assert "recorded per hand: choose the left or the right hand" in message
    per_file(at, "side")[0].set_value("left")
    add_button(at).click()
    at = at.run()
    assert at.session_state["calls"][-1] == ("IMG_0042.MOV", "tremor", "left")
    assert len(at.file_uploader) == 1 and not at.file_uploader[0].value  # every file added: a fresh uploader
    assert "Last upload" in "\n".join(m.value for m in at.markdown)
    assert not at.error


def parallel_script():
    import streamlit as st

    from core.capture import ClipOutcome
    from dashboard.widgets.upload import upload_panel

    calls = st.session_state.setdefault("calls", [])
    batches = st.session_state.setdefault("batches", [])

    def add(f, name, task, side, size):
        calls.append((name, task, side))
        return ClipOutcome(name, task, side, "stored", f"{name}: stored.", len(calls), True)

    def add_many(files):  # outcomes in another order than the files, as parallel analyses finish
        batches.append([name for _, _, name, _, _, _ in files])
        for file_id, _, name, task, side, _ in reversed(files):
            status = "failed" if name.startswith("bad") else "stored"
            yield file_id, ClipOutcome(name, task, side, status, f"{name}: {status}.", None, True)

    if upload_panel(7, add, add_files=add_many):
        st.rerun()


def test_several_files_go_to_the_parallel_path_and_each_outcome_lands_on_its_file():
    at = AppTest.from_function(parallel_script, default_timeout=30).run()
    at.file_uploader[0].set_value([(n, b"synthetic" * 100, "application/octet-stream")
                                   for n in ("vowel.wav", "bad vowel.wav", "IMG_1.MOV", "tap_L.mp4")])
    at = at.run()
    add_button(at).click()
    at = at.run()
    assert not at.exception
    # the file without a task never reaches the executor; the three others go at once
    assert at.session_state["batches"] == [["vowel.wav", "bad vowel.wav", "tap_L.mp4"]]
    assert at.session_state["calls"] == []
    errors = [plain(e.value) for e in at.error]
    assert "Failed." in errors  # on the row of bad vowel.wav (its name is on the row), to be added again
    assert "Choose the task of this file (its name does not say which task it is)." in errors
    assert len(per_file(at, "task")) == 2  # the two failed files stay listed; the stored ones are done
    assert "Added to the visit" in "\n".join(m.value for m in at.markdown)

    # one file left to add: the one-file path
    per_file(at, "task")[0].set_value("vowel")  # the rows are in upload order: bad vowel.wav first
    at = at.run()
    per_file(at, "task")[1].set_value("gait")
    at = at.run()
    add_button(at).click()
    at = at.run()
    assert at.session_state["batches"][-1] == ["bad vowel.wav", "IMG_1.MOV"]
