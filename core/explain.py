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
from typing import Any

import numpy as np
import torch

EXPLANATION_VERSION = 1
IG_STEPS = 64
DEFAULT_WINDOW_S = 0.5


def _r(x: float, digits: int = 5) -> float | None:
    """Round for storage; None for NaN/inf (JSON has no NaN)."""
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


# ---------------------------------------------------------------- measure attributions

def measure_attributions(model: Any, features: Mapping[str, float] | Sequence[float],
                         n_steps: int = IG_STEPS) -> dict[str, Any]:
    """IntegratedGradients of the model's calibrated log-odds, from its healthy reference to
    `features` (a mapping by feature name or a vector in `model.feature_names` order).

    Returns names, values, reference, attributions (log-odds; positive pushes towards PD-like),
    logit, reference_logit and completeness_gap = sum(attributions) - (logit - reference_logit).
    """
    from captum.attr import IntegratedGradients

    x = model.vector(features) if isinstance(features, Mapping) else np.asarray(features, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("Cannot explain a score computed from missing measures.")
    xt = torch.as_tensor(x, dtype=torch.float64).unsqueeze(0)
    ref = torch.as_tensor(model.reference, dtype=torch.float64).unsqueeze(0)
    ig = IntegratedGradients(model.torch_logit)
    attr = ig.attribute(xt, baselines=ref, n_steps=n_steps, method="gausslegendre")[0].detach().numpy()
    with torch.no_grad():
        lx, lr = float(model.torch_logit(xt)[0]), float(model.torch_logit(ref)[0])
    return {
        "model": model.name,
        "model_version": model.version,
        "method": f"IntegratedGradients ({n_steps} steps, Gauss-Legendre) from the healthy reference",
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
