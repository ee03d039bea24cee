"""core.capture and core.recorders: file-name guesses, upload validation by size and content, clip duration, the
visit checklist, add_clip on a real SQLite store with real recordings, and the live clip
recorders and landmark overlay (real MediaPipe on the real hand photo). No patient data: the
vowel is public research data (tests/fixtures/voice/README.md), everything else is synthetic."""
from __future__ import annotations

import io
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import func, select

from core.capture import (
    CHECKLIST,
    MAX_UPLOAD_BYTES,
    Slot,
    add_clip,
    check_clip,
    check_upload,
    checklist,
    checklist_status,
    guess_task_and_side,
    name_words,
    sniff_format,
)
from core.recorders import AudioClipRecorder, LandmarkOverlay, VideoClipRecorder, level_dbfs
from core.media.video import probe_video
from core.pipeline import UnusableInput
from core.store import Assessment, Recording, transaction
from tests.fixtures.movement.clips import hand_photo, write_audio_only, write_video

VOICE = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
PD_VOWEL = next(VOICE.glob("PD_sample__AH_545692309*.wav"))  # real public recording (Iyer 2023)


# ---------------------------------------------------------------- names

@pytest.mark.parametrize("name, expected", [
    ("tap_L.mp4", ("finger_tapping", "left")),
    ("tapLeft.MOV", ("finger_tapping", "left")),
    ("Finger tapping right hand.mp4", ("finger_tapping", "right")),
    ("vowel.m4a", ("vowel", None)),
    ("aaah_left.wav", ("vowel", None)),  # unsided task: a side in the name is ignored
    ("gait 2.mov", ("gait", None)),
    ("walking_test.mp4", ("gait", None)),
    ("rest-tremor-R.webm", ("tremor", "right")),
    ("tremor_lh_2024.mp4", ("tremor", "left")),
    ("rainbow passage.wav", ("reading", None)),
    ("IMG_0042.MOV", (None, None)),
    ("clip_r.mp4", (None, "right")),
    ("FingerTappingRight.mp4", ("finger_tapping", "right")),  # camelCase
    ("TUGTest.mp4", ("tug", None)),  # an acronym before a capitalised word
    ("tug-2.mov", ("tug", None)),
    ("Timed_Up_and_Go.mp4", ("tug", None)),
    ("5xSTS.mp4", ("sit_to_stand", None)),
    ("sit to stand 2.mov", ("sit_to_stand", None)),
    ("10MWT_comfortable.mp4", ("gait_speed", None)),
    ("gait_speed.mp4", ("gait_speed", None)),  # the pair beats "gait" alone
    ("pt.tap.R.mov", ("finger_tapping", "right")),  # dots between words
    ("my vowel take2.wav", ("vowel", None)),
])
def test_task_and_side_are_guessed_from_file_names(name, expected):
    assert guess_task_and_side(name) == expected


@pytest.mark.parametrize("name", [
    "text_renamed.wav",  # "text" is no task, and "renamed" does not hold "read" as a word
    "tugboat.mp4", "Tuggle.mov",  # "tug" only as a word of its own
    "tapered.mp4", "ready.wav", "readme.wav", "restaurant.mp4", "walkthrough.mp4", "speech.wav",
])
def test_words_inside_other_words_say_nothing(name):
    assert guess_task_and_side(name)[0] is None


def test_file_names_split_into_words_at_separators_digits_and_camel_case():
    assert name_words("Rest-tremor_L.take 2.mp4") == ["rest", "tremor", "l", "take", "2"]
    assert name_words("tapLeft3.MOV") == ["tap", "left", "3"]
    assert name_words("TUGTest.mp4") == ["tug", "test"]


# ---------------------------------------------------------------- upload validation

class CountingStream(io.RawIOBase):
    """A file-like upload that claims a size and counts how much of it was read."""

    def __init__(self, head: bytes, size: int):
        self.head, self.size, self.read_bytes = head, size, 0

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.size - self.read_bytes if n is None or n < 0 else n
        chunk = (self.head[self.read_bytes:] + b"\0" * n)[:n]
        self.read_bytes += len(chunk)
        return chunk


def test_formats_are_recognised_by_content(tmp_path):
    wav = write_audio_only(tmp_path / "a.wav", 0.5)
    m4a = write_audio_only(tmp_path / "a.m4a", 0.5)
    webm = write_video(tmp_path / "v.webm", [np.zeros((64, 64, 3), np.uint8)] * 3)
    avi = write_video(tmp_path / "v.avi", [np.zeros((64, 64, 3), np.uint8)] * 3)
    assert [sniff_format(p.read_bytes()[:64]) for p in (wav, m4a, webm, avi)] == ["wav", "mp4", "webm", "avi"]
    # the name does not decide: a wav renamed .mp4 is still a wav, a text file renamed .mp4 is refused
    assert check_upload("clip.mp4", wav.stat().st_size, wav.read_bytes()[:64]) == "wav"
    with pytest.raises(UnusableInput, match="not a supported audio or video file. Supported formats: WAV"):
        check_upload("notes.mp4", 100, b"Patient notes, plain text, not a video")


def test_over_the_size_limit_is_refused_before_reading(tmp_path):
    wav_head = write_audio_only(tmp_path / "a.wav", 0.2).read_bytes()[:64]
    with pytest.raises(UnusableInput, match=r"2\.0 GB; files over 2 GB are refused"):
        check_upload("gait.mp4", MAX_UPLOAD_BYTES + 1, wav_head)
    with pytest.raises(UnusableInput, match="empty"):
        check_upload("empty.wav", 0, b"")


def test_short_clip_is_refused_with_its_length_and_the_task_minimum(tmp_path):
    short = write_video(tmp_path / "tap.mp4", (np.full((96, 128, 3), i, np.uint8) for i in range(36)), fps=30)
    with pytest.raises(UnusableInput, match=r"^The clip is 1\.2 s; finger tapping needs at least 2 s"):
        check_clip(short, "finger_tapping")
    audio = write_audio_only(tmp_path / "voice.wav", 6.0)
    with pytest.raises(UnusableInput, match="has no video"):
        check_clip(audio, "gait")
    assert check_clip(audio, "vowel") == pytest.approx(6.0, abs=0.05)
    with pytest.raises(UnusableInput, match=r"The clip is 6\.0 s; reading passage needs at least 10 s"):
        check_clip(audio, "reading")


# ---------------------------------------------------------------- checklist

def _rec(id, task, side=None, status="analysed", quality_ok=True, problems=()):
    checks = [{"name": "x", "passed": False, "message": m} for m in problems]
    return SimpleNamespace(id=id, task=task, side=side, status=status, quality_ok=quality_ok,
                           quality_json={"ok": quality_ok, "checks": checks})


def test_checklist_has_the_seven_standard_slots_then_the_outcome_tests():
    assert [s.key for s in CHECKLIST] == ["vowel", "reading", "finger_tapping_left", "finger_tapping_right",
                                          "tremor_left", "tremor_right", "gait", "tug", "sit_to_stand", "gait_speed"]
    assert Slot("tremor", "left").label == "Rest tremor (3.17), left hand"


def test_checklist_status_follows_the_latest_recording_of_each_slot():
    items = {i.slot.key: i for i in checklist([
        _rec(1, "vowel"),
        _rec(2, "finger_tapping", "left", "needs_retake", False, ["No hand found in 80% of the clip."]),
        _rec(3, "finger_tapping", "right", "recorded", False),
        _rec(4, "gait", None, "needs_retake", False, ["Feet out of view."]),
        _rec(5, "gait"),  # the retake passed: it supersedes attempt 4
        _rec(6, "tremor", "left"),
        _rec(7, "tremor", "left", "needs_retake", False, ["Too dark."]),  # a failed retake wins too
    ])}
    assert {k: i.status for k, i in items.items()} == {
        "vowel": "analysed", "reading": "todo", "finger_tapping_left": "needs_retake",
        "finger_tapping_right": "recorded", "tremor_left": "needs_retake", "tremor_right": "todo", "gait": "analysed",
        "tug": "todo", "sit_to_stand": "todo", "gait_speed": "todo"}
    assert items["finger_tapping_left"].problems == ("No hand found in 80% of the clip.",)
    assert items["gait"].attempts == 2 and items["gait"].recording_id == 5
    assert items["tremor_left"].recording_id == 7 and items["reading"].recording_id is None
    assert items["tremor_right"].status_label == "To do"


def test_checklist_status_in_a_few_words_for_the_visit_list():
    assert checklist_status(checklist([])) == "No clips yet"
    assert checklist_status(checklist([_rec(1, "vowel")])) == "1 of 7 tasks done"
    assert checklist_status(checklist([_rec(1, "vowel"), _rec(2, "gait"), _rec(3, "tremor", "right"),
                                       _rec(4, "reading", None, "needs_retake", False, ["Silent."])])) == \
        "3 of 7 tasks done, 1 needs a retake"
    assert checklist_status(checklist([_rec(1, "reading", None, "needs_retake", False, ["Silent."]),
                                       _rec(2, "gait", None, "failed", False)])) == "0 of 7 tasks done, 2 need a retake"
    # an outcome test counts once recorded, never as "to do"
    assert checklist_status(checklist([_rec(1, "vowel"), _rec(2, "tug")])) == "2 of 8 tasks done"


# ---------------------------------------------------------------- add_clip on a real store

def _rows(sessions) -> tuple[int, int]:
    with transaction(sessions) as s:
        return (s.scalar(select(func.count()).select_from(Recording)),
                s.scalar(select(func.count()).select_from(Assessment)))


def _files(data_dir: Path) -> list[Path]:
    root = data_dir / "recordings"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.slow
def test_upload_is_stored_once_and_the_same_file_again_is_reported(store):
    sessions, admin_id, visit_id, data_dir = store
    upload = io.BytesIO(PD_VOWEL.read_bytes())
    first = add_clip(sessions, admin_id, visit_id, upload, "vowel.wav", "vowel", None, "upload", data_dir,
                     size=PD_VOWEL.stat().st_size, rescore=False)
    assert first.status == "stored", first.message
    assert first.recording_id is not None
    files = _files(data_dir)
    again = add_clip(sessions, admin_id, visit_id, PD_VOWEL, "vowel (copy).wav", "vowel", None, "upload", data_dir)
    assert again.status == "duplicate"
    assert again.message == "vowel (copy).wav: already on this visit (the same file): not stored twice."
    assert again.recording_id == first.recording_id
    assert _rows(sessions) == (1, 1)
    assert _files(data_dir) == files


def test_bad_uploads_fail_with_a_reason_and_leave_nothing(store, tmp_path):
    sessions, admin_id, visit_id, data_dir = store
    huge = CountingStream(write_audio_only(tmp_path / "h.wav", 0.2).read_bytes()[:64], MAX_UPLOAD_BYTES + 10)
    out = add_clip(sessions, admin_id, visit_id, huge, "gait.mp4", "gait", None, "upload", data_dir, size=huge.size)
    assert out.status == "failed" and "files over 2 GB are refused" in out.message
    assert huge.read_bytes <= 64  # refused by the declared size, never read in full

    text = add_clip(sessions, admin_id, visit_id, b"not a recording " * 100, "tap_L.mp4", "finger_tapping", "left",
                    "upload", data_dir)
    assert text.status == "failed" and "Supported formats:" in text.message

    short = write_video(tmp_path / "tap_R.mp4", (np.full((96, 128, 3), i, np.uint8) for i in range(36)), fps=30)
    out = add_clip(sessions, admin_id, visit_id, short, short.name, "finger_tapping", "right", "upload", data_dir)
    assert out.status == "failed"
    assert out.message.startswith("tap_R.mp4: The clip is 1.2 s; finger tapping needs at least 2 s")

    no_side = add_clip(sessions, admin_id, visit_id, short, short.name, "tremor", None, "upload", data_dir)
    assert no_side.status == "failed" and "choose left or right" in no_side.message
    no_task = add_clip(sessions, admin_id, visit_id, short, "IMG_1.mov", None, None, "upload", data_dir)
    assert no_task.status == "failed" and "choose the task" in no_task.message
    assert _rows(sessions) == (0, 0)
    assert _files(data_dir) == []


# ---------------------------------------------------------------- live recorders

def test_level_meter_reads_dbfs():
    t = np.arange(48000) / 48000
    full = (np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    assert level_dbfs(full) == pytest.approx(-3.01, abs=0.05)
    assert level_dbfs((full * 0.1).astype(np.int16)) == pytest.approx(-23.0, abs=0.1)
    assert level_dbfs(np.zeros(480, np.int16)) == -120.0


def test_audio_recorder_counts_down_then_keeps_exactly_the_target_length():
    rec = AudioClipRecorder(target_seconds=2.0, countdown_s=3.0)
    chunk = (np.sin(np.arange(960) / 5) * 8000).astype(np.int16)  # 20 ms at 48 kHz
    rec.arm(now=100.0)
    assert rec.countdown_left(now=101.0) == pytest.approx(2.0)
    now = 100.0
    while rec.state != "complete":
        rec.add_samples(chunk, 48000, now=now)
        now += 0.02
        assert now < 106.0, "never completed"
    assert now == pytest.approx(105.0, abs=0.05)  # 3 s countdown + 2 s clip
    assert rec.level_dbfs == pytest.approx(level_dbfs(chunk))
    clip = rec.take_clip()
    with wave.open(io.BytesIO(clip)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (48000, 1, 96000)
    assert rec.take_clip() is None and rec.state == "idle"  # handed out once


def test_audio_recorder_discards_a_clip_when_the_connection_drops_or_the_page_is_left():
    chunk = np.full(960, 1000, np.int16)
    dropped = AudioClipRecorder(2.0, countdown_s=0.0)
    dropped.arm(now=0.0)
    for i in range(50):  # 1 s of the 2 s, then nothing arrives
        dropped.add_samples(chunk, 48000, now=i * 0.02)
    assert dropped.poll(now=1.5) == "recording"
    assert dropped.poll(now=4.0) == "aborted"
    assert "connection dropped" in dropped.reason
    dropped.add_samples(chunk, 48000, now=4.1)  # late frames do not revive it
    assert dropped.take_clip() is None and dropped.recorded_seconds == 0.0

    silent = AudioClipRecorder(2.0, countdown_s=1.0)  # no frame ever arrives
    silent.arm(now=0.0)
    assert silent.poll(now=2.0) == "countdown"
    assert silent.poll(now=4.0) == "aborted" and "Nothing arrives" in silent.reason

    left = AudioClipRecorder(2.0, countdown_s=0.0)
    left.arm(now=0.0)
    left.add_samples(chunk, 48000, now=0.0)
    left.abort("The page was left during the recording: nothing was saved.")
    assert left.state == "aborted" and left.take_clip() is None


def test_video_recorder_writes_a_complete_mp4_with_true_timestamps(tmp_path):
    rec = VideoClipRecorder(target_seconds=2.0, countdown_s=1.0)
    rec.arm(now=0.0)
    frame = hand_photo()
    t = 0.0
    while rec.state != "complete" and t < 5:
        rec.add_rgb(frame, t, now=t)
        t += 1 / 25
    clip = rec.take_clip()
    assert clip is not None and clip[4:8] == b"ftyp"
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    info = probe_video(path)
    assert (info.width, info.height) == (640, 480)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert info.nominal_fps == pytest.approx(25, abs=1.5)

    aborted = VideoClipRecorder(2.0, countdown_s=0.0)
    aborted.arm(now=0.0)
    aborted.add_rgb(frame, 0.0, now=0.0)
    aborted.add_rgb(frame, 0.04, now=0.04)
    aborted.abort("stopped")
    assert aborted.take_clip() is None and aborted.recorded_seconds == 0.0


def test_a_recording_that_runs_until_stopped_keeps_what_was_filmed_when_the_therapist_finishes(tmp_path):
    """Timed outcome tests (TUG, 5xSTS, gait speed) last as long as the patient takes."""
    rec = VideoClipRecorder(target_seconds=120.0, countdown_s=0.0)
    rec.arm(now=0.0)
    frame = hand_photo()
    for i in range(40):  # 1.6 s at 25 fps
        rec.add_rgb(frame, i / 25, now=i / 25)
    assert not rec.finish(min_seconds=4.0) and rec.state == "recording"  # too short: keeps recording
    for i in range(40, 130):  # to 5.2 s
        rec.add_rgb(frame, i / 25, now=i / 25)
    assert rec.finish(min_seconds=4.0) and rec.state == "complete"
    path = tmp_path / "timed.mp4"
    path.write_bytes(rec.take_clip())
    assert probe_video(path).duration_s == pytest.approx(5.16, abs=0.1)
    assert not rec.finish()  # nothing is recording any more


def test_overlay_draws_the_tracked_hand_on_a_real_photo():
    photo = hand_photo()
    with LandmarkOverlay("hand") as overlay:
        out = overlay.process(photo, 0.0)
        assert overlay.detected == 1
        blank = overlay.process(np.full_like(photo, 128), 0.033)
        assert overlay.detected == 0
    assert out.shape == photo.shape and out.dtype == np.uint8
    changed = np.any(out != photo, axis=2)
    assert changed[30:, :].mean() > 0.005  # landmarks and connections drawn on the hand
    assert np.any(blank[:26] != 128)  # the "no hand found" banner
