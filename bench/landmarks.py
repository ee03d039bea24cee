"""Speed of the finger-tapping video path on this machine.

A 10 s 640x480 30 fps mp4 built from the real hand photo (tests/fixtures/movement) with a
warped tapping thumb and small camera motion. Measures, in the same run:
  decode only (PyAV -> RGB frames), MediaPipe hand landmarks only (on pre-decoded frames),
  and the whole finger_tapping.analyze() (decode + landmarks + quality + features + model).
Prints fps, real-time factors and the ratio of total time to MediaPipe-only time; writes
bench/results/landmarks.json.

    .venv/bin/python bench/landmarks.py [--model full|lite] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.media.video import iter_frames  # noqa: E402
from core.movement import finger_tapping  # noqa: E402
from core.movement.landmarks import extract_hand_landmarks  # noqa: E402
from tests.fixtures.movement.clips import frames_only, tapping_frames, write_video  # noqa: E402

SECONDS, FPS = 10.0, 30.0


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="full", choices=("full", "lite"))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_video(Path(tmp) / "tapping_640x480_30fps.mp4",
                           frames_only(tapping_frames(seconds=SECONDS, fps=FPS)), fps=FPS)
        decode_s, frames = best_of(args.repeat, lambda: list(iter_frames(clip)))
        n = len(frames)
        mediapipe_s, series = best_of(args.repeat, lambda: extract_hand_landmarks(frames, "left", args.model))
        total_s, result = best_of(args.repeat, lambda: finger_tapping.analyze(clip, "left", model=args.model))

    duration = SECONDS
    report = {
        "clip": {"seconds": duration, "fps": FPS, "size": [640, 480], "frames": n, "codec": "h264"},
        "model": args.model,
        "decode": {"seconds": round(decode_s, 3), "fps": round(n / decode_s, 1),
                   "realtime_factor": round(duration / decode_s, 2)},
        "mediapipe_hand": {"seconds": round(mediapipe_s, 3), "fps": round(n / mediapipe_s, 1),
                           "realtime_factor": round(duration / mediapipe_s, 2)},
        "analyze_total": {"seconds": round(total_s, 3), "fps": round(n / total_s, 1),
                          "realtime_factor": round(duration / total_s, 2)},
        "total_over_mediapipe": round(total_s / mediapipe_s, 3),
        "hand_detected_fraction": round(float(series.detected.mean()), 3),
        "quality_ok": result.quality.ok,
        "taps": result.measure_values().get("tap_count"),
    }
    for key in ("decode", "mediapipe_hand", "analyze_total"):
        r = report[key]
        print(f"{key:15s} {r['seconds']:7.2f} s  {r['fps']:7.1f} fps  {r['realtime_factor']:5.2f}x real time")
    print(f"total / MediaPipe-only = {report['total_over_mediapipe']:.2f}")
    out = ROOT / "bench" / "results" / "landmarks.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
