"""The capture page through AppTest on a real SQLite clinic: checklist statuses from real rows,
retake, instructions and diagram, the WebRTC streams it asks for, and a voice clip recorded
through the page's own recording loop. webrtc_streamer is replaced (DESIGN.md: it cannot run
under AppTest); the fake feeds a real public vowel recording into the page's audio sink as 48 kHz
frames, as the browser would. The real WebRTC path is tested in tests/e2e/test_capture_browser.py.
Runs the real dashboard/app.py."""
from __future__ import annotations

import base64
import threading
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
import streamlit_webrtc
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.config import settings
from core.media.audio import load_audio
from core.store import Clinician, Recording, open_store, repository, transaction
from dashboard.formatting import escape_markdown
from dashboard.widgets import recorder as recorder_widget
from tests.dashboard.conftest import APP, open_page, sign_in

VOICE = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
PD_VOWEL = next(VOICE.glob("PD_sample__AH_545692309*.wav"))  # public recording (Iyer 2023)
RTC = '{"iceServers": [{"urls": "stun:stun.clinic.example:3478"}]}'


class FakeStreamer:
    """Stands in for streamlit_webrtc: records what the page asks for; when `playing`, a thread
    pushes `audio` (int16 mono, 48 kHz) into the page's audio sink faster than real time."""

    def __init__(self):
        self.calls: list[dict] = []
        self.playing = False
        self.audio: np.ndarray | None = None
        self.drop_after_s: float | None = None  # stop feeding once this much is recorded (a dropped link)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def create_audio_sink_track(self, callback, key):
        return SimpleNamespace(callback=callback, key=key)

    def webrtc_streamer(self, key, **kwargs):
        self.calls.append({"key": key, **kwargs})
        sink = kwargs.get("sink_audio_track")
        if self.playing and sink is not None and self.audio is not None and self._thread is None:
            self._thread = threading.Thread(target=self._feed, args=(sink.callback,), daemon=True)
            self._thread.start()
        return SimpleNamespace(state=SimpleNamespace(playing=self.playing, signalling=False))

    def _feed(self, callback):
        step, i = 960, 0  # 20 ms frames
        recorder = callback.__self__  # the page's AudioClipRecorder (its add_frame is the sink callback)
        while not self._stop.is_set():
            if self.drop_after_s is not None and recorder.recorded_seconds >= self.drop_after_s:
                return
            chunk = np.take(self.audio, range(i, i + step), mode="wrap")
            frame = av.AudioFrame.from_ndarray(chunk[None, :].astype(np.int16), format="s16", layout="mono")
            frame.sample_rate = 48000
            callback(frame)
            i += step
            time.sleep(0.005)  # 4x real time

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)


@pytest.fixture
def fake_webrtc(monkeypatch):
    fake = FakeStreamer()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake.webrtc_streamer)
    monkeypatch.setattr(streamlit_webrtc, "create_audio_sink_track", fake.create_audio_sink_track)
    monkeypatch.setattr(recorder_widget, "IDLE_PREVIEW_S", 0.3)
    yield fake
    fake.stop()


@pytest.fixture
def clinic(admin_db, monkeypatch):
    """The administrator, a synthetic patient and one visit; STUN settings the page must pass on."""
    monkeypatch.setenv("PDLENS_RTC_CONFIGURATION", RTC)
    settings.cache_clear()
    with transaction(open_store(admin_db)) as s:
        admin = s.scalar(select(Clinician))
        patient = repository.create_patient(s, admin, mrn="SYN-CAP-7", name="Synthetic Capture Patient",
                                            birth_date=date(1948, 6, 1), sex="unknown", diagnosis="unknown",
                                            more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 5, 2), medication_state="on")
        return SimpleNamespace(admin=admin.id, visit=visit.id, url=admin_db)


def open_capture(clinic, at: AppTest | None = None) -> AppTest:
    """Sign in to the real app (a given AppTest keeps the session state a test put in it) and
    open the capture page of the clinic's visit."""
    if at is None:  # not `at or ...`: an AppTest that has not run yet is falsy
        at = AppTest.from_file(str(APP), default_timeout=60)
    at = sign_in(at)
    return open_page(at, "views/capture.py", visit=clinic.visit)


def add_row(clinic, task, side, status, quality_ok, problems=(), n=0):
    with transaction(open_store(clinic.url)) as s:
        admin = s.get(repository.Clinician, clinic.admin)
        checks = [{"name": "detection", "passed": False, "value": None, "unit": "", "message": m} for m in problems]
        repository.add_recording(s, admin, clinic.visit, task=task, side=side,
                                 stored_path=f"recordings/00/{n:064x}.mp4", sha256=f"{n:064x}", duration_s=10.0,
                                 format="mp4", source="upload", quality_ok=quality_ok,
                                 quality_json={"ok": quality_ok, "checks": checks}, status=status)


def badge_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "-badge[" in m.value]


def test_checklist_shows_each_task_status_from_the_visit_recordings(clinic, fake_webrtc):
    add_row(clinic, "vowel", None, "analysed", True, n=1)
    add_row(clinic, "finger_tapping", "left", "needs_retake", False, ["No hand was found in 62% of the frames."], n=2)
    add_row(clinic, "gait", None, "recorded", False, n=3)
    at = open_capture(clinic)
    assert not at.exception
    assert at.title[0].value == "Capture: visit of 2024-05-02"
    # the seven standard tasks, then the three outcome tests (not recorded: to do, and not counted)
    assert badge_texts(at) == [":green-badge[Analysed]", ":gray-badge[To do]", ":orange-badge[Needs retake]",
                               ":gray-badge[To do]", ":gray-badge[To do]", ":gray-badge[To do]", ":blue-badge[Recorded]",
                               # the outcome tests, in their own section
                               ":gray-badge[To do]", ":gray-badge[To do]", ":gray-badge[To do]"]
    assert [h.value for h in at.subheader][:2] == ["Tasks", "Outcome tests"]
    labels = [b.label for b in at.button if b.key and b.key.startswith("choose-")]
    assert labels == ["Retake", "Record", "Retake", "Record", "Record", "Record", "Retake", "Record", "Record", "Record"]
    page = "\n".join(m.value for m in at.markdown)
    assert escape_markdown("No hand was found in 62% of the frames.") in page  # why a retake is needed
    assert "1 of 7 tasks analysed" in at.get("progress")[0].proto.text
    assert fake_webrtc.calls == []  # no stream until a task is chosen


def test_retake_opens_the_task_with_instructions_diagram_and_a_video_only_stream(clinic, fake_webrtc):
    add_row(clinic, "finger_tapping", "left", "needs_retake", False, ["Too dark."], n=4)
    at = open_capture(clinic)
    at.button(key=f"choose-{clinic.visit}-finger_tapping_left").click()
    at.run()
    assert not at.exception
    # subheaders: "Tasks", "Outcome tests", then the chosen task
    assert at.subheader[2].value == "Finger tapping (3.4), left hand"
    page = "\n".join(m.value for m in at.markdown)
    assert escape_markdown("Tap the index finger against the thumb at least 10 times") in page
    assert "Test the **left** hand" in page
    assert at.get("image")  # the camera placement diagram
    call = fake_webrtc.calls[-1]
    assert call["key"] == f"capture-{clinic.visit}-finger_tapping_left"
    assert call["mode"] == streamlit_webrtc.WebRtcMode.SENDRECV
    assert call["media_stream_constraints"]["audio"] is False and call["media_stream_constraints"]["video"]
    assert call["rtc_configuration"] == {"iceServers": [{"urls": "stun:stun.clinic.example:3478"}]}  # from settings
    assert callable(call["queued_video_frames_callback"])
    assert "upload" in "\n".join(c.value for c in at.caption).lower()  # no photo camera fallback for video


def test_an_outcome_test_records_until_the_therapist_finishes_it(clinic, fake_webrtc):
    """A TUG lasts as long as the patient takes: no fixed clip length, a Finish button instead."""
    at = open_capture(clinic)
    at.button(key=f"choose-{clinic.visit}-tug").click()
    at.run()
    assert not at.exception
    assert at.subheader[2].value == "Timed Up and Go"
    page = "\n".join(m.value for m in at.markdown)
    assert escape_markdown("walk at a comfortable, safe pace to the line 3 m away") in page
    assert "runs until you press **Finish recording** (at most 120 s)" in "\n".join(c.value for c in at.caption)
    assert fake_webrtc.calls[-1]["mode"] == streamlit_webrtc.WebRtcMode.SENDRECV


def test_voice_task_asks_for_an_audio_only_stream_and_offers_the_browser_recorder(clinic, fake_webrtc):
    at = open_capture(clinic)
    at.button(key=f"choose-{clinic.visit}-vowel").click()
    at.run()
    assert not at.exception
    call = fake_webrtc.calls[-1]
    assert call["mode"] == streamlit_webrtc.WebRtcMode.SENDONLY
    assert call["media_stream_constraints"] == {"audio": True, "video": False}
    assert call["sink_audio_track"].key == call["key"]
    assert any("browser's recorder" in e.label for e in at.expander)  # st.audio_input fallback


def _vowel_48k() -> np.ndarray:
    samples, rate = load_audio(PD_VOWEL)
    from scipy.signal import resample_poly

    return np.clip(resample_poly(samples, 3, 1) * 32767, -32768, 32767).astype(np.int16)


@pytest.mark.slow
def test_voice_clip_recorded_through_the_page_is_stored_analysed_and_checked_off(clinic, fake_webrtc):
    fake_webrtc.audio = _vowel_48k()
    at = open_capture(clinic)
    at.button(key=f"choose-{clinic.visit}-vowel").click()
    fake_webrtc.playing = True
    at.run()
    assert not at.exception
    assert "Microphone level" in at.get("progress")[-1].proto.text  # the live level meter
    at.button(key=f"record-{clinic.visit}-vowel").click()
    at.run(timeout=90)
    assert not at.exception
    with transaction(open_store(clinic.url)) as s:
        recs = s.scalars(select(Recording)).all()
        assert [(r.task, r.source, r.format) for r in recs] == [("vowel", "browser", "wav")]
        assert recs[0].duration_s == pytest.approx(5.0, abs=0.1)  # the timer stopped at the target
        assert recs[0].status in ("analysed", "needs_retake")
    assert badge_texts(at)[0] in (":green-badge[Analysed]", ":orange-badge[Needs retake]")
    assert any(escape_markdown("Sustained vowel /a/") in el.value for el in [*at.success, *at.warning])


@pytest.mark.slow
def test_a_stream_that_stops_mid_recording_saves_nothing(clinic, fake_webrtc):
    fake_webrtc.audio = _vowel_48k()
    fake_webrtc.drop_after_s = 1.5  # 1.5 s of the 5 s clip, then nothing arrives
    at = open_capture(clinic)
    at.button(key=f"choose-{clinic.visit}-vowel").click()
    fake_webrtc.playing = True
    at.run()
    at.button(key=f"record-{clinic.visit}-vowel").click()
    at.run(timeout=60)
    assert not at.exception
    assert any("connection dropped during the recording: nothing was saved" in w.value for w in at.warning)
    with transaction(open_store(clinic.url)) as s:
        assert s.scalars(select(Recording)).all() == []
    root = settings().data_dir / "recordings"
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


def test_a_clip_that_ended_while_the_page_was_left_or_a_stopped_stream_saves_nothing(clinic, fake_webrtc):
    """Leaving the page mid-recording: the recorder may finish in the background, but only the
    page run that watched it end saves a clip; a stream found stopped mid-recording is dropped."""
    from core.recorders import AudioClipRecorder

    finished = AudioClipRecorder(5.0, countdown_s=0.0)
    finished.arm(now=0.0)
    finished.add_samples(np.full(5 * 48000, 1000, np.int16), 48000, now=0.1)
    assert finished.state == "complete"
    stopped = AudioClipRecorder(30.0, countdown_s=0.0)
    stopped.arm(now=0.0)
    stopped.add_samples(np.full(48000, 1000, np.int16), 48000, now=0.1)
    assert stopped.state == "recording"
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["capture_recorders"] = {(clinic.visit, "vowel"): finished, (clinic.visit, "reading"): stopped}
    at.session_state["capture-chosen-slot"] = {clinic.visit: "vowel"}
    at = open_capture(clinic, at)
    assert not at.exception
    assert any("finished while this page was not watching it: it was not saved" in w.value for w in at.warning)
    assert finished.take_clip() is None
    at.session_state["capture-chosen-slot"] = {clinic.visit: "reading"}
    at.run()
    assert any("stream stopped during the recording: nothing was saved" in w.value for w in at.warning)
    assert stopped.state == "idle" and stopped.take_clip() is None
    with transaction(open_store(clinic.url)) as s:
        assert s.scalars(select(Recording)).all() == []


def test_outcome_tests_are_listed_apart_and_tug_shows_its_instructions_and_picture(clinic, fake_webrtc):
    at = open_capture(clinic)
    assert not at.exception
    headings = [h.value for h in at.subheader]
    assert headings[:2] == ["Tasks", "Outcome tests"]
    outcome_labels = {b.key: b.label for b in at.button if b.key and b.key.startswith(f"choose-{clinic.visit}-")}
    for task in ("tug", "sit_to_stand", "gait_speed"):
        assert outcome_labels[f"choose-{clinic.visit}-{task}"] == "Record"
    at.button(key=f"choose-{clinic.visit}-tug").click()
    at.run()
    assert not at.exception
    assert "Timed Up and Go" in [h.value for h in at.subheader]
    page = "\n".join(m.value for m in at.markdown)
    assert escape_markdown("walk at a comfortable, safe pace to the line 3 m away") in page
    # the picture shown is the task's own (dashboard/static/capture/tug.svg), not the fallback
    url = at.get("image")[0].proto.imgs[0].url
    assert url.startswith("data:image/svg+xml;base64,")
    shown = base64.b64decode(url.split(",", 1)[1])
    assert shown == (APP.parent / "static" / "capture" / "tug.svg").read_bytes()
    assert b"3 m" in shown and b"45" in shown


@pytest.mark.slow
def test_a_multi_file_upload_is_analysed_on_the_upload_cluster_and_each_file_is_stored(clinic, fake_webrtc,
                                                                                       monkeypatch):
    """Two real vowels and a file without a task uploaded at once: the two are analysed in
    parallel on the server's upload cluster (a real 2-worker LocalCluster), each stored."""
    from core.executor import DaskExecutor
    from dashboard import state

    monkeypatch.setenv("PDLENS_UPLOAD_WORKERS", "2")
    settings.cache_clear()
    vowels = sorted(VOICE.glob("*.wav"))[:2]
    try:
        at = open_capture(clinic)
        [uploader] = at.file_uploader
        uploader.set_value([("vowel one.wav", vowels[0].read_bytes(), "audio/wav"),
                            ("vowel two.wav", vowels[1].read_bytes(), "audio/wav"),
                            ("IMG_7.MOV", b"synthetic" * 100, "video/quicktime")])
        at.run()
        [add] = [b for b in at.button if b.label.startswith("Add 3 files")]
        add.click()
        at.run(timeout=180)
        assert not at.exception
        assert isinstance(state.upload_executor(), DaskExecutor)  # started by the upload, kept for the next
        with transaction(open_store(clinic.url)) as s:
            recs = s.scalars(select(Recording).order_by(Recording.original_name)).all()
            assert [(r.original_name, r.task, r.source) for r in recs] == [
                ("vowel one.wav", "vowel", "upload"), ("vowel two.wav", "vowel", "upload")]
        errors = [e.value.replace("\\", "") for e in at.error]
        assert any("Choose the task of this file" in e for e in errors)  # the third stays listed
    finally:
        state._upload_executor.clear()  # closes the cluster (on_release)
