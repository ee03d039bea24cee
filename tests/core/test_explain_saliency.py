"""Temporal and landmark saliency and the plain-language summary, on synthetic landmark series
(known truth, no video) and the real vowel fixture, with the shipped models."""
import math
from pathlib import Path

import numpy as np
import pytest

from core.explain import (_adjusted, explain_finger_tapping, explain_vowel, interpolate_window, time_windows)
from core.movement.finger_tapping import tapping_features
from core.pipeline import Quality, TaskResult
from core.summary import NOT_A_DIAGNOSIS, fused_summary, out_of_range_sentence, recording_summary
from core.voice import vowel
from models.registry import load_model
from tests.fixtures.movement.synthetic import IMAGE_SIZE, tapping_series

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("PD_sample__AH_545692315*.wav"))
USED_BY_TAPPING = {0, 1, 4, 8}  # wrist, thumb CMC, thumb tip, index tip


def test_time_windows_cover_the_interval_without_slivers():
    w = time_windows(0.5, 4.6, 0.5)
    assert w[0][0] == 0.5 and w[-1][1] == 4.6
    assert all(b > a for a, b in w) and all(abs(w[i][1] - w[i + 1][0]) < 1e-12 for i in range(len(w) - 1))
    assert min(b - a for a, b in w) >= 0.5 / 3


def test_interpolate_window_replaces_only_the_window():
    t = np.arange(10) / 10
    x = np.stack([t ** 2, -t], axis=1)
    y = interpolate_window(t, x, 0.3, 0.6)
    assert np.array_equal(y[:3], x[:3]) and np.array_equal(y[6:], x[6:])
    assert y[4, 0] == pytest.approx(np.interp(0.4, [0.2, 0.6], [0.04, 0.36]))


@pytest.fixture(scope="module")
def tapping_result():
    times, landmarks, _ = tapping_series(rate_hz=2.5, seconds=10.0, decrement=0.4, pause=(4.0, 5.0), seed=2)
    features, tap = tapping_features(times, landmarks, IMAGE_SIZE, return_signal=True)
    model = load_model("finger_tapping", allow_withheld=True)
    score = model.score(features)
    signal = {"times": times, "landmarks": landmarks, "image_size": IMAGE_SIZE, "features": features,
              "tapping_times": tap["times"], "tapping_angle": tap["angle"], "tap_peaks": tap["peaks"]}
    return TaskResult("finger_tapping", "left", 10.0, Quality(()), [], score, signal), model


def test_landmarks_the_measures_do_not_use_get_zero_saliency(tapping_result):
    result, model = tapping_result
    out = explain_finger_tapping(result, model)
    sal = out["landmark_saliency"]
    assert len(sal["delta_logodds"]) == 21
    unused = [d for j, d in enumerate(sal["delta_logodds"]) if j not in USED_BY_TAPPING]
    assert all(d == 0 for d in unused)
    used = [sal["delta_logodds"][j] for j in USED_BY_TAPPING]
    assert any(d is None or abs(d) > 1e-3 for d in used)  # frozen thumb/index: no taps or a changed score
    assert set(sal["essential"]) <= USED_BY_TAPPING


def test_tapping_occlusion_is_zero_where_the_hand_already_rests(tapping_result):
    result, model = tapping_result
    out = explain_finger_tapping(result, model)
    tmp = out["temporal_saliency"]
    assert len(tmp["windows"]) == 20 and tmp["windows"][0][0] == 0.0
    # 4.0-5.0 s: the hand is held closed. Interpolating the window where the pause begins still
    # moves the closing acceleration (a model input since 2.0); inside the pause it changes nothing
    pause = [d for (a, b), d in zip(tmp["windows"], tmp["delta_logodds"]) if a >= 4.5 and b <= 5.0]
    moving = [abs(d) for (a, b), d in zip(tmp["windows"], tmp["delta_logodds"]) if d is not None and (b <= 4 or a >= 5)]
    assert pause and all(d is not None and abs(d) < 1e-3 for d in pause)
    assert max(moving) > 10 * max(abs(d) for d in pause) and max(moving) > 1e-3
    assert out["signal"]["peaks"] and out["key_frame"]["points"][4][0] is not None


def test_vowel_explanation_windows_and_exact_baseline():
    result = vowel.analyze(VOWEL)
    model = load_model("voice", allow_withheld=True)
    out = explain_vowel(result, model)
    a, b = result.signal["stable_interval"]
    tmp = out["temporal_saliency"]
    assert tmp["windows"][0][0] == pytest.approx(a, abs=1e-3) and tmp["windows"][-1][1] == pytest.approx(b, abs=1e-3)
    finite = [d for d in tmp["delta_logodds"] if d is not None and math.isfinite(d)]
    assert len(finite) >= len(tmp["delta_logodds"]) - 1 and max(abs(d) for d in finite) > 1e-4
    # no window removed: the recomputation returns the analysis's own values exactly
    values = result.measure_values()
    same = {k: 1.0 for k in values}
    assert _adjusted(values, same, same) == values


def test_summary_sentences_are_clinical_and_never_diagnose():
    jitter = {"name": "jitter_local_pct", "label": "Jitter (local)", "value": 1.2, "unit": "%",
              "normal_range": [None, 1.04]}
    assert out_of_range_sentence(jitter) == "Jitter (local) 1.2%, above the healthy range (< 1.04%)."
    lines = recording_summary("Finger tapping (left)", [jitter], None, extra=["Tapping amplitude fell 40% over 10 taps."])
    assert lines[0].startswith("Finger tapping (left): Jitter") and "fell 40% over 10 taps" in lines[1]
    fused = fused_summary({"probability": 0.82, "interval": [0.7, 0.9], "contributions_logodds": {"voice": 0.9, "gait": -0.2},
                           "excluded": {"finger_tapping_left": "left hand: failed quality"}})
    text = " ".join(fused)
    assert "consistent with Parkinson-like signs" in text and NOT_A_DIAGNOSIS in fused
    assert "has Parkinson" not in text and "diagnosed" not in text.lower()


def test_summary_sentences_carry_no_log_odds():
    from core.summary import attribution_sentence, temporal_sentence

    fused = " ".join(fused_summary({"probability": 0.82, "interval": [0.7, 0.9],
                                    "contributions_logodds": {"voice": 0.9, "gait": -0.2}, "excluded": {}}))
    assert "Contribution of each recording to the visit score, largest first: voice (towards a Parkinson-like " \
           "pattern), gait (away from it)." in fused
    attribution = attribution_sentence({"names": ["ppe"], "attributions": [0.4]}, {"ppe": "Pitch period entropy"})
    assert attribution == "Measures that moved the score most: Pitch period entropy (towards a Parkinson-like pattern)."
    temporal = temporal_sentence({"windows": [[3.0, 3.5]], "delta_logodds": [0.4]})
    assert temporal == "Seconds 3.0-3.5 of the clip raised the score most."
    assert "log-odds" not in fused + attribution + temporal
