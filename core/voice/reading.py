"""Reading passage: decode -> quality -> prosody measures (rate, pauses, monopitch, monoloudness).

Syllable nuclei are found with the intensity-peak method of de Jong & Wempe (Behav Res Methods
2009;41:385-390): peaks of Praat's intensity contour that stand above a silence threshold (25 dB
under the 99th percentile of the intensity), are separated from the previous peak by a dip of at
least 2 dB, and fall in a voiced frame. Pauses are stretches below the silence threshold of at
least 0.25 s between the first and the last sound (leading and trailing silence of the recording
do not count).

Published direction in Parkinson's speech (Rusz et al., J Acoust Soc Am 2011;129:350-367; Skodda
& Schlegel 2008): lower F0 variability (monopitch), lower intensity variability (monoloudness),
more and longer pauses. Normal values depend on the passage, language, age and sex, so no range
is shown here; the trend of one patient across visits is the useful reading.
No model scores the reading task: measures only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import parselmouth
from parselmouth.praat import call

from core.media.audio import MAX_AUDIO_SECONDS, load_audio
from core.pipeline import Measure, TaskResult
from core.tasks import task_spec
from core.vocabulary import MeasureInfo
from core.voice import quality, vowel
from core.voice.praat import f0_track, pitch_cc, to_sound, voiced_intervals

TASK = "reading"
SILENCE_BELOW_PEAK_DB = 25.0  # de Jong & Wempe's default silence threshold
MIN_DIP_DB = 2.0  # de Jong & Wempe's default minimum dip between syllable peaks
MIN_PAUSE_S = 0.25  # shortest silent interval counted as a pause (Goldman-Eisler's 250 ms convention)
INTENSITY_PITCH_FLOOR_HZ = 50.0  # analysis window of the intensity contour (~64 ms), as de Jong & Wempe
INTENSITY_TIME_STEP_S = 0.01


# Direction, from the published findings above: monopitch, monoloudness and more and longer
# pauses are worse; speech rate goes either way in Parkinson's disease (no direction).
_PROSODY = "Rusz et al., J Acoust Soc Am 2011;129:350-367; Skodda & Schlegel 2008"


def _prosody(name: str, label: str, unit: str, description: str = "", higher_is_worse: bool | None = None,
             ) -> MeasureInfo:
    return MeasureInfo(name, label, unit, TASK, None, _PROSODY if higher_is_worse is not None else "",
                       higher_is_worse, description)


MEASURES: tuple[MeasureInfo, ...] = (
    _prosody("speech_rate_syl_s", "Speech rate", "syll/s",
             "Syllable nuclei (de Jong & Wempe intensity peaks) per second, pauses included."),
    _prosody("articulation_rate_syl_s", "Articulation rate", "syll/s",
             "Syllable nuclei per second of speaking time (pauses of 0.25 s or more excluded)."),
    _prosody("pause_ratio", "Pause ratio", "",
             "Share of the time from first to last sound spent in pauses of 0.25 s or more.", True),
    _prosody("pause_count", "Pauses", "",
             "Number of silent pauses of 0.25 s or more between the first and the last sound.", True),
    _prosody("pause_mean_s", "Mean pause length", "s", higher_is_worse=True),
    vowel.MEASURES_BY_NAME["f0_mean_hz"],  # the same measure as the vowel's: one definition
    _prosody("f0_sd_semitones", "Pitch variability (F0 SD)", "st",
             "SD of F0 in semitones over voiced frames; low values mean monotonous speech (monopitch).", False),
    _prosody("intensity_sd_db", "Loudness variability (intensity SD)", "dB",
             "SD of the intensity contour over sounding frames; low values mean monoloudness.", False),
)
_BY_NAME = {m.name: m for m in MEASURES}


def measure_infos() -> tuple[MeasureInfo, ...]:
    """This pipeline's measures (gathered by core.vocabulary)."""
    return MEASURES


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a boolean array."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def syllable_nuclei(intensity_db: np.ndarray, times: np.ndarray, threshold_db: float,
                    voiced_at: callable) -> np.ndarray:
    """Times of syllable nuclei: intensity peaks above threshold, >= MIN_DIP_DB above the dip
    since the previous accepted peak, in voiced frames."""
    x = intensity_db
    is_peak = np.r_[False, (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:]), False] & (x > threshold_db)
    nuclei: list[int] = []
    for i in np.flatnonzero(is_peak):
        if nuclei:
            dip = np.min(x[nuclei[-1]: i + 1])
            if min(x[nuclei[-1]], x[i]) - dip < MIN_DIP_DB:
                if x[i] > x[nuclei[-1]]:  # same syllable, keep the higher peak
                    nuclei[-1] = i
                continue
        nuclei.append(i)
    return np.array([times[i] for i in nuclei if voiced_at(times[i])])


def reading_measures(sound: parselmouth.Sound, pitch: parselmouth.Pitch) -> tuple[list[Measure], dict]:
    intensity = call(sound, "To Intensity", INTENSITY_PITCH_FLOOR_HZ, INTENSITY_TIME_STEP_S, "yes")
    level = intensity.values[0]
    times = intensity.xs()
    threshold = max(np.percentile(level, 99) - SILENCE_BELOW_PEAK_DB, np.min(level))
    sounding = level > threshold
    if not sounding.any():
        return [], {}
    first, last = np.flatnonzero(sounding)[[0, -1]]
    step = intensity.time_step
    span_s = (last - first + 1) * step
    pauses = [(times[first + s], (e - s) * step) for s, e in _runs(~sounding[first:last + 1])
              if (e - s) * step >= MIN_PAUSE_S]
    pause_total = sum(d for _, d in pauses)
    phonation_s = max(span_s - pause_total, step)

    f0_times, f0 = f0_track(pitch)
    voiced_f0 = f0[f0 > 0]

    def voiced_at(t: float) -> bool:
        i = int(np.argmin(np.abs(f0_times - t))) if f0_times.size else 0
        return bool(f0_times.size and f0[i] > 0 and abs(f0_times[i] - t) <= pitch.time_step)

    nuclei = syllable_nuclei(level, times, threshold, voiced_at)
    semitones = 12 * np.log2(voiced_f0 / 100.0) if voiced_f0.size else np.zeros(0)
    values = {
        "speech_rate_syl_s": nuclei.size / span_s,
        "articulation_rate_syl_s": nuclei.size / phonation_s,
        "pause_ratio": pause_total / span_s,
        "pause_count": len(pauses),
        "pause_mean_s": pause_total / len(pauses) if pauses else 0.0,
        "f0_mean_hz": np.mean(voiced_f0) if voiced_f0.size else float("nan"),
        "f0_sd_semitones": np.std(semitones) if semitones.size > 1 else float("nan"),
        "intensity_sd_db": np.std(level[sounding]),
    }
    measures = [_BY_NAME[name].measure(value) for name, value in values.items()]
    details = {"syllable_nuclei_s": nuclei.tolist(), "pauses": [(round(t, 3), round(d, 3)) for t, d in pauses],
               "speech_span_s": (float(times[first]), float(times[last]))}
    return measures, details


def analyze(path: str | Path, side: str | None = None) -> TaskResult:
    """One reading-passage recording -> quality and prosody measures (no model score)."""
    samples, sr = load_audio(path, max_seconds=MAX_AUDIO_SECONDS)
    return analyze_samples(samples, sr)


def analyze_samples(samples: np.ndarray, sample_rate: int) -> TaskResult:
    duration = samples.size / sample_rate
    signal: dict = {"audio": samples, "sample_rate": sample_rate, "voiced_intervals": []}
    if duration > task_spec(TASK).max_seconds:
        return TaskResult(TASK, None, duration, quality.assess(samples, sample_rate, TASK, None), [], None, signal)
    sound = to_sound(samples, sample_rate)
    pitch = pitch_cc(sound)
    signal["voiced_intervals"] = voiced_intervals(pitch)
    clip_quality = quality.assess(samples, sample_rate, TASK, pitch)
    measures: list[Measure] = []
    if not any(c.name in ("silence", "noise_like") and not c.passed for c in clip_quality.checks):
        measures, details = reading_measures(sound, pitch)
        signal.update(details)
    return TaskResult(TASK, None, duration, clip_quality, measures, None, signal)
