"""Rest tremor (MDS-UPDRS 3.17) from a video of the hand resting on the lap.

Measured, not classified: no open labelled data exists, so there is no model and the score is
None. The measures are shown against published ranges:
- frequency: parkinsonian rest tremor is typically 4-6 Hz; essential tremor is mainly postural
  and kinetic at about 5-8 Hz (Deuschl, Bain, Brin et al., "Consensus statement of the Movement
  Disorder Society on tremor", Mov Disord 1998;13 Suppl 3:2-23). We search 3-7 Hz.
- amplitude: the clinician rates rest tremor amplitude in centimetres on MDS-UPDRS 3.17 (Goetz
  et al., Mov Disord 2008;23:2129-70; its scoring text is the MDS's and is not reproduced here).
  Video gives the amplitude in units of the hand's own length; the cm figure assumes an average
  adult hand length (ASSUMED_HAND_LENGTH_CM) and is labelled an estimate.

Method: landmark positions (wrist, thumb, index and middle fingertips) are resampled to a
uniform rate, expressed in hand lengths, linearly detrended; the Welch power spectrum of their
displacement gives the dominant frequency in 3-7 Hz and the fraction of the movement power in
that band; band-passed (3-7 Hz) displacement gives RMS and peak-to-peak amplitude; constancy is
the fraction of 2 s windows whose band RMS exceeds the tremor threshold.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import butter, detrend, sosfiltfilt, welch

from core.movement.landmarks import INDEX_TIP, MIDDLE_MCP, MIDDLE_TIP, THUMB_TIP, WRIST, resample_uniform
from core.vocabulary import MeasureInfo

BAND_HZ = (3.0, 7.0)
FILTER_HZ = (2.5, 8.5)  # a little wider than the search band so a 7 Hz tremor is not attenuated
TRACKED_POINTS = (WRIST, THUMB_TIP, INDEX_TIP, MIDDLE_TIP)
ASSUMED_HAND_LENGTH_CM = 18.5  # wrist crease to middle fingertip, adult average (men ~19, women ~18)
TREMOR_RMS_THRESHOLD = 0.005  # hand lengths (~1 mm): above MediaPipe's landmark jitter at rest
WINDOW_S, HOP_S = 2.0, 1.0
_MIDDLE_CHAIN = (WRIST, MIDDLE_MCP, 10, 11, MIDDLE_TIP)


def hand_length_px(pixels: np.ndarray) -> float:
    """Median length of the wrist -> middle fingertip chain (sum of its segments, so a bent
    finger shortens it less than a straight-line distance would)."""
    chain = pixels[:, list(_MIDDLE_CHAIN)]
    lengths = np.linalg.norm(np.diff(chain, axis=1), axis=2).sum(axis=1)
    return float(np.nanmedian(lengths))


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames without a hand (the quality check limits gaps)."""
    out = values.copy()
    idx = np.arange(len(values))
    for j in range(values.shape[1]):
        ok = ~np.isnan(values[:, j])
        if ok.sum() >= 2:
            out[:, j] = np.interp(idx, idx[ok], values[ok, j])
    return out


def tremor_features(times: np.ndarray, hand_landmarks: np.ndarray, image_size: tuple[int, int]) -> dict:
    """Dominant frequency (Hz), band power fraction, RMS and peak-to-peak amplitude (hand lengths,
    and cm estimates), constancy; plus the spectrum and displacement for plots."""
    times = np.asarray(times, float)
    steps = np.diff(times)
    rate = float(round(1.0 / np.median(steps))) if len(steps) else 30.0
    pixels = np.asarray(hand_landmarks, float)[:, :, :2] * np.asarray(image_size, float)
    grid, pixels = resample_uniform(times, pixels, rate)
    length = hand_length_px(pixels)
    points = _fill_gaps(pixels[:, list(TRACKED_POINTS)].reshape(len(grid), -1)) / length  # (n, 2k)
    points = points[:, ~np.isnan(points).any(axis=0)]
    if points.shape[1] == 0 or len(grid) < int(2 * rate):
        raise ValueError("not enough hand frames for a tremor spectrum")
    displacement = detrend(points, axis=0)

    nperseg = min(len(grid), int(4 * rate))
    freqs, psd = welch(displacement, fs=rate, nperseg=nperseg, axis=0)
    total_psd = psd.sum(axis=1)
    in_band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    above_drift = freqs >= 0.5
    k = np.flatnonzero(in_band)[np.argmax(total_psd[in_band])]
    peak_hz = float(freqs[k])
    if 0 < k < len(freqs) - 1:  # parabolic refinement between spectrum bins
        a, b, c = np.log(total_psd[k - 1:k + 2] + 1e-30)
        denom = a - 2 * b + c
        if denom < 0:
            peak_hz += float(0.5 * (a - c) / denom * (freqs[1] - freqs[0]))
    band_fraction = float(total_psd[in_band].sum() / max(total_psd[above_drift].sum(), 1e-30))

    nyquist = rate / 2
    sos = butter(4, [FILTER_HZ[0] / nyquist, min(FILTER_HZ[1], 0.95 * nyquist) / nyquist], btype="band", output="sos")
    band = sosfiltfilt(sos, displacement, axis=0).reshape(len(grid), -1, 2)  # (n, points, xy)
    # the point that trembles most: per point, RMS of the displacement vector
    rms_per_point = np.sqrt(np.mean(np.sum(band ** 2, axis=2), axis=0))
    p = int(np.argmax(rms_per_point))
    rms = float(rms_per_point[p])
    # peak-to-peak along the main axis of that point's movement, median over windows
    xy = band[:, p, :]
    axis = np.linalg.svd(xy - xy.mean(axis=0), full_matrices=False)[2][0]
    along = xy @ axis
    win, hop = int(WINDOW_S * rate), int(HOP_S * rate)
    starts = range(0, max(1, len(along) - win + 1), hop)
    p2p = [float(np.ptp(along[s:s + win])) for s in starts]
    window_rms = [float(np.sqrt(np.mean(np.sum(band[s:s + win] ** 2, axis=2), axis=0)).max()) for s in starts]
    constancy = float(np.mean(np.asarray(window_rms) >= TREMOR_RMS_THRESHOLD))
    return {
        "frequency_hz": peak_hz,
        "band_power_fraction": band_fraction,
        "rms_hand_lengths": rms,
        "peak_to_peak_hand_lengths": float(np.median(p2p)),
        "rms_cm_estimate": rms * ASSUMED_HAND_LENGTH_CM,
        "peak_to_peak_cm_estimate": float(np.median(p2p)) * ASSUMED_HAND_LENGTH_CM,
        "constancy": constancy,
        "hand_length_px": length,
        "most_moving_point": int(TRACKED_POINTS[p]),
        "spectrum_hz": freqs,
        "spectrum": total_psd,
        "times": grid,
        "band_displacement": along,
    }


_MDS_TREMOR = "Deuschl et al., Mov Disord 1998 (MDS consensus on tremor); MDS-UPDRS 3.17/3.18 (Goetz et al. 2008)"


def _tremor(name: str, label: str, unit: str, higher_is_worse: bool | None, description: str) -> MeasureInfo:
    return MeasureInfo(name, label, unit, "tremor", None, _MDS_TREMOR, higher_is_worse, description)


# Direction: larger and more constant rest tremor scores worse on MDS-UPDRS 3.17 / 3.18; the
# frequency and the band share have no direction (they say whether it is tremor, not how much).
MEASURES: tuple[MeasureInfo, ...] = (
    _tremor("tremor_frequency", "Tremor frequency (dominant, 3-7 Hz)", "Hz", None,
            "Parkinsonian rest tremor is typically 4-6 Hz; essential tremor is mainly postural at "
            "about 5-8 Hz (MDS consensus on tremor, Deuschl et al. 1998). Meaningful only when the "
            "band power fraction is high."),
    _tremor("tremor_band_power_fraction", "Movement power in 3-7 Hz", "%", None,
            "Share of the hand's movement (above 0.5 Hz) that lies in the tremor band."),
    _tremor("tremor_amplitude_rms", "Tremor amplitude (RMS)", "% hand length", True,
            "Band-passed (3-7 Hz) displacement of the most moving hand point, in % of hand length."),
    _tremor("tremor_amplitude_p2p", "Tremor amplitude (peak to peak)", "% hand length", True,
            "Median over 2 s windows."),
    _tremor("tremor_amplitude_p2p_cm_estimate", "Tremor amplitude, peak to peak (estimate)", "cm", True,
            f"ESTIMATE assuming a hand length of {ASSUMED_HAND_LENGTH_CM} cm, to set beside the rest tremor "
            "amplitude the clinician rates (MDS-UPDRS 3.17)."),
    _tremor("tremor_constancy", "Tremor constancy", "%", True,
            "Share of 2 s windows with tremor above about 1 mm (0.5% of hand length), to set beside the "
            "constancy the clinician rates (MDS-UPDRS 3.18)."),
)


def measure_infos() -> tuple[MeasureInfo, ...]:
    """This pipeline's measures (gathered by core.vocabulary)."""
    return MEASURES


def tremor_measures(f: dict):
    values = {
        "tremor_frequency": f["frequency_hz"],
        "tremor_band_power_fraction": 100 * f["band_power_fraction"],
        "tremor_amplitude_rms": 100 * f["rms_hand_lengths"],
        "tremor_amplitude_p2p": 100 * f["peak_to_peak_hand_lengths"],
        "tremor_amplitude_p2p_cm_estimate": f["peak_to_peak_cm_estimate"],
        "tremor_constancy": 100 * f["constancy"],
    }
    return [info.measure(values[info.name]) for info in MEASURES]


def analyze(path: str | Path, side: str | None = None, cache_path: str | Path | None = None,
            model: str = "full"):
    """Video of the hand at rest -> TaskResult with tremor measures; score None (no classifier)."""
    from core.movement.hand_crop import hand_series_for_clip
    from core.movement.quality import hand_quality
    from core.pipeline import Quality, QualityCheck, TaskResult

    series = hand_series_for_clip(path, side, cache_path=cache_path, model=model)
    quality = hand_quality(series, "tremor")
    signal: dict = {"times": series.times, "landmarks": series.landmarks, "image_size": series.image_size,
                    "key_frame": series.key_frame}
    measures = []
    if series.detected.sum() >= 2:
        try:
            features = tremor_features(series.times, series.landmarks, series.image_size)
        except ValueError as exc:
            quality = Quality(quality.checks + (QualityCheck(
                "tremor_signal", False, None, "", f"Tremor could not be measured ({exc}): record 10 s "
                "with the hand resting and fully in view."),))
        else:
            measures = tremor_measures(features)
            signal.update({k: features[k] for k in ("spectrum_hz", "spectrum", "band_displacement")})
            signal["tremor_times"] = features["times"]
    duration = float(series.times[-1] - series.times[0]) if len(series.times) > 1 else 0.0
    return TaskResult("tremor", side, duration, quality, measures, None, signal)
