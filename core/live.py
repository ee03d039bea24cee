"""Live data points while a clip is recorded, and the clip's landmarks ready at Stop (no
Streamlit).

* Live measures: `live_readout(task, ...)` computes a task's running measures from the signal
  so far with the SAME functions that compute its stored measures (finger tapping:
  core.movement.finger_tapping.tapping_features / tapping_measures; tremor: tremor_features;
  gait: events_from_pose / stride_measures; vowel: the Praat pitch of analyze_samples; reading:
  reading_measures; the outcome tests: their pipelines' analyze_pose on the pose series so far,
  with the tested person chosen as their analysis chooses it: 5x sit-to-stand stands completed
  and the time since the first rise, then sts_time_s; TUG the phase the patient is in, the
  sit-to-stand time and the time since rising began, then tug_time_s once seated again; gait
  speed the steps and walking time, never a speed: it needs the floor marks, clicked on the clip
  after recording), so the readout at the end of a clip is the stored result of those frames.
  Each value is plain (name, label, value, unit) or says why it is not there yet.

* `LiveVideoTracker` (movement): VideoClipRecorder hands it every encoded packet before it is
  muxed into the clip. A worker thread decodes the packets (the clip's own bytes, so the frames
  are bit for bit the ones the stored clip decodes to, converted as core.media.video.VideoReader
  converts them) and runs the offline tracker itself (core.movement.hand_crop.track_hand for
  tapping and tremor, core.movement.landmarks.extract_pose_landmarks for gait: same models and
  settings; the outcome tests' decode_pose thinning to 15 fps and choice of the person) on them
  in order from a queue. When the camera delivers faster than the tracker
  runs, frames wait in the queue (`backlog`) and the worker finishes them after Stop: nothing is
  skipped. After Stop, `write_cache(clip, cache_path)` checks that the stored file holds exactly
  the packets the tracker decoded (same bytes, same timestamps) and writes the clip's landmark
  cache from the tracked series, so the analysis reads the cache and runs no MediaPipe; when
  they differ it writes nothing and the analysis tracks the clip from scratch.
"""
from __future__ import annotations

import bisect
import hashlib
import logging
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

OUTCOME_TASKS = ("tug", "sit_to_stand", "gait_speed")  # thinned to 15 fps, as their pipelines decode
POSE_TASKS = ("gait",) + OUTCOME_TASKS  # body landmarks (2 people tracked, the tested one chosen)
LIVE_TASKS = ("finger_tapping", "tremor", "gait", "vowel", "reading") + OUTCOME_TASKS
TRACKED_TASKS = ("finger_tapping", "tremor", "gait") + OUTCOME_TASKS
MS = Fraction(1, 1000)  # VideoClipRecorder's encoder time base
IDLE_GIVE_UP_S = 120.0  # a tracker that receives nothing this long (its page was closed) ends


# ---------------------------------------------------------------- live values

@dataclass(frozen=True)
class LiveValue:
    """One running measure: a value with its unit, or (value None) why it is not there yet."""

    name: str
    label: str
    value: float | None
    unit: str
    not_yet: str = ""
    word: str = ""  # a value that is a word (the TUG's phase), not a number

    def text(self) -> str:
        if self.word:
            return f"{self.label}: {self.word}"
        if self.value is None:
            return f"{self.label}: {self.not_yet or 'not yet'}"
        counts = ("taps", "steps", "pauses", "stands")
        digits = 0 if self.unit in counts else (2 if abs(self.value) < 10 else 1)
        unit = f" {self.unit}" if self.unit and self.unit not in counts else ""
        return f"{self.label}: {self.value:.{digits}f}{unit}"


@dataclass(frozen=True)
class LiveReadout:
    task: str
    seconds: float  # signal so far (s)
    values: tuple[LiveValue, ...]

    def value(self, name: str) -> float | None:
        return next((v.value for v in self.values if v.name == name), None)

    def text(self) -> str:
        return " · ".join(v.text() for v in self.values)


def _not_yet(task: str, seconds: float, reason: str, *names_labels_units) -> LiveReadout:
    return LiveReadout(task, seconds, tuple(LiveValue(n, lab, None, u, reason) for n, lab, u in names_labels_units))


_TAPPING = (("taps", "Taps so far", "taps"), ("tap_frequency", "Rate", "Hz"),
            ("amplitude_decrement_pct", "Amplitude trend (decrement)", "%"))


def tapping_readout(times: np.ndarray, landmarks: np.ndarray, image_size: tuple[int, int]) -> LiveReadout:
    """Taps so far, tapping rate (the stored 'tap_frequency': median taps per second) and the
    amplitude trend (the stored 'amplitude_decrement_pct') of the frames so far."""
    from core.movement.finger_tapping import (MIN_PEAKS_FOR_FEATURES, NotEnoughTaps, tapping_features,
                                              tapping_measures)

    seconds = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if len(times) < 8 or not (~np.isnan(landmarks[:, 0, 0])).any():
        return _not_yet("finger_tapping", seconds, "no hand seen yet", *_TAPPING)
    try:
        features, signal = tapping_features(times, landmarks, image_size, return_signal=True)
    except NotEnoughTaps as exc:
        wait = f"after {MIN_PEAKS_FOR_FEATURES} taps"
        return LiveReadout("finger_tapping", seconds, (
            LiveValue("taps", "Taps so far", float(exc.count), "taps"),
            LiveValue("tap_frequency", "Rate", None, "Hz", wait),
            LiveValue("amplitude_decrement_pct", "Amplitude trend (decrement)", None, "%", wait)))
    measures = {m.name: m.value for m in tapping_measures(features, signal)}
    return LiveReadout("finger_tapping", seconds, (
        LiveValue("taps", "Taps so far", float(measures["tap_count"]), "taps"),
        LiveValue("tap_frequency", "Rate", float(measures["tap_frequency"]), "Hz"),
        LiveValue("amplitude_decrement_pct", "Amplitude trend (decrement)",
                  float(measures["amplitude_decrement_pct"]), "%")))


_TREMOR = (("tremor_frequency", "Dominant frequency", "Hz"), ("tremor_amplitude_rms", "Amplitude (RMS)", "% hand length"))


def tremor_readout(times: np.ndarray, landmarks: np.ndarray, image_size: tuple[int, int]) -> LiveReadout:
    """Dominant frequency and RMS amplitude (the stored tremor measures) of the frames so far."""
    from core.movement.tremor import tremor_features, tremor_measures

    seconds = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if (~np.isnan(landmarks[:, 0, 0])).sum() < 2:
        return _not_yet("tremor", seconds, "no hand seen yet", *_TREMOR)
    try:
        values = {m.name: m.value for m in tremor_measures(tremor_features(times, landmarks, image_size))}
    except ValueError:
        return _not_yet("tremor", seconds, "after 2 s of the hand in view", *_TREMOR)
    return LiveReadout("tremor", seconds, tuple(LiveValue(n, lab, float(values[n]), u) for n, lab, u in _TREMOR))


_GAIT = (("steps", "Steps", "steps"), ("cadence", "Cadence", "steps/min"))


def gait_readout(pose_series) -> LiveReadout:
    """Steps (heel strikes) and cadence (the stored 'cadence_steps_per_min') of the frames so far."""
    from core.movement.gait import events_from_pose, pose_tracks, stride_measures

    times = pose_series.times
    seconds = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if pose_series.detected.sum() < 10:
        return _not_yet("gait", seconds, "no one walking in view yet", *_GAIT)
    try:
        tracks = pose_tracks(pose_series)
        events = events_from_pose(pose_series, tracks)
        values = stride_measures(events, duration_s=float(times[-1]))
    except (ValueError, IndexError):
        return _not_yet("gait", seconds, "no one walking in view yet", *_GAIT)
    steps = float(sum(len(v) for v in events.heel_strikes.values()))
    cadence = values.get("cadence_steps_per_min", float("nan"))
    return LiveReadout("gait", seconds, (
        LiveValue("steps", "Steps", steps, "steps"),
        LiveValue("cadence", "Cadence", float(cadence), "steps/min") if np.isfinite(cadence)
        else LiveValue("cadence", "Cadence", None, "steps/min", "after two strides")))


# ---------------------------------------------------------------- the outcome tests (pose)

def _last_t(pose_series) -> float:
    times = np.asarray(pose_series.times, float)
    return float(times[-1] - times[0]) if len(times) > 1 else 0.0


def _failed(result, name: str) -> bool:
    return any(c.name == name and not c.passed for c in result.quality.checks)


def _first_problem(result) -> str:
    """The first failed check's finding, without what to do (its message up to the colon)."""
    message = next((c.message for c in result.quality.checks if not c.passed), "")
    return message.split(":")[0].rstrip(".").lower() if message else ""


_STS = (("stands", "Stands completed", "stands"), ("sts_time", "Time since the first rise", "s"))
NOT_SEATED_YET = "no one seated in view yet"
NOT_SEATED_AT_START = "not seated at the start: start recording while the patient sits in the chair"


def sit_to_stand_readout(pose_series) -> LiveReadout:
    """Stands completed so far (the stored 'sts_repetitions') and the time since the start of the
    first rise; once the fifth stand is complete, the stored 'sts_time_s'. Both from
    core.movement.sit_to_stand.analyze_pose on the frames so far (the tested person chosen by
    choose_sitter among those tracked so far, as the analysis of the whole clip does)."""
    from core.movement import posture as pst
    from core.movement import sit_to_stand as sts

    seconds = _last_t(pose_series)
    if pose_series.detected.sum() < 5:
        return _not_yet("sit_to_stand", seconds, NOT_SEATED_YET, *_STS)
    result = sts.analyze_pose(pose_series)
    values = result.signal.get("measure_values", {})
    state = np.asarray(result.signal.get("posture_state", ()))
    if _failed(result, "seated_at_start"):
        return _not_yet("sit_to_stand", seconds, NOT_SEATED_AT_START, *_STS)
    if not (state == pst.SEATED).any():  # nothing decided yet (too few frames of the person)
        return _not_yet("sit_to_stand", seconds, NOT_SEATED_YET, *_STS)
    stands = LiveValue("stands", "Stands completed", float(values.get("sts_repetitions", 0.0)), "stands")
    starts = result.signal["phases"].get("rise_starts", [])
    if "sts_time_s" in values and result.quality.ok:  # five full stands: the test's time
        timed = LiveValue("sts_time", "5xSTS time", float(values["sts_time_s"]), "s")
    elif "sts_time_s" in values:  # five stands, but the analysis would not time them
        timed = LiveValue("sts_time", "5xSTS time", None, "s", f"not timed: {_first_problem(result)}")
    elif starts:
        timed = LiveValue("sts_time", "Time since the first rise", seconds - float(starts[0]), "s")
    else:
        timed = LiveValue("sts_time", "Time since the first rise", None, "s", "timing starts when the patient stands up")
    return LiveReadout("sit_to_stand", seconds, (stands, timed))


_TUG = (("phase", "Phase", ""), ("stood_up_s", "Sit-to-stand", "s"), ("tug_time", "Time since rising began", "s"))
_TUG_PHASES = {0: "seated", 1: "rising", 2: "up and walking", 3: "sitting down", -1: "not in view"}
_TUG_NOT_TIMED = {  # core.movement.tug.REASONS, shortened for one line
    "left_view": "not timed: the patient left the picture during the test",
    "no_turn": "not timed: no walk out, turn and walk back was seen",
}


def tug_readout(pose_series) -> LiveReadout:
    """The phase the patient is in (from the posture of core.movement.tug.analyze_pose on the
    frames so far), how long the sit-to-stand took once standing (the stored 'tug_sit_to_stand_s'
    of those frames), the time since rising began; once seated again and every phase was found,
    the stored 'tug_time_s'. Nothing is timed before the patient was seen seated."""
    from core.movement import tug

    seconds = _last_t(pose_series)
    if pose_series.detected.sum() < 5:
        return _not_yet("tug", seconds, NOT_SEATED_YET, *_TUG)
    result = tug.analyze_pose(pose_series)
    signal = result.signal
    state = np.asarray(signal.get("posture_state", ()))
    if _failed(result, "seated_at_start"):
        return _not_yet("tug", seconds, NOT_SEATED_AT_START, *_TUG)
    if not (state == 0).any():
        return _not_yet("tug", seconds, NOT_SEATED_YET, *_TUG)
    values = signal.get("measure_values", {})
    if values and not result.quality.ok:  # every phase found, but the analysis would not time them
        return LiveReadout("tug", seconds, (
            LiveValue("phase", "Phase", None, "", word="seated again"),
            LiveValue("stood_up_s", "Sit-to-stand", None, "s", f"not timed: {_first_problem(result)}"),
            LiveValue("tug_time", "TUG time", None, "s", f"not timed: {_first_problem(result)}")))
    if values:  # seated again, every phase found: the test's result
        return LiveReadout("tug", seconds, (
            LiveValue("phase", "Phase", None, "", word="seated again: test complete"),
            LiveValue("stood_up_s", "Sit-to-stand", float(values["tug_sit_to_stand_s"]), "s"),
            LiveValue("tug_time", "TUG time", float(values["tug_time_s"]), "s")))
    rises = [(start, end) for kind, start, end in signal.get("transitions", []) if kind == "rise"]
    if not rises:
        return LiveReadout("tug", seconds, (
            LiveValue("phase", "Phase", None, "", word="seated, waiting to stand up"),
            LiveValue("stood_up_s", "Sit-to-stand", None, "s", "not stood up yet"),
            LiveValue("tug_time", "Time since rising began", None, "s", "timing starts when the patient stands up")))
    start, standing = rises[0]
    failed = next((c.name for c in result.quality.checks if not c.passed), None)
    phase = next((text for key, text in _TUG_NOT_TIMED.items() if failed == tug.REASONS[key][0]), None)
    if phase is not None:  # seated again (these are checked once the sit is found): no time
        return LiveReadout("tug", seconds, (
            LiveValue("phase", "Phase", None, "", word=phase),
            LiveValue("stood_up_s", "Sit-to-stand", None, "s", "not timed"),
            LiveValue("tug_time", "TUG time", None, "s", "not timed")))
    phase = _TUG_PHASES.get(int(state[-1]), "not in view")
    # "so far": the rise is dated against the standing level of the frames so far, and the
    # whole clip's level can move its end by a few tenths of a second (seen on the composites)
    return LiveReadout("tug", seconds, (
        LiveValue("phase", "Phase", None, "", word=phase),
        LiveValue("stood_up_s", "Sit-to-stand (so far)", float(standing - start), "s"),
        LiveValue("tug_time", "Time since rising began", seconds - float(start), "s")))


_GAIT_SPEED = (("steps", "Steps", "steps"), ("walking_s", "Walking time", "s"), ("speed", "Speed", "m/s"))
SPEED_AFTER_MARKS = "after recording, from the floor marks clicked on the clip (or the patient's height)"


def gait_speed_readout(pose_series) -> LiveReadout:
    """Steps (heel strikes, core.movement.gait.events_from_pose on the pose tracks of the frames
    so far, as core.movement.gait_speed.analyze_pose finds them) and the walking time (first to
    last heel strike). No speed: it needs the floor marks, clicked on the clip after recording."""
    from core.movement.gait import SIDES, events_from_pose, pose_tracks

    seconds = _last_t(pose_series)
    speed = LiveValue("speed", "Speed", None, "m/s", SPEED_AFTER_MARKS)
    if pose_series.detected.sum() < 10:
        return LiveReadout("gait_speed", seconds, (
            LiveValue("steps", "Steps", None, "steps", "no one walking in view yet"),
            LiveValue("walking_s", "Walking time", None, "s", "no one walking in view yet"), speed))
    try:
        tracks = pose_tracks(pose_series)
        events = events_from_pose(pose_series, tracks)
    except (ValueError, IndexError):
        return LiveReadout("gait_speed", seconds, (
            LiveValue("steps", "Steps", None, "steps", "no one walking in view yet"),
            LiveValue("walking_s", "Walking time", None, "s", "no one walking in view yet"), speed))
    strikes = np.sort(np.concatenate([np.asarray(events.heel_strikes[s], float) for s in SIDES]))
    walking = (LiveValue("walking_s", "Walking time", float(strikes[-1] - strikes[0]), "s") if len(strikes) >= 2
               else LiveValue("walking_s", "Walking time", None, "s", "after two steps"))
    return LiveReadout("gait_speed", seconds, (LiveValue("steps", "Steps", float(len(strikes)), "steps"),
                                               walking, speed))


def pose_chooser(task: str):
    """The task's own choice of the tested person among those tracked (as its analyze does)."""
    if task == "sit_to_stand":
        from core.movement.sit_to_stand import choose_sitter

        return choose_sitter
    from core.movement.gait import choose_walker

    return choose_walker


POSE_READOUTS = {"gait": gait_readout, "tug": tug_readout, "sit_to_stand": sit_to_stand_readout,
                 "gait_speed": gait_speed_readout}
_POSE_NAMES = {"gait": _GAIT, "tug": _TUG, "sit_to_stand": _STS, "gait_speed": _GAIT_SPEED}


def audio_as_analysed(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """The recorder's int16 samples as the voice pipelines read the stored clip: written as the
    recorder writes its wav, read back by core.media.audio.load_audio (float, 16 kHz)."""
    from core.media.audio import load_audio
    from core.recorders import wav_bytes

    fd, name = tempfile.mkstemp(suffix=".wav", prefix="pdlens-live-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(wav_bytes(samples, sample_rate))
        return load_audio(name)
    finally:
        os.unlink(name)


_VOWEL = (("f0_mean_hz", "Pitch", "Hz"), ("loudness_dbfs", "Loudness", "dBFS"),
          ("steady_s", "Steady phonation", "s"))


def vowel_readout(samples: np.ndarray, sample_rate: int) -> LiveReadout:
    """Pitch (the stored 'f0_mean_hz': Praat's mean F0 over the stable part), loudness (level of
    the last 0.5 s, dBFS) and seconds of steady phonation (the stable part that vowel's measures
    are taken on) of the audio so far."""
    from parselmouth.praat import call

    from core.recorders import level_dbfs
    from core.voice.praat import pitch_cc, to_sound
    from core.voice.vowel import MIN_STABLE_SECONDS, stable_interval

    seconds = samples.size / sample_rate if sample_rate else 0.0
    if seconds < 0.5:
        return _not_yet("vowel", seconds, "after half a second", *_VOWEL)
    loud = level_dbfs(samples[-int(0.5 * sample_rate):])
    audio, rate = audio_as_analysed(samples, sample_rate)
    sound = to_sound(audio, rate)
    interval = stable_interval(pitch_cc(sound))
    if interval is None:
        wait = f"after {MIN_STABLE_SECONDS:g} s of a steady 'aaah'"
        return LiveReadout("vowel", seconds, (LiveValue("f0_mean_hz", "Pitch", None, "Hz", wait),
                                              LiveValue("loudness_dbfs", "Loudness", loud, "dBFS"),
                                              LiveValue("steady_s", "Steady phonation", 0.0, "s")))
    part = sound.extract_part(from_time=interval[0], to_time=interval[1], preserve_times=False)
    f0 = float(call(pitch_cc(part), "Get mean", 0, 0, "Hertz"))
    return LiveReadout("vowel", seconds, (LiveValue("f0_mean_hz", "Pitch", f0, "Hz"),
                                          LiveValue("loudness_dbfs", "Loudness", loud, "dBFS"),
                                          LiveValue("steady_s", "Steady phonation", interval[1] - interval[0], "s")))


_READING = (("speaking_s", "Speaking time", "s"), ("pause_count", "Pauses", "pauses"),
            ("pause_ratio", "Time in pauses", "%"))


def reading_readout(samples: np.ndarray, sample_rate: int) -> LiveReadout:
    """Speaking time (the speech span less its pauses), pauses (the stored 'pause_count') and the
    share of time in pauses (the stored 'pause_ratio') of the audio so far, by
    core.voice.reading.reading_measures."""
    from core.voice.praat import pitch_cc, to_sound
    from core.voice.reading import reading_measures

    seconds = samples.size / sample_rate if sample_rate else 0.0
    if seconds < 1.0:
        return _not_yet("reading", seconds, "after a second", *_READING)
    audio, rate = audio_as_analysed(samples, sample_rate)
    sound = to_sound(audio, rate)
    measures, details = reading_measures(sound, pitch_cc(sound))
    if not measures:
        return _not_yet("reading", seconds, "no speech heard yet", *_READING)
    values = {m.name: m.value for m in measures}
    start, end = details["speech_span_s"]
    pauses = sum(d for _, d in details["pauses"])
    return LiveReadout("reading", seconds, (
        LiveValue("speaking_s", "Speaking time", float(end - start - pauses), "s"),
        LiveValue("pause_count", "Pauses", float(values["pause_count"]), "pauses"),
        LiveValue("pause_ratio", "Time in pauses", 100.0 * float(values["pause_ratio"]), "%")))


def voice_readout(task: str, samples: np.ndarray, sample_rate: int | None) -> LiveReadout | None:
    if task not in ("vowel", "reading"):
        return None
    if not sample_rate or samples.size == 0:
        return _not_yet(task, 0.0, "recording has not started", *(_VOWEL if task == "vowel" else _READING))
    return vowel_readout(samples, sample_rate) if task == "vowel" else reading_readout(samples, sample_rate)


# ---------------------------------------------------------------- the live tracker

_END = object()


def _nal_units(data: bytes, annex_b: bool) -> list[bytes]:
    """The NAL units of one H.264 packet, in Annex B form (start codes, as the encoder writes
    them) or length-prefixed (as mp4 stores them; a 4-byte length may itself look like a start
    code, so the caller says which); trailing zero bytes dropped."""
    import re

    if annex_b:
        units = re.split(b"\x00\x00\x01", data)
    else:
        units, i = [], 0
        while i + 4 <= len(data):
            n = int.from_bytes(data[i:i + 4], "big")
            units.append(data[i + 4:i + 4 + n])
            i += 4 + n
    return [u.rstrip(b"\x00") for u in units if u.rstrip(b"\x00")]


def _nal_digest(data: bytes, annex_b: bool) -> str:
    h = hashlib.sha1()
    for unit in _nal_units(data, annex_b):
        h.update(len(unit).to_bytes(4, "big"))
        h.update(unit)
    return h.hexdigest()


class _LiveFrames:
    """What track_hand needs of a core.media.video.VideoReader (frames(), source_size,
    source_rgb()), fed from the tracker's packet queue: decodes the packets and converts and
    selects frames exactly as VideoReader does (max_side, max_fps, increasing times)."""

    def __init__(self, tracker: LiveVideoTracker, max_side: int, max_fps: float | None):
        self.tracker = tracker
        self.max_side = max_side
        self.max_fps = max_fps
        self.source_size: tuple[int, int] | None = None
        self._rgb = None
        self._first = None

    def start(self) -> bool:
        """Decode up to the first frame (track_hand reads source_size before iterating)."""
        self._gen = self._decode()
        self._first = next(self._gen, None)
        return self._first is not None

    def frames(self):
        if self._first is not None:
            first, self._first = self._first, None
            yield first
            yield from self._gen

    def source_rgb(self) -> np.ndarray:
        return self._rgb

    def _decode(self):
        import av

        tracker = self.tracker
        codec = None
        while True:
            try:
                item = tracker._queue.get(timeout=IDLE_GIVE_UP_S)
            except queue.Empty:  # nothing for a long while: a recording abandoned with its page
                tracker.cancelled = True
                break
            if item is _END or tracker.cancelled:
                break
            data, pts_ms, extradata = item
            if codec is None:
                codec = av.CodecContext.create("h264", "r")
                if extradata:
                    codec.extradata = extradata
            packet = av.Packet(data)
            packet.pts = packet.dts = pts_ms
            packet.time_base = MS
            decoded = codec.decode(packet)
            tracker._decoded_packets += 1
            for frame in decoded:
                yield from self._convert(frame, pts_ms)
        if codec is not None:
            for frame in codec.decode(None):
                yield from self._convert(frame, None)

    def _convert(self, frame, pts_ms):
        from core.media.video import _scaled_size

        pts = frame.pts if frame.pts is not None else pts_ms
        t_abs = float(pts * MS)
        if self._t0 is None:
            self._t0 = t_abs
        t = t_abs - self._t0
        if t <= self._last_t:
            return
        if self.max_fps and self._count and t - self._last_t < 0.6 / self.max_fps:
            return
        if self.source_size is None:
            self.source_size = (frame.width, frame.height)
            self._out = _scaled_size(frame.width, frame.height, self.max_side)
        rgb = frame.to_ndarray(format="rgb24", width=self._out[0], height=self._out[1])
        self._rgb = rgb if self._out == self.source_size else frame.to_ndarray(format="rgb24")
        self._last_t = t
        self._count += 1
        self.tracker.frame_times.append(t)
        yield t, rgb

    _t0 = None
    _last_t = -np.inf
    _count = 0


class LiveVideoTracker:
    """Tracks a movement clip while it is recorded (see the module docstring). Attach it to a
    VideoClipRecorder (`recorder.listener = tracker`); the recorder calls packet() for every
    encoded packet and end() when the clip is complete. `readout()` gives the live measures,
    `series(timeout)` the finished series, `write_cache()` puts it next to the stored clip."""

    def __init__(self, task: str, side: str | None, model: str = "full"):
        if task not in TRACKED_TASKS:
            raise ValueError(f"no live tracking for {task}")
        self.task, self.side, self.model = task, side, model
        self._queue: queue.Queue = queue.Queue()
        self._progress: dict = {}
        self._packets: list[tuple[int, str]] = []  # (pts ms, sha1 of the bytes) in order
        self._decoded_packets = 0
        self.frame_times: list[float] = []
        self._series = None
        self.error: str | None = None
        self.cancelled = False
        self._ended = threading.Event()
        self._done = threading.Event()
        self.stopped_at: float | None = None  # monotonic time of end()
        self.finished_at: float | None = None  # monotonic time the last frame was tracked
        self.started_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"pdlens-live-{task}", daemon=True)
        self._thread.start()

    # -- from the recorder (WebRTC thread)
    def packet(self, data: bytes, pts_ms: int, extradata: bytes = b"") -> None:
        if self._ended.is_set() or self.cancelled:
            return
        if self.started_at is None:
            self.started_at = time.monotonic()
        self._packets.append((int(pts_ms), _nal_digest(data, annex_b=True)))
        self._queue.put((data, int(pts_ms), extradata))

    def end(self) -> None:
        """The clip is complete: no more packets; the worker finishes the backlog."""
        if not self._ended.is_set():
            self.stopped_at = time.monotonic()
            self._ended.set()
            self._queue.put(_END)

    def cancel(self) -> None:
        """The recording was aborted: stop tracking and forget everything."""
        self.cancelled = True
        self.end()

    # -- state
    @property
    def received(self) -> int:
        return len(self._packets)

    @property
    def tracked(self) -> int:
        """Frames whose landmarks are known."""
        key = "times" if self.task in POSE_TASKS else "landmarks"  # the list appended last per frame
        return len(self._progress.get(key) or ())

    @property
    def backlog(self) -> int:
        """Frames received and not yet tracked (for the outcome tests, which track every other
        frame of a 30 fps clip: received and not yet passed by the last tracked frame)."""
        if self.task not in OUTCOME_TASKS:
            return max(0, self.received - self.tracked)
        times = self._progress.get("times") or ()
        n = self.tracked
        handled = bisect.bisect_right(self.frame_times, times[n - 1]) if n else 0
        return max(0, self.received - handled)

    def _frames_tracked_offline(self) -> int:
        """How many of the decoded frames the task's offline decode passes to the tracker (the
        outcome tests' pipelines thin a clip to 15 fps: core.movement.frames.thinned)."""
        if self.task not in OUTCOME_TASKS:
            return len(self.frame_times)
        from core.movement.frames import OUTCOME_FRAME_GAP_S, thinned

        return sum(1 for _ in thinned(((t, None) for t in self.frame_times), OUTCOME_FRAME_GAP_S))

    def tracking_fps(self) -> float | None:
        """Frames tracked per second of wall time since the first packet (while it runs, or
        until the last frame was tracked)."""
        if self.started_at is None or not self.tracked:
            return None
        end = self.finished_at or time.monotonic()
        return self.tracked / max(end - self.started_at, 1e-6)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    # -- the worker
    def _run(self) -> None:
        from core.movement.frames import FrameSampler

        try:
            if self.task in POSE_TASKS:  # as gait.analyze and the outcome tests' decode_pose decode
                from core.media.video import DEFAULT_MAX_SIDE
                from core.movement.frames import OUTCOME_FRAME_GAP_S, thinned
                from core.movement.gait import NUM_POSES
                from core.movement.landmarks import extract_pose_landmarks

                reader = _LiveFrames(self, DEFAULT_MAX_SIDE, None)
                if not reader.start():
                    return
                frames = reader.frames()
                if self.task in OUTCOME_TASKS:
                    frames = thinned(frames, OUTCOME_FRAME_GAP_S)
                sampler = FrameSampler(frames, keep=8)
                series = extract_pose_landmarks(sampler, num_poses=NUM_POSES, choose=pose_chooser(self.task),
                                                progress=self._progress)
            else:
                from core.movement.hand_crop import MAX_ANALYSIS_FPS, track_hand

                reader = _LiveFrames(self, 640, MAX_ANALYSIS_FPS)
                if not reader.start():
                    return
                sampler = FrameSampler(reader.frames())
                series = track_hand(reader, self.side, self.model, sampler, progress=self._progress)
                series.sharpness = sampler.hand_sharpness(series)
                series.key_frame = sampler.key_frame(series)
            self.finished_at = time.monotonic()
            if not self.cancelled:
                self._series = series
        except Exception as exc:  # the clip is still analysed from scratch: say why in the log only
            log.exception("live tracking failed")
            self.error = type(exc).__name__
        finally:
            self._done.set()

    # -- results
    def readout(self, upto: int | None = None) -> LiveReadout:
        """The task's running measures over the frames tracked so far (at most the first
        `upto`)."""
        from core.movement.landmarks import pose_series_from_people

        p = self._progress
        n = self.tracked if upto is None else min(self.tracked, int(upto))
        size = p.get("image_size")
        if self.task in POSE_TASKS:
            if n < 2 or size is None:
                return _not_yet(self.task, 0.0, "waiting for frames", *_POSE_NAMES[self.task])
            from core.movement.gait import NUM_POSES

            pose = pose_series_from_people(p["times"][:n], p["people"][:n], p["counts"][:n], size,
                                           NUM_POSES, pose_chooser(self.task))
            return POSE_READOUTS[self.task](pose)
        names = _TAPPING if self.task == "finger_tapping" else _TREMOR
        if n < 2 or size is None:
            return _not_yet(self.task, 0.0, "waiting for frames", *names)
        times = np.asarray(p["times"][:n], float)
        landmarks = np.stack(p["landmarks"][:n])
        fn = tapping_readout if self.task == "finger_tapping" else tremor_readout
        return fn(times, landmarks, size)

    def latest_people(self) -> list[np.ndarray] | None:
        """The newest tracked frame's landmarks ((n, 2) normalised x, y per hand or person), for
        the live drawing; None before the first frame."""
        p = self._progress
        n = self.tracked
        if not n:
            return None
        if self.task in POSE_TASKS:
            return [pose[0][:, :2] for pose in p["people"][n - 1]]
        hand = p["landmarks"][n - 1]
        return [] if np.isnan(hand[0, 0]) else [hand[:, :2]]

    def series(self, timeout: float | None = None):
        """The tracked series of the whole clip once the backlog is done (None if it failed,
        was cancelled or is not done within `timeout`)."""
        if not self._done.wait(timeout):
            return None
        return self._series

    def file_matches(self, clip: str | Path) -> bool:
        """True when the stored clip holds exactly the packets the tracker decoded: same count,
        same coded pictures (sha1 of their NAL units: the mp4 muxer rewrites the encoder's start
        codes as length prefixes, nothing else), same timestamps. Demuxes only (no decoding):
        milliseconds."""
        import av

        try:
            with av.open(str(clip)) as container:
                stream = container.streams.video[0]
                found = []
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue
                    ms = packet.pts * packet.time_base * 1000 if packet.pts is not None else None
                    if ms is None or ms.denominator != 1:
                        return False
                    found.append((int(ms), _nal_digest(bytes(packet), annex_b=False)))
        except (av.error.FFmpegError, IndexError, OSError):
            return False
        if len(found) != len(self._packets):
            return False
        t0 = found[0][0] if found else 0
        p0 = self._packets[0][0] if self._packets else 0
        return all(a[0] - t0 == b[0] - p0 and a[1] == b[1] for a, b in zip(found, self._packets))

    def write_cache(self, clip: str | Path, cache_path: str | Path, timeout: float = 120.0) -> bool:
        """Write the clip's landmark cache from the live series (waiting for the backlog) when
        the stored file is the one that was tracked. Returns whether it did; when not, nothing is
        written and the analysis tracks the clip from scratch."""
        series = self.series(timeout)
        if series is None or self.cancelled:
            return False
        if not self.file_matches(clip):
            log.warning("live landmarks not used: the stored clip differs from the tracked packets")
            return False
        if len(series.times) != self._frames_tracked_offline():
            return False
        series.save_series(cache_path)
        return True


def tracker_for(task: str, side: str | None) -> LiveVideoTracker | None:
    """A live tracker for a movement task that has one (tapping, tremor, gait, and the outcome
    tests TUG, 5x sit-to-stand and gait speed), else None."""
    return LiveVideoTracker(task, side) if task in TRACKED_TASKS else None


# ---------------------------------------------------------------- warm-up while recording

_warmed: set[str] = set()
_warm_lock = threading.Lock()


def _warm_up(task: str) -> None:
    import core.analysis  # noqa: F401  (the analysis stack: torch, the pipelines)
    import core.explain  # noqa: F401
    import core.visits  # noqa: F401
    from models.fused import BRANCHES
    from models.registry import load_model

    for name in {b.model for b in BRANCHES if b.task == task} | {"fused"}:
        try:
            load_model(name)
        except Exception:  # a model that is not shipped (withheld) scores nothing anyway
            pass
    try:
        import captum.attr  # noqa: F401  (explanations)
    except ImportError:
        pass
    if task in ("vowel", "reading"):  # Praat and the nonlinear measures' first call (numba compiles)
        from core.voice import reading, vowel

        sr = 16000
        t = np.arange(int(1.5 * sr)) / sr
        tone = (0.3 * np.sin(2 * np.pi * 150 * t) + 0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
        (vowel if task == "vowel" else reading).analyze_samples(tone, sr)


def warm_up(task: str) -> None:
    """Load what the analysis of a `task` clip needs (imports, the task's model, the first call
    of the voice measures) on a background thread, once per process, while the clip records: the
    first clip a server analyses otherwise spends seconds on it after Stop."""
    with _warm_lock:
        if task in _warmed:
            return
        _warmed.add(task)

    def run() -> None:
        try:
            _warm_up(task)
        except Exception:  # only a head start: the analysis loads what it needs anyway
            log.exception("warm-up for %s failed", task)

    threading.Thread(target=run, name=f"pdlens-warm-{task}", daemon=True).start()
