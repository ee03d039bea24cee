"""Explanations of a visit must cost no more than its analysis.

One real sustained vowel (tests/fixtures/voice, public Iyer 2023 recording) and one synthetic 10 s
finger-tapping video (real hand photo, warped thumb; generated into a temp dir, not timed). For
each: analysis time (decode + quality + measures + score; the tapping clip decoded and tracked
with MediaPipe, no landmark cache) vs explanation time (integrated gradients, temporal occlusion,
landmark freezing, and for the video the key frame decoded for the landmark panel), measured in
the same run. Prints the per-clip and visit ratios and writes bench/results/explain.json.

    .venv/bin/python bench/explain.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/numba_cache")

RESULTS = ROOT / "bench" / "results" / "explain.json"
VOWEL = next((ROOT / "tests" / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


def _time(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(path: Path, task: str, side: str | None, repeats: int, key_frame: bool) -> dict:
    from core.analysis import analyze_recording
    from core.explain import decode_key_frame, explain_result

    analysis, explanation = [], []
    result = out = None
    for _ in range(repeats):
        t_a, result = _time(lambda: analyze_recording(path, task, side))
        if result.score is None or result.score.probability is None:
            raise SystemExit(f"{task}: the clip was not scored ({result.quality.problems or result.score}); "
                             "the benchmark needs shipped models and a clip that passes quality.")

        def explain():
            e = explain_result(result)
            if key_frame and e.get("key_frame"):
                decode_key_frame(path, e["key_frame"]["time"])
            return e

        t_e, out = _time(explain)
        analysis.append(t_a)
        explanation.append(t_e)
    a, e = statistics.median(analysis), statistics.median(explanation)
    return {"task": task, "file": path.name, "duration_s": round(result.duration_s, 2),
            "probability": round(result.score.probability, 4),
            "analysis_s": round(a, 3), "explanation_s": round(e, 3), "ratio": round(e / a, 3),
            "analysis_runs_s": [round(x, 3) for x in analysis],
            "explanation_runs_s": [round(x, 3) for x in explanation],
            "windows": len(out["temporal_saliency"]["windows"]),
            "explanation_json_bytes": len(json.dumps(out))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from core.explain import measure_attributions  # noqa: F401  (warm imports: captum, torch)
    from tests.fixtures.fused.clips import write_tapping_clip

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_tapping_clip(Path(tmp) / "synthetic_tapping_10s.mp4", seconds=10.0)
        measure(VOWEL, "vowel", None, 1, False)  # warm-up: first Praat, captum and model loads
        voice = measure(VOWEL, "vowel", None, args.repeats, False)
        tapping = measure(clip, "finger_tapping", "left", args.repeats, True)
    visit_analysis = voice["analysis_s"] + tapping["analysis_s"]
    visit_explanation = voice["explanation_s"] + tapping["explanation_s"]
    result = {
        "benchmark": "explain",
        "what": "explanation time vs analysis time of one visit (one vowel, one 10 s tapping clip), same run",
        "repeats": args.repeats, "statistic": "median",
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "voice": voice, "finger_tapping": tapping,
        "visit": {"analysis_s": round(visit_analysis, 3), "explanation_s": round(visit_explanation, 3),
                  "ratio": round(visit_explanation / visit_analysis, 3)},
    }
    for name in ("voice", "finger_tapping"):
        r = result[name]
        print(f"{name:15s} analysis {r['analysis_s']:.3f} s  explanation {r['explanation_s']:.3f} s  "
              f"ratio {r['ratio']:.2f}  ({r['windows']} windows, {r['explanation_json_bytes']} bytes JSON)")
    v = result["visit"]
    print(f"{'visit':15s} analysis {v['analysis_s']:.3f} s  explanation {v['explanation_s']:.3f} s  "
          f"ratio {v['ratio']:.2f} (target <= 1)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if v["ratio"] <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
