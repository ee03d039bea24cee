"""Can this voice clip be trusted? Per-clip checks, each with what was found and what to do.

A clip that fails any check is shown with its reasons and is not scored. Checks: duration (task
limits from core.tasks), silence, clipping, noise-like signal (hiss instead of voice), voiced
fraction (Praat's voicing decision), background noise (SNR from pauses vs voice) and, for the
sustained vowel, whether it is one continuous phonation.
"""
from __future__ import annotations

import numpy as np
import parselmouth

from core.pipeline import Quality, QualityCheck
from core.tasks import task_spec
from core.voice.praat import f0_track, voiced_intervals

FRAME_S = 0.02  # level and spectrum frames

# Silence: the loudest 5% of 20 ms frames must reach -50 dBFS. Speech at 30 cm on a phone or
# laptop sits around -30..-10 dBFS; a muted microphone or an empty room is below -60 dBFS.
SILENCE_MAX_DBFS = -50.0

# Clipping: fraction of samples in flat tops, i.e. runs of at least 3 consecutive samples within
# 1% of the clip's own peak (so clipping is found at any gain, also when the clip was normalised
# afterwards). A smooth unclipped waveform passes its peak in 1-2 samples. The four real Iyer 2023
# vowels (peak-normalised) have 0%; 0.1% of samples allows a few isolated flat tops.
CLIPPING_LEVEL = 0.99
CLIPPING_MIN_RUN = 3
CLIPPING_MAX_FRACTION = 0.001

# Noise-like signal: median spectral flatness (geometric / arithmetic mean of the power
# spectrum) of the louder frames. White noise gives ~0.56, voiced speech 0.001-0.05, whispered or
# breathy speech stays below ~0.2.
NOISE_LIKE_MAX_FLATNESS = 0.3

# Voiced fraction (Praat voicing decision over the whole clip): a sustained vowel is mostly
# voiced; connected reading is voiced ~40-60% of the time, pauses and consonants being the rest.
MIN_VOICED_FRACTION = {"vowel": 0.4, "reading": 0.15}

# Background noise: SNR = median level of voiced frames - 10th percentile level of the unvoiced
# frames. Deliyski et al. (Folia Phoniatr Logop 2005;57:154-166) found jitter/shimmer unreliable
# below 30 dB SNR; reading measures (pauses, intensity) tolerate more noise: 20 dB.
MIN_SNR_DB = {"vowel": 30.0, "reading": 20.0}
MIN_NOISE_FRAMES_S = 0.25  # unvoiced time needed to estimate the background level

# One sustained phonation: the longest continuous voiced stretch must hold at least 70% of all
# voiced time (otherwise it was several short 'aah's) and last MIN_PHONATION_S, so that its stable
# middle (without the first and last 10%) keeps about a second of glottal cycles: at 80-100 Hz
# (low male voices) that is 80-100 periods, enough for the 11-period shimmer APQ11 and a pitch-
# period distribution for PPE. Real phone vowels are often trimmed to 1.5-3 s: they are measured,
# with a caution below STEADY_PHONATION_S (jitter and shimmer of short vowels vary more from take
# to take; Brockmann et al., J Voice 2008 found perturbation measures stabilise from about 3 s).
SUSTAINED_MIN_SHARE = 0.7
MIN_PHONATION_S = 1.2
STEADY_PHONATION_S = 3.0


def frame_levels_db(samples: np.ndarray, sample_rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level of consecutive frames in dB re full scale."""
    n = max(1, int(frame_s * sample_rate))
    usable = samples[: samples.size // n * n]
    if usable.size == 0:
        usable = np.pad(samples, (0, n - samples.size))
    rms = np.sqrt(np.mean(usable.reshape(-1, n).astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(rms + 1e-10)


def spectral_flatness(samples: np.ndarray, sample_rate: int, levels_db: np.ndarray) -> float:
    """Median spectral flatness over frames within 30 dB of the loudest frame."""
    n = max(1, int(FRAME_S * sample_rate))
    frames = samples[: samples.size // n * n].reshape(-1, n).astype(np.float64)
    loud = frames[levels_db[: frames.shape[0]] >= np.max(levels_db) - 30]
    if loud.shape[0] == 0:
        return float("nan")
    power = np.abs(np.fft.rfft(loud * np.hanning(n), axis=1)) ** 2 + 1e-20
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return float(np.median(flatness))


def clipped_fraction(samples: np.ndarray) -> float:
    """Fraction of samples in flat tops (runs of >= CLIPPING_MIN_RUN samples at the peak level)."""
    magnitude = np.abs(samples)
    peak = float(np.max(magnitude)) if magnitude.size else 0.0
    if peak <= 0:
        return 0.0
    at_peak = (magnitude >= CLIPPING_LEVEL * peak).astype(np.int8)
    edges = np.diff(np.r_[0, at_peak, 0])
    run_lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return float(run_lengths[run_lengths >= CLIPPING_MIN_RUN].sum() / samples.size)


def _check(name: str, passed: bool, value: float | None, unit: str, message: str) -> QualityCheck:
    return QualityCheck(name=name, passed=bool(passed),
                        value=None if value is None else round(float(value), 4), unit=unit, message=message)


def duration_check(duration_s: float, task: str) -> QualityCheck:
    spec = task_spec(task)
    if duration_s < spec.min_seconds:
        what = "Hold the vowel" if task == "vowel" else "Read the passage"
        return _check("duration", False, duration_s, "s",
                      f"The clip is too short ({duration_s:.1f} s): {what.lower()} for at least "
                      f"{spec.min_seconds:g} s (aim for {spec.target_seconds:.0f} s) and record again.")
    if duration_s > spec.max_seconds:
        return _check("duration", False, duration_s, "s",
                      f"The clip is too long for this task ({duration_s:.0f} s; at most "
                      f"{spec.max_seconds:.0f} s): record the task on its own or trim the file.")
    return _check("duration", True, duration_s, "s", f"Duration {duration_s:.1f} s.")


def assess(samples: np.ndarray, sample_rate: int, task: str, pitch: parselmouth.Pitch | None) -> Quality:
    """All checks for a voice task ('vowel' or 'reading'). `pitch` is Praat's pitch of the clip
    (None skips the voicing checks, e.g. when the clip is too long to be worth analysing)."""
    duration_s = samples.size / sample_rate
    checks = [duration_check(duration_s, task)]
    if duration_s > task_spec(task).max_seconds:
        return Quality(tuple(checks))

    levels = frame_levels_db(samples, sample_rate)
    loudness = float(np.percentile(levels, 95))
    if loudness < SILENCE_MAX_DBFS:
        checks.append(_check("silence", False, loudness, "dBFS",
                             "The recording is silent or almost silent: "
                             "check that the microphone is on and about 30 cm from the mouth, then record again."))
        return Quality(tuple(checks))
    checks.append(_check("silence", True, loudness, "dBFS", "The voice is loud enough to measure."))

    clipped = clipped_fraction(samples)
    checks.append(_check(
        "clipping", clipped <= CLIPPING_MAX_FRACTION, 100 * clipped, "%",
        f"Clipped (distorted) sound: {100 * clipped:.1f}% of samples at the maximum. Move the microphone "
        "further away or lower the input gain, and record again." if clipped > CLIPPING_MAX_FRACTION
        else f"No clipping ({100 * clipped:.3f}% of samples at the peak)."))

    flatness = spectral_flatness(samples, sample_rate, levels)
    noise_like = not np.isfinite(flatness) or flatness > NOISE_LIKE_MAX_FLATNESS
    checks.append(_check(
        "noise_like", not noise_like, flatness, "",
        "The sound is noise (hiss, wind or rustle) rather than a voice: "
        "record again in a quieter room with the voice close to the microphone." if noise_like
        else "The sound is a voice, not noise."))

    if pitch is None:
        return Quality(tuple(checks))
    times, f0 = f0_track(pitch)
    voiced = f0 > 0
    voiced_fraction = float(np.mean(voiced)) if voiced.size else 0.0
    min_voiced = MIN_VOICED_FRACTION[task]
    checks.append(_check(
        "voiced_fraction", voiced_fraction >= min_voiced, 100 * voiced_fraction, "%",
        f"Too little voice in the clip ({100 * voiced_fraction:.0f}% voiced, at least {100 * min_voiced:.0f}% "
        f"needed): {'say one steady aaah' if task == 'vowel' else 'read aloud in a normal voice'} close to the "
        "microphone and record again." if voiced_fraction < min_voiced
        else f"{100 * voiced_fraction:.0f}% of the clip is voiced."))

    checks.append(_snr_check(samples, sample_rate, times, voiced, task))

    if task == "vowel":
        checks.append(_sustained_check(voiced_intervals(pitch), task))
    return Quality(tuple(checks))


def _snr_check(samples: np.ndarray, sample_rate: int, times: np.ndarray, voiced: np.ndarray, task: str) -> QualityCheck:
    """Background noise from the unvoiced, quiet frames (pauses) against the voiced frames."""
    levels = frame_levels_db(samples, sample_rate)
    frame_voiced = np.zeros(levels.size, bool)
    if times.size:
        idx = np.clip((times / FRAME_S).astype(int), 0, levels.size - 1)
        frame_voiced[idx[voiced]] = True
    unvoiced_levels = levels[~frame_voiced]
    if frame_voiced.sum() == 0:
        return _check("snr", False, None, "dB",
                      "No voice found to compare with the background: record again, voice close to the microphone.")
    if unvoiced_levels.size * FRAME_S < MIN_NOISE_FRAMES_S:
        return _check("snr", True, None, "dB",
                      "Background noise not measurable (no pause in the clip); not checked.")
    snr = float(np.median(levels[frame_voiced]) - np.percentile(unvoiced_levels, 10))
    minimum = MIN_SNR_DB[task]
    return _check(
        "snr", snr >= minimum, snr, "dB",
        f"Too much background noise (voice only {snr:.0f} dB above it, at least {minimum:.0f} dB needed): "
        "record again in a quieter room, microphone about 30 cm from the mouth." if snr < minimum
        else f"Voice {snr:.0f} dB above the background noise.")


def _sustained_check(intervals: list[tuple[float, float]], task: str) -> QualityCheck:
    lengths = [e - s for s, e in intervals]
    longest = max(lengths, default=0.0)
    total = sum(lengths)
    if longest < MIN_PHONATION_S:
        return _check("sustained_phonation", False, longest, "s",
                      f"The longest continuous 'aaah' lasts only {longest:.1f} s, too short to measure the voice: "
                      f"hold the vowel in one breath, without stopping, for about {task_spec(task).target_seconds:.0f} s "
                      "and record again.")
    if total > 0 and longest / total < SUSTAINED_MIN_SHARE:
        return _check("sustained_phonation", False, longest, "s",
                      f"The clip holds several separate phonations (longest {longest:.1f} s of {total:.1f} s of voice): "
                      "say one continuous 'aaah' and record again.")
    if longest < STEADY_PHONATION_S:
        return _check("sustained_phonation", True, longest, "s",
                      f"A short 'aaah' of {longest:.1f} s: measured, but measures from under "
                      f"{STEADY_PHONATION_S:.0f} s of voice are less stable. A {task_spec(task).target_seconds:.0f} s "
                      "vowel gives steadier figures next time.")
    return _check("sustained_phonation", True, longest, "s", f"One sustained phonation of {longest:.1f} s.")


# Phone-band sound: a source sampled at 8 kHz (telephone, many phone apps) carries nothing above
# 4 kHz, and narrow-band microphones cut there too. HNR, NHR and shimmer depend on the band the
# noise is measured in (Deliyski et al. 2005; Naranjo 2016 report band-limited HNR for that reason),
# so such clips are measured, and their band is recorded and shown with the measures.
PHONE_BAND_MAX_RATE_HZ = 8000
PHONE_BAND_MAX_BANDWIDTH_HZ = 5000.0  # resampling from 8 kHz leaks to about 4.5 kHz
BANDWIDTH_FLOOR_DB = 60.0  # the band ends where the spectrum stays this far below its peak
BAND_SENSITIVE_MEASURES = ("harmonics-to-noise ratio", "noise-to-harmonics ratio", "shimmer")


def effective_bandwidth_hz(samples: np.ndarray, sample_rate: int) -> float:
    """Highest frequency at which the clip's (Welch) spectrum comes within 60 dB of its peak: a
    clip resampled from 8 kHz has nothing above 4 kHz, a clinic microphone's voice reaches 6-8 kHz."""
    from scipy.signal import welch

    if samples.size < 256:
        return float("nan")
    freqs, power = welch(np.asarray(samples, dtype=np.float64), fs=sample_rate, nperseg=1024)
    if not np.any(power > 0):
        return float("nan")
    level = 10 * np.log10(power + 1e-30)
    above = np.flatnonzero(level >= level.max() - BANDWIDTH_FLOOR_DB)
    return float(freqs[above[-1]])


def bandwidth_check(samples: np.ndarray, sample_rate: int, source_rate: int | None) -> tuple[QualityCheck, dict]:
    """A passed check that says whether the sound is phone-band and which measures that affects,
    and the figures kept with the result (source sample rate, bandwidth, phone_band)."""
    bandwidth = effective_bandwidth_hz(samples, sample_rate)
    phone = bool((source_rate is not None and source_rate <= PHONE_BAND_MAX_RATE_HZ)
                 or (np.isfinite(bandwidth) and bandwidth < PHONE_BAND_MAX_BANDWIDTH_HZ))
    info = {"source_sample_rate": source_rate, "bandwidth_hz": bandwidth, "phone_band": phone}
    if phone:
        rate = (f" (sampled at {source_rate / 1000:g} kHz)" if source_rate and source_rate <= PHONE_BAND_MAX_RATE_HZ
                else f" (sound only up to about {bandwidth / 1000:.1f} kHz)")
        message = (f"Phone-quality sound{rate}: {', '.join(BAND_SENSITIVE_MEASURES[:-1])} and "
                   f"{BAND_SENSITIVE_MEASURES[-1]} are less exact than from a clinic microphone; compare them "
                   "only with recordings made the same way.")
    else:
        message = "Full-band sound: every voice measure is comparable with clinic microphone recordings."
    return _check("bandwidth", True, bandwidth if np.isfinite(bandwidth) else None, "Hz", message), info
