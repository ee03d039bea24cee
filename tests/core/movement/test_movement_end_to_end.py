"""Real MediaPipe on real video frames (clips built from a real hand photo), through analyze()."""
import numpy as np
import pandas as pd
import pytest

from core.analysis import analyze_recording
from core.config import DATASETS_DIR
from core.movement import finger_tapping, tremor
from core.movement.finger_tapping import DATASET_CSV
from core.pipeline import UnusableInput
from tests.fixtures.movement.clips import (frames_only, shaking_frames, tapping_frames, two_hands_frames,
                                           write_audio_only, write_video)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tapping_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("ft") / "tapping.mp4"
    return write_video(path, frames_only(tapping_frames(seconds=8.0, rate_hz=2.5)), fps=30)


def test_finger_tapping_end_to_end(tapping_clip, tmp_path):
    cache = tmp_path / "tapping.npz"
    result = finger_tapping.analyze(tapping_clip, side="left", cache_path=cache)
    assert result.quality.ok, result.quality.problems
    assert result.signal["landmarks"].shape[1:] == (21, 3)
    assert np.mean(~np.isnan(result.signal["landmarks"][:, 0, 0])) > 0.95
    m = result.measure_values()
    assert m["tap_frequency"] == pytest.approx(2.5, rel=0.05)
    assert 17 <= m["tap_count"] <= 21
    assert result.signal["key_frame"].shape[2] == 3 and max(result.signal["key_frame"].shape[:2]) <= 320
    assert result.score is not None  # scored, or an explicit abstention if no model is installed
    # the features of real MediaPipe output sit inside the training table's range (not
    # aperiodicity nor wrist movement: this warped clip is perfectly periodic and its wrist all but
    # still, more regular and steadier than any human in the table)
    table = pd.read_csv(DATASETS_DIR / DATASET_CSV)
    features = result.signal["features"]
    for name in ("frequency_median_denoised", "amplitude_mean_denoised", "speed_mean_denoised",
                 "period_mean_denoised", "num_peaks_denoised", "amplitude_decrement_slope_denoised"):
        lo, hi = table[name].min(), table[name].max()
        assert lo <= features[name] <= hi, (name, features[name], lo, hi)
    # the cached series gives the same measures without decoding
    again = finger_tapping.analyze(tapping_clip.with_name("missing.mp4"), side="left", cache_path=cache)
    assert again.measure_values() == pytest.approx(m)


def test_rest_tremor_end_to_end(tmp_path):
    path = write_video(tmp_path / "tremor.webm", frames_only(shaking_frames(seconds=8.0, freq_hz=5.0)), fps=30)
    result = analyze_recording(path, "tremor", side="left")
    assert result.quality.ok, result.quality.problems
    assert result.score is None
    assert result.measure("tremor_frequency").value == pytest.approx(5.0, abs=0.2)
    assert result.measure("tremor_constancy").value > 80


def test_no_hand_fails_quality_without_score(tmp_path):
    rng = np.random.default_rng(1)
    scene = np.full((480, 640, 3), 170, np.uint8)
    frames = (np.clip(scene + rng.normal(0, 3, scene.shape), 0, 255).astype(np.uint8) for _ in range(180))
    path = write_video(tmp_path / "empty_scene.mp4", frames, fps=30)
    result = finger_tapping.analyze(path, side="left")
    assert not result.quality.ok and result.score is None
    assert any("No hand was found" in p for p in result.quality.problems)


def test_two_hands_close_up_follow_the_chosen_hand(tmp_path):
    """Both hands in view is not refused: the chosen side is followed (the picture holds the
    photo's left hand on the right and its mirror image, a right hand, on the left)."""
    path = write_video(tmp_path / "two.mp4", frames_only(two_hands_frames()), fps=30)
    for side, on_right in (("left", True), ("right", False)):
        result = finger_tapping.analyze(path, side=side)
        checks = {c.name: c for c in result.quality.checks}
        assert checks["other_hand"].passed and checks["other_hand"].value > 80
        assert checks["hand_side"].passed
        # the photos' wrists meet in the middle; the knuckles tell the hands apart
        knuckles_x = np.nanmedian(result.signal["landmarks"][:, 9, 0])
        assert (knuckles_x > 0.5) == on_right, (side, knuckles_x)
        # still hands: nothing to count, and the refusal says so in plain words
        assert result.score is None and not checks["taps"].passed
        assert "the test asks for 10 taps" in checks["taps"].message


def test_wrong_hand_only(tapping_clip):
    result = finger_tapping.analyze(tapping_clip, side="right")  # the photo shows a left hand
    assert result.score is None
    assert any("sees the left hand" in p for p in result.quality.problems)


def test_one_second_clip(tmp_path):
    path = write_video(tmp_path / "short.mp4", frames_only(tapping_frames(seconds=1.0)), fps=30)
    result = finger_tapping.analyze(path, side="left")
    assert result.score is None
    assert any("at least 2 s" in p for p in result.quality.problems)


def test_unusable_files_raise_one_line(tmp_path):
    from PIL import Image

    photo = tmp_path / "photo.mp4"
    Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(photo, format="JPEG")
    audio = write_audio_only(tmp_path / "voice.m4a")
    for path, words in ((photo, "still picture"), (audio, "sound but no picture")):
        with pytest.raises(UnusableInput, match=words):
            tremor.analyze(path, side="left")
