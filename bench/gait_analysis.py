"""Benchmark: the gait pipeline on a 10 s 640x480 30 fps clip, against MediaPipe alone.

The clip is built from a real photo of a person (skimage.data.astronaut(), public domain) swaying
slightly; a photo cannot walk, so stride detection finds nothing, but decoding and pose
landmarking, which dominate, do the full work. Stages timed in the same run:
  decode      PyAV decoding only
  pose        decoding + MediaPipe PoseLandmarker (VIDEO mode) looking for as many people as the
              pipeline does (gait.NUM_POSES): the baseline "MediaPipe-only"
  analyze     core.movement.gait.analyze (decode, pose, quality, events, measures, model)
and the gait signal processing alone (pose_tracks + events_from_pose + stride_measures +
arm_swing_measures) on a synthetic 20 s walk, and events_from_force + stride_measures on one
~2 min gaitpdb force recording. Writes bench/results/gait_analysis.json (--short: a 5 s clip,
one repeat; results in bench/results/short/).

    .venv/bin/python bench/gait_analysis.py [--repeats 3] [--short]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
from core.config import DATASETS_DIR  # noqa: E402
from core.media.video import VideoReader  # noqa: E402
from core.movement import gait  # noqa: E402
from core.movement.landmarks import extract_pose_landmarks  # noqa: E402
from tests.core.movement.test_gait_pose import synthetic_walk  # noqa: E402
from tests.core.movement.test_gait_video import _astronaut_frames  # noqa: E402
from tests.fixtures.movement.clips import write_video  # noqa: E402

SECONDS, FPS = 10.0, 30
SHORT_SECONDS = 5.0
TARGET_RATIO = 1.2  # issue 13: analysis / MediaPipe-only on the same frames, at most 1.2
FORCE_FILE = DATASETS_DIR / "movement" / "gaitpdb_forces" / "GaCo01_01.txt"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def decode_only(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader.frames())


def pose_only(path: Path):
    # as many people per frame as the pipeline tracks (gait.NUM_POSES): the same MediaPipe work
    with VideoReader(path) as reader:
        return extract_pose_landmarks(reader.frames(), num_poses=gait.NUM_POSES)


def gait_signal_processing(pose) -> None:
    tracks = gait.pose_tracks(pose)
    events = gait.events_from_pose(pose, tracks)
    gait.stride_measures(events, float(pose.times[-1]))
    gait.arm_swing_measures(pose, tracks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    add_short_flag(parser)
    args = parser.parse_args()
    seconds = SHORT_SECONDS if args.short else SECONDS
    repeats = 1 if args.short else args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_video(Path(tmp) / "person_10s.mp4", _astronaut_frames(seconds, FPS), fps=FPS)
        n_frames = decode_only(clip)
        gait.analyze(clip)  # warm-up: imports, MediaPipe graph, model registry
        t = {"decode": [], "pose": [], "analyze": []}
        for _ in range(repeats):
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
        "clip": f"{seconds:.0f} s, 640x480, {FPS} fps H.264, built from skimage astronaut photo",
        "frames": n_frames,
        "repeats": repeats,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "pose_fps": round(n_frames / med["pose"], 1),
        "analyze_fps": round(n_frames / med["analyze"], 1),
        "realtime_factor_analyze": round(seconds / med["analyze"], 2),
        "baseline": "decode + MediaPipe pose only, same clip, same number of people tracked, same run",
        "pose_num_poses": gait.NUM_POSES,
        "analyze_over_pose": round(med["analyze"] / med["pose"], 3),
        "gait_signal_processing_20s_walk_s": round(statistics.median(t_signal), 4),
        "force_events_and_measures_2min_s": round(statistics.median(t_force), 4),
    }
    ratio = med["analyze"] / med["pose"]
    figures = [
        Figure(f"gait analysis of a {seconds:.0f} s clip / MediaPipe-only on the same frames",
               round(med["analyze"], 3), "s", baseline="decode + MediaPipe pose only, same clip",
               baseline_value=round(med["pose"], 3), ratio=round(ratio, 3), target=f"ratio <= {TARGET_RATIO}",
               met=ratio <= TARGET_RATIO),
        Figure(f"gait analysis of a {seconds:.0f} s clip / the clip's duration", round(med["analyze"], 3), "s",
               baseline="clip duration", baseline_value=seconds, ratio=round(med["analyze"] / seconds, 3)),
    ]
    out = write_result("gait_analysis", result, figures, short=args.short)
    print(json.dumps(result, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
