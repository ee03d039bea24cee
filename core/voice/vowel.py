"""Sustained vowel /a/: decode -> quality -> Praat measures + nonlinear measures -> voice model.

Measures are Praat's own (through parselmouth) with the standard arguments: To Pitch (cc),
To PointProcess (periodic, cc), Get jitter (...) with 0.0001 / 0.02 / 1.3, Get shimmer (...) with
1.6 as well, To Harmonicity (cc). They are taken on the stable middle of the vowel: the longest
continuous voiced stretch with its first and last 10% removed (onset and offset transients,
where pitch and loudness are still settling).

Names and units follow the UCI Parkinsons table (Little et al. 2007/2009, MDVP measures) so the
voice model trained on it applies: `UCI_COLUMNS` and `uci_features` make that mapping. Praat's
measures are close relatives of MDVP's, not identical (the model card says so).
Unit note: UCI's "MDVP:Jitter(%)" column actually holds a fraction (0.00784 = 0.784%); here
jitter_local_pct is in percent and `uci_features` divides it by 100.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import parselmouth
from parselmouth.praat import call

from core.media.audio import MAX_AUDIO_SECONDS, load_audio, probe_media
from core.pipeline import Measure, ModelScore, Quality, QualityCheck, TaskResult
from core.tasks import task_spec
from core.vocabulary import MeasureInfo
from core.voice import nonlinear, quality
from core.voice.praat import PITCH_CEILING_HZ, PITCH_FLOOR_HZ, pitch_cc, to_sound, voiced_intervals

TASK = "vowel"
STABLE_TRIM_FRACTION = 0.1  # dropped at each end of the longest voiced stretch
MIN_STABLE_SECONDS = 0.5  # below this no measure is reliable
# Glottal cycles in the stable part below which perturbation measures are not computed reliably
# (shimmer APQ11 averages over 11 periods; PPE needs a distribution of periods).
MIN_GLOTTAL_CYCLES = 60
# Praat's standard perturbation arguments: shortest/longest period (s), maximum period factor,
# maximum amplitude factor (Praat manual, "Voice 2. Jitter" / "Voice 3. Shimmer").
PERIOD_FLOOR_S, PERIOD_CEILING_S, MAX_PERIOD_FACTOR, MAX_AMPLITUDE_FACTOR = 0.0001, 0.02, 1.3, 1.6

# Normal ranges. PRAAT: the MDVP thresholds for pathology quoted in the Praat manual (Voice 2,
# Voice 3): jitter local 1.040%, local absolute 83.2 us, rap 0.680%, ppq5 0.840%; shimmer local
# 3.810%, local dB 0.350 dB, apq11 3.070%. MDVP: the MDVP normative NHR threshold 0.19.
# UCI: 5th-95th percentile of the healthy recordings of the UCI Parkinsons table in
# models/datasets (36 recordings of only 6 healthy speakers: indicative, not normative).


PRAAT_RANGE = "MDVP pathology threshold quoted in the Praat manual (Voice 2, Voice 3)"
MDVP_RANGE = "MDVP normative threshold"
UCI_RANGE = ("5th-95th percentile of the healthy recordings of the UCI Parkinsons table "
             "(6 healthy speakers: indicative, not normative)")
# Direction: perturbation, noise and the nonlinear irregularity measures rise and harmonicity
# falls in Parkinsonian (hypokinetic) voice; pitch itself has no direction.
DIRECTION_SOURCE = "Little et al., IEEE TBME 2009; Tsanas et al., IEEE TBME 2010"
HIGHER_IS_WORSE, LOWER_IS_WORSE = True, False


def _voice(name: str, label: str, unit: str, normal_range, description: str, source: str = "",
           higher_is_worse: bool | None = None) -> MeasureInfo:
    if higher_is_worse is not None:
        source = f"{source}; direction: {DIRECTION_SOURCE}" if source else f"direction: {DIRECTION_SOURCE}"
    return MeasureInfo(name, label, unit, TASK, normal_range, source, higher_is_worse, description)


MEASURES: tuple[MeasureInfo, ...] = (
    _voice("f0_mean_hz", "Mean pitch (F0)", "Hz", None,
           "Average vocal fundamental frequency; depends on sex and age, so no single normal range."),
    _voice("f0_max_hz", "Highest pitch", "Hz", None, "Maximum F0 over the stable vowel."),
    _voice("f0_min_hz", "Lowest pitch", "Hz", None, "Minimum F0 over the stable vowel."),
    _voice("jitter_local_pct", "Jitter (local)", "%", (None, 1.04),
           "Mean cycle-to-cycle change of the pitch period, relative to the mean period (Praat).",
           PRAAT_RANGE, HIGHER_IS_WORSE),
    _voice("jitter_abs_s", "Jitter (absolute)", "s", (None, 83.2e-6),
           "Mean absolute cycle-to-cycle change of the pitch period (Praat).", PRAAT_RANGE, HIGHER_IS_WORSE),
    _voice("jitter_rap", "Jitter RAP", "", (None, 0.0068),
           "Relative average perturbation: period vs the mean of it and its 2 neighbours (fraction).",
           PRAAT_RANGE, HIGHER_IS_WORSE),
    _voice("jitter_ppq5", "Jitter PPQ5", "", (None, 0.0084),
           "Five-point period perturbation quotient (fraction).", PRAAT_RANGE, HIGHER_IS_WORSE),
    _voice("jitter_ddp", "Jitter DDP", "", None,
           "Mean absolute difference of consecutive period differences (= 3 x RAP; fraction).",
           higher_is_worse=HIGHER_IS_WORSE),
    _voice("shimmer_local", "Shimmer (local)", "", (None, 0.0381),
           "Mean cycle-to-cycle change of the peak amplitude, relative to the mean amplitude (fraction).",
           PRAAT_RANGE, HIGHER_IS_WORSE),
    _voice("shimmer_db", "Shimmer (dB)", "dB", (None, 0.35),
           "Mean absolute base-10 log ratio of consecutive cycle amplitudes, in dB.", PRAAT_RANGE, HIGHER_IS_WORSE),
    _voice("shimmer_apq3", "Shimmer APQ3", "", (0.00495, 0.0149),
           "Three-point amplitude perturbation quotient (fraction). Range: UCI healthy.", UCI_RANGE, HIGHER_IS_WORSE),
    _voice("shimmer_apq5", "Shimmer APQ5", "", (0.00633, 0.0160),
           "Five-point amplitude perturbation quotient (fraction). Range: UCI healthy.", UCI_RANGE, HIGHER_IS_WORSE),
    _voice("shimmer_apq11", "Shimmer APQ11", "", (None, 0.0307),
           "Eleven-point amplitude perturbation quotient (fraction).", PRAAT_RANGE, HIGHER_IS_WORSE),
    _voice("shimmer_dda", "Shimmer DDA", "", (0.0149, 0.0448),
           "Mean absolute difference of consecutive amplitude differences (= 3 x APQ3). Range: UCI healthy.",
           UCI_RANGE, HIGHER_IS_WORSE),
    _voice("nhr", "Noise-to-harmonics ratio", "", (None, 0.19),
           "Mean per-frame noise-to-harmonics energy ratio from Praat's harmonicity, as in its Voice report.",
           MDVP_RANGE, HIGHER_IS_WORSE),
    _voice("hnr_db", "Harmonics-to-noise ratio", "dB", (19.1, None),
           "Mean harmonicity (cc) over voiced frames; lower means a breathier or rougher voice. Range: UCI healthy.",
           UCI_RANGE, LOWER_IS_WORSE),
    _voice("rpde", "Recurrence period density entropy", "", (0.343, 0.605),
           "Uncertainty of the repetition period in the voice waveform (0 periodic, 1 noise). Range: UCI healthy.",
           UCI_RANGE, HIGHER_IS_WORSE),
    _voice("dfa", "Detrended fluctuation scaling", "", (0.628, 0.764),
           "Fractal scaling of turbulent noise in the voice (logistic of the DFA exponent). Range: UCI healthy.",
           UCI_RANGE, HIGHER_IS_WORSE),
    _voice("spread1", "F0 spread 1", "", (-7.72, -5.61),
           "ln of the variance of ln F0 (cycle by cycle): overall pitch spread. Range: UCI healthy.", UCI_RANGE),
    _voice("spread2", "F0 spread 2", "st", (0.097, 0.210),
           "SD of the whitened semitone pitch contour: unexplained pitch instability. Range: UCI healthy.", UCI_RANGE),
    _voice("d2", "Correlation dimension", "", (1.54, 2.71),
           "Complexity of the voice waveform's dynamics. Range: UCI healthy.", UCI_RANGE),
    _voice("ppe", "Pitch period entropy", "", (0.057, 0.215),
           "Entropy of uncontrolled pitch variation on a semitone scale (Little 2009). Range: UCI healthy.",
           UCI_RANGE, HIGHER_IS_WORSE),
)

# measure -> its column in the UCI Parkinsons table, and the scale: UCI value = our value * scale
UCI_COLUMNS: dict[str, str] = {
    "f0_mean_hz": "MDVP:Fo(Hz)", "f0_max_hz": "MDVP:Fhi(Hz)", "f0_min_hz": "MDVP:Flo(Hz)",
    "jitter_local_pct": "MDVP:Jitter(%)", "jitter_abs_s": "MDVP:Jitter(Abs)", "jitter_rap": "MDVP:RAP",
    "jitter_ppq5": "MDVP:PPQ", "jitter_ddp": "Jitter:DDP", "shimmer_local": "MDVP:Shimmer",
    "shimmer_db": "MDVP:Shimmer(dB)", "shimmer_apq3": "Shimmer:APQ3", "shimmer_apq5": "Shimmer:APQ5",
    "shimmer_apq11": "MDVP:APQ", "shimmer_dda": "Shimmer:DDA", "nhr": "NHR", "hnr_db": "HNR", "rpde": "RPDE",
    "dfa": "DFA", "spread1": "spread1", "spread2": "spread2", "d2": "D2", "ppe": "PPE",
}
UCI_SCALE: dict[str, float] = {"jitter_local_pct": 0.01}
MEASURES_BY_NAME = {m.name: m for m in MEASURES}


def measure_infos() -> tuple[MeasureInfo, ...]:
    """This pipeline's measures (gathered by core.vocabulary)."""
    return MEASURES


def uci_features(measures: list[Measure] | dict[str, float]) -> dict[str, float]:
    """Measures (list of Measure or name -> value) -> {UCI column: value in the UCI table's units}."""
    values = measures if isinstance(measures, dict) else {m.name: m.value for m in measures}
    return {UCI_COLUMNS[d.name]: float(values[d.name]) * UCI_SCALE.get(d.name, 1.0) for d in MEASURES if d.name in values}


def stable_interval(pitch: parselmouth.Pitch) -> tuple[float, float] | None:
    """The longest voiced stretch without its first and last 10%; None if too short."""
    intervals = voiced_intervals(pitch)
    if not intervals:
        return None
    start, end = max(intervals, key=lambda iv: iv[1] - iv[0])
    trim = STABLE_TRIM_FRACTION * (end - start)
    start, end = start + trim, end - trim
    return (start, end) if end - start >= MIN_STABLE_SECONDS else None


def praat_measures(part: parselmouth.Sound) -> tuple[dict[str, float], np.ndarray]:
    """Praat's pitch, perturbation and noise measures of a stable vowel segment, and its
    cycle-by-cycle F0 (for the nonlinear pitch measures)."""
    pitch = pitch_cc(part)
    points = call(part, "To PointProcess (periodic, cc)", PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
    jitter_args = (0, 0, PERIOD_FLOOR_S, PERIOD_CEILING_S, MAX_PERIOD_FACTOR)
    shimmer_args = jitter_args + (MAX_AMPLITUDE_FACTOR,)
    harmonicity = call(part, "To Harmonicity (cc)", 0.01, PITCH_FLOOR_HZ, 0.1, 1.0)
    hnr_frames = harmonicity.values[0]
    hnr_frames = hnr_frames[hnr_frames > -199]  # Praat marks unvoiced frames with -200 dB
    values = {
        "f0_mean_hz": call(pitch, "Get mean", 0, 0, "Hertz"),
        "f0_max_hz": call(pitch, "Get maximum", 0, 0, "Hertz", "Parabolic"),
        "f0_min_hz": call(pitch, "Get minimum", 0, 0, "Hertz", "Parabolic"),
        "jitter_local_pct": 100 * call(points, "Get jitter (local)", *jitter_args),
        "jitter_abs_s": call(points, "Get jitter (local, absolute)", *jitter_args),
        "jitter_rap": call(points, "Get jitter (rap)", *jitter_args),
        "jitter_ppq5": call(points, "Get jitter (ppq5)", *jitter_args),
        "jitter_ddp": call(points, "Get jitter (ddp)", *jitter_args),
        "shimmer_local": call([part, points], "Get shimmer (local)", *shimmer_args),
        "shimmer_db": call([part, points], "Get shimmer (local_dB)", *shimmer_args),
        "shimmer_apq3": call([part, points], "Get shimmer (apq3)", *shimmer_args),
        "shimmer_apq5": call([part, points], "Get shimmer (apq5)", *shimmer_args),
        "shimmer_apq11": call([part, points], "Get shimmer (apq11)", *shimmer_args),
        "shimmer_dda": call([part, points], "Get shimmer (dda)", *shimmer_args),
        "hnr_db": call(harmonicity, "Get mean", 0, 0),
        "nhr": float(np.mean(10 ** (-hnr_frames / 10))) if hnr_frames.size else float("nan"),
    }
    times = call(points, "To Matrix").values[0]  # glottal pulse times (s)
    periods = np.diff(times)
    periods = periods[(periods >= 1 / PITCH_CEILING_HZ) & (periods <= 1 / PITCH_FLOOR_HZ)]
    return {k: float(v) for k, v in values.items()}, 1 / periods


def to_measures(values: dict[str, float]) -> list[Measure]:
    return [d.measure(values[d.name]) for d in MEASURES if d.name in values]


def vowel_measures(samples: np.ndarray, sample_rate: int, sound: parselmouth.Sound, interval: tuple[float, float]) -> dict[str, float]:
    start, end = interval
    part = sound.extract_part(from_time=start, to_time=end, preserve_times=False)
    values, cycle_f0 = praat_measures(part)
    segment = samples[int(start * sample_rate): int(end * sample_rate)]
    values.update(nonlinear.nonlinear_measures(segment, sample_rate, cycle_f0))
    values["glottal_cycles"] = float(len(cycle_f0))  # for the quality gate; not a stored measure
    return values


def glottal_cycles_check(n_cycles: int) -> QualityCheck:
    if n_cycles < MIN_GLOTTAL_CYCLES:
        return QualityCheck("glottal_cycles", False, float(n_cycles), "cycles",
                            f"Too few steady voice cycles to measure ({n_cycles}; at least {MIN_GLOTTAL_CYCLES} "
                            "needed): say one steady, comfortable 'aaah' for about 5 s and record again.")
    return QualityCheck("glottal_cycles", True, float(n_cycles), "cycles",
                        f"{n_cycles} steady voice cycles measured.")


def score(measures: list[Measure]) -> ModelScore:
    """The shipped voice model's score (an abstention when its weights are not shipped)."""
    from models.registry import shipped_model_score  # lazily: core imports torch only to score

    return shipped_model_score("voice", uci_features(measures))


def analyze(path: str | Path, side: str | None = None) -> TaskResult:
    """One sustained-vowel recording -> quality, measures and (if quality passes) the voice score."""
    samples, sr = load_audio(path, max_seconds=MAX_AUDIO_SECONDS)
    return analyze_samples(samples, sr, source_rate=source_sample_rate(path))


def source_sample_rate(path: str | Path) -> int | None:
    """The file's own sample rate (before pdlens resamples to 16 kHz), if it states one."""
    info = probe_media(path)
    rates = [st.sample_rate for st in info.streams if st.kind == "audio" and st.sample_rate]
    return int(rates[0]) if rates else None


def analyze_samples(samples: np.ndarray, sample_rate: int, source_rate: int | None = None) -> TaskResult:
    duration = samples.size / sample_rate
    signal: dict = {"audio": samples, "sample_rate": sample_rate, "voiced_intervals": []}
    if duration > task_spec(TASK).max_seconds:  # too long: do not spend time analysing
        return TaskResult(TASK, None, duration, quality.assess(samples, sample_rate, TASK, None), [], None, signal)
    sound = to_sound(samples, sample_rate)
    pitch = pitch_cc(sound)
    signal["voiced_intervals"] = voiced_intervals(pitch)
    clip_quality: Quality = quality.assess(samples, sample_rate, TASK, pitch)
    band, band_info = quality.bandwidth_check(samples, sample_rate, source_rate)
    clip_quality = Quality(clip_quality.checks + (band,))
    signal.update(band_info)
    interval = stable_interval(pitch)
    measures: list[Measure] = []
    if interval is not None and not _failed(clip_quality, "silence", "noise_like"):
        signal["stable_interval"] = interval
        values = vowel_measures(samples, sample_rate, sound, interval)
        cycles = glottal_cycles_check(int(values.pop("glottal_cycles")))
        clip_quality = Quality(clip_quality.checks + (cycles,))
        measures = to_measures(values) if cycles.passed else []
    model_score = score(measures) if clip_quality.ok and measures else None
    return TaskResult(TASK, None, duration, clip_quality, measures, model_score, signal)


def _failed(q: Quality, *names: str) -> bool:
    return any(c.name in names and not c.passed for c in q.checks)
