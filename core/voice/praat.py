"""Praat (through parselmouth) settings shared by the voice quality checks and measures, so that
every voice number comes from the same pitch analysis with Praat's standard arguments."""
from __future__ import annotations

import numpy as np
import parselmouth
from parselmouth.praat import call

# Pitch search range for adult voices: Praat's standard floor (75 Hz) and a ceiling that admits
# high female voices and the UCI Parkinsons maxima (MDVP:Fhi up to 592 Hz).
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 600.0
PITCH_TIME_STEP_S = 0.01
# A pause in voicing shorter than this does not break a phonation (Praat's voicing decision
# flickers on rough voices for a frame or two).
VOICING_GAP_MERGE_S = 0.1


def to_sound(samples: np.ndarray, sample_rate: int) -> parselmouth.Sound:
    return parselmouth.Sound(np.asarray(samples, dtype=np.float64), sampling_frequency=sample_rate)


def pitch_cc(sound: parselmouth.Sound) -> parselmouth.Pitch:
    """Praat 'To Pitch (cc)' with its standard arguments (silence 0.03, voicing 0.45, octave cost
    0.01, octave-jump cost 0.35, voiced/unvoiced cost 0.14), floor 75 Hz, ceiling 600 Hz."""
    return call(sound, "To Pitch (cc)", PITCH_TIME_STEP_S, PITCH_FLOOR_HZ, 15, "no",
                0.03, 0.45, 0.01, 0.35, 0.14, PITCH_CEILING_HZ)


def f0_track(pitch: parselmouth.Pitch) -> tuple[np.ndarray, np.ndarray]:
    """(frame times in s, F0 in Hz with 0 where unvoiced)."""
    return pitch.xs(), pitch.selected_array["frequency"]


def voiced_intervals(pitch: parselmouth.Pitch, merge_gap_s: float = VOICING_GAP_MERGE_S) -> list[tuple[float, float]]:
    """Voiced stretches [(start_s, end_s)] from Praat's voicing decision, short gaps merged."""
    times, f0 = f0_track(pitch)
    if times.size == 0:
        return []
    half = pitch.time_step / 2
    voiced = f0 > 0
    edges = np.diff(np.r_[0, voiced.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    intervals: list[tuple[float, float]] = []
    for s, e in zip(starts, ends):
        start, end = times[s] - half, times[e] + half
        if intervals and start - intervals[-1][1] < merge_gap_s:
            intervals[-1] = (intervals[-1][0], end)
        else:
            intervals.append((start, end))
    return [(max(0.0, round(s, 4)), round(e, 4)) for s, e in intervals]
