"""Explanations of a visit must cost no more than its analysis.

One real sustained vowel (tests/fixtures/voice, public Iyer 2023 recording) and one synthetic 10 s
finger-tapping video (real hand photo, warped thumb; generated into a temp dir, not timed). For
each: analysis time (decode + quality + measures + score; the tapping clip decoded and tracked
with MediaPipe, no landmark cache) vs explanation time (integrated gradients, temporal occlusion,
landmark freezing, and for the video the key frame decoded for the landmark panel), measured in
the same run. Prints the per-clip and visit ratios and writes bench/results/explain.json
(--short: one repeat; bench/results/short/). Exits 1 when the visit's ratio is above 1.

    .venv/bin/python bench/explain.py [--repeats 3] [--short]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/numba_cache")

from bench.common import Figure, add_short_flag, write_result  # noqa: E402

VOWEL = next((ROOT / "tests" / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


def _time(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(path: Path, task: str, side: str | None, repeats: int, key_frame: bool,
            required: bool = True) -> dict:
    """Analysis and explanation times of one recording. A model that abstains by design (the voice
    model is withheld: no score, so nothing to explain) gives {"not_explained": reason} when not
    `required`; an unscored required clip stops the benchmark."""
    from core.analysis import analyze_recording
    from core.explain import decode_key_frame, explain_result

    analysis, explanation = [], []
    result = out = None
    for _ in range(repeats):
        t_a, result = _time(lambda: analyze_recording(path, task, side))
        if not required and result.quality.ok and result.score is not None and result.score.probability is None:
            return {"task": task, "file": path.name, "analysis_s": round(t_a, 3),
                    "not_explained": result.score.abstained or "the model gave no probability"}
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
    add_short_flag(parser)
    args = parser.parse_args(argv)
    repeats = 1 if args.short else args.repeats

    import torch

    torch.set_num_threads(1)
    from core.explain import measure_attributions  # noqa: F401  (warm imports: captum, torch)
    from tests.fixtures.fused.clips import write_tapping_clip

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_tapping_clip(Path(tmp) / "synthetic_tapping_10s.mp4", seconds=10.0)
        measure(VOWEL, "vowel", None, 1, False, required=False)  # warm-up: first Praat, captum and model loads
        voice = measure(VOWEL, "vowel", None, repeats, False, required=False)
        tapping = measure(clip, "finger_tapping", "left", repeats, True)
    # the visit is what gets explained: a recording whose model abstains has no explanation
    explained = [r for r in (voice, tapping) if "not_explained" not in r]
    visit_analysis = sum(r["analysis_s"] for r in explained)
    visit_explanation = sum(r["explanation_s"] for r in explained)
    result = {
        "benchmark": "explain",
        "what": "explanation time vs analysis time of one visit (one vowel, one 10 s tapping clip), same run",
        "repeats": repeats, "statistic": "median",
        "voice": voice, "finger_tapping": tapping,
        "visit": {"explained": [r["task"] for r in explained],
                  "analysis_s": round(visit_analysis, 3), "explanation_s": round(visit_explanation, 3),
                  "ratio": round(visit_explanation / visit_analysis, 3)},
    }
    for name in ("voice", "finger_tapping"):
        r = result[name]
        if "not_explained" in r:
            print(f"{name:15s} analysis {r['analysis_s']:.3f} s  not explained: {r['not_explained'][:80]}")
            continue
        print(f"{name:15s} analysis {r['analysis_s']:.3f} s  explanation {r['explanation_s']:.3f} s  "
              f"ratio {r['ratio']:.2f}  ({r['windows']} windows, {r['explanation_json_bytes']} bytes JSON)")
    v = result["visit"]
    print(f"{'visit':15s} analysis {v['analysis_s']:.3f} s  explanation {v['explanation_s']:.3f} s  "
          f"ratio {v['ratio']:.2f} (target <= 1)")
    label = " + ".join({"vowel": "vowel", "finger_tapping": "10 s tapping clip"}[r["task"]] for r in explained)
    figures = [Figure(f"explanations of one visit's scored recordings ({label}) / their analysis", v["explanation_s"], "s",
                      baseline="analysis of the same recordings", baseline_value=v["analysis_s"], ratio=v["ratio"],
                      target="ratio <= 1", met=v["ratio"] <= 1.0)]
    for name, label in (("voice", "vowel"), ("finger_tapping", "10 s tapping clip")):
        r = result[name]
        if "not_explained" in r or len(explained) < 2:  # one explained recording: the visit figure is it
            continue
        figures.append(Figure(f"explanation of a {label} / its analysis", r["explanation_s"], "s",
                              baseline="analysis of the same recording", baseline_value=r["analysis_s"],
                              ratio=r["ratio"]))
    out = write_result("explain", result, figures, short=args.short)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0 if v["ratio"] <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
