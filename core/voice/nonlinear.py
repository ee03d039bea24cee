"""Nonlinear dysphonia measures of Little et al., written with numpy/scipy (nolds is broken on
this Python), in the forms and units of the UCI Parkinsons table (RPDE, DFA, D2, spread1,
spread2, PPE).

References
- [L07] Little MA, McSharry PE, Roberts SJ, Costello DAE, Moroz IM. Exploiting nonlinear recurrence
  and fractal scaling properties for voice disorder detection. BioMed Eng OnLine 2007;6:23.
- [L09] Little MA, McSharry PE, Hunter EJ, Spielman J, Ramig LO. Suitability of dysphonia
  measurements for telemonitoring of Parkinson's disease. IEEE TBME 2009;56:1015-1022.
- [ML] Max Little's own MEX code, public in benfulcher/hctsa (Toolboxes/Max_Little):
  fastdfa_core.c (DFA) and ML_close_ret.c (RPDE close returns).
- [VAT] Tsanas A., Voice Analysis Toolbox (github ThanasisTsanas/VoiceAnalysisToolbox, 2014), from
  Little's group: resamples to 25 kHz for RPDE (m=4, delay 50, radius 0.2, Tmax 1000) but computes
  DFA at the recording's own rate (windows 50:20:200); its PPE is a later variant ("PPE2").

What each measure follows, and what could not be recovered
- RPDE [L07]: close returns exactly as ML_close_ret.c (first return into the radius-ball after
  having left it), histogram up to Tmax, entropy / ln(Tmax). Parameters m=4, delay 35 samples,
  radius 0.12 on a signal scaled to [-1, 1] at 25 kHz, Tmax 1000 (as read from [L07] when this
  module was first written; [VAT] uses delay 50, radius 0.2); a subsample of reference points.
- DFA [L07]: the algorithm is fastdfa_core.c line for line (see `dfa`), alpha mapped by the logistic
  function. Windows 50-100 samples at 25 kHz, the rate of [L07]. [L09]'s recordings were made at
  44.1 kHz and neither paper nor the UCI files say at which rate DFA was taken for the UCI table;
  computing it at 44.1 kHz raises the four real 16 kHz recordings of the tests from 0.52-0.59 to
  0.56-0.64 (still partly below the UCI minimum 0.574), so the rate alone does not explain the
  gap. Kept at 25 kHz: DFA is not interchangeable with the UCI column.
- D2: Grassberger-Procaccia correlation dimension; the embedding and scaling range behind the UCI
  column could not be recovered, the ones here (m=10, delay 35 at 25 kHz, 0.1%-10% of pair
  distances) are this module's choice.
- PPE [L09]: pitch-period sequence -> semitones relative to 127.09 Hz -> linear-prediction
  (whitening) residual -> entropy of its distribution. [L09] does not give the predictor order
  or the bins; here order 2 and 0.1-semitone bins over +/-6 semitones, normalised by ln(bins).
- spread1, spread2: no published definition could be found: the UCI parkinsons.names says only
  "nonlinear measures of fundamental frequency variation", [L07] does not treat them, the
  accounts of [L09] available here describe PPE only, and no code of Little's group computes
  them (the full texts of [L07]/[L09] could not be re-read offline when this was checked). The versions here are stand-ins: spread1 = ln(variance of ln F0),
  spread2 = SD (semitones) of the whitened pitch contour, both from the cycle-by-cycle F0. In the
  UCI table spread1 is almost a linear function of PPE (r = 0.98), which suggests it is a log
  spread of the same whitened semitone distribution rather than of raw F0; that is an inference
  from the data, not a published definition, so it is not implemented. spread1 as computed here
  lands below the UCI range on real recordings: not interchangeable with the UCI column.

Speed: recurrence and correlation sums use a few thousand reference points of the signal,
not all pairs, so the whole set takes tens of milliseconds on a 5 s vowel.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import resample_poly

ANALYSIS_RATE = 25000  # Little et al. analysed 25 kHz signals; their delays are in those samples
RPDE_DIMENSION = 4
RPDE_DELAY = 35
RPDE_RADIUS = 0.12
RPDE_T_MAX = 1000  # longest recurrence time counted (40 ms at 25 kHz: two periods of a 50 Hz voice)
RPDE_REFERENCE_POINTS = 1000
DFA_WINDOWS = np.arange(50, 101, 10)
D2_DIMENSION = 10
D2_DELAY = 35  # samples at 25 kHz (1.4 ms), as for RPDE
D2_REFERENCE_POINTS = 800
PPE_REFERENCE_HZ = 127.09  # healthy median F0 used by Little et al. 2009 to express pitch in semitones
PPE_AR_ORDER = 2  # linear prediction order that whitens the smooth part of the pitch contour
PPE_BIN_SEMITONES = 0.1
PPE_RANGE_SEMITONES = 6.0


def to_analysis_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample to 25 kHz and scale to [-1, 1], the conditions the published parameters assume."""
    if sample_rate != ANALYSIS_RATE:
        g = np.gcd(int(sample_rate), ANALYSIS_RATE)
        samples = resample_poly(np.asarray(samples, np.float64), ANALYSIS_RATE // g, int(sample_rate) // g)
    x = np.asarray(samples, np.float64)
    x = x - np.mean(x)
    peak = np.max(np.abs(x))
    return x / peak if peak > 0 else x


def _embed(x: np.ndarray, dimension: int, delay: int) -> np.ndarray:
    n = x.size - (dimension - 1) * delay
    if n <= 0:
        raise ValueError("signal too short to embed")
    return np.stack([x[i * delay: i * delay + n] for i in range(dimension)], axis=1)


def rpde(x: np.ndarray, dimension: int = RPDE_DIMENSION, delay: int = RPDE_DELAY, radius: float = RPDE_RADIUS,
         t_max: int = RPDE_T_MAX, reference_points: int = RPDE_REFERENCE_POINTS) -> float:
    """Recurrence period density entropy, normalised to 0 (perfectly periodic) .. 1 (noise).

    For each reference point, the recurrence time is the first return into its radius-ball after
    having left it (Little's 'close returns'); H_norm is the entropy of the recurrence-time
    histogram divided by ln(t_max).
    """
    emb = _embed(x, dimension, delay).astype(np.float32)
    n_ref = emb.shape[0] - t_max - 1
    if n_ref <= 0:
        return float("nan")
    starts = np.linspace(0, n_ref - 1, min(reference_points, n_ref)).astype(int)
    offsets = np.arange(1, t_max + 1)
    counts = np.zeros(t_max + 1)
    for chunk in np.array_split(starts, max(1, starts.size // 250)):
        diff = emb[chunk[:, None] + offsets[None, :]] - emb[chunk][:, None, :]
        outside = np.einsum("ijk,ijk->ij", diff, diff) >= radius * radius
        has_left = outside.any(axis=1)
        first_out = np.argmax(outside, axis=1)
        back_in = (~outside) & (offsets[None, :] - 1 > first_out[:, None])
        returned = has_left & back_in.any(axis=1)
        periods = offsets[np.argmax(back_in, axis=1)][returned]
        counts += np.bincount(periods, minlength=t_max + 1)[: t_max + 1]
    total = counts.sum()
    if total == 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(-np.sum(p * np.log(p)) / np.log(t_max))


def dfa(x: np.ndarray, windows: np.ndarray = DFA_WINDOWS) -> float:
    """Detrended fluctuation analysis, reported as 1 / (1 + exp(-alpha)) (Little 2007, eq. for DFA).

    As Little's fastdfa_core.c computes it: y = cumulative sum of x; at each window size L, y is
    cut into consecutive non-overlapping windows, a least-squares line is removed from each, and
    F(L) = sqrt(sum of squared residuals / len(y)); the samples of an incomplete last window count
    in len(y) with zero residual. alpha is the slope of log F(L) against log L.
    """
    y = np.cumsum(np.asarray(x, np.float64) - np.mean(x))  # the mean is removed by the line fit anyway
    fluctuations = []
    for size in windows:
        n_win = y.size // size
        if n_win < 2:
            return float("nan")
        seg = y[: n_win * size].reshape(n_win, size)
        t = np.arange(size) - (size - 1) / 2
        slope = seg @ t / np.sum(t * t)
        resid = seg - seg.mean(axis=1, keepdims=True) - slope[:, None] * t[None, :]
        fluctuations.append(np.sqrt(np.sum(resid ** 2) / y.size))
    alpha = np.polyfit(np.log(windows), np.log(fluctuations), 1)[0]
    return float(1 / (1 + np.exp(-alpha)))


def correlation_dimension(x: np.ndarray, dimension: int = D2_DIMENSION, delay: int = D2_DELAY,
                          reference_points: int = D2_REFERENCE_POINTS, seed: int = 0) -> float:
    """Grassberger-Procaccia correlation dimension D2: slope of ln C(r) against ln r over the
    scaling range where 0.1% .. 10% of pairs are closer than r. Pairs closer in time than one
    embedding window are excluded (Theiler window)."""
    emb = _embed(x, dimension, delay)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(emb.shape[0], size=min(reference_points, emb.shape[0]), replace=False))
    pts = emb[idx].astype(np.float32)
    sq = np.sum(pts ** 2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * pts @ pts.T, 0)
    pair = np.triu(np.abs(idx[:, None] - idx[None, :]) > dimension * delay, k=1)
    dist = np.sort(np.sqrt(d2[pair]))
    dist = dist[dist > 0]
    if dist.size < 100:
        return float("nan")
    lo, hi = dist[int(0.001 * dist.size)], dist[int(0.1 * dist.size)]
    radii = np.geomspace(lo, hi, 12)
    c = np.searchsorted(dist, radii) / dist.size
    ok = c > 0
    return float(np.polyfit(np.log(radii[ok]), np.log(c[ok]), 1)[0])


def _semitones(f0_hz: np.ndarray) -> np.ndarray:
    return 12 * np.log2(f0_hz / PPE_REFERENCE_HZ)


def _whitened_semitones(f0_hz: np.ndarray, order: int = PPE_AR_ORDER) -> np.ndarray:
    """Residual of a least-squares linear predictor of the semitone contour: the pitch changes
    that smooth (vibrato-like, drifting) control cannot explain."""
    s = _semitones(f0_hz)
    s = s - np.mean(s)
    if s.size <= order + 2:
        return np.zeros(0)
    lagged = np.stack([s[order - k - 1: s.size - k - 1] for k in range(order)], axis=1)
    coef, *_ = np.linalg.lstsq(lagged, s[order:], rcond=None)
    return s[order:] - lagged @ coef


def pitch_period_entropy(f0_hz: np.ndarray) -> float:
    """PPE: normalised entropy of the whitened semitone pitch residual (0.1-semitone bins over
    +/-6 semitones), 0 for a perfectly steady pitch, rising with uncontrolled pitch variation."""
    resid = _whitened_semitones(np.asarray(f0_hz, float))
    if resid.size < 10:
        return float("nan")
    edges = np.arange(-PPE_RANGE_SEMITONES, PPE_RANGE_SEMITONES + 1e-9, PPE_BIN_SEMITONES)
    counts, _ = np.histogram(np.clip(resid, edges[0], edges[-1]), bins=edges)
    p = counts[counts > 0] / counts.sum()
    return float(-np.sum(p * np.log(p)) / np.log(edges.size - 1))


def spread1(f0_hz: np.ndarray) -> float:
    """ln of the variance of ln F0: overall spread of the pitch (negative; larger = wider)."""
    f0 = np.asarray(f0_hz, float)
    if f0.size < 3:
        return float("nan")
    return float(np.log(np.var(np.log(f0)) + 1e-12))


def spread2(f0_hz: np.ndarray) -> float:
    """Standard deviation (semitones) of the whitened pitch contour: cycle-scale pitch instability."""
    resid = _whitened_semitones(np.asarray(f0_hz, float))
    return float(np.std(resid)) if resid.size >= 10 else float("nan")


def nonlinear_measures(samples: np.ndarray, sample_rate: int, cycle_f0_hz: np.ndarray) -> dict[str, float]:
    """All six measures from the stable vowel segment and its cycle-by-cycle F0 (1 / each pitch
    period of Praat's PointProcess: the 'pitch period' sequence of Little et al. 2009, which keeps
    the cycle-scale variation that 10 ms pitch frames smooth away)."""
    x = to_analysis_rate(samples, sample_rate)
    f0 = np.asarray(cycle_f0_hz, float)
    f0 = f0[f0 > 0]
    return {
        "rpde": rpde(x),
        "dfa": dfa(x),
        "d2": correlation_dimension(x),
        "spread1": spread1(f0),
        "spread2": spread2(f0),
        "ppe": pitch_period_entropy(f0),
    }
