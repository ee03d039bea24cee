"""Gait (MDS-UPDRS 3.10): heel strikes and toe-offs -> stride timing measures.

The same stride-timing vocabulary is computed from two sources, which is what lets a model trained
on one be applied to the other:

* force insoles (PhysioNet gaitpdb, total vertical force under each foot at 100 Hz):
  `events_from_force`, used to train the gait model;
* pose landmarks of a walking video (MediaPipe BlazePose heel, ankle, foot index, hips):
  `events_from_pose`, used in the clinic.

Both give `GaitEvents`; `stride_measures` turns events into measures, whatever their source.
Arm swing (`arm_swing_measures`) exists only for video.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import warnings

import numpy as np
from scipy import ndimage

from core.movement.landmarks import resample_uniform
from core.vocabulary import MeasureInfo

SIDES = ("left", "right")

# Outlier strides (turns, stops, missed events) are those outside median +- this fraction.
STRIDE_WINDOW_FRACTION = 0.5
# Then steady walking: strides within median +- 3.5 robust SD (1.4826 MAD), at least +- 10%.
STEADY_ROBUST_SD = 3.5
STEADY_MIN_FRACTION = 0.10


@dataclass
class GaitEvents:
    """Gait events per foot, times in seconds, sorted.

    heel_strikes["left"]: initial contacts of the left foot; toe_offs["left"]: its final contacts.
    `method` says how they were found (for the report); `walking` optionally holds
    (start, end) spans in which events were looked for.
    """

    heel_strikes: dict[str, np.ndarray]
    toe_offs: dict[str, np.ndarray]
    method: str = ""
    walking: list[tuple[float, float]] = field(default_factory=list)

    def n_events(self) -> int:
        return sum(len(self.heel_strikes.get(s, ())) + len(self.toe_offs.get(s, ())) for s in SIDES)


# --------------------------------------------------------------------------- shared helpers

def _crossing_time(times: np.ndarray, signal: np.ndarray, i: int, level: float) -> float:
    """Time at which `signal` crosses `level` between samples i-1 and i (linear interpolation)."""
    if i <= 0:
        return float(times[0])
    a, b = signal[i - 1], signal[i]
    if not np.isfinite(a) or not np.isfinite(b) or a == b:
        return float(times[i])
    frac = float(np.clip((level - a) / (b - a), 0.0, 1.0))
    return float(times[i - 1] + frac * (times[i] - times[i - 1]))


def _runs(state: np.ndarray) -> list[list[int]]:
    """Run-length encoding: [[value, start, end_exclusive], ...]."""
    change = np.flatnonzero(np.diff(state)) + 1
    bounds = np.concatenate([[0], change, [len(state)]])
    return [[int(state[a]), int(a), int(b)] for a, b in zip(bounds[:-1], bounds[1:])]


def _contact_events(times: np.ndarray, contact: np.ndarray, low: np.ndarray, high: np.ndarray,
                    min_phase_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and ends of contact from a signal that is high while the foot is on the ground.

    Hysteresis: contact starts when the signal rises above `high` and ends when it falls below
    `low` (both may vary along the signal). An onset is dated back to where the signal rose
    through `low`, so both events are timed at the same level. Contact or no-contact phases
    shorter than `min_phase_s` are merged into the phase before (debounce). NaN samples (tracking
    lost, not walking) are unknown: no event is reported next to them, so every event is a real
    transition. Returns (onset times, end times).
    """
    n = len(contact)
    state = np.full(n, -1, dtype=np.int8)  # -1 unknown, 0 no contact, 1 contact
    current = -1
    for i in range(n):
        x, lo, hi = contact[i], low[i], high[i]
        if not (np.isfinite(x) and np.isfinite(lo) and np.isfinite(hi)):
            current = -1
        elif current != 1 and x >= hi:
            current = 1
        elif current != 0 and x < lo:
            current = 0
        state[i] = current
    runs = _runs(state)
    # an unknown stretch before the first decision is not a phase boundary we saw
    for k, run in enumerate(runs):  # debounce
        value, a, b = run
        if value < 0 or k == 0 or runs[k - 1][0] < 0:
            continue
        if times[min(b, n - 1)] - times[a] < min_phase_s:
            run[0] = runs[k - 1][0]
    runs = _runs(np.concatenate([np.full(b - a, v, dtype=np.int8) for v, a, b in runs]))
    onsets, ends = [], []
    for prev, cur in zip(runs, runs[1:]):
        if prev[0] < 0 or cur[0] < 0:
            continue
        i = cur[1]
        if cur[0] == 1:  # rise: date back to the crossing of `low`
            while i > prev[1] + 1 and contact[i - 1] >= low[i - 1]:
                i -= 1
            onsets.append(_crossing_time(times, contact, i, low[i]))
        else:
            ends.append(_crossing_time(times, contact, i, low[i]))
    return np.asarray(onsets, dtype=float), np.asarray(ends, dtype=float)


def _keep_between(x: np.ndarray, start: float, end: float) -> np.ndarray:
    return np.sort(x[(x >= start) & (x <= end)])


# --------------------------------------------------------------------------- force insoles

FORCE_THRESHOLD_LOW = 0.08  # fraction of the local swing-to-stance force range
FORCE_THRESHOLD_HIGH = 0.30
FORCE_WINDOW_S = 4.0  # window for the local baseline and stance level (covers >= 2 strides)
FORCE_MIN_PHASE_S = 0.10  # debounce: no real stance or swing is shorter
FORCE_EDGE_S = 2.0  # gait initiation and termination are not steady walking


def events_from_force(times, left_force, right_force, edge_s: float = FORCE_EDGE_S) -> GaitEvents:
    """Heel strikes and toe-offs from the total vertical force under each foot.

    Heel strike: the force rises through a threshold set at 8% of the LOCAL range between the
    swing baseline (rolling minimum) and the stance level (rolling maximum) over 4 s, so sensor
    offsets and slow baseline drift do not move the events; toe-off: it falls through the same
    level. Hysteresis (contact confirmed only above 30%) and a 0.1 s debounce reject noise.
    Spans where the foot's force range collapses (standing still, both feet loaded) give no
    events, and events in the first and last `edge_s` seconds (starting and stopping) are dropped.
    Turns remain as odd strides: `stride_measures` excludes them.
    """
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or len(t) < 10:
        raise ValueError("force recording too short")
    dt = float(np.median(np.diff(t)))
    win = max(3, int(round(FORCE_WINDOW_S / dt)))
    heel_strikes, toe_offs = {}, {}
    for side, force in zip(SIDES, (left_force, right_force)):
        f = np.asarray(force, dtype=float)
        f = ndimage.median_filter(f, size=5, mode="nearest")  # single-sample spikes
        base = ndimage.uniform_filter1d(ndimage.minimum_filter1d(f, win, mode="nearest"), win, mode="nearest")
        top = ndimage.uniform_filter1d(ndimage.maximum_filter1d(f, win, mode="nearest"), win, mode="nearest")
        span = top - base
        # not walking where the local range is small compared with the typical walking range
        typical = np.nanmedian(span)
        span = np.where(span >= 0.3 * typical, span, np.nan)
        low = base + FORCE_THRESHOLD_LOW * span
        high = base + FORCE_THRESHOLD_HIGH * span
        on, off = _contact_events(t, f, low, high, FORCE_MIN_PHASE_S)
        heel_strikes[side] = _keep_between(on, t[0] + edge_s, t[-1] - edge_s)
        toe_offs[side] = _keep_between(off, t[0] + edge_s, t[-1] - edge_s)
    return GaitEvents(heel_strikes, toe_offs, method="force threshold (8% of local range)",
                      walking=[(float(t[0] + edge_s), float(t[-1] - edge_s))])


def load_force_recording(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gaitpdb_forces file (columns time_s, left_total_N, right_total_N) -> (t, left, right)."""
    data = np.loadtxt(path, skiprows=1, dtype=float)
    return data[:, 0], data[:, 1], data[:, 2]


# --------------------------------------------------------------------------- stride measures

STRIDE_MEASURE_NAMES = (
    "stride_time_s", "stride_time_cv_pct", "swing_fraction_pct", "swing_fraction_cv_pct",
    "stance_fraction_pct", "cadence_steps_per_min", "step_time_asymmetry_pct",
    "swing_time_asymmetry_pct", "stride_time_left_s", "stride_time_right_s", "n_strides",
)
# Measures built only from intervals between like events (heel strike to heel strike): a constant
# offset of the detected heel strikes (video vs force plate) cancels out of them. Swing and stance
# mix toe-offs with heel strikes, so any offset between the two kinds of event shifts them.
INTERVAL_MEASURES = ("stride_time_s", "stride_time_cv_pct", "cadence_steps_per_min",
                     "step_time_asymmetry_pct", "stride_time_left_s", "stride_time_right_s")


def _cv_pct(x: np.ndarray) -> float:
    if len(x) < 3 or np.mean(x) <= 0:
        return float("nan")
    return float(100.0 * np.std(x, ddof=1) / np.mean(x))


def _foot_strides(hs: np.ndarray, to: np.ndarray, walking: list[tuple[float, float]]) -> dict[str, np.ndarray]:
    """Strides of one foot: heel strike to next heel strike with exactly one toe-off between.
    Strides spanning a gap between walking spans are not strides."""
    starts, stride, swing = [], [], []
    for a, b in zip(hs[:-1], hs[1:]):
        if not _in_one_span(a, b, walking):
            continue
        inside = to[(to > a) & (to < b)]
        if len(inside) != 1:
            continue
        starts.append(a)
        stride.append(b - a)
        swing.append(b - inside[0])
    return {"start": np.asarray(starts), "stride": np.asarray(stride), "swing": np.asarray(swing)}


def _in_one_span(a: float, b: float, walking: list[tuple[float, float]]) -> bool:
    return not walking or any(s <= a and b <= e for s, e in walking)


def _step_times(hs_this: np.ndarray, hs_other: np.ndarray, walking: list[tuple[float, float]],
                lo: float, hi: float) -> np.ndarray:
    """Step times ending with a heel strike of this foot: from the other foot's latest heel strike
    before it. Only steps of steady walking (half the kept stride window) within one walking span."""
    steps = []
    for b in hs_this:
        before = hs_other[hs_other < b]
        if len(before) == 0:
            continue
        a = float(before[-1])
        if 0.5 * lo <= b - a <= 0.5 * hi and _in_one_span(a, b, walking):
            steps.append(b - a)
    return np.asarray(steps, dtype=float)


def stride_measures(events: GaitEvents, duration_s: float) -> dict[str, float]:
    """Stride timing measures from gait events (any source).

    Stride: a heel strike to the next heel strike of the same foot, with exactly one toe-off of
    that foot in between (swing = toe-off to heel strike). Strides outside the median +- 50%
    of all strides (turns, stops, missed events) are EXCLUDED from every measure; of the rest,
    only steady walking is kept: strides within the median +- 3.5 robust SD (1.4826 x MAD), a
    window never narrower than +- 10%, which drops the slow strides into and out of turns but
    keeps a patient's real stride-to-stride variability. Events beyond `duration_s` are ignored.

    - stride_time_s: median stride time over both feet; stride_time_left_s / _right_s per foot.
    - stride_time_cv_pct: coefficient of variation (SD / mean) of stride time, per foot, then
      averaged over the feet (pooling would add any left/right difference to the variability).
    - swing_fraction_pct: swing time / stride time, mean over strides, averaged over feet;
      stance_fraction_pct = stance / stride likewise (100 - swing fraction).
    - swing_fraction_cv_pct: CV of the per-stride swing fraction, averaged over feet.
    - cadence_steps_per_min: 120 / stride_time_s (two steps a stride).
    - step_time_asymmetry_pct: 100 * |ln(mean right step time / mean left step time)|, a step
      being the other foot's heel strike to this foot's heel strike (0 = symmetric). Built from
      heel strikes only, like stride time (see INTERVAL_MEASURES).
    - swing_time_asymmetry_pct: Plotnik et al. 2007 gait asymmetry on SWING times,
      100 * |ln(mean swing_right / mean swing_left)| (healthy adults ~2-6); needs toe-offs.
    - n_strides: number of strides kept (both feet).
    NaN where there are too few strides.
    """
    walking = list(events.walking)
    per_foot = {}
    for side in SIDES:
        hs = np.sort(np.asarray(events.heel_strikes.get(side, ()), dtype=float))
        to = np.sort(np.asarray(events.toe_offs.get(side, ()), dtype=float))
        hs, to = hs[hs <= duration_s], to[to <= duration_s]
        per_foot[side] = _foot_strides(hs, to, walking)
    all_strides = np.concatenate([per_foot[s]["stride"] for s in SIDES])
    nan = float("nan")
    out = {name: nan for name in STRIDE_MEASURE_NAMES}
    out["n_strides"] = 0.0
    if len(all_strides) == 0:
        return out
    med = float(np.median(all_strides))
    lo, hi = med * (1 - STRIDE_WINDOW_FRACTION), med * (1 + STRIDE_WINDOW_FRACTION)
    in_window = all_strides[(all_strides >= lo) & (all_strides <= hi)]
    if len(in_window) >= 5:  # steady walking only: turns and hesitations are slower strides
        med = float(np.median(in_window))
        robust_sd = 1.4826 * float(np.median(np.abs(in_window - med)))
        half = max(STEADY_ROBUST_SD * robust_sd, STEADY_MIN_FRACTION * med)
        lo, hi = max(lo, med - half), min(hi, med + half)
    kept = {}
    for side in SIDES:
        f = per_foot[side]
        ok = (f["stride"] >= lo) & (f["stride"] <= hi)
        kept[side] = {k: v[ok] for k, v in f.items()}
    pooled = np.concatenate([kept[s]["stride"] for s in SIDES])
    out["n_strides"] = float(len(pooled))
    if len(pooled) == 0:
        return out
    out["stride_time_s"] = float(np.median(pooled))
    out["cadence_steps_per_min"] = 120.0 / out["stride_time_s"]
    feet = [s for s in SIDES if len(kept[s]["stride"]) > 0]
    for side in feet:
        out[f"stride_time_{side}_s"] = float(np.median(kept[side]["stride"]))
    swing_frac = {s: kept[s]["swing"] / kept[s]["stride"] for s in feet}
    out["stride_time_cv_pct"] = _nanmean([_cv_pct(kept[s]["stride"]) for s in feet])
    out["swing_fraction_pct"] = _nanmean([100.0 * float(np.mean(swing_frac[s])) for s in feet])
    out["stance_fraction_pct"] = 100.0 - out["swing_fraction_pct"]
    out["swing_fraction_cv_pct"] = _nanmean([_cv_pct(swing_frac[s]) for s in feet])
    if all(len(kept[s]["swing"]) >= 2 for s in SIDES):
        sl, sr = float(np.mean(kept["left"]["swing"])), float(np.mean(kept["right"]["swing"]))
        out["swing_time_asymmetry_pct"] = float(100.0 * abs(np.log(sr / sl)))
    hs = {s: np.sort(np.asarray(events.heel_strikes.get(s, ()), dtype=float)) for s in SIDES}
    hs = {s: v[v <= duration_s] for s, v in hs.items()}
    steps = {s: _step_times(hs[s], hs[o], walking, lo, hi) for s, o in zip(SIDES, SIDES[::-1])}
    if all(len(steps[s]) >= 2 for s in SIDES):
        out["step_time_asymmetry_pct"] = float(100.0 * abs(np.log(np.mean(steps["right"]) / np.mean(steps["left"]))))
    return out


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.mean(v)) if len(v) else float("nan")


# --------------------------------------------------------------------------- measure vocabulary

_HAUSDORFF = "Hausdorff 2009, J NeuroEng Rehabil; Frenkel-Toledo 2005"


def _gait(name: str, label: str, unit: str, normal_range, higher_is_worse: bool | None, source: str,
          description: str) -> MeasureInfo:
    return MeasureInfo(name, label, unit, "gait", normal_range, source, higher_is_worse, description)


# Healthy reference ranges and directions (PD: slower, more variable, shorter swing, asymmetric,
# reduced arm swing), with their sources.
MEASURES: tuple[MeasureInfo, ...] = (
    _gait("stride_time_s", "Stride time", "s", (0.95, 1.20), True, _HAUSDORFF,
          "Median time from one heel strike to the next of the same foot. Healthy older adults "
          "about 1.0-1.15 s at a comfortable pace (Hausdorff 2009; Frenkel-Toledo 2005); longer "
          "with slow, shuffling gait."),
    _gait("stride_time_cv_pct", "Stride time variability (CV)", "%", (None, 3.0), True, _HAUSDORFF,
          "Stride-to-stride variability (SD / mean). Healthy adults about 1-3%; raised in PD, "
          "notably in freezers (Hausdorff 2009, J NeuroEng Rehabil)."),
    _gait("swing_fraction_pct", "Swing phase", "% of stride", (36.0, 40.0), False, _HAUSDORFF,
          "Share of the stride the foot is in the air. About 36-40% in healthy adults, lower in "
          "PD (Frenkel-Toledo 2005; Hausdorff 2009). From video, read with caution: toe-off and "
          "heel strike are found from the foot's picture, and an offset between the two moves this "
          "share (healthy walkers filmed side-on have shown 30-34%). Not used by the gait model."),
    _gait("swing_fraction_cv_pct", "Swing phase variability (CV)", "%", (None, 4.0), True, _HAUSDORFF,
          "Stride-to-stride variability of the swing share. Swing time CV is about 2-3% in "
          "healthy adults and higher in PD (Frenkel-Toledo 2005; Hausdorff 2009). From video, read "
          "with caution (see Swing phase); not used by the gait model."),
    _gait("stance_fraction_pct", "Stance phase", "% of stride", (60.0, 64.0), True, _HAUSDORFF,
          "Share of the stride the foot is on the ground (100 - swing). From video, read with "
          "caution (see Swing phase); not used by the gait model."),
    _gait("cadence_steps_per_min", "Cadence", "steps/min", (100.0, 125.0), False, "Hollman 2011; Hausdorff 2009",
          "Steps per minute (120 / stride time). Healthy older adults about 100-125 steps/min "
          "(Hollman 2011; Hausdorff 2009)."),
    _gait("step_time_asymmetry_pct", "Step time asymmetry", "%", (None, 6.0), True,
          "Plotnik, Giladi & Hausdorff 2007 (form of the index)",
          "100 x |ln(right step time / left step time)|, a step being the time from one heel strike "
          "to the next heel strike of the other foot (0 = symmetric). Built from heel strikes only, "
          "so it means the same from force insoles and from video. Higher in PD, more so on the "
          "more affected side."),
    _gait("swing_time_asymmetry_pct", "Gait asymmetry (swing times)", "%", (None, 6.0), True,
          "Plotnik, Giladi & Hausdorff 2007",
          "100 x |ln(right swing / left swing)| (Plotnik, Giladi & Hausdorff 2007). About 2-6 in "
          "healthy adults, higher in PD. Needs toe-offs: from video, read with caution (see Swing "
          "phase); not used by the gait model."),
    _gait("stride_time_left_s", "Stride time, left", "s", (0.95, 1.20), True, _HAUSDORFF,
          "Median stride time of the left foot."),
    _gait("stride_time_right_s", "Stride time, right", "s", (0.95, 1.20), True, _HAUSDORFF,
          "Median stride time of the right foot."),
    _gait("n_strides", "Strides measured", "", None, None, "",
          "Strides kept for the measures after excluding turns and outliers (median +- 50%)."),
    _gait("arm_swing_amplitude_left", "Arm swing, left", "torso lengths", None, False, "Lewek 2010 (direction)",
          "Range of the left wrist's swing relative to the shoulder, in torso lengths (video only). "
          "Reduced, often on one side first, in early PD (Lewek 2010; no normal range for this "
          "video measure is established)."),
    _gait("arm_swing_amplitude_right", "Arm swing, right", "torso lengths", None, False, "Lewek 2010 (direction)",
          "Range of the right wrist's swing relative to the shoulder, in torso lengths (video only)."),
    _gait("arm_swing_asymmetry_pct", "Arm swing asymmetry", "%", (None, 25.0), True, "Lewek 2010; Huang 2012",
          "100 x |L - R| / larger of the two (0 = symmetric, 100 = one arm still; video only). "
          "Healthy adults usually swing both arms within ~10-25% of each other; asymmetry is an "
          "early sign of PD (Lewek 2010; Huang 2012)."),
)
MEASURES_BY_NAME = {m.name: m for m in MEASURES}
# name -> (label, unit, normal range, description): the older view of MEASURES, kept for callers
GAIT_MEASURE_INFO: dict[str, tuple[str, str, tuple[float | None, float | None] | None, str]] = {
    m.name: (m.label, m.unit, m.normal_range, m.description) for m in MEASURES}


def measure_infos() -> tuple[MeasureInfo, ...]:
    """This pipeline's measures (gathered by core.vocabulary)."""
    return MEASURES


# --------------------------------------------------------------------------- pose landmarks

# BlazePose landmark indices (the person's own left/right)
NOSE = 0
SHOULDER = {"left": 11, "right": 12}
WRIST = {"left": 15, "right": 16}
HIP = {"left": 23, "right": 24}
ANKLE = {"left": 27, "right": 28}
HEEL = {"left": 29, "right": 30}
FOOT_INDEX = {"left": 31, "right": 32}
FEET_LANDMARKS = (27, 28, 29, 30, 31, 32)

POSE_CUTOFF_HZ = 6.0  # walking kinematics lie below ~6 Hz; landmark jitter above
POSE_MAX_GAP_S = 0.25  # longer tracking gaps are not bridged by interpolation
LATERAL_FOOT_LENGTH = 0.2  # |toe - heel| along x, in torso lengths, above which the view is side-on
MIN_STRIDE_S = 0.5  # heel strikes of one foot closer than this are not two strides


@dataclass
class PoseTracks:
    """Pose landmarks resampled to a uniform time grid, low-pass filtered, in pixels.

    xy: (n, 33, 2) pixels (isotropic); torso: (n,) torso length in pixels (mid-shoulder to
    mid-hip), the body scale; NaN where the person was not tracked.
    """

    t: np.ndarray
    xy: np.ndarray
    torso: np.ndarray
    fs: float
    # (n,) True where both feet (heels, ankles, toes) were inside the picture and visible in the
    # nearest frame; None: not known (all treated as seen). MediaPipe still guesses feet that are
    # out of the picture (a person entering or leaving it): such guesses give no gait events.
    feet_seen: np.ndarray | None = None

    def point(self, index: int) -> np.ndarray:
        return self.xy[:, index, :]

    @property
    def pelvis(self) -> np.ndarray:
        return 0.5 * (self.point(HIP["left"]) + self.point(HIP["right"]))


def _finite_segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end_exclusive) of the runs of True in mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _lowpass(x: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth per finite segment (NaNs stay NaN)."""
    from scipy.signal import butter, filtfilt

    out = np.array(x, dtype=float)
    cutoff = min(cutoff, 0.4 * fs)
    b, a = butter(2, cutoff / (fs / 2))
    finite = np.isfinite(x) if x.ndim == 1 else np.all(np.isfinite(x), axis=tuple(range(1, x.ndim)))
    for s, e in _finite_segments(finite):
        if e - s > 9:  # filtfilt needs a few samples beyond its pad length
            out[s:e] = filtfilt(b, a, x[s:e], axis=0)
    return out


def _bridge_short_gaps(values: np.ndarray, max_samples: int) -> np.ndarray:
    """Linear interpolation across runs of NaN rows no longer than max_samples (not at the ends)."""
    out = values.copy()
    missing = np.isnan(values[:, 0])
    for s, e in _finite_segments(missing):
        if s > 0 and e < len(values) and e - s <= max_samples:
            w = (np.arange(s, e) - (s - 1)) / (e - (s - 1))
            out[s:e] = values[s - 1] + w[:, None] * (values[e] - values[s - 1])
    return out


def pose_tracks(pose_series, cutoff_hz: float = POSE_CUTOFF_HZ, min_rate: float = 10.0) -> PoseTracks:
    """Resample a PoseSeries (variable frame rate, NaN gaps) to a uniform grid at about the
    clip's own frame rate (at least `min_rate`) and low-pass it. Tracking gaps up to 0.25 s are
    bridged linearly; longer ones stay NaN."""
    times = np.asarray(pose_series.times, dtype=float)
    xy_raw = np.asarray(pose_series.landmarks, dtype=float)[:, :, :2] * np.asarray(pose_series.image_size, float)
    valid = np.all(np.isfinite(xy_raw), axis=(1, 2))
    if valid.sum() < 2:
        n = max(len(times), 1)
        return PoseTracks(times[:n] if len(times) else np.zeros(1), np.full((n, 33, 2), np.nan),
                          np.full(n, np.nan), 30.0, np.zeros(n, bool))
    fs = float(np.clip(np.round(1.0 / np.median(np.diff(times[valid]))), max(10.0, min_rate), 120))
    xy_raw[~valid] = np.nan
    t, grid = resample_uniform(times, xy_raw, fs)
    grid = _bridge_short_gaps(grid.reshape(len(t), -1), int(POSE_MAX_GAP_S * fs))
    xy = _lowpass(grid.reshape(len(t), 33, 2), fs, cutoff_hz)
    mid_sh = 0.5 * (xy[:, SHOULDER["left"]] + xy[:, SHOULDER["right"]])
    mid_hip = 0.5 * (xy[:, HIP["left"]] + xy[:, HIP["right"]])
    torso = np.linalg.norm(mid_sh - mid_hip, axis=1)
    # the body scale changes slowly (walking towards the camera): a 1 s running median
    torso = ndimage.median_filter(np.nan_to_num(torso, nan=0.0), size=max(3, int(fs)) | 1, mode="nearest")
    torso = np.where(np.isfinite(xy[:, 0, 0]) & (torso > 0), torso, np.nan)
    seen = _feet_seen_per_frame(pose_series)
    nearest = np.clip(np.searchsorted(times, t), 0, len(times) - 1)
    prev = np.clip(nearest - 1, 0, len(times) - 1)
    closer = np.where(np.abs(times[prev] - t) < np.abs(times[nearest] - t), prev, nearest)
    return PoseTracks(t, xy, torso, fs, seen[closer])


def _feet_seen_per_frame(pose_series) -> np.ndarray:
    """(n,) both heels, ankles and toes inside the picture, with a mean MediaPipe visibility of at
    least FEET_VISIBILITY_MEAN (side-on, the far foot is hidden behind the near one at each
    crossing, so one low landmark is normal; a person half out of the picture has them all low).
    Dips shorter than POSE_MAX_GAP_S between seen frames are closed."""
    lm = np.asarray(pose_series.landmarks, dtype=float)[:, FEET_LANDMARKS, :2]
    vis = np.asarray(pose_series.visibility, dtype=float)[:, FEET_LANDMARKS]
    with np.errstate(invalid="ignore"):
        inside = np.all((lm >= 0.0) & (lm <= 1.0), axis=(1, 2))
        seen = inside & (np.nanmean(np.nan_to_num(vis, nan=0.0), axis=1) >= FEET_VISIBILITY_MEAN)
    times = np.asarray(pose_series.times, dtype=float)
    tracked = np.all(np.isfinite(lm), axis=(1, 2))
    for s, e in _finite_segments(~seen):
        if s > 0 and e < len(seen) and tracked[s:e].all() and times[e] - times[s - 1] <= POSE_MAX_GAP_S:
            seen[s:e] = True
    return seen


def _walking_direction(tracks: PoseTracks) -> np.ndarray:
    """Per sample: foot axis (toe minus heel) along x, in torso lengths, both feet averaged and
    smoothed over 1 s. Its sign is the walking direction in the image (toes point forward), its
    size says how side-on the camera sees the feet (~0.5 side-on, ~0 walking towards/away)."""
    foot = np.mean([tracks.point(FOOT_INDEX[s])[:, 0] - tracks.point(HEEL[s])[:, 0] for s in SIDES], axis=0)
    foot = foot / tracks.torso
    size = max(3, int(tracks.fs)) | 1
    finite = np.isfinite(foot)
    smooth = ndimage.uniform_filter1d(np.where(finite, foot, 0.0), size, mode="nearest")
    weight = ndimage.uniform_filter1d(finite.astype(float), size, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = smooth / weight
    out[~finite] = np.nan
    return out


def _refined_peaks(t: np.ndarray, x: np.ndarray, min_distance_s: float, prominence: float) -> np.ndarray:
    """Times of local maxima of x (finite segments only), refined by a parabola through the
    peak sample and its neighbours (sub-frame timing)."""
    from scipy.signal import find_peaks

    fs = 1.0 / float(np.median(np.diff(t)))
    times = []
    for s, e in _finite_segments(np.isfinite(x)):
        seg = x[s:e]
        if len(seg) < 3:
            continue
        peaks, _ = find_peaks(seg, distance=max(1, int(min_distance_s * fs)), prominence=prominence)
        for p in peaks:
            if 0 < p < len(seg) - 1:
                y0, y1, y2 = seg[p - 1], seg[p], seg[p + 1]
                denom = y0 - 2 * y1 + y2
                shift = 0.5 * (y0 - y2) / denom if denom != 0 else 0.0
                times.append(t[s + p] + float(np.clip(shift, -0.5, 0.5)) / fs)
    return np.sort(np.asarray(times, dtype=float))


def _robust_range(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 95) - np.percentile(x, 5)) if len(x) else 0.0


MIN_STEP_S = 0.3  # heel strikes (of either foot) closer than this are not two steps


def _events_zeni(tracks: PoseTracks, direction: np.ndarray, lateral: np.ndarray) -> GaitEvents:
    """Zeni et al. 2008: heel strike at the most forward heel position relative to the pelvis,
    toe-off at the most backward toe position, 'forward' given by the walking direction.

    Side-on, MediaPipe often swaps its left and right leg labels for a few frames when the legs
    cross, so the events are found without the labels: a heel strike is a peak of the LEADING
    heel (the more forward of the two), a toe-off a trough of the TRAILING toe. Heel strikes then
    alternate feet: within each stretch of walking in view, every other one is the same foot, and
    which foot that is comes from the labels by majority (the leading heel's label at most of its
    strikes). A toe-off is the other foot's: in walking, heel strike of one foot is followed by
    the toe-off of the other."""
    sign = np.sign(direction)
    pelvis_x = tracks.pelvis[:, 0]
    heel = np.stack([sign * (tracks.point(HEEL[s])[:, 0] - pelvis_x) / tracks.torso for s in SIDES], axis=1)
    toe = np.stack([sign * (tracks.point(FOOT_INDEX[s])[:, 0] - pelvis_x) / tracks.torso for s in SIDES], axis=1)
    heel[~lateral] = np.nan
    toe[~lateral] = np.nan
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lead = np.nanmax(heel, axis=1)
        trail = np.nanmin(toe, axis=1)
    lead[~np.all(np.isfinite(heel), axis=1)] = np.nan
    trail[~np.all(np.isfinite(toe), axis=1)] = np.nan
    hs_all = _refined_peaks(tracks.t, lead, MIN_STEP_S, 0.25 * _robust_range(lead))
    to_all = _refined_peaks(tracks.t, -trail, MIN_STEP_S, 0.25 * _robust_range(trail))
    heel_strikes = {s: [] for s in SIDES}
    toe_offs = {s: [] for s in SIDES}
    spans = _spans(tracks.t, lateral)

    def sample(x: float) -> int:
        return int(np.clip(np.searchsorted(tracks.t, x), 0, len(tracks.t) - 1))

    for start, end in spans:
        hs = hs_all[(hs_all >= start) & (hs_all <= end)]
        to = to_all[(to_all >= start) & (to_all <= end)]
        if len(hs) == 0:
            continue
        leading = np.array([int(np.nanargmax(heel[sample(x)])) if np.isfinite(heel[sample(x)]).all() else -1
                            for x in hs])
        parity = np.arange(len(hs)) % 2
        votes = sum(int(l == p) for l, p in zip(leading, parity) if l >= 0)
        against = sum(int(l == 1 - p) for l, p in zip(leading, parity) if l >= 0)
        foot_of_parity = (0, 1) if votes >= against else (1, 0)  # parity -> index into SIDES
        feet = np.array([foot_of_parity[p] for p in parity])
        for x, f in zip(hs, feet):
            heel_strikes[SIDES[f]].append(x)
        for x in to:
            before = np.flatnonzero(hs < x)
            if len(before) == 0:
                continue  # which foot left the ground before the first heel strike is not known
            toe_offs[SIDES[1 - feet[before[-1]]]].append(x)
    return GaitEvents({s: np.sort(np.asarray(v, float)) for s, v in heel_strikes.items()},
                      {s: np.sort(np.asarray(v, float)) for s, v in toe_offs.items()},
                      method="Zeni 2008 (walking across the camera)", walking=spans)


def _spans(t: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    return [(float(t[s]), float(t[e - 1])) for s, e in _finite_segments(mask)]


FOOT_SPEED_WINDOW_S = 3.0
FOOT_SPEED_LOW = 0.15  # contact when the foot's speed falls below 15% of its local swing speed
FOOT_SPEED_HIGH = 0.30  # and ends when it rises above 30%


def _foot_speed(tracks: PoseTracks, index: int) -> np.ndarray:
    """Image speed of a landmark in torso lengths per second (the pixel velocity is scaled, not
    the position: the scale changes as the person walks towards or away from the camera)."""
    v = np.gradient(tracks.point(index), axis=0) * tracks.fs
    return np.linalg.norm(v, axis=1) / tracks.torso


def _events_foot_speed(tracks: PoseTracks, usable: np.ndarray) -> GaitEvents:
    """Fallback for walking towards or away from the camera, where the foot's forward position
    is seen end-on: with a still camera a foot on the ground does not move in the picture. Heel
    strike = the heel's image speed falling below 30% of its local swing speed (after having
    dropped below 15%: hysteresis), toe-off = the toe's speed rising through 30%."""
    win = max(3, int(FOOT_SPEED_WINDOW_S * tracks.fs))
    heel_strikes, toe_offs = {}, {}
    for side in SIDES:
        out = {}
        for role, index in (("heel", HEEL[side]), ("toe", FOOT_INDEX[side])):
            speed = _foot_speed(tracks, index)
            speed[~usable] = np.nan
            ref = ndimage.maximum_filter1d(np.nan_to_num(speed, nan=0.0), win, mode="nearest")
            ref = ndimage.uniform_filter1d(ref, win, mode="nearest")
            typical = np.nanmedian(ref[usable]) if usable.any() else np.nan
            ref = np.where(ref >= 0.3 * typical, ref, np.nan)  # the foot is not moving: standing
            on, off = _contact_events(tracks.t, -speed, -FOOT_SPEED_HIGH * ref, -FOOT_SPEED_LOW * ref,
                                      min_phase_s=0.15)
            out[role] = (on, off)
        heel_strikes[side] = out["heel"][0]
        toe_offs[side] = out["toe"][1]
    return GaitEvents(heel_strikes, toe_offs, method="foot speed (walking towards/away from the camera)",
                      walking=_spans(tracks.t, usable))


def events_from_pose(pose_series, tracks: PoseTracks | None = None) -> GaitEvents:
    """Heel strikes and toe-offs from pose landmarks (heel, foot index, hips).

    Method: landmarks are resampled to a uniform grid, low-passed at 6 Hz and scaled by the torso
    length. Where the camera sees the walk side-on (the foot's heel-to-toe axis is clearly
    visible along x), the coordinate method of Zeni et al. 2008 is used: heel strike at the
    heel's most forward position relative to the pelvis, toe-off at the toe's most backward
    position. Where the person walks towards or away from the camera (feet seen end-on), a
    foot-speed method: a foot on the ground stands still in the picture of a still camera
    (the spec's vertical-velocity fallback, using the whole image velocity because the foot's
    vertical image motion mixes its height and its depth).
    The method used for most of the clip is applied to the whole clip and named in
    `GaitEvents.method`.

    Limits: Zeni's events are typically within 1-2 frames of force-plate events but bias the
    swing fraction slightly; the foot-speed method needs a still camera (no panning or
    handheld following), is noisier because the foot's motion is mostly in depth, and confuses
    shuffling (feet barely leaving the floor) with stance; seen end-on, a descending heel moving
    away from the camera can look still in the picture just before it lands, so heel strikes
    come early and swing times (swing fraction, asymmetry) are biased: trust stride time and
    cadence from such clips, and prefer a side-on walk for swing measures. Turns give odd strides, which
    `stride_measures` excludes. MediaPipe may swap left and right legs for a few frames when they
    cross in a side view: the side-on method does not rely on the labels (see _events_zeni).
    Events are looked for only where both feet are in the picture (_feet_usable): a person
    entering or leaving the picture, or out of it, makes none, and no stride spans an exit.
    """
    tracks = tracks or pose_tracks(pose_series)
    usable = _feet_usable(tracks)
    empty = GaitEvents({s: np.zeros(0) for s in SIDES}, {s: np.zeros(0) for s in SIDES},
                       method="none (no feet tracked)")
    if usable.sum() < 3:
        return empty
    direction = _walking_direction(tracks)
    lateral = usable & (np.abs(direction) >= LATERAL_FOOT_LENGTH)
    if _mostly_side_on(tracks, usable, direction):
        return _events_zeni(tracks, direction, lateral)
    return _events_foot_speed(tracks, usable)


def _feet_usable(tracks: PoseTracks) -> np.ndarray:
    """Samples with heels, toes and hips tracked and both feet seen in the picture: events are
    looked for only there, so frames with nobody (or only part of a person) in view create none,
    and a stride never spans an exit and a re-entry (GaitEvents.walking ends at each gap)."""
    needed = [HEEL[s] for s in SIDES] + [FOOT_INDEX[s] for s in SIDES] + [HIP[s] for s in SIDES]
    usable = np.all(np.isfinite(tracks.xy[:, needed, 0]), axis=1) & np.isfinite(tracks.torso)
    if tracks.feet_seen is not None:
        usable &= tracks.feet_seen
    return usable


def _mostly_side_on(tracks: PoseTracks, usable: np.ndarray | None = None,
                    direction: np.ndarray | None = None) -> bool:
    """True when the camera sees the walk side-on in at least half of the tracked samples."""
    usable = _feet_usable(tracks) if usable is None else usable
    if usable.sum() < 3:
        return False
    direction = _walking_direction(tracks) if direction is None else direction
    lateral = usable & (np.abs(direction) >= LATERAL_FOOT_LENGTH)
    return bool(lateral.sum() >= 0.5 * usable.sum())


def arm_swing_measures(pose_series, tracks: PoseTracks | None = None) -> dict[str, float]:
    """Arm swing from the wrists relative to their shoulders, in torso lengths.

    Amplitude = 5th-to-95th percentile range of the wrist's position relative to the shoulder
    along the arm's main swing direction (first principal axis of that position). Measured only
    when the walk is seen side-on for most of the clip (NaN otherwise: walking towards or away
    from the camera, the swing is in depth and its picture is not comparable). Asymmetry =
    100 * |left - right| / larger (0 = symmetric, 100 = one arm still); video only.
    """
    tracks = tracks or pose_tracks(pose_series)
    out = {"arm_swing_amplitude_left": float("nan"), "arm_swing_amplitude_right": float("nan"),
           "arm_swing_asymmetry_pct": float("nan")}
    if not _mostly_side_on(tracks):
        return out  # end-on, the swing is in depth: amplitudes would not compare with side-on ones
    for side in SIDES:
        rel = (tracks.point(WRIST[side]) - tracks.point(SHOULDER[side])) / tracks.torso[:, None]
        rel = rel[np.all(np.isfinite(rel), axis=1)]
        if len(rel) < max(10, int(tracks.fs)):
            continue
        centred = rel - rel.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        along = centred @ vt[0]
        out[f"arm_swing_amplitude_{side}"] = float(np.percentile(along, 95) - np.percentile(along, 5))
    left, right = out["arm_swing_amplitude_left"], out["arm_swing_amplitude_right"]
    if np.isfinite(left) and np.isfinite(right) and max(left, right) > 0:
        out["arm_swing_asymmetry_pct"] = float(100.0 * abs(left - right) / max(left, right))
    return out


# --------------------------------------------------------------------------- one clip

# At least 6 complete strides (heel strike to heel strike of the same foot, with its toe-off),
# both feet together, i.e. 3 per foot: the fewest from which each foot's stride time has a median
# and a standard deviation (stride time CV). About 6 m of walking in view, e.g. two passes across
# a side-on picture that shows 3-4 m of the path. Below this nothing is measured.
MIN_STRIDES = 6
# The gait model scores only from 12 strides (6 per foot): its main input, stride time CV, was
# learned from 100-200 strides a walk; from n strides its relative standard error is about
# 1 / sqrt(2 (n - 1)): ~30% at 6 strides, ~20% at 12. Between 6 and 12: measures, no score.
MIN_STRIDES_FOR_SCORE = 12
MIN_FEET_VISIBLE = 0.7  # share of tracked frames with heels, ankles and toes visible in the picture
FEET_VISIBILITY_MEAN = 0.4  # mean MediaPipe visibility of the six foot landmarks for feet in view
# more people than one may be in view (examiner, family): the pose pass looks for this many
NUM_POSES = 2


def feet_visible_fraction(pose_series) -> float:
    """Share of frames with a person in which both heels, ankles and toes are inside the picture
    and visible (MediaPipe still guesses feet that are cut off, with low visibility)."""
    detected = pose_series.detected
    if not detected.any():
        return 0.0
    return float(np.mean(_feet_seen_per_frame(pose_series)[detected]))


def walking_in_view(events: GaitEvents) -> tuple[float, int]:
    """Seconds of walking followed with the feet in view, and in how many separate stretches
    (passes across the picture; a stretch ends where the person left the picture)."""
    spans = [(a, b) for a, b in events.walking if b - a >= MIN_STRIDE_S]
    return float(sum(b - a for a, b in spans)), len(spans)


def gait_quality(pose_series, n_strides: int, events: GaitEvents | None = None) -> "Quality":
    """What gait needs: a walk with enough complete strides while the person is in the picture.

    The person may enter and leave the picture (the instructions ask to turn outside it): frames
    with nobody in view are not a fault, so there is no share-of-frames or tracking-gap gate;
    the informational checks say how much walking was in view. Refused: no person at all, too
    short, too low a frame rate, or fewer than MIN_STRIDES complete strides (then also saying
    if the feet were out of the picture)."""
    from core.movement.quality import duration_check, frame_rate_check
    from core.pipeline import Quality, QualityCheck

    times, detected = pose_series.times, pose_series.detected
    checks = [duration_check(times, "gait"), frame_rate_check(times, "gait")]
    share = float(np.mean(detected)) if len(detected) else 0.0
    if share == 0.0:
        checks.append(QualityCheck(
            "person_in_view", False, 0.0, "%",
            "No person was found in the video: film the walk side-on with the whole body, feet "
            "included, in the picture, in good light, and record again."))
        return Quality(tuple(checks))
    checks.append(QualityCheck(
        "person_in_view", True, 100 * share, "%",
        f"A person was in view in {100 * share:.0f}% of the frames (walking into and out of the "
        "picture is fine: the strides in view are used)."))
    enough = n_strides >= MIN_STRIDES
    if events is not None:
        seconds, stretches = walking_in_view(events)
        checks.append(QualityCheck(
            "walking_in_view", True, seconds, "s",
            f"Walking was followed for {seconds:.1f} s with the feet in view"
            + (f", in {stretches} passes across the picture." if stretches > 1 else ".")))
    feet = feet_visible_fraction(pose_series)
    checks.append(QualityCheck(
        "feet_visible", enough or feet >= MIN_FEET_VISIBLE, 100 * feet, "%",
        f"Both feet were fully visible in {100 * feet:.0f}% of the frames with a person."
        + ("" if enough or feet >= MIN_FEET_VISIBLE else
           " Keep the whole body, feet included, in the picture: step the camera back or tilt it "
           "down, at hip height.")))
    checks.append(QualityCheck(
        "strides", enough, float(n_strides), "strides",
        f"{n_strides} complete strides measured while the person was in the picture."
        if enough else
        f"Only {n_strides} complete strides were seen while the person was in the picture; at least "
        f"{MIN_STRIDES} are needed. Film side-on from far enough away that 3-4 m of the path is in "
        "the picture, and have the person walk through it at a comfortable pace, turn outside the "
        "picture and walk back through it (walk, not stand)."))
    return Quality(tuple(checks))


WALKER_STEP_S = 0.5  # pelvis travel is summed over steps this long
WALKER_MIN_MOVE = 0.1  # torso lengths per step below which a step is standing, not travel


def walker_travel(pose_series) -> float:
    """Horizontal distance (torso lengths) the person's pelvis travels with the feet in view,
    summed over 0.5 s steps that move at least 0.1 torso lengths (so a standing person's jitter
    adds nothing, and walking back counts as much as walking there)."""
    t = np.asarray(pose_series.times, dtype=float)
    lm = np.asarray(pose_series.landmarks, dtype=float)
    ok = _feet_seen_per_frame(pose_series) & np.all(np.isfinite(lm[:, [11, 12, 23, 24], 0]), axis=1)
    if ok.sum() < 2:
        return 0.0
    size = np.asarray(pose_series.image_size, float)
    xy = lm[ok][:, :, :2] * size
    pelvis = 0.5 * (xy[:, HIP["left"]] + xy[:, HIP["right"]])
    torso = np.linalg.norm(0.5 * (xy[:, SHOULDER["left"]] + xy[:, SHOULDER["right"]]) - pelvis, axis=1)
    tt = t[ok]
    travel, k = 0.0, 0
    while k < len(tt) - 1:
        j = int(np.searchsorted(tt, tt[k] + WALKER_STEP_S))
        if j >= len(tt) or tt[j] - tt[k] > 2 * WALKER_STEP_S:  # a gap: start again after it
            k = max(j, k + 1)
            continue
        step = abs(pelvis[j, 0] - pelvis[k, 0]) / max(float(np.median(torso[k:j + 1])), 1.0)
        if step >= WALKER_MIN_MOVE:
            travel += step
        k = j
    return float(travel)


def choose_walker(tracks: list) -> list[int]:
    """Of the people tracked through a clip, the tested one: the track that travels farthest
    across the picture with the feet in view (the examiner and bystanders mostly stand), then
    any other track that does not overlap it in time and travels at least half as far (the same
    walker coming back after turning outside the picture). Best first."""
    travel = [walker_travel(tr) for tr in tracks]
    if not tracks:
        return []
    order = sorted(range(len(tracks)), key=lambda k: (-travel[k], -int(tracks[k].detected.sum())))
    best = order[0]
    chosen = [best]
    if travel[best] <= 0:  # nobody walks: keep everyone tracked, longest track first
        return sorted(range(len(tracks)), key=lambda k: -int(tracks[k].detected.sum()))
    covered = tracks[best].detected.copy()
    for k in order[1:]:
        det = tracks[k].detected
        if travel[k] >= 0.5 * travel[best] and not (det & covered).any():
            chosen.append(k)
            covered |= det
    return chosen


def gait_score(values: dict[str, float]):
    """The gait model's score, or an abstention in plain words when too few strides were in view
    to estimate stride variability as the model learned it."""
    from core.pipeline import ModelScore
    from models.registry import shipped_model_score

    n = int(values.get("n_strides", 0) or 0)
    if n < MIN_STRIDES_FOR_SCORE:
        return ModelScore("gait", "not scored", None, abstained=(
            f"{n} complete strides were in view; the gait model needs at least {MIN_STRIDES_FOR_SCORE} "
            "to judge stride-to-stride variability, so only the measures are shown. Have the person "
            "walk through the picture again (turning outside it) to add strides."))
    return shipped_model_score("gait", values)


def _pose_key_frame(samples: list[tuple[int, np.ndarray]], pose_series, max_side: int = 320) -> np.ndarray | None:
    """Of the sampled frames, the one in which most foot landmarks are visible, downscaled."""
    if not samples:
        return None
    vis = np.nan_to_num(np.asarray(pose_series.visibility, dtype=float), nan=0.0)
    best = max(samples, key=lambda s: float(vis[s[0], FEET_LANDMARKS].sum()) if s[0] < len(vis) else -1.0)[1]
    scale = max_side / max(best.shape[:2])
    if scale < 1:
        import cv2

        best = cv2.resize(best, (int(best.shape[1] * scale), int(best.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(best)


def _as_measures(values: dict[str, float]) -> list:
    return [MEASURES_BY_NAME[name].measure(value) for name, value in values.items()
            if name in MEASURES_BY_NAME and value is not None and np.isfinite(value)]


def _gait_signal(tracks: PoseTracks, events: GaitEvents, pose_series, key_frame) -> dict:
    """Series kept for plots and explanations: heel and ankle height (up, torso lengths above the
    lowest point of that foot) and heel forward position relative to the pelvis (torso lengths,
    in the walking direction), the events, the raw landmarks and a key frame."""
    sign = np.sign(np.nan_to_num(_walking_direction(tracks), nan=0.0))
    pelvis_x = tracks.pelvis[:, 0]
    signal = {"times": tracks.t, "events_method": events.method, "walking_spans": list(events.walking),
              "heel_strikes": {s: events.heel_strikes[s] for s in SIDES},
              "toe_offs": {s: events.toe_offs[s] for s in SIDES},
              "pose_times": np.asarray(pose_series.times), "landmarks": np.asarray(pose_series.landmarks),
              "people_in_view": np.asarray(pose_series.people_in_view),
              "visibility": np.asarray(pose_series.visibility), "image_size": pose_series.image_size,
              "key_frame": key_frame}
    for side in SIDES:
        for part, index in (("heel", HEEL[side]), ("ankle", ANKLE[side])):
            y = tracks.point(index)[:, 1]
            with np.errstate(invalid="ignore"):
                ground = np.nanmax(y) if np.isfinite(y).any() else np.nan
                signal[f"{part}_vertical_{side}"] = (ground - y) / tracks.torso
        signal[f"heel_forward_{side}"] = sign * (tracks.point(HEEL[side])[:, 0] - pelvis_x) / tracks.torso
    return signal


def analyze(path: str | Path, side: str | None = None, cache_path: str | Path | None = None):
    """Walking video -> TaskResult: decode -> pose landmarks -> quality -> gait events -> stride
    and arm swing measures -> gait model score (only when every quality check passed).

    cache_path: a .npz pose series, read if it exists (no decoding), written otherwise; the key
    frame is only available after a fresh decode. Raises UnusableInput for files that are not a
    usable video (audio only, still picture, corrupt)."""
    from core.media.video import VideoReader
    from core.movement.landmarks import PoseSeries, extract_pose_landmarks, load_series
    from core.movement.frames import FrameSampler
    from core.pipeline import TaskResult

    pose, key_frame = None, None
    if cache_path is not None and Path(cache_path).is_file():
        cached = load_series(cache_path)
        pose = cached if isinstance(cached, PoseSeries) else None
    if pose is None:
        with VideoReader(path) as reader:
            sampler = FrameSampler(reader.frames(), keep=8)
            pose = extract_pose_landmarks(sampler, num_poses=NUM_POSES, choose=choose_walker)
        key_frame = _pose_key_frame(sampler.samples, pose)
        if cache_path is not None:
            pose.save_series(cache_path)
    duration = float(pose.times[-1] - pose.times[0]) if len(pose.times) > 1 else 0.0
    tracks = pose_tracks(pose)
    events = events_from_pose(pose, tracks)
    values = stride_measures(events, duration_s=float(pose.times[-1]) if len(pose.times) else 0.0)
    values.update(arm_swing_measures(pose, tracks))
    quality = gait_quality(pose, int(values["n_strides"]), events)
    measures = _as_measures(values) if quality.ok else []
    score = gait_score(values) if quality.ok else None
    signal = _gait_signal(tracks, events, pose, key_frame)
    signal["measure_values"] = values
    return TaskResult("gait", None, duration, quality, measures, score, signal)
