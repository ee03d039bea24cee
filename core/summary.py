"""Plain-language sentences for the results page, the CLI and reports, in clinical terms.

Built from measures (name, label, value, unit, normal range), explanations (core/explain.py) and
scores. The wording describes measured signs and how they compare with healthy ranges; it never
claims a diagnosis ("pattern consistent with...", "decision support, not a diagnosis").
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

NOT_A_DIAGNOSIS = ("Decision support, not a diagnosis: these scores describe how closely the measured "
                   "signs resemble those seen in people with Parkinson's disease in public research data. "
                   "Interpret them with the clinical examination.")

# units that count things: singular for exactly one
COUNT_UNITS = {"taps": "tap", "steps": "step", "strides": "stride", "torso lengths": "torso length"}

BRANCH_LABELS = {
    "voice": "voice",
    "finger_tapping_left": "left-hand finger tapping",
    "finger_tapping_right": "right-hand finger tapping",
    "gait": "gait",
}


def measure_dict(m: Any) -> dict[str, Any]:
    """A Measure (core.pipeline) or an already plain dict -> plain dict."""
    if isinstance(m, Mapping):
        return dict(m)
    return {"name": m.name, "value": m.value, "unit": m.unit, "label": m.label,
            "normal_range": list(m.normal_range) if m.normal_range else None}


def readable(name: str) -> str:
    """A model feature name a clinician can read when no measure label exists:
    'amplitude_decrement_slope_denoised' -> 'amplitude decrement slope (denoised)'."""
    for suffix in ("_denoised", "_trimmed"):
        if name.endswith(suffix):
            return readable(name[: -len(suffix)]) + f" ({suffix[1:]})"
    return name.replace("_", " ").replace("mvmnt", "movement")


def fmt(value: float | None, unit: str = "") -> str:
    """3 significant figures, with the unit ("1.2%", "5.31 Hz", "0.842")."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    v = float(value)
    text = f"{v:.3g}" if abs(v) < 1e5 else f"{v:.0f}"
    if "e" in text:
        text = f"{v:.4f}"
    if unit == "%":
        return f"{text}%"
    if unit in COUNT_UNITS and v == 1:  # "1 tap", not "1 taps"
        unit = COUNT_UNITS[unit]
    return f"{text} {unit}".strip()


def range_text(normal_range: Iterable[float | None] | None, unit: str = "") -> str | None:
    if not normal_range:
        return None
    lo, hi = list(normal_range)
    if lo is not None and hi is not None:
        return f"{fmt(lo, unit)} to {fmt(hi, unit)}"
    if hi is not None:
        return f"< {fmt(hi, unit)}"
    if lo is not None:
        return f"> {fmt(lo, unit)}"
    return None


def out_of_range_sentence(m: Mapping[str, Any]) -> str | None:
    """'Jitter (local) 1.2%, above the healthy range (< 1.04%).' or None when in range/unknown."""
    rng = m.get("normal_range")
    value = m.get("value")
    if not rng or value is None or not math.isfinite(float(value)):
        return None
    lo, hi = list(rng)
    unit = m.get("unit", "")
    if hi is not None and value > hi:
        where = "above"
    elif lo is not None and value < lo:
        where = "below"
    else:
        return None
    return f"{m.get('label') or m['name']} {fmt(value, unit)}, {where} the healthy range ({range_text(rng, unit)})."


def cutoff_sentence(m: Mapping[str, Any]) -> str | None:
    """'Timed Up and Go 14.2 s: above 11.5 s: higher fall risk in Parkinson's (Nocera 2013).'
    for a measure beyond its published clinical cut-off (core.vocabulary.MeasureInfo.cutoff)."""
    from core.vocabulary import measure_info

    info = measure_info(str(m.get("name", "")))
    value = m.get("value")
    if info is None or value is None or not math.isfinite(float(value)) or not info.beyond_cutoff(float(value)):
        return None
    return f"{m.get('label') or info.label} {fmt(float(value), m.get('unit', info.unit))}: {info.cutoff_text}."


def attribution_sentence(explanation: Mapping[str, Any] | None, labels: Mapping[str, str] | None = None,
                         k: int = 2) -> str | None:
    """Which measures moved this model's score most, against the healthy reference."""
    if not explanation or "attributions" not in explanation:
        return None
    labels = labels or {}
    pairs = [(n, a) for n, a in zip(explanation["names"], explanation["attributions"]) if a is not None]
    pairs = sorted(pairs, key=lambda p: -abs(p[1]))[:k]
    pairs = [(n, a) for n, a in pairs if abs(a) >= 0.05]
    if not pairs:
        return "No single measure moved this score much away from the healthy reference."
    parts = [f"{labels.get(n, readable(n))} ({'towards' if a > 0 else 'away from'} a Parkinson-like pattern)"
             for n, a in pairs]  # plain words: the sizes (log-odds) are in the figure's technical details
    return "Measures that moved the score most: " + "; ".join(parts) + "."


def temporal_sentence(saliency: Mapping[str, Any] | None, what: str = "clip") -> str | None:
    """'Seconds 3.0-3.5 of the clip raised the score most.'"""
    if not saliency:
        return None
    best = None
    for (t0, t1), d in zip(saliency.get("windows", []), saliency.get("delta_logodds", [])):
        if d is not None and (best is None or abs(d) > abs(best[2])):
            best = (t0, t1, d)
    if best is None or abs(best[2]) < 0.02:
        return None
    t0, t1, d = best
    direction = "raised" if d > 0 else "lowered"
    return f"Seconds {t0:.1f}-{t1:.1f} of the {what} {direction} the score most."


def score_sentence(probability: float | None, interval: Iterable[float] | None, abstained: str | None,
                   what: str = "The combined score") -> str:
    if probability is None:
        return f"{what} was not computed: {abstained or 'no scorable recording'}"
    band = ""
    if interval:
        lo, hi = list(interval)
        band = f" (uncertainty {lo:.2f} to {hi:.2f})"
    if probability >= 0.7:
        reading = "the measured pattern is consistent with Parkinson-like signs"
    elif probability <= 0.3:
        reading = "the measured pattern is closer to the healthy reference"
    else:
        reading = "the measured pattern is between the healthy reference and Parkinson-like signs"
    return f"{what} is {probability:.2f}{band}: {reading}."


def recording_summary(task_label: str, measures: Iterable[Any], explanation: Mapping[str, Any] | None = None,
                      quality_ok: bool = True, problems: Iterable[str] = (),
                      extra: Iterable[str] = ()) -> list[str]:
    """Sentences for one clip: quality problems first, then out-of-range measures, then task-
    specific sentences (`extra`, e.g. tapping decrement), then what the explanation found."""
    if not quality_ok:
        return [f"{task_label}: not scored, the clip failed its quality check. " + " ".join(problems)]
    ms = [measure_dict(m) for m in measures]
    labels = {m["name"]: m.get("label") or m["name"] for m in ms}
    for feature, measure in ((explanation or {}).get("feature_measures") or {}).items():
        labels.setdefault(feature, labels.get(measure, measure))  # model feature -> measure label
    lines = [s for s in (out_of_range_sentence(m) for m in ms) if s]
    lines.extend(s for s in (cutoff_sentence(m) for m in ms) if s)
    lines.extend(extra)
    if explanation:
        for s in (attribution_sentence(explanation.get("measure_attributions"), labels),
                  temporal_sentence(explanation.get("temporal_saliency"))):
            if s:
                lines.append(s)
    if not lines:
        lines.append("All measures with a known healthy range are within it.")
    return [f"{task_label}: {s}" if i == 0 else s for i, s in enumerate(lines)]


def fused_summary(fused: Mapping[str, Any]) -> list[str]:
    """Sentences for the visit score: value, which modality moved it, what was left out."""
    lines = [score_sentence(fused.get("probability"), fused.get("interval"), fused.get("abstained"))]
    contributions = fused.get("contributions_logodds") or {}
    if len(contributions) > 1:
        parts = [f"{BRANCH_LABELS.get(k, k)} ({'towards a Parkinson-like pattern' if v > 0 else 'away from it'})"
                 for k, v in sorted(contributions.items(), key=lambda kv: -abs(kv[1]))]
        lines.append("Contribution of each recording to the visit score, largest first: " + ", ".join(parts) + ".")
    for why in (fused.get("excluded") or {}).values():
        lines.append(f"Left out: {why}")
    lines.append(NOT_A_DIAGNOSIS)
    return lines
