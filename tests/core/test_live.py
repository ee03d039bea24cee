"""core.live: live measures while recording and the landmarks ready at Stop.

A clip is fed frame by frame through the same path as a browser recording (VideoClipRecorder
encoding it, the live tracker decoding the encoder's packets and running the offline tracker on a
worker thread; AudioClipRecorder for voice). Real MediaPipe, real SQLite, the real hand photo
animated (core/synthetic) and the real public vowel (tests/fixtures/voice/README.md).

Tolerances: the live frames are the stored clip's own decoded frames, so the live landmarks are
expected to be EQUAL to the offline ones, and the live measures of the first k frames equal to the
offline measures of the same k frames up to float round-off (1e-9 relative; counts exactly).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from core.live import LiveVideoTracker, audio_as_analysed, reading_readout, vowel_readout
from core.recorders import AudioClipRecorder, VideoClipRecorder
from tests.fixtures.voice.synth import speech_like

VOICE = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
PD_VOWEL = next(VOICE.glob("PD_sample__AH_545692309*.wav"))  # real public recording (Iyer 2023)
REL = 1e-9


def _close(a, b, rel=REL):
    return a == pytest.approx(b, rel=rel, abs=1e-9)


def record_through_live_path(frames, task: str, side: str | None, checkpoints=(), seconds: float = 10.0):
    """Feed (t, rgb) frames through VideoClipRecorder with a live tracker attached, as the
    browser recorder does; at each checkpoint (a number of frames) wait until the tracker has
    tracked them and take its readout of exactly those frames. Returns (clip bytes, tracker,
    {k: readout})."""
    rec = VideoClipRecorder(seconds, countdown_s=0.0)
    tracker = LiveVideoTracker(task, side)
    rec.listener = tracker
    rec.arm(now=0.0)
    readouts = {}
    pending = sorted(checkpoints)
    for i, (t, rgb) in enumerate(frames):
        rec.add_rgb(rgb, t, now=t)
        while pending and i + 1 >= pending[0]:
            k = pending.pop(0)
            deadline = time.monotonic() + 60
            while tracker.tracked < k and time.monotonic() < deadline:
                time.sleep(0.01)
            readouts[k] = tracker.readout(upto=k)
        if rec.state == "complete":
            break
    clip = rec.take_clip()
    assert clip is not None
    return clip, tracker, readouts


def _tapping_frames():
    from core.synthetic.hand import irregular_tapping_frames

    frames = list(irregular_tapping_frames(10.0))  # scored by the model (the regular clip is not)
    return frames + [(10.0 + 1 / 30, frames[-1][1])]  # one frame past the 10 s: the clip completes


@pytest.fixture(scope="module")
def tapping_recording(tmp_path_factory):
    frames = _tapping_frames()
    clip, tracker, readouts = record_through_live_path(frames, "finger_tapping", "left", checkpoints=(45, 120, 210))
    path = tmp_path_factory.mktemp("live") / "tap.mp4"
    path.write_bytes(clip)
    assert tracker.series(120) is not None
    return path, tracker, readouts


@pytest.mark.slow
def test_live_tapping_measures_equal_the_offline_measures_of_the_same_frames(tapping_recording):
    from core.movement import finger_tapping
    from core.movement.finger_tapping import NotEnoughTaps, tapping_features, tapping_measures
    from core.movement.hand_crop import hand_series_for_clip

    path, tracker, readouts = tapping_recording
    offline = hand_series_for_clip(path, "left")  # from scratch: decode + MediaPipe
    live = tracker.series()
    assert np.array_equal(live.times, offline.times)
    assert np.array_equal(live.landmarks, offline.landmarks, equal_nan=True)

    taps_seen = []
    for k, readout in sorted(readouts.items()):
        try:
            features, signal = tapping_features(offline.times[:k], offline.landmarks[:k], offline.image_size,
                                                return_signal=True)
        except NotEnoughTaps as exc:
            assert readout.value("taps") == exc.count
            assert readout.value("tap_frequency") is None  # "after 5 taps"
            taps_seen.append(exc.count)
            continue
        expected = {m.name: m.value for m in tapping_measures(features, signal)}
        assert readout.value("taps") == expected["tap_count"]
        assert _close(readout.value("tap_frequency"), expected["tap_frequency"])
        assert _close(readout.value("amplitude_decrement_pct"), expected["amplitude_decrement_pct"])
        taps_seen.append(readout.value("taps"))
    assert taps_seen == sorted(taps_seen) and taps_seen[-1] > taps_seen[0]  # the readout moves on

    final = tracker.readout()
    stored = {m.name: m.value for m in finger_tapping.analyze(path, "left").measures}
    assert final.value("taps") == stored["tap_count"]
    assert _close(final.value("tap_frequency"), stored["tap_frequency"])
    assert _close(final.value("amplitude_decrement_pct"), stored["amplitude_decrement_pct"])
    assert tracker.tracking_fps() > 0 and tracker.backlog == 0


@pytest.mark.slow
def test_result_at_stop_uses_the_live_landmarks_and_runs_no_mediapipe(tapping_recording, store, monkeypatch):
    """add_clip with the live tracker: the landmark cache comes from the recording, the
    analysis never tracks the clip again, and its measures are those of a from-scratch run."""
    from sqlalchemy import select

    import core.movement.hand_crop as hand_crop
    from core.capture import add_clip
    from core.movement import finger_tapping
    from core.store import Assessment, Recording, transaction
    from core.store.files import resolve_recording_path
    from core.visits import landmark_cache_path

    sessions, admin_id, visit_id, data_dir = store
    path, tracker, _ = tapping_recording

    def no_tracking(*args, **kwargs):
        raise AssertionError("MediaPipe ran again on a clip tracked live")

    with monkeypatch.context() as m:
        m.setattr(hand_crop, "track_hand", no_tracking)
        t0 = time.perf_counter()
        out = add_clip(sessions, admin_id, visit_id, path.read_bytes(), "browser-finger_tapping_left.mp4",
                       "finger_tapping", "left", "browser", data_dir, rescore=False, live_landmarks=tracker)
        elapsed = time.perf_counter() - t0
    assert out.status == "stored", out.message
    with transaction(sessions) as s:
        rec = s.get(Recording, out.recording_id)
        stored_path = resolve_recording_path(data_dir, rec.stored_path)
        assessment = s.scalars(select(Assessment).where(Assessment.recording_id == rec.id)).one()
        measures = {mv.name: mv.value for mv in assessment.measures}
    assert landmark_cache_path(stored_path).is_file()
    fresh = {m.name: m.value for m in finger_tapping.analyze(stored_path, "left").measures}  # no cache
    assert set(measures) == set(fresh)
    for name, value in fresh.items():
        assert _close(measures[name], value), name
    print(f"add_clip with live landmarks: {elapsed:.2f} s")


@pytest.mark.slow
def test_a_stored_clip_that_is_not_the_tracked_one_is_analysed_from_scratch(tapping_recording, tmp_path):
    """The check at Stop: the live series is used only for the very packets it tracked."""
    from core.synthetic.hand import tapping_frames
    from core.synthetic.video import write_video

    _, tracker, _ = tapping_recording
    other = write_video(tmp_path / "other.mp4", (rgb for _, rgb in tapping_frames(10.0, rate_hz=2.0)), fps=30)
    cache = tmp_path / "other.mp4.landmarks.npz"
    assert not tracker.file_matches(other)
    assert tracker.write_cache(other, cache) is False
    assert not cache.exists()


@pytest.mark.slow
def test_live_vowel_measures_equal_the_offline_analysis_of_the_same_audio(tmp_path):
    """The real public vowel fed in 20 ms chunks through AudioClipRecorder: pitch and steady
    phonation so far equal vowel.analyze_samples' on the same samples; at the end, the stored
    clip's f0_mean_hz."""
    from core.media.audio import load_audio
    from core.voice import vowel

    audio, sr = load_audio(PD_VOWEL)
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
    seconds = min(5.0, (pcm.size - 1) / sr)
    rec = AudioClipRecorder(seconds, countdown_s=0.0)
    rec.arm(now=0.0)
    chunk = sr // 50
    checks = []
    for i in range(0, pcm.size, chunk):
        rec.add_samples(pcm[i:i + chunk], sr, now=i / sr)
        if rec.state == "complete":
            break
        if (i // chunk) % 60 == 59:  # every 1.2 s
            so_far, rate = rec.samples_so_far()
            checks.append((so_far, vowel_readout(so_far, rate)))
    assert len(checks) >= 2
    for so_far, readout in checks:
        offline = vowel.analyze_samples(*audio_as_analysed(so_far, sr))
        f0 = {m.name: m.value for m in offline.measures}.get("f0_mean_hz")
        steady = offline.signal.get("stable_interval")
        if steady is None:
            assert readout.value("f0_mean_hz") is None
        else:
            assert _close(readout.value("steady_s"), steady[1] - steady[0])
            if f0 is not None:  # measures kept (enough glottal cycles)
                assert _close(readout.value("f0_mean_hz"), f0)
    clip = rec.take_clip()
    stored = tmp_path / "vowel.wav"
    stored.write_bytes(clip)
    final = vowel_readout(pcm[:int(round(seconds * sr))], sr)
    expected = {m.name: m.value for m in vowel.analyze(stored).measures}
    assert _close(final.value("f0_mean_hz"), expected["f0_mean_hz"])
    assert 60 < final.value("f0_mean_hz") < 400


def test_live_reading_measures_equal_reading_measures_of_the_same_audio(tmp_path):
    """Synthetic speech-like audio with known pauses: speaking time and pauses so far, and at the
    end the stored clip's pause_count and pause_ratio."""
    from core.voice import reading

    sr = 16000
    x = speech_like([("pause", 0.3), ("speech", 1.5), ("pause", 0.6), ("speech", 2.0), ("pause", 0.5),
                     ("speech", 1.2), ("pause", 0.3)], sr=sr)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    half = reading_readout(pcm[: pcm.size // 2], sr)
    full = reading_readout(pcm, sr)
    assert half.value("pause_count") < full.value("pause_count")
    assert full.value("speaking_s") > half.value("speaking_s") > 0
    stored = tmp_path / "reading.wav"
    from core.recorders import wav_bytes

    stored.write_bytes(wav_bytes(pcm, sr))
    expected = {m.name: m.value for m in reading.analyze(stored).measures}
    assert full.value("pause_count") == expected["pause_count"] == 2
    assert _close(full.value("pause_ratio"), 100 * expected["pause_ratio"])
    assert half.values and half.seconds == pytest.approx(pcm.size / 2 / sr, abs=1e-3)
    assert all(v.unit for v in full.values)


def test_mp4_length_prefixes_that_look_like_start_codes_are_read_as_lengths():
    """A 479-byte NAL unit's mp4 length prefix is 00 00 01 DF: an Annex B start code to a sniffer."""
    from core.live import _nal_digest, _nal_units

    unit = b"\x41" + bytes(range(1, 256)) + bytes(range(1, 224))
    assert len(unit) == 479
    mp4 = len(unit).to_bytes(4, "big") + unit
    annex_b = b"\x00\x00\x00\x01" + unit
    assert _nal_units(mp4, annex_b=False) == [unit]
    assert _nal_units(annex_b, annex_b=True) == [unit]
    assert _nal_digest(mp4, annex_b=False) == _nal_digest(annex_b, annex_b=True)
    assert _nal_digest(mp4, annex_b=False) != _nal_digest(mp4[:-1] + b"\x42", annex_b=False)


@pytest.mark.slow
def test_live_tremor_measures_equal_the_offline_measures_of_the_same_frames(tmp_path):
    from core.movement import tremor
    from core.movement.hand_crop import hand_series_for_clip
    from core.synthetic.hand import shaking_frames

    frames = list(shaking_frames(6.0, freq_hz=5.0))
    clip, tracker, readouts = record_through_live_path(frames, "tremor", "left", checkpoints=(30, 120),
                                                       seconds=frames[-1][0] - 0.01)
    path = tmp_path / "tremor.mp4"
    path.write_bytes(clip)
    assert tracker.series(120) is not None
    offline = hand_series_for_clip(path, "left")
    assert np.array_equal(tracker.series().landmarks, offline.landmarks, equal_nan=True)
    assert readouts[30].value("tremor_frequency") is None  # 1 s: "after 2 s of the hand in view"
    expected = {m.name: m.value for m in tremor.tremor_measures(
        tremor.tremor_features(offline.times[:120], offline.landmarks[:120], offline.image_size))}
    for name in ("tremor_frequency", "tremor_amplitude_rms"):
        assert _close(readouts[120].value(name), expected[name]), name
    final = tracker.readout()
    stored = {m.name: m.value for m in tremor.analyze(path, "left").measures}
    for name in ("tremor_frequency", "tremor_amplitude_rms"):
        assert _close(final.value(name), stored[name]), name
    assert final.value("tremor_frequency") == pytest.approx(5.0, abs=0.3)


@pytest.mark.slow
def test_live_gait_steps_and_cadence_equal_the_offline_ones_of_the_same_frames(tmp_path):
    """A synthetic walker crossing the picture (two people tracked per frame, as gait does)."""
    from itertools import islice

    from core.media.video import VideoReader
    from core.movement import gait
    from core.movement.landmarks import extract_pose_landmarks
    from core.live import gait_readout
    from tests.fixtures.movement.walkers import WalkerScript, walking_frames

    script = WalkerScript(stride_s=1.1, swing=0.38, passes=1, absent_s=0.3)
    frames = [(i / script.fps, rgb) for i, rgb in enumerate(walking_frames(script))]
    k = int(0.7 * len(frames))
    clip, tracker, readouts = record_through_live_path(frames, "gait", None, checkpoints=(k,),
                                                       seconds=frames[-1][0] - 0.01)
    path = tmp_path / "walk.mp4"
    path.write_bytes(clip)
    assert tracker.series(180) is not None
    with VideoReader(path) as reader:  # the first k frames, analysed offline as gait.analyze does
        partial = extract_pose_landmarks(islice(reader.frames(), k), num_poses=gait.NUM_POSES,
                                         choose=gait.choose_walker)
    expected = gait_readout(partial)
    assert readouts[k].value("steps") == expected.value("steps")
    assert readouts[k].value("cadence") == expected.value("cadence") or _close(
        readouts[k].value("cadence"), expected.value("cadence"))
    final = tracker.readout()
    result = gait.analyze(path)
    stored_steps = sum(len(v) for v in result.signal["heel_strikes"].values())
    assert final.value("steps") == stored_steps > readouts[k].value("steps")
    assert _close(final.value("cadence"), result.signal["measure_values"]["cadence_steps_per_min"])
