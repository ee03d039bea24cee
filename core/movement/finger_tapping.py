"""Finger tapping (MDS-UPDRS 3.4) from a video of the tested hand.

Features follow Islam et al. 2023, "Using AI to measure Parkinson's disease severity at home",
npj Digital Medicine 6:156 (doi:10.1038/s41746-023-00905-9), with the SAME definitions and column
names as their table (models/datasets/movement/roc_hci_finger_tapping/finger_tapping_features.csv)
so the model trained on it applies here. Definitions were read from their MIT-licensed
`feature_extraction.py` (github.com/ROC-HCI/finger-tapping-severity) and re-implemented:

- signal: the angle (degrees) at the wrist between wrist->thumb tip and wrist->index tip, in
  pixels: scale-free, so it is already normalised for hand size and camera distance;
- "denoised": short detection gaps (<= 3 missing frames in a 7-frame window) interpolated with a
  cubic polynomial, then the longest run of frames with a hand; "trimmed": from the second to
  the second-last tap peak (drops the ramp-up and the stop);
- tap peaks: peaks at least 0.15 s apart, higher than half the 80th percentile of the middle
  half of the peaks, and separated from the previous peak by a closing below 10 degrees;
- periods between peaks, frequency = 1/period (and its linear fit over tap index), peak
  amplitudes (and their decrement: linear fit slope per frame, end-to-mean, first vs second half,
  least polynomial degree with R^2 >= 0.9), opening/closing speed and acceleration (absolute
  values), interruptions (>= 0.2 s) and freezes (>= 0.3 s) below 50 deg/s, aperiodicity (entropy
  of the normalised power spectrum), period entropy, wrist movement speed in units of the
  wrist-to-thumb-CMC length per second.

Their videos were webcam webm at about 30 fps and their per-frame features (slopes per frame,
speeds from frame differences) assume a uniform frame rate. Phones record at 30 or 60 fps with a
variable rate, so we resample every series onto a uniform 30 Hz grid first (ANALYSIS_RATE_HZ).
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from statistics import median

import numpy as np
from scipy.signal import find_peaks
from scipy.stats import iqr

from core.movement.landmarks import INDEX_TIP, THUMB_TIP, WRIST, resample_uniform
from core.vocabulary import MeasureInfo
from core.words import plural

ANALYSIS_RATE_HZ = 30.0
THUMB_CMC = 1
MIN_PERIOD_S = 0.15
BOTTOM_MAX_DEG = 10.0  # a tap must close below this angle between two peaks
SLOW_SPEED_DEG_S = 50.0  # interruption / freeze speed threshold
INTERRUPTION_MIN_S = 0.20
FREEZE_MIN_S = 0.30
_MAX_GAP_INTERPOLATED = 3  # missing frames tolerated in a 7-frame window (3 each side + self)

DATASET_CSV = "movement/roc_hci_finger_tapping/finger_tapping_features.csv"


MIN_TAPS = 10  # MDS-UPDRS 3.4 asks for 10 taps: fewer are not the item, whatever the duration
# the trimmed series drops the first and last tap; its linear fits over tap periods need two
# periods (with 4 taps, one period: polyfit fails)
MIN_PEAKS_FOR_FEATURES = 5


class NotEnoughTaps(ValueError):
    """The clip shows fewer than the taps the features need (MIN_PEAKS_FOR_FEATURES); `count`
    is how many were counted."""

    def __init__(self, message: str, count: int = 0):
        super().__init__(message)
        self.count = count


def taps_message(count: int) -> str:
    """Plain words for a clip with fewer taps than the item asks for."""
    counted = "no taps were counted" if count == 0 else (
        "only 1 tap was counted" if count == 1 else f"only {count} taps were counted")
    wrong_hand = (" If the other hand was the one tapping, check the side chosen for this test, or turn off "
                  "the camera's mirroring (selfie cameras swap left and right).") if count < 4 else ""
    return (f"{counted[0].upper()}{counted[1:]}; the test asks for {MIN_TAPS} taps in a row. Tap the index "
            f"finger on the thumb at least {MIN_TAPS} times, as fast and as wide as possible, with the "
            f"whole hand in view, and record again.{wrong_hand}")


# ---------------------------------------------------------------- signal helpers

def tapping_angle(pixels: np.ndarray) -> np.ndarray:
    """(n, 21, 2) pixel landmarks -> (n,) angle in degrees at the wrist between thumb and index
    tips (NaN where no hand)."""
    v_thumb = pixels[:, THUMB_TIP] - pixels[:, WRIST]
    v_index = pixels[:, INDEX_TIP] - pixels[:, WRIST]
    cos = np.sum(v_thumb * v_index, axis=1) / (
        np.linalg.norm(v_thumb, axis=1) * np.linalg.norm(v_index, axis=1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _denoise(signal: np.ndarray) -> np.ndarray:
    """Fill short detection gaps (at most 3 missing frames in the 7-frame window around a missing
    frame) by cubic interpolation; longer gaps stay NaN."""
    missing = np.isnan(signal)
    if not missing.any() or missing.all():
        return signal.copy()
    out = signal.copy()
    idx = np.arange(len(signal))
    ok = ~missing
    # cubic spline through the detected frames stands in for pandas' polynomial(order=3)
    from scipy.interpolate import CubicSpline

    filled = CubicSpline(idx[ok], signal[ok])(idx) if ok.sum() >= 4 else np.interp(idx, idx[ok], signal[ok])
    padded = np.concatenate([np.ones(3, bool), missing, np.ones(3, bool)])
    for i in np.flatnonzero(missing):
        if padded[i:i + 7].sum() <= _MAX_GAP_INTERPOLATED and ok[:i].any() and ok[i + 1:].any():
            out[i] = max(filled[i], 0.0)
    return out


def _longest_valid_run(signal: np.ndarray) -> slice:
    valid = ~np.isnan(signal)
    best, start, best_slice = 0, None, slice(0, 0)
    for i, v in enumerate(np.append(valid, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start > best:
                best, best_slice = i - start, slice(start, i)
            start = None
    return best_slice


def _peaks(signal: np.ndarray, min_distance: int) -> np.ndarray:
    peaks, _ = find_peaks(signal, distance=min_distance)
    if len(peaks) == 0:
        return peaks
    n = len(peaks)
    middle = signal[peaks[int(np.floor((n - 1) / 4)):int(np.floor(3 * (n - 1) / 4))]]
    if len(middle) == 0:
        middle = signal[peaks]
    height = np.floor(np.percentile(middle, 80) / 2)
    peaks, _ = find_peaks(signal, distance=min_distance, height=int(height))
    return peaks


def detect_taps(signal: np.ndarray, rate: float = ANALYSIS_RATE_HZ) -> np.ndarray:
    """Indices of tap peaks (maximal openings) in a uniformly sampled angle signal."""
    min_distance = max(1, int(MIN_PERIOD_S * rate))
    peaks = _peaks(signal, min_distance)
    if len(peaks) == 0:
        return peaks
    kept = [peaks[0]]
    for a, b in zip(peaks[:-1], peaks[1:]):
        if signal[a:b].min() < BOTTOM_MAX_DEG:
            kept.append(b)
    return np.asarray(kept, dtype=int)


def _stats(values) -> dict[str, float]:
    values = np.asarray(values, dtype=float)
    return {"median": float(median(values)), "quartile_range": float(iqr(values)),
            "mean": float(np.mean(values)), "min": float(np.min(values)),
            "max": float(np.max(values)), "stdev": float(np.std(values))}


def _linear_fit(x, y) -> dict[str, float]:
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x, y, 1)
    ss_res = float(np.sum((y - (slope * x + intercept)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return {"fitness_r2": r2, "slope": float(slope)}


def _degree_for_good_fit(x, y, threshold: float = 0.90) -> int:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    for degree in range(1, 11):
        with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            fitted = np.polyval(np.polyfit(x, y, degree), x)
        ss_res = float(np.sum((y - fitted) ** 2))
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res < 1e-12 else 0.0)
        if r2 >= threshold:
            return degree
    return 10


def _histogram_entropy(values, edges: np.ndarray, n_buckets: int) -> float:
    counts = np.histogram(values, edges)[0].astype(float)
    if counts.sum() == 0:
        return 0.0
    p = counts / counts.sum()
    p[p == 0] = 1.0
    return float(-(p * np.log(p)).sum() / np.log(n_buckets))


def _amplitude_entropy(amplitudes) -> float:
    """Entropy of peak angles in 5.3-degree bins over 0-90 degrees, normalised by log(18)."""
    return _histogram_entropy(amplitudes, np.arange(0, 91, 90 / 17), 18)


def _period_entropy(periods) -> float:
    """Entropy of periods in 2/49 s bins (edges up to 3 s as in the reference), / log(50)."""
    return _histogram_entropy(periods, np.arange(0, 3, 2 / 49), 50)


def _aperiodicity(signal: np.ndarray) -> float:
    power = np.abs(np.fft.fft(signal)) ** 2
    p = power / power.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _slow_runs(speed: np.ndarray, dt: float, min_s: float) -> tuple[int, float]:
    """Runs of |speed| <= threshold ended by faster movement: (count >= min_s, longest run s).
    A run still going at the end of the clip is not counted (as in the reference)."""
    count, run, longest = 0, 0, 0
    for slow in np.abs(speed) <= SLOW_SPEED_DEG_S:
        if slow:
            run += 1
        else:
            if run * dt >= min_s:
                count += 1
            longest = max(longest, run)
            run = 0
    return count, longest * dt


# ---------------------------------------------------------------- the features

def tapping_signal(times: np.ndarray, hand_landmarks: np.ndarray, image_size: tuple[int, int],
                   rate: float = ANALYSIS_RATE_HZ) -> dict[str, np.ndarray]:
    """Uniform-rate tapping angle and normalised wrist position, before denoising.

    Returns {"times", "angle" (deg), "wrist" (n, 2) in wrist-to-thumb-CMC lengths}."""
    pixels = np.asarray(hand_landmarks, float)[:, :, :2] * np.asarray(image_size, float)
    grid, pixels = resample_uniform(np.asarray(times, float), pixels, rate)
    angle = tapping_angle(pixels)
    scale = np.linalg.norm(pixels[:, WRIST] - pixels[:, THUMB_CMC], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        wrist = pixels[:, WRIST] / scale[:, None]
    return {"times": grid, "angle": angle, "wrist": wrist}


def tapping_features(times: np.ndarray, hand_landmarks: np.ndarray, image_size: tuple[int, int],
                     return_signal: bool = False):
    """Islam et al. 2023 features (exact column names of the public table) from hand landmarks.

    times (n,) seconds; hand_landmarks (n, 21, >=2) MediaPipe normalised image coordinates with
    NaN where no hand; image_size (width, height). Raises NotEnoughTaps with fewer than 5 taps.
    With return_signal, also returns the denoised signal and peaks for plots and explanations.
    """
    rate = ANALYSIS_RATE_HZ
    dt = 1.0 / rate
    raw = tapping_signal(times, hand_landmarks, image_size, rate)
    denoised_full = _denoise(raw["angle"])
    run = _longest_valid_run(denoised_full)
    signal_d = denoised_full[run]
    wrist_d = raw["wrist"][run]
    t_d = raw["times"][run]
    if len(signal_d) < 4:
        raise NotEnoughTaps("The hand was not seen long enough to count taps.", 0)
    peaks_d = detect_taps(signal_d, rate)
    if len(peaks_d) < MIN_PEAKS_FOR_FEATURES:
        raise NotEnoughTaps(f"Only {plural(len(peaks_d), 'tap')} {'was' if len(peaks_d) == 1 else 'were'} found; at least {MIN_PEAKS_FOR_FEATURES} are needed.",
                            len(peaks_d))
    peaks_t = peaks_d[1:-1] - peaks_d[1]
    signal_t = signal_d[peaks_d[1]:peaks_d[-2] + 1]
    wrist_t = wrist_d[peaks_d[1]:peaks_d[-2] + 1]

    f: dict[str, float] = {}
    # wrist movement speed over the trimmed part; frames without a hand count as no movement
    step = np.diff(wrist_t, axis=0) / dt
    step = np.where(np.isnan(step), 0.0, step)
    for name, values in (("x", step[:, 0]), ("y", step[:, 1]), ("dist", np.hypot(step[:, 0], step[:, 1]))):
        for k, v in _stats(np.abs(values) if len(values) else [0.0]).items():
            f[f"wrist_mvmnt_{name}_{k}"] = v

    versions = {"denoised": (signal_d, peaks_d), "trimmed": (signal_t, peaks_t)}
    speeds, periods = {}, {}
    for v, (sig, pk) in versions.items():
        periods[v] = np.diff(pk) * dt
        speeds[v] = np.diff(sig) / dt
    for v, (sig, pk) in versions.items():
        per = periods[v]
        f[f"aperiodicity_{v}"] = _aperiodicity(sig)
        f[f"periodEntropy_{v}"] = _period_entropy(per)
        f[f"periodVarianceNorm_{v}"] = float(np.var(per) / np.max(per))
        f[f"numInterruptions_{v}"], _ = _slow_runs(speeds[v], dt, INTERRUPTION_MIN_S)
        f[f"numFreeze_{v}"], f[f"maxFreezeDuration_{v}"] = _slow_runs(speeds[v], dt, FREEZE_MIN_S)
    for v in versions:
        for k, x in _stats(periods[v]).items():
            f[f"period_{k}_{v}"] = x
    for v in versions:
        f[f"period_entropy_{v}"] = f[f"periodEntropy_{v}"]
    for v in versions:
        for k, x in _stats(1.0 / periods[v]).items():
            f[f"frequency_{k}_{v}"] = x
    for v in versions:
        for k, x in _linear_fit(np.arange(len(periods[v])), 1.0 / periods[v]).items():
            f[f"frequency_lr_{k}_{v}"] = x
    for v in versions:
        f[f"frequency_fit_min_degree_{v}"] = _degree_for_good_fit(np.arange(len(periods[v])), 1.0 / periods[v])
    for v, (sig, pk) in versions.items():
        amps = sig[pk]
        for k, x in _stats(amps).items():
            f[f"amplitude_{k}_{v}"] = x
        f[f"amplitude_entropy_{v}"] = _amplitude_entropy(amps)
    for v, (sig, pk) in versions.items():
        amps = sig[pk]
        fit = _linear_fit(pk, -amps)  # slope of the decline, degrees per frame (positive = decrement)
        f[f"amplitude_decrement_fitness_r2_{v}"] = fit["fitness_r2"]
        f[f"amplitude_decrement_slope_{v}"] = fit["slope"]
        f[f"amplitude_decrement_end_to_mean_{v}"] = float(np.mean(amps) - amps[-1])
        f[f"amplitude_decrement_fit_min_degree_{v}"] = _degree_for_good_fit(pk, amps)
        half = round(len(amps) / 2)  # Python rounding, as the reference
        f[f"amplitude_decrement_last_to_first_half_{v}"] = float(np.mean(amps[:half + 1]) - np.mean(amps[half + 1:])) \
            if half + 1 < len(amps) else 0.0
    f["num_peaks_trimmed"] = len(peaks_t)
    f["num_peaks_denoised"] = len(peaks_d)
    for v in versions:
        f[f"num_interruptions_norm_{v}"] = f[f"numInterruptions_{v}"] / f[f"num_peaks_{v}"]
        f[f"num_freeze_norm_{v}"] = f[f"numFreeze_{v}"] / f[f"num_peaks_{v}"]
    for v in versions:
        for k, x in _stats(np.abs(speeds[v])).items():
            f[f"speed_{k}_{v}"] = x
    for v in versions:
        acc = np.diff(speeds[v]) / dt
        for k, x in _stats(np.abs(acc)).items():
            f[f"acceleration_{k}_{v}"] = x
    features = {k: float(x) for k, x in f.items()}
    if not return_signal:
        return features
    return features, {"times": t_d, "angle": signal_d, "peaks": peaks_d, "wrist": wrist_d}


# ---------------------------------------------------------------- clinician-facing measures

@lru_cache(maxsize=1)
def normal_reference() -> dict[str, tuple[float, float]]:
    """5th-95th percentile of each feature over the recordings that expert consensus rated 0
    (normal) in the Islam et al. 2023 table: the published reference we can stand behind."""
    import pandas as pd

    from core.config import DATASETS_DIR

    path = DATASETS_DIR / DATASET_CSV
    if not path.is_file():
        return {}
    table = pd.read_csv(path)
    normal = table[table["Rating"] == 0]
    ref = {}
    feature_columns = list(table.columns[1:table.columns.get_loc("hand")])  # first column: row number
    for column in feature_columns:
        values = pd.to_numeric(normal[column], errors="coerce").dropna()
        if len(values) >= 10:
            ref[column] = (float(values.quantile(0.05)), float(values.quantile(0.95)))
    return ref


def decrement_percent(amplitudes: np.ndarray) -> float:
    """Amplitude decrement first-to-last tap, in percent of the first, from a straight-line fit
    over the taps (robust to one odd tap). Positive = the taps get smaller."""
    amplitudes = np.asarray(amplitudes, float)
    x = np.arange(len(amplitudes))
    slope, intercept = np.polyfit(x, amplitudes, 1)
    first, last = intercept, intercept + slope * x[-1]
    return float(100.0 * (first - last) / first) if first > 0 else float("nan")


RATED_0 = "5th-95th percentile of recordings rated 0 by experts (Islam et al. 2023)"
# Direction: MDS-UPDRS 3.4 scores slowing, smaller taps, decrement, hesitations and halts
# (Goetz et al., Mov Disord 2008); the number of taps in the 10-tap task has no direction.
_UPDRS_34 = "MDS-UPDRS 3.4 (Goetz et al., Mov Disord 2008)"


def _tapping(name: str, label: str, unit: str, higher_is_worse: bool | None, description: str = "") -> MeasureInfo:
    return MeasureInfo(name, label, unit, "finger_tapping", None, _UPDRS_34 if higher_is_worse is not None else "",
                       higher_is_worse, description)


MEASURES: tuple[MeasureInfo, ...] = (
    _tapping("tap_count", "Number of taps", "taps", None),
    _tapping("tap_frequency", "Tapping rate", "taps/s", False, "Median taps per second."),
    _tapping("tap_amplitude", "Tap amplitude", "°", False,
             "Mean largest opening angle between thumb and index at the wrist."),
    _tapping("amplitude_decrement_pct", "Amplitude decrement (first to last tap)", "%", True,
             "Straight-line fit over the tap amplitudes; positive means the taps get smaller."),
    _tapping("tap_speed", "Opening/closing speed", "°/s", False, "Mean angular speed of the thumb-index opening."),
    _tapping("tap_rhythm_cv", "Rhythm variability (CV of tap intervals)", "%", True),
    _tapping("interruptions", "Interruptions (>= 0.2 s)", "", True, "Pauses in the movement of at least 0.2 s."),
    _tapping("freezes", "Freezes (>= 0.3 s)", "", True, "Pauses of at least 0.3 s."),
    _tapping("longest_freeze", "Longest pause", "s", True),
)
# measure -> the feature of the Islam et al. table whose rated-0 recordings give its normal range
REFERENCE_FEATURES = {
    "tap_count": "num_peaks_denoised", "tap_frequency": "frequency_median_denoised",
    "tap_amplitude": "amplitude_mean_denoised", "tap_speed": "speed_mean_denoised",
    "interruptions": "numInterruptions_denoised", "freezes": "numFreeze_denoised",
    "longest_freeze": "maxFreezeDuration_denoised",
}


@lru_cache(maxsize=1)
def measure_infos() -> tuple[MeasureInfo, ...]:
    """This pipeline's measures with their normal ranges from the public table (gathered by
    core.vocabulary); without the table the ranges are None."""
    ref = normal_reference()
    out = []
    for info in MEASURES:
        rng = ref.get(REFERENCE_FEATURES.get(info.name, ""))
        if rng:
            info = replace(info, normal_range=rng, source=f"{RATED_0}; direction: {info.source}" if info.source
                           else RATED_0, description=f"{info.description} Normal range: {RATED_0}.".strip())
        out.append(info)
    return tuple(out)


def tapping_measures(features: dict[str, float], signal: dict[str, np.ndarray]):
    """The handful of measures a therapist reads, from the features and the denoised signal."""
    amps = signal["angle"][signal["peaks"]]
    values = {
        "tap_count": features["num_peaks_denoised"],
        "tap_frequency": features["frequency_median_denoised"],
        "tap_amplitude": features["amplitude_mean_denoised"],
        "amplitude_decrement_pct": decrement_percent(amps),
        "tap_speed": features["speed_mean_denoised"],
        "tap_rhythm_cv": 100.0 * features["period_stdev_denoised"] / features["period_mean_denoised"],
        "interruptions": features["numInterruptions_denoised"],
        "freezes": features["numFreeze_denoised"],
        "longest_freeze": features["maxFreezeDuration_denoised"],
    }
    infos = {info.name: info for info in measure_infos()}
    return [infos[name].measure(value) for name, value in values.items()]


# ---------------------------------------------------------------- the pipeline

def analyze(path: str | Path, side: str | None = None, cache_path: str | Path | None = None,
            model: str = "full"):
    """Video of finger tapping -> TaskResult (quality, measures, score when quality is ok).

    cache_path: a .npz landmark series; read if it exists, written otherwise."""
    from core.movement.hand_crop import hand_series_for_clip
    from core.movement.quality import hand_quality
    from core.pipeline import Quality, QualityCheck, TaskResult
    from models.registry import shipped_model_score

    series = hand_series_for_clip(path, side, cache_path=cache_path, model=model)
    quality = hand_quality(series, "finger_tapping")
    signal: dict = {"times": series.times, "landmarks": series.landmarks, "image_size": series.image_size,
                    "key_frame": series.key_frame}
    measures, score = [], None
    features = None
    try:
        features, tap = tapping_features(series.times, series.landmarks, series.image_size, return_signal=True)
    except NotEnoughTaps as exc:
        quality = Quality(quality.checks + (QualityCheck("taps", False, exc.count, "taps", taps_message(exc.count)),))
    if features is not None:
        count = int(features["num_peaks_denoised"])
        quality = Quality(quality.checks + (
            QualityCheck("taps", True, count, "taps", f"{count} taps counted.") if count >= MIN_TAPS else
            QualityCheck("taps", False, count, "taps", taps_message(count)),))
        measures = tapping_measures(features, tap)
        signal.update({"tapping_times": tap["times"], "tapping_angle": tap["angle"], "tap_peaks": tap["peaks"],
                       "features": features})
    if quality.ok and features is not None:
        score = shipped_model_score("finger_tapping", features)
    duration = float(series.times[-1] - series.times[0]) if len(series.times) > 1 else 0.0
    return TaskResult("finger_tapping", side, duration, quality, measures, score, signal)
