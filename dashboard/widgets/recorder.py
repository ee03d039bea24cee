"""Browser recording of one task with streamlit-webrtc (DESIGN.md WebRTC traps).

One stream per clip: voice is an audio-only, send-only stream into a no-drop sink (every frame
reaches core.recorders.AudioClipRecorder, which also feeds the level meter); movement is a
video-only stream whose frames are all recorded (core.recorders.VideoClipRecorder) while only the
latest frame of each batch gets the live landmark overlay sent back to the browser.

The page run polls the recorder: countdown, a timer that stops at the task's target duration,
then the complete clip goes through the same path as an upload (core.capture.add_clip, source
"browser"). While recording, the task's own measures so far are shown twice a second
(core.live: taps so far, rate and amplitude trend; tremor frequency and amplitude; steps and
cadence; pitch, loudness and steady phonation; speaking time and pauses; for the outcome tests,
stands completed, the TUG's phase and time, steps and walking time of a 10 m walk). A movement
recording of tapping, tremor, gait or an outcome test is tracked live (core.live.LiveVideoTracker
on the recorder's own encoded packets), so at Stop only the measures, model, explanation and
database write remain. A stream that stops or stalls mid-recording, or a page left mid-recording, saves
nothing: clips live in memory until complete and are written only by the run that saw them end.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import streamlit as st
import streamlit_webrtc as webrtc  # module attribute calls: AppTest tests replace webrtc_streamer

from core.capture import ClipOutcome, Slot
from core.live import LIVE_TASKS, tracker_for, voice_readout, warm_up
from core.recorders import AudioClipRecorder, ClipRecorder, LandmarkOverlay, VideoClipRecorder
from core.config import settings
from core.tasks import TASKS
from core.words import plural

POLL_S = 0.1
IDLE_PREVIEW_S = 600.0  # the live meter of an idle preview stops updating after this (spares the CPU)
_RECORDERS = "capture_recorders"  # session_state: {(visit_id, slot key): ClipRecorder}
_OVERLAYS = "capture_overlays"  # session_state: {(visit_id, slot key): LandmarkOverlay}
_TRACKERS = "capture_trackers"  # session_state: {(visit_id, slot key): core.live.LiveVideoTracker}
LIVE_EVERY_S = 0.5  # the live measures are recomputed this often (the issue: at least twice a second)
BEHIND_FRAMES = 15  # the live tracker this many frames behind the camera: the readout says so
LEVEL_FLOOR_DB = -60.0
QUIET_DB = -45.0  # below this the voice is too faint to analyse well
LOUD_DB = -3.0  # above this it is about to clip

SaveClip = Callable[..., ClipOutcome]  # (clip bytes, suffix, live tracker or None) -> outcome


def _recorder(visit_id: int, slot: Slot) -> ClipRecorder:
    recorders = st.session_state.setdefault(_RECORDERS, {})
    key = (visit_id, slot.key)
    spec = TASKS[slot.task]
    if key not in recorders:
        cls = AudioClipRecorder if spec.modality == "voice" else VideoClipRecorder
        recorders[key] = cls(spec.max_seconds if spec.ends_when_stopped else spec.target_seconds)
    return recorders[key]


def abort_other_recordings(visit_id: int, keep: Slot | None) -> None:
    """Switching task or leaving the capture page mid-recording: those clips are discarded."""
    for (v, key), rec in st.session_state.get(_RECORDERS, {}).items():
        if (v, key) != (visit_id, keep.key if keep else None):
            rec.abort("Another task was chosen during the recording: nothing was saved.")
            rec.take_clip()
            _drop_tracker(v, key, rec)


def _start_tracker(visit_id: int, slot: Slot, rec: ClipRecorder) -> None:
    """A new recording of a tracked movement task: a fresh live tracker receives its packets."""
    _drop_tracker(visit_id, slot.key, rec)
    tracker = tracker_for(slot.task, slot.side) if isinstance(rec, VideoClipRecorder) else None
    if tracker is not None:
        st.session_state.setdefault(_TRACKERS, {})[(visit_id, slot.key)] = tracker
        rec.listener = tracker
        _overlay(visit_id, slot).tracker = tracker


def _drop_tracker(visit_id: int, key: str, rec: ClipRecorder | None, keep: bool = False):
    """Detach the slot's live tracker; it is returned (keep: a complete clip it tracked, still
    finishing its backlog) or cancelled (an aborted or discarded recording)."""
    tracker = st.session_state.get(_TRACKERS, {}).pop((visit_id, key), None)
    if rec is not None and getattr(rec, "listener", None) is not None:
        rec.listener = None
    if tracker is not None and not keep:
        tracker.cancel()
        return None
    return tracker


def _live_text(visit_id: int, slot: Slot, rec: ClipRecorder) -> str | None:
    """The task's running measures as one line (None for tasks without live measures)."""
    if slot.task not in LIVE_TASKS:
        return None
    if isinstance(rec, AudioClipRecorder):
        readout = voice_readout(slot.task, *rec.samples_so_far())
        return f"**Live:** {readout.text()}" if readout is not None else None
    tracker = st.session_state.get(_TRACKERS, {}).get((visit_id, slot.key))
    if tracker is None:
        return None
    text = f"**Live:** {tracker.readout().text()}"
    if tracker.backlog > BEHIND_FRAMES:
        text += f" (tracking {tracker.backlog} frames behind the camera; it catches up after the clip ends)"
    return text


def _overlay(visit_id: int, slot: Slot) -> LandmarkOverlay:
    overlays = st.session_state.setdefault(_OVERLAYS, {})
    key = (visit_id, slot.key)
    if key not in overlays:
        overlays[key] = LandmarkOverlay(TASKS[slot.task].landmarks)
    return overlays[key]


def _timer_text(seconds: float) -> str:
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


def level_meter(placeholder, dbfs: float) -> None:
    """A level bar (0 = silence floor, 1 = full scale) with a plain-language verdict."""
    fraction = min(1.0, max(0.0, (dbfs - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB))
    verdict = ("no sound: check that the microphone is on" if dbfs <= LEVEL_FLOOR_DB
               else "too quiet: move closer or speak up" if dbfs < QUIET_DB
               else "too loud: move back a little" if dbfs > LOUD_DB else "good level")
    placeholder.progress(fraction, text=f"Microphone level: {verdict}")  # the bar, not a dBFS number


def _stream(visit_id: int, slot: Slot, rec: ClipRecorder):
    spec = TASKS[slot.task]
    key = f"capture-{visit_id}-{slot.key}"
    rtc = settings().rtc_configuration
    if spec.modality == "voice":
        sink = webrtc.create_audio_sink_track(rec.add_frame, key=key)
        return webrtc.webrtc_streamer(
            key=key, mode=webrtc.WebRtcMode.SENDONLY, rtc_configuration=rtc,
            media_stream_constraints={"audio": True, "video": False}, sink_audio_track=sink,
            translations={"start": "Start microphone", "stop": "Stop microphone"},
        )
    overlay = _overlay(visit_id, slot)

    async def frames_callback(frames):
        import av

        for frame in frames:  # every frame goes into the clip
            rec.add_frame(frame)
        latest = frames[-1]  # the overlay only on the newest: it keeps up with the camera
        t = float(latest.pts * latest.time_base) if latest.pts is not None and latest.time_base else time.monotonic()
        tracker = getattr(overlay, "tracker", None)
        # while a clip is tracked live (and its last frames after the clip ended), draw the
        # tracker's newest landmarks: no second MediaPipe competing with it for the CPU
        people = tracker.latest_people() if tracker is not None and not tracker.done else None
        drawn = overlay.process(latest.to_ndarray(format="rgb24"), t, people=people)
        return [av.VideoFrame.from_ndarray(drawn, format="rgb24")]

    return webrtc.webrtc_streamer(
        key=key, mode=webrtc.WebRtcMode.SENDRECV, rtc_configuration=rtc,
        media_stream_constraints={"video": {"width": 640, "height": 480}, "audio": False},
        queued_video_frames_callback=frames_callback, on_video_ended=overlay.close, async_processing=True,
        video_html_attrs={"autoPlay": True, "muted": True, "playsInline": True, "controls": False,
                          "style": {"width": "100%", "maxWidth": "640px"}},
        translations={"start": "Start camera", "stop": "Stop camera"},
    )


def browser_recorder(visit_id: int, slot: Slot, save_clip: SaveClip) -> ClipOutcome | None:
    """The live recorder of one checklist slot. Returns the outcome when a clip was saved in
    this run (the page then refreshes its checklist)."""
    spec = TASKS[slot.task]
    rec = _recorder(visit_id, slot)
    ctx = _stream(visit_id, slot, rec)
    playing = bool(getattr(ctx.state, "playing", False))
    if rec.state == "complete":  # finished while no run was watching (page left): not saved
        rec.take_clip()
        _drop_tracker(visit_id, slot.key, rec)
        st.warning("A recording finished while this page was not watching it: it was not saved. Record it again.")
    if not playing:
        if rec.state in ("countdown", "recording"):
            rec.abort("The stream stopped during the recording: nothing was saved. Record it again.")
            _drop_tracker(visit_id, slot.key, rec)
        if rec.state == "aborted":
            st.warning(rec.acknowledge())
        what = "microphone" if spec.modality == "voice" else "camera"
        length = (f"runs until you press **Finish recording** (at most {spec.max_seconds:.0f} s)"
                  if spec.ends_when_stopped else f"is {spec.target_seconds:.0f} s")
        st.caption(f"Press **Start {what}** and allow the browser to use it. The clip {length} "
                   f"and starts after a {rec.countdown_s:.0f} s countdown.")
        return None

    warm_up(slot.task)  # the analysis stack loads while the patient gets ready, not after Stop
    if rec.state == "aborted":
        st.warning(rec.acknowledge())
    record_label = "Record" if spec.ends_when_stopped else f"Record {spec.target_seconds:.0f} s"
    if rec.state == "idle" and st.button(record_label, key=f"record-{visit_id}-{slot.key}", type="primary",
                                         icon=":material/fiber_manual_record:"):
        _start_tracker(visit_id, slot, rec)
        rec.arm()
    if spec.ends_when_stopped and rec.state == "recording" and st.button(
            "Finish recording", key=f"finish-{visit_id}-{slot.key}", type="primary", icon=":material/stop:",
            help=f"When the patient has finished the test (the clip needs at least {spec.min_seconds:.0f} s)."):
        if not rec.finish(spec.min_seconds):
            st.warning(f"The clip is shorter than {spec.min_seconds:.0f} s: keep recording until the test ends.")

    status = st.empty()
    meter = st.empty()
    live = st.empty()
    started = time.monotonic()
    live_at = 0.0
    while True:
        state = rec.poll()
        if state == "idle" and time.monotonic() - started > IDLE_PREVIEW_S:
            status.caption("Live meter paused: press Record when the patient is ready.")
            return None
        if state == "countdown":
            status.info(f"Get ready: recording starts in {math.ceil(rec.countdown_left())} s", icon=":material/timer:")
        elif state == "recording" and spec.ends_when_stopped:
            status.info(f"Recording {_timer_text(rec.recorded_seconds)}: press Finish recording when the "
                        "patient has completed the test.", icon=":material/fiber_manual_record:")
        elif state == "recording":
            done = min(rec.recorded_seconds, spec.target_seconds)
            status.progress(done / spec.target_seconds,
                            text=f"Recording {_timer_text(done)} / {_timer_text(spec.target_seconds)}")
        elif state == "complete":
            clip = rec.take_clip()
            status.empty()
            tracker = _drop_tracker(visit_id, slot.key, rec, keep=True)
            if clip is None:
                return None
            if tracker is not None:  # frames still queued: the readout goes on while they are tracked
                until = time.monotonic() + 120
                while not tracker.done and time.monotonic() < until:
                    try:
                        live.markdown(f"**Live:** {tracker.readout().text()} (finishing the last "
                                      f"{plural(tracker.backlog, 'frame')} of the clip)")
                    except Exception:
                        pass
                    time.sleep(LIVE_EVERY_S / 2)
            with st.spinner("Saving and analysing the clip..."):
                return save_clip(clip, rec.suffix, tracker)
        elif state == "aborted":
            _drop_tracker(visit_id, slot.key, rec)
            status.warning(rec.acknowledge())
            return None
        else:
            status.caption("Live: press Record when the patient is ready.")
        if isinstance(rec, AudioClipRecorder):
            level_meter(meter, rec.level_dbfs)
        else:
            overlay = _overlay(visit_id, slot)
            found = overlay.detected
            what = "body" if TASKS[slot.task].landmarks == "pose" else "hand"
            meter.caption(f"Tracking: {what} found" if found else f"Tracking: no {what} found yet: adjust the camera")
        if state == "recording" and time.monotonic() - live_at >= LIVE_EVERY_S:
            live_at = time.monotonic()
            try:
                text = _live_text(visit_id, slot, rec)
            except Exception:  # a live readout must never stop the recording
                text = None
            if text:
                live.markdown(text)
        time.sleep(POLL_S)


def fallback(visit_id: int, slot: Slot, save_clip: SaveClip) -> ClipOutcome | None:
    """Where WebRTC cannot connect: the browser's own voice recorder; for movement, a phone clip."""
    spec = TASKS[slot.task]
    if spec.modality != "voice":
        st.caption("If the live camera does not connect: the browser's photo camera cannot record video, so "
                   "record the clip on a phone or tablet and add it under **Upload clips** below.")
        return None
    with st.expander("Live microphone not connecting? Record with the browser's recorder instead"):
        st.caption("This recorder has no countdown or timer: record at least "
                   f"{spec.min_seconds:.0f} s (aim for {spec.target_seconds:.0f} s), then save.")
        audio = st.audio_input(f"{spec.label}: record", key=f"fallback-{visit_id}-{slot.key}")
        if audio is not None and st.button("Save this recording", key=f"fallback-save-{visit_id}-{slot.key}"):
            with st.spinner("Saving and analysing the clip..."):
                return save_clip(audio.getvalue(), ".wav")
    return None
