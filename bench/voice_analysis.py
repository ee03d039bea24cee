"""Benchmark: one 5 s sustained vowel, decode -> score, after warm-up.

Uses a real recording of the test fixtures (looped/trimmed to exactly 5 s, written as 16-bit
wav), runs the vowel pipeline stage by stage N times and prints the median seconds of each stage,
its share of the total, and the total as a ratio to the decode time of the same file (the
baseline measured in the same run). Writes bench/results/voice_analysis.json (--short: 3 repeats;
bench/results/short/).

    NUMBA_CACHE_DIR=/tmp/numba_cache .venv/bin/python bench/voice_analysis.py [--repeats 15] [--short]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
from core.media.audio import load_audio  # noqa: E402
from core.voice import nonlinear, quality, vowel  # noqa: E402
from core.voice.praat import pitch_cc, to_sound, voiced_intervals  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "voice" / "HC_sample__AH_322A_C3BF5535-A11E-498E-94EB-BE7E74099FFB.wav"
SECONDS = 5.0


def five_second_vowel(directory: Path) -> Path:
    x, sr = soundfile.read(FIXTURE, dtype="float32")
    n = int(SECONDS * sr)
    looped = np.tile(x, int(np.ceil(n / x.size)))[:n]
    path = directory / "vowel_5s.wav"
    soundfile.write(path, looped, sr, subtype="PCM_16")
    return path


def run_once(path: Path) -> dict[str, float]:
    t = {}
    t0 = time.perf_counter()
    samples, sr = load_audio(path)
    t["decode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sound = to_sound(samples, sr)
    pitch = pitch_cc(sound)
    clip_quality = quality.assess(samples, sr, "vowel", pitch)
    interval = vowel.stable_interval(pitch)
    t["quality"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    start, end = interval
    part = sound.extract_part(from_time=start, to_time=end, preserve_times=False)
    values, cycle_f0 = vowel.praat_measures(part)
    t["praat_measures"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    segment = samples[int(start * sr): int(end * sr)]
    values.update(nonlinear.nonlinear_measures(segment, sr, cycle_f0))
    measures = vowel.to_measures(values)
    t["nonlinear_measures"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    score = vowel.score(measures) if clip_quality.ok else None
    t["model"] = time.perf_counter() - t0
    t["_scored"] = float(score is not None and score.probability is not None)
    return t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    add_short_flag(parser)
    args = parser.parse_args()
    repeats = 3 if args.short else args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        path = five_second_vowel(Path(tmp))
        for _ in range(2):  # warm-up: imports, Praat, torch model load
            run_once(path)
        runs = [run_once(path) for _ in range(repeats)]
        # the whole public entry point too, to check the staged timing adds up
        t_full = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            vowel.analyze(path)
            t_full.append(time.perf_counter() - t0)
    stages = ["decode", "quality", "praat_measures", "nonlinear_measures", "model"]
    median = {s: statistics.median(r[s] for r in runs) for s in stages}
    total = sum(median.values())
    result = {
        "clip": f"{FIXTURE.name} looped to {SECONDS:.0f} s, 16 kHz PCM wav",
        "repeats": repeats,
        "median_s": {s: round(v, 4) for s, v in median.items()},
        "share": {s: round(v / total, 3) for s, v in median.items()},
        "total_median_s": round(total, 4),
        "analyze_median_s": round(statistics.median(t_full), 4),
        "baseline": "decode time of the same file",
        "total_over_decode": round(total / median["decode"], 1),
        "model_scored": bool(runs[-1]["_scored"]),
    }
    print(f"5 s vowel, median of {repeats} runs after warm-up (scored by the model: {result['model_scored']})")
    for s in stages:
        print(f"  {s:<20} {median[s]:.4f} s  {100 * median[s] / total:5.1f}%")
    print(f"  {'total':<20} {total:.4f} s  = {result['total_over_decode']}x decode; vowel.analyze() {result['analyze_median_s']:.4f} s")
    analyze_s = result["analyze_median_s"]
    figures = [
        Figure(f"{SECONDS:.0f} s vowel, decode to score / decode alone", result["total_median_s"], "s",
               baseline="decoding the same file", baseline_value=result["median_s"]["decode"],
               ratio=result["total_over_decode"]),
        Figure(f"{SECONDS:.0f} s vowel, vowel.analyze() / the clip's duration", analyze_s, "s",
               baseline="clip duration", baseline_value=SECONDS, ratio=round(analyze_s / SECONDS, 4)),
    ]
    out = write_result("voice_analysis", result, figures, short=args.short)
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
