"""Accuracy of the gait-speed pipeline on SYNTHETIC walkers (tests/core/movement/test_gait_speed.py:
a still side-on pinhole camera, a body with Drillis & Contini's proportions, known speed and
cadence; no person recorded). Not a timing benchmark.

For each speed, walking direction, walkway angle to the view and landmark noise: the speed from
floor marks (5 m apart, inside the picture at every angle; rounded to the dashboard's 1% click grid) and from the patient's
height, their error against the truth, and the uncertainty the pipeline states. Writes
bench/results/gait_speed_accuracy.json and prints a summary (--short: the slowest and fastest
speed, 2 px noise only; bench/results/short/).

    .venv/bin/python bench/gait_speed_accuracy.py [--short]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
from core.analysis import ClipSetup  # noqa: E402
from core.movement.gait_speed import analyze_pose  # noqa: E402
from tests.core.movement.test_gait_speed import synthetic_10m_walk  # noqa: E402


SPEEDS, NOISES = (0.5, 0.8, 1.1, 1.4), (0.5, 2.0)
TARGET_PCT = 5.0  # issue 12: gait speed from marks within 5 %


def _grid(point, step=0.01):
    return tuple(round(v / step) * step for v in point)


def run(speeds=SPEEDS, noises=NOISES) -> dict:
    rows = []
    for speed in speeds:
        for direction in (1, -1):
            for angle in (0.0, 10.0, 20.0):
                for noise in noises:
                    cadence = 80 + 30 * speed  # slower walkers take fewer steps a minute
                    pose, project = synthetic_10m_walk(speed=speed, cadence=cadence, direction=direction,
                                                       start=-5.0 * direction, angle_deg=angle, noise_px=noise,
                                                       seed=int(100 * speed) + int(angle))
                    marks = (_grid(project(-2.5 * direction)), _grid(project(2.5 * direction)))
                    by_marks = analyze_pose(pose, ClipSetup(marks=marks, marks_distance_m=5.0))
                    by_height = analyze_pose(pose, ClipSetup(height_m=1.70))
                    row = {"speed": speed, "direction": direction, "angle_deg": angle, "noise_px": noise}
                    for name, result in (("marks", by_marks), ("height", by_height)):
                        v = result.measure("gait_speed_m_s")
                        u = result.measure("gait_speed_uncertainty_pct")
                        c = result.measure("gait_speed_cadence_steps_per_min")
                        row[name] = {
                            "ok": result.quality.ok,
                            "problems": result.quality.problems,
                            "error_pct": None if v is None else 100 * (v.value - speed) / speed,
                            "stated_uncertainty_pct": None if u is None else u.value,
                            "cadence_error_pct": None if c is None else 100 * (c.value - cadence) / cadence,
                        }
                    rows.append(row)
    summary = {}
    for name in ("marks", "height"):
        done = [r[name] for r in rows if r[name]["error_pct"] is not None]
        summary[name] = {
            "clips": len(rows), "measured": len(done),
            "max_abs_error_pct": max(abs(d["error_pct"]) for d in done),
            "within_stated_uncertainty": sum(abs(d["error_pct"]) <= d["stated_uncertainty_pct"] for d in done),
            "max_abs_cadence_error_pct": max(abs(d["cadence_error_pct"]) for d in done
                                             if d["cadence_error_pct"] is not None),
        }
    return {"rows": rows, "summary": summary}


def figures(summary: dict) -> list[Figure]:
    marks, height = summary["marks"], summary["height"]
    return [
        Figure("gait speed from floor marks, synthetic walkers: largest error", round(marks["max_abs_error_pct"], 2),
               "%", baseline="largest error of the speed from the patient's height, same walkers",
               baseline_value=round(height["max_abs_error_pct"], 2), target=f"<= {TARGET_PCT:g} %",
               met=marks["max_abs_error_pct"] <= TARGET_PCT),
        Figure("gait speed from floor marks: walks measured within the stated uncertainty",
               marks["within_stated_uncertainty"], "walks", baseline="walks measured", baseline_value=marks["measured"]),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_short_flag(parser)
    args = parser.parse_args()
    out = run((SPEEDS[0], SPEEDS[-1]), NOISES[-1:]) if args.short else run()
    path = write_result("gait_speed_accuracy", out, figures(out["summary"]), short=args.short)
    print(json.dumps(out["summary"], indent=1))
    print(f"wrote {path.relative_to(ROOT)}")
