"""Benchmark: the gait pipeline on a 10 s 640x480 30 fps clip, against MediaPipe alone.

The clip is built from a real photo of a person (skimage.data.astronaut(), public domain) swaying
slightly; a photo cannot walk, so stride detection finds nothing, but decoding and pose
landmarking, which dominate, do the full work. Stages timed in the same run:
  decode      PyAV decoding only
  pose        decoding + MediaPipe PoseLandmarker (VIDEO mode): the baseline "MediaPipe-only"
  analyze     core.movement.gait.analyze (decode, pose, quality, events, measures, model)
and the gait signal processing alone (pose_tracks + events_from_pose + stride_measures +
arm_swing_measures) on a synthetic 20 s walk, and events_from_force + stride_measures on one
~2 min gaitpdb force recording. Writes bench/results/gait_analysis.json.

    .venv/bin/python bench/gait_analysis.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import DATASETS_DIR  # noqa: E402
from core.media.video import VideoReader  # noqa: E402
from core.movement import gait  # noqa: E402
from core.movement.landmarks import extract_pose_landmarks  # noqa: E402
from tests.core.movement.test_gait_pose import synthetic_walk  # noqa: E402
from tests.core.movement.test_gait_video import _astronaut_frames  # noqa: E402
from tests.fixtures.movement.clips import write_video  # noqa: E402

SECONDS, FPS = 10.0, 30
FORCE_FILE = DATASETS_DIR / "movement" / "gaitpdb_forces" / "GaCo01_01.txt"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def decode_only(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader.frames())


def pose_only(path: Path):
    with VideoReader(path) as reader:
        return extract_pose_landmarks(reader.frames())


def gait_signal_processing(pose) -> None:
    tracks = gait.pose_tracks(pose)
    events = gait.events_from_pose(pose, tracks)
    gait.stride_measures(events, float(pose.times[-1]))
    gait.arm_swing_measures(pose, tracks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_video(Path(tmp) / "person_10s.mp4", _astronaut_frames(SECONDS, FPS), fps=FPS)
        n_frames = decode_only(clip)
        gait.analyze(clip)  # warm-up: imports, MediaPipe graph, model registry
        t = {"decode": [], "pose": [], "analyze": []}
        for _ in range(args.repeats):
            t["decode"].append(timed(lambda: decode_only(clip)))
            t["pose"].append(timed(lambda: pose_only(clip)))
            t["analyze"].append(timed(lambda: gait.analyze(clip)))
    walk = synthetic_walk(1.1, (0.40, 0.34), seconds=20.0, view="side")
    t_signal = [timed(lambda: gait_signal_processing(walk)) for _ in range(5)]
    force = gait.load_force_recording(FORCE_FILE)
    t_force = [timed(lambda: gait.stride_measures(gait.events_from_force(*force), float(force[0][-1])))
               for _ in range(5)]
    med = {k: statistics.median(v) for k, v in t.items()}
    result = {
        "clip": f"{SECONDS:.0f} s, 640x480, {FPS} fps H.264, built from skimage astronaut photo",
        "frames": n_frames,
        "repeats": args.repeats,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "pose_fps": round(n_frames / med["pose"], 1),
        "analyze_fps": round(n_frames / med["analyze"], 1),
        "realtime_factor_analyze": round(SECONDS / med["analyze"], 2),
        "baseline": "decode + MediaPipe pose only, same clip, same run",
        "analyze_over_pose": round(med["analyze"] / med["pose"], 3),
        "gait_signal_processing_20s_walk_s": round(statistics.median(t_signal), 4),
        "force_events_and_measures_2min_s": round(statistics.median(t_force), 4),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
    }
    out = ROOT / "bench" / "results" / "gait_analysis.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
