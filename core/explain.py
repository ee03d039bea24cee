"""Explanations a therapist can question: which measures, which seconds of a clip and which
landmarks moved a model's score, all in log-odds so they add up like the score does.

* Measure attributions: captum IntegratedGradients on the shipped model's differentiable
  calibrated log-odds (`ShippedModel.torch_logit`), from the model's healthy reference vector to
  the patient's measures. Completeness: the attributions sum to logit(x) - logit(reference); the
  remaining gap is reported so the page (and the tests) can show the explanation is faithful.
* Temporal saliency: occlusion over time windows. Each window is removed from the clip (landmark
  series: replaced by interpolation between its edges; voice: its glottal periods and pitch
  frames dropped), the measures are recomputed cheaply from what the analysis already computed
  (no decoding, no MediaPipe, no second Praat pitch analysis) and re-scored. The saliency of a
  window is logit(full clip) - logit(clip without the window): positive means those seconds
  pushed the score towards a PD-like pattern.
* Landmark saliency: each landmark's trajectory frozen to its median position, measures
  recomputed and re-scored; the change in log-odds says how much the model relied on it.

Everything returned is plain JSON (floats, lists, names), small enough for
Assessment.explanation_json. core/ never imports streamlit.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.words import plural

EXPLANATION_VERSION = 1
IG_STEPS = 64
DEFAULT_WINDOW_S = 0.5


def _r(x: float, digits: int = 5) -> float | None:
    """Round for storage; None for NaN/inf (JSON has no NaN)."""
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


# ---------------------------------------------------------------- measure attributions

def _log_mask(model: Any) -> np.ndarray:
    """Which of the model's features it takes the log of (from its shipped metadata)."""
    mask = (getattr(model, "meta", None) or {}).get("classifier", {}).get("log_mask")
    d = len(model.feature_names)
    return np.asarray(mask, dtype=bool) if mask is not None and len(mask) == d else np.zeros(d, dtype=bool)


def measure_attributions(model: Any, features: Mapping[str, float] | Sequence[float],
                         n_steps: int = IG_STEPS) -> dict[str, Any]:
    """IntegratedGradients of the model's calibrated log-odds, from its healthy reference to
    `features` (a mapping by feature name or a vector in `model.feature_names` order).

    The path is a straight line in the model's own input space: log scale for the features the
    model logs (jitter, shimmer...), raw for the others. The attributions still sum to
    logit(x) - logit(reference) (completeness), and the integral is far better conditioned than
    on the raw scale, where log(x) is steep near zero.

    Returns names, values, reference, attributions (log-odds; positive pushes towards PD-like),
    logit, reference_logit and completeness_gap = sum(attributions) - (logit - reference_logit).
    """
    from captum.attr import IntegratedGradients

    from models.tabular import LOG_EPS

    x = model.vector(features) if isinstance(features, Mapping) else np.asarray(features, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("Cannot explain a score computed from missing measures.")
    mask = _log_mask(model)
    mask_t = torch.as_tensor(mask)

    def to_model_space(v: np.ndarray) -> torch.Tensor:
        u = np.array(v, dtype=np.float64, copy=True)
        u[mask] = np.log(np.clip(u[mask], 0.0, None) + LOG_EPS)
        return torch.as_tensor(u, dtype=torch.float64).unsqueeze(0)

    def logit_of_u(u: torch.Tensor) -> torch.Tensor:
        return model.torch_logit(torch.where(mask_t, torch.exp(u) - LOG_EPS, u))

    ut, ref = to_model_space(x), to_model_space(model.reference)
    ig = IntegratedGradients(logit_of_u)
    attr = ig.attribute(ut, baselines=ref, n_steps=n_steps, method="gausslegendre")[0].detach().numpy()
    with torch.no_grad():
        lx = float(model.torch_logit(torch.as_tensor(x[None, :], dtype=torch.float64))[0])
        lr = float(model.torch_logit(torch.as_tensor(np.asarray(model.reference)[None, :], dtype=torch.float64))[0])
    return {
        "model": model.name,
        "model_version": model.version,
        "method": (f"IntegratedGradients ({n_steps} steps, Gauss-Legendre) from the healthy reference, "
                   "straight path in the model's input space (log scale for logged measures)"),
        "names": list(model.feature_names),
        "values": [_r(v, 6) for v in x],
        "reference": [_r(v, 6) for v in model.reference],
        "attributions": [_r(a) for a in attr],
        "logit": _r(lx),
        "reference_logit": _r(lr),
        "completeness_gap": _r(float(attr.sum()) - (lx - lr), 6),
    }


def top_measures(attributions: Mapping[str, Any], k: int = 3) -> list[tuple[str, float]]:
    """The k measures with the largest absolute attribution, (name, log-odds), largest first."""
    pairs = [(n, a) for n, a in zip(attributions["names"], attributions["attributions"]) if a is not None]
    return sorted(pairs, key=lambda p: -abs(p[1]))[:k]


# ---------------------------------------------------------------- time windows

def time_windows(start_s: float, end_s: float, window_s: float = DEFAULT_WINDOW_S) -> list[tuple[float, float]]:
    """Consecutive windows covering [start_s, end_s]; the last one may be shorter (but not tiny)."""
    if end_s <= start_s:
        return []
    edges = list(np.arange(start_s, end_s, window_s)) + [end_s]
    if len(edges) > 2 and edges[-1] - edges[-2] < window_s / 3:
        edges.pop(-2)  # merge a sliver into the previous window
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def interpolate_window(times: np.ndarray, series: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """A copy of `series` (frames first, any trailing shape) with the frames in [t0, t1) replaced
    by linear interpolation between the nearest valid frames outside the window (held flat at the
    clip's ends). NaN frames outside the window stay NaN."""
    times = np.asarray(times, dtype=np.float64)
    out = np.array(series, dtype=np.float64, copy=True)
    inside = (times >= t0) & (times < t1)
    if not inside.any():
        return out
    flat = out.reshape(len(times), -1)
    outside = ~inside
    for c in range(flat.shape[1]):
        ok = outside & np.isfinite(flat[:, c])
        if ok.sum() == 0:
            continue
        flat[inside, c] = np.interp(times[inside], times[ok], flat[ok, c])
    return out


def occlusion_saliency(windows: Sequence[tuple[float, float]], base_logit: float,
                       logit_without: Callable[[float, float], float | None]) -> dict[str, Any]:
    """Saliency per window: base_logit - logit_without(t0, t1) (None where the recomputation is
    not possible, e.g. a window that removes every glottal period)."""
    deltas = []
    for t0, t1 in windows:
        lw = logit_without(t0, t1)
        deltas.append(None if lw is None or not math.isfinite(lw) else _r(base_logit - lw))
    return {"windows": [[_r(a, 3), _r(b, 3)] for a, b in windows], "delta_logodds": deltas,
            "base_logit": _r(base_logit)}


def freeze_landmark(series: np.ndarray, index: int) -> np.ndarray:
    """A copy of a (frames, landmarks, coords) series with one landmark held at its median position."""
    out = np.array(series, dtype=np.float64, copy=True)
    med = np.nanmedian(out[:, index, :], axis=0)
    valid = np.isfinite(out[:, index, :]).all(axis=1)
    out[valid, index, :] = med
    return out


def landmark_saliency(series: np.ndarray, base_logit: float, logit_with: Callable[[np.ndarray], float | None],
                      indices: Sequence[int] | None = None) -> list[float | None]:
    """|change| in log-odds when each landmark's trajectory is frozen to its median; signed
    (base - frozen), so positive means the landmark's movement pushed the score up."""
    n = series.shape[1]
    out: list[float | None] = []
    for j in (indices if indices is not None else range(n)):
        lw = logit_with(freeze_landmark(series, j))
        out.append(None if lw is None or not math.isfinite(lw) else _r(base_logit - lw))
    return out


def logit_of(model: Any, features: Mapping[str, float]) -> float | None:
    """The model's calibrated log-odds for a feature mapping, None when a feature is missing."""
    x = model.vector(features)
    if not np.all(np.isfinite(x)):
        return None
    with torch.no_grad():
        return float(model.torch_logit(torch.as_tensor(x[None, :], dtype=torch.float64))[0])


def _batch_logits(model: Any, rows: Sequence[np.ndarray | None]) -> list[float | None]:
    """Log-odds of many feature vectors in one forward pass (None rows stay None)."""
    ok = [i for i, r in enumerate(rows) if r is not None and np.all(np.isfinite(r))]
    out: list[float | None] = [None] * len(rows)
    if ok:
        with torch.no_grad():
            lo = model.torch_logit(torch.as_tensor(np.stack([rows[i] for i in ok]), dtype=torch.float64)).numpy()
        for i, v in zip(ok, lo):
            out[i] = float(v)
    return out


def _window_occlusion(model: Any, windows: Sequence[tuple[float, float]], base_logit: float,
                      features_without: Callable[[float, float], Mapping[str, float] | None]) -> dict[str, Any]:
    rows = []
    for t0, t1 in windows:
        f = features_without(t0, t1)
        rows.append(None if f is None else model.vector(f))
    by_window = dict(zip(windows, _batch_logits(model, rows)))
    return occlusion_saliency(windows, base_logit, lambda t0, t1: by_window[(t0, t1)])


# ---------------------------------------------------------------- voice: cycles without a window

def _perturbation(x: np.ndarray, valid: np.ndarray, k: int) -> float:
    """Praat-style k-point perturbation quotient of a cycle series (periods or amplitudes):
    mean |x_i - mean of the k cycles around i| / mean x, over windows of k consecutive valid
    cycles. k = 2 gives the 'local' measure (mean |x_i - x_{i-1}| / mean x)."""
    if valid.sum() < k + 1:
        return float("nan")
    mean_x = x[valid].mean()
    bad = np.concatenate([[0], np.cumsum(~valid)])
    if k == 2:
        ok = (bad[2:] - bad[:-2]) == 0  # both cycles i-1 and i valid
        d = np.abs(np.diff(x))[ok]
        return float(d.mean() / mean_x) if d.size else float("nan")
    h = k // 2
    n = len(x)
    idx = np.arange(h, n - h)
    ok = (bad[idx + h + 1] - bad[idx - h]) == 0
    if not ok.any():
        return float("nan")
    kernel = np.ones(k) / k
    local_mean = np.convolve(x, kernel, mode="valid")  # local_mean[j] = mean x[j..j+k-1], centred at j+h
    d = np.abs(x[idx] - local_mean[idx - h])[ok]
    return float(d.mean() / mean_x)


def _ddp(x: np.ndarray, valid: np.ndarray) -> float:
    """Mean |(x_{i+1} - x_i) - (x_i - x_{i-1})| / mean x over valid triples (Praat ddp / dda)."""
    if valid.sum() < 4:
        return float("nan")
    bad = np.concatenate([[0], np.cumsum(~valid)])
    idx = np.arange(1, len(x) - 1)
    ok = (bad[idx + 2] - bad[idx - 1]) == 0
    d = np.abs(x[idx + 1] - 2 * x[idx] + x[idx - 1])[ok]
    return float(d.mean() / x[valid].mean()) if d.size else float("nan")


def _local_db(a: np.ndarray, valid: np.ndarray) -> float:
    bad = np.concatenate([[0], np.cumsum(~valid)])
    ok = (bad[2:] - bad[:-2]) == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.abs(20 * np.log10(a[1:] / a[:-1]))[ok]
    d = d[np.isfinite(d)]
    return float(d.mean()) if d.size else float("nan")


class VoiceCycles:
    """Glottal cycles of the stable vowel (Praat's periodic cc pulses), their periods and peak-to-
    peak amplitudes, and Praat's harmonicity frames: everything the per-window recomputation of
    jitter, shimmer, F0 and HNR needs, computed once."""

    def __init__(self, audio: np.ndarray, sample_rate: int, start_s: float, end_s: float):
        from parselmouth.praat import call

        from core.voice.praat import PITCH_CEILING_HZ, PITCH_FLOOR_HZ, to_sound
        from core.voice.vowel import MAX_AMPLITUDE_FACTOR, MAX_PERIOD_FACTOR, PERIOD_CEILING_S, PERIOD_FLOOR_S

        part = to_sound(audio, sample_rate).extract_part(from_time=start_s, to_time=end_s, preserve_times=True)
        points = call(part, "To PointProcess (periodic, cc)", PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
        pulses = np.asarray(call(points, "To Matrix").values[0], dtype=np.float64)
        harmonicity = call(part, "To Harmonicity (cc)", 0.01, PITCH_FLOOR_HZ, 0.1, 1.0)
        self.hnr_times = np.asarray(harmonicity.xs(), dtype=np.float64)
        self.hnr_values = np.asarray(harmonicity.values[0], dtype=np.float64)
        self.starts, self.ends = pulses[:-1], pulses[1:]
        self.periods = np.diff(pulses)
        x = np.asarray(audio, dtype=np.float64)
        amps = []
        for a, b in zip(self.starts, self.ends):
            seg = x[int(a * sample_rate): max(int(b * sample_rate), int(a * sample_rate) + 1)]
            amps.append(seg.max() - seg.min() if seg.size else 0.0)
        self.amplitudes = np.asarray(amps)
        in_range = (self.periods >= PERIOD_FLOOR_S) & (self.periods <= PERIOD_CEILING_S)
        ratio_ok = np.ones_like(in_range)
        ratio = self.periods[1:] / np.maximum(self.periods[:-1], 1e-12)
        ratio_ok[1:] &= (ratio <= MAX_PERIOD_FACTOR) & (ratio >= 1 / MAX_PERIOD_FACTOR)
        self.period_valid = in_range & ratio_ok
        aratio = self.amplitudes[1:] / np.maximum(self.amplitudes[:-1], 1e-12)
        amp_ok = np.ones_like(in_range)
        amp_ok[1:] &= (aratio <= MAX_AMPLITUDE_FACTOR) & (aratio >= 1 / MAX_AMPLITUDE_FACTOR)
        self.amplitude_valid = self.period_valid & amp_ok & (self.amplitudes > 0)
        # cycle-by-cycle F0 as the vowel pipeline feeds the nonlinear pitch measures
        self.f0_ok = (self.periods >= 1 / PITCH_CEILING_HZ) & (self.periods <= 1 / PITCH_FLOOR_HZ)

    def keep(self, t0: float | None = None, t1: float | None = None) -> np.ndarray:
        """Cycles that do not overlap [t0, t1)."""
        if t0 is None:
            return np.ones(len(self.periods), dtype=bool)
        return (self.ends <= t0) | (self.starts >= t1)

    def measures(self, keep: np.ndarray, hnr_keep: np.ndarray) -> dict[str, float]:
        """numpy relatives of Praat's measures over the kept cycles (same names as the vowel
        pipeline). Used as ratios/differences against the full clip, never on their own."""
        from core.voice import nonlinear

        T, A = self.periods, self.amplitudes
        pv, av = self.period_valid & keep, self.amplitude_valid & keep
        f0 = 1.0 / T[self.f0_ok & keep]
        h = self.hnr_values[hnr_keep]
        h = h[h > -199]
        mean_t = T[pv].mean() if pv.any() else float("nan")
        local = _perturbation(T, pv, 2)
        return {
            "f0_mean_hz": float(f0.mean()) if f0.size else float("nan"),
            "f0_max_hz": float(f0.max()) if f0.size else float("nan"),
            "f0_min_hz": float(f0.min()) if f0.size else float("nan"),
            "jitter_local_pct": 100 * local,
            "jitter_abs_s": local * mean_t,
            "jitter_rap": _perturbation(T, pv, 3),
            "jitter_ppq5": _perturbation(T, pv, 5),
            "jitter_ddp": _ddp(T, pv),
            "shimmer_local": _perturbation(A, av, 2),
            "shimmer_db": _local_db(A, av),
            "shimmer_apq3": _perturbation(A, av, 3),
            "shimmer_apq5": _perturbation(A, av, 5),
            "shimmer_apq11": _perturbation(A, av, 11),
            "shimmer_dda": _ddp(A, av),
            "hnr_db": float(h.mean()) if h.size else float("nan"),
            "nhr": float(np.mean(10 ** (-h / 10))) if h.size else float("nan"),
            "spread1": nonlinear.spread1(f0) if f0.size > 10 else float("nan"),
            "spread2": nonlinear.spread2(f0) if f0.size > 10 else float("nan"),
            "ppe": nonlinear.pitch_period_entropy(f0) if f0.size > 10 else float("nan"),
        }


# additive corrections (log-like scales: dB, Hz, ln variance); the others scale by ratio
_VOICE_ADDITIVE = {"f0_mean_hz", "f0_max_hz", "f0_min_hz", "hnr_db", "shimmer_db", "spread1", "spread2", "ppe"}
VOICE_HELD_MEASURES = ("rpde", "dfa", "d2")  # waveform measures: too costly per window, held at the clip's value


def _adjusted(analysis: Mapping[str, float], full: Mapping[str, float], without: Mapping[str, float]) -> dict[str, float] | None:
    """The analysis's measures moved by what removing a window changed in the numpy relatives:
    value * without/full for ratio measures, value + (without - full) for log-scale ones. With no
    window removed this returns the analysis's own values exactly."""
    out = dict(analysis)
    for name, value in analysis.items():
        if name not in full:
            continue
        f, w = full[name], without[name]
        if not (math.isfinite(f) and math.isfinite(w)):
            return None
        if name in _VOICE_ADDITIVE:
            out[name] = value + (w - f)
        else:
            out[name] = value * (w / f) if f != 0 else value
    return out


def explain_vowel(result: Any, model: Any, window_s: float = DEFAULT_WINDOW_S) -> dict[str, Any]:
    """Measure attributions and temporal saliency of a sustained vowel's voice score."""
    from core.voice.vowel import uci_features

    analysis = result.measure_values()
    attr = measure_attributions(model, uci_features(analysis))
    out: dict[str, Any] = {"task": result.task, "measure_attributions": attr,
                           "feature_measures": _uci_names()}
    interval = result.signal.get("stable_interval")
    audio, sr = result.signal.get("audio"), result.signal.get("sample_rate")
    if interval is None or audio is None:
        return out
    a, b = float(interval[0]), float(interval[1])
    cycles = VoiceCycles(audio, sr, a, b)
    full = cycles.measures(cycles.keep(), np.ones(len(cycles.hnr_times), dtype=bool))

    def features_without(t0: float, t1: float) -> dict[str, float] | None:
        hnr_keep = (cycles.hnr_times < t0) | (cycles.hnr_times >= t1)
        values = _adjusted(analysis, full, cycles.measures(cycles.keep(t0, t1), hnr_keep))
        return None if values is None else uci_features(values)

    windows = time_windows(a, b, window_s)
    sal = _window_occlusion(model, windows, attr["logit"], features_without)
    sal["method"] = (f"occlusion of {window_s:g} s windows of the stable vowel: the glottal cycles and "
                     "harmonicity frames in the window are dropped and jitter, shimmer, F0, HNR/NHR, spread and "
                     "PPE recomputed; RPDE, DFA and D2 held at the clip's values")
    sal["held_measures"] = list(VOICE_HELD_MEASURES)
    out["temporal_saliency"] = sal
    out["analysed_interval"] = [_r(a, 3), _r(b, 3)]
    return out


def _uci_names() -> dict[str, str]:
    """UCI column -> pipeline measure name, so the page can label model features as measures."""
    from core.voice.vowel import UCI_COLUMNS

    return {col: name for name, col in UCI_COLUMNS.items()}


# ---------------------------------------------------------------- movement

def _downsample(times: np.ndarray, values: np.ndarray, max_points: int = 600) -> tuple[list, list]:
    step = max(1, int(math.ceil(len(times) / max_points)))
    return [_r(t, 3) for t in times[::step]], [_r(v, 3) for v in values[::step]]


def _key_frame_points(times: np.ndarray, landmarks: np.ndarray, key_time: float | None) -> dict[str, Any] | None:
    """Normalised (x, y) of every landmark at the frame nearest the key frame (or the frame with
    the most landmarks found when no key frame time is known)."""
    if len(times) == 0:
        return None
    found = np.isfinite(landmarks[:, :, 0]).sum(axis=1)
    if key_time is None or not math.isfinite(key_time):
        i = int(np.argmax(found))
    else:
        i = int(np.argmin(np.abs(times - key_time)))
        if found[i] == 0:
            i = int(np.argmax(found))
    return {"time": _r(times[i], 3), "frame_index": i,
            "points": [[_r(x, 4), _r(y, 4)] for x, y in landmarks[i, :, :2]]}


def _widest_opening_time(times: np.ndarray, landmarks: np.ndarray, image_size: Sequence[int]) -> float | None:
    """Time of the frame with the widest thumb-index opening (the hand clearly open)."""
    from core.movement.landmarks import INDEX_TIP, THUMB_TIP

    px = landmarks[:, :, :2] * np.asarray(image_size, dtype=float)
    opening = np.hypot(*(px[:, THUMB_TIP] - px[:, INDEX_TIP]).T)
    if not np.isfinite(opening).any():
        return None
    return float(times[int(np.nanargmax(opening))])


def _movement_explanation(model: Any, features: Mapping[str, float], times: np.ndarray, landmarks: np.ndarray,
                          features_of: Callable[[np.ndarray], Mapping[str, float] | None],
                          window_s: float, what: str) -> dict[str, Any]:
    """Attributions + occlusion over time + landmark freezing for a landmark-series task."""
    attr = measure_attributions(model, features)
    base = attr["logit"]
    windows = time_windows(float(times[0]), float(times[-1]), window_s)
    temporal = _window_occlusion(model, windows, base,
                                 lambda t0, t1: features_of(interpolate_window(times, landmarks, t0, t1)))
    temporal["method"] = (f"occlusion of {window_s:g} s windows: the {what} landmark trajectories in the window "
                          "are replaced by interpolation between its edges and every feature recomputed")
    frozen_rows = []
    for j in range(landmarks.shape[1]):
        f = features_of(freeze_landmark(landmarks, j))
        frozen_rows.append(None if f is None else model.vector(f))
    frozen = _batch_logits(model, frozen_rows)
    landmark = {"delta_logodds": [None if v is None else _r(base - v) for v in frozen],
                # frozen, these landmarks leave nothing to measure (e.g. no taps without the thumb tip)
                "essential": [j for j, v in enumerate(frozen) if v is None],
                "method": "each landmark's trajectory frozen at its median position, features recomputed; "
                          "'essential' landmarks are those without whose movement the measures cannot be taken"}
    return {"measure_attributions": attr, "temporal_saliency": temporal, "landmark_saliency": landmark}


def explain_finger_tapping(result: Any, model: Any, window_s: float = DEFAULT_WINDOW_S) -> dict[str, Any]:
    from core.movement.finger_tapping import NotEnoughTaps, tapping_features

    sig = result.signal
    times = np.asarray(sig["times"], dtype=np.float64)
    landmarks = np.asarray(sig["landmarks"], dtype=np.float64)
    image_size = tuple(sig["image_size"])

    def features_of(series: np.ndarray) -> dict[str, float] | None:
        try:
            return tapping_features(times, series, image_size)
        except NotEnoughTaps:
            return None

    out = _movement_explanation(model, sig["features"], times, landmarks, features_of, window_s, "hand")
    out["task"] = result.task
    out["landmark_saliency"]["names"] = "hand"
    out["key_frame"] = _key_frame_points(times, landmarks, _widest_opening_time(times, landmarks, image_size))
    out["image_size"] = list(image_size)
    if "tapping_times" in sig:
        t, v = _downsample(np.asarray(sig["tapping_times"]), np.asarray(sig["tapping_angle"]))
        peaks = np.asarray(sig["tap_peaks"], dtype=int)
        out["signal"] = {"times": t, "values": v, "label": "thumb-index opening angle (degrees)",
                         "peaks": [_r(x, 3) for x in np.asarray(sig["tapping_times"])[peaks]]}
    out["sentences"] = tapping_sentences(result.measure_values())
    return out


def tapping_sentences(measures: Mapping[str, float]) -> list[str]:
    """'Tapping amplitude fell 40% over 10 taps.' (the other measures have their own sentences)."""
    out = []
    dec, n = measures.get("amplitude_decrement_pct"), measures.get("tap_count")
    if dec is not None and math.isfinite(dec) and n:
        taps = plural(int(round(n)), "tap")
        if dec >= 10:
            out.append(f"Tapping amplitude fell {dec:.0f}% over {taps}.")
        elif dec <= -10:
            out.append(f"Tapping amplitude rose {-dec:.0f}% over {taps}.")
        else:
            out.append(f"Tapping amplitude held steady over {taps} (change {dec:+.0f}%).")
    return out


def explain_gait(result: Any, model: Any, window_s: float = 1.0) -> dict[str, Any]:
    """Gait: occlusion over 1 s windows of the pose series (a stride is about 1 s) and pose
    landmark freezing, re-running event detection, stride and arm-swing measures."""
    from core.movement.gait import arm_swing_measures, events_from_pose, pose_tracks, stride_measures
    from core.movement.landmarks import PoseSeries

    sig = result.signal
    times = np.asarray(sig["pose_times"], dtype=np.float64)
    landmarks = np.asarray(sig["landmarks"], dtype=np.float64)
    visibility = np.asarray(sig["visibility"], dtype=np.float64)
    image_size = tuple(sig["image_size"])
    world = np.full_like(landmarks, np.nan)

    def features_of(series: np.ndarray) -> dict[str, float] | None:
        pose = PoseSeries(times, series, visibility, world, image_size)
        tracks = pose_tracks(pose)
        values = stride_measures(events_from_pose(pose, tracks), duration_s=float(times[-1]) if len(times) else 0.0)
        values.update(arm_swing_measures(pose, tracks))
        return values

    out = _movement_explanation(model, sig["measure_values"], times, landmarks, features_of, window_s, "body")
    out["task"] = result.task
    out["landmark_saliency"]["names"] = "pose"
    vis = np.nan_to_num(visibility, nan=0.0)
    best = int(np.argmax(vis.sum(axis=1))) if len(times) else 0
    out["key_frame"] = _key_frame_points(times, landmarks, float(times[best]) if len(times) else None)
    out["image_size"] = list(image_size)
    heel = sig.get("heel_vertical_left")
    if heel is not None and len(sig.get("times", [])):
        t, v = _downsample(np.asarray(sig["times"]), np.asarray(heel, dtype=float))
        out["signal"] = {"times": t, "values": v, "label": "left heel height (torso lengths)",
                         "peaks": [_r(x, 3) for x in np.asarray(sig["heel_strikes"]["left"], dtype=float)]}
    return out


def decode_key_frame(path: str | Path, time_s: float, max_side: int = 480) -> np.ndarray | None:
    """The video frame at `time_s` (the first frame at or after it), downscaled: the key frame on
    which landmark saliency is drawn, decoded from the clip so the landmarks line up exactly."""
    from core.media.video import iter_frames

    last = None
    for t, rgb in iter_frames(path, max_side=max_side):
        last = rgb
        if t >= time_s - 1e-3:
            return np.ascontiguousarray(rgb)
    return last


# ---------------------------------------------------------------- dispatch

def explain_result(result: Any, model: Any | None = None) -> dict[str, Any] | None:
    """The explanation of one analysed clip, or None when there is no score to explain (quality
    failed, no model for the task, or the model abstained)."""
    if result.score is None or result.score.probability is None or not result.quality.ok:
        return None
    if model is None:
        from models.registry import load_model

        model = load_model(result.score.model)
    explain = {"vowel": explain_vowel, "finger_tapping": explain_finger_tapping, "gait": explain_gait}.get(result.task)
    if explain is None:
        return None
    out = explain(result, model)
    out["version"] = EXPLANATION_VERSION
    out["model"] = model.name
    out["model_version"] = model.version
    return out

