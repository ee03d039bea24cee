"""Benchmark: a 15 s Timed Up and Go clip analysed end to end, against MediaPipe alone.

The clip is the synthetic TUG composite of tests/fixtures/movement/outcome_clips.py (the head and
shoulders of skimage.data.astronaut(), public domain, on a drawn body that rises from a chair,
walks 3 m, turns, walks back and sits; 640x480, 30 fps H.264). Stages timed in the same run:
  decode      PyAV decoding only
  pose        decoding + MediaPipe PoseLandmarker (VIDEO mode) on the SAME frames the pipeline
              analyses (thinned to at most 1/15 s apart, core.movement.frames.thinned) with as
              many people per frame as it tracks (core.movement.gait.NUM_POSES), nothing else:
              the baseline "MediaPipe-only"
  pose_all    the same on every frame (what analysing every frame of the clip would cost)
  analyze     core.analysis.analyze_recording(clip, "tug"): the whole pipeline
Figures: analyze / pose (the pipeline's cost over MediaPipe's on the same frames) and analyze /
clip duration (the issue's target: below 1, faster than the clip plays). If the pipeline refuses
the clip, the refusal is reported and only decode and pose are measured. When it runs, its TUG
time is reported beside the script's true time.
Writes bench/results/outcome_tests.json (--short: one repeat and no pose_all, which only says what
analysing every frame would cost; results in bench/results/short/).

    .venv/bin/python bench/outcome_tests.py [--repeats 3] [--short]
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

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
from core.analysis import ClipSetup, analyze_recording  # noqa: E402
from core.media.video import VideoReader  # noqa: E402
from core.movement.frames import OUTCOME_FRAME_GAP_S, thinned  # noqa: E402
from core.movement.gait import NUM_POSES  # noqa: E402
from core.movement.landmarks import extract_pose_landmarks  # noqa: E402
from core.pipeline import UnusableInput  # noqa: E402
from tests.fixtures.movement.outcome_clips import TugScript, write_outcome_clip  # noqa: E402

SECONDS = 15.0
TARGET_OVER_POSE = 1.2  # issue 13: analysis / MediaPipe-only on the same frames, at most 1.2
TARGET_OVER_DURATION = 1.0  # issue 12: analysed faster than the clip plays


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def decode_only(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader.frames())


def pose_only(path: Path, num_poses: int, every_frame: bool = False):
    with VideoReader(path) as reader:
        frames = reader.frames() if every_frame else thinned(reader.frames(), OUTCOME_FRAME_GAP_S)
        return extract_pose_landmarks(frames, num_poses=num_poses)


def analyze(path: Path, setup: ClipSetup):
    """The TaskResult, or the one-line reason the pipeline refused the clip."""
    try:
        return analyze_recording(path, "tug", setup=setup)
    except UnusableInput as exc:
        return str(exc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    add_short_flag(parser)
    args = parser.parse_args()
    repeats = 1 if args.short else args.repeats
    load_before = os.getloadavg()[0]
    script = TugScript()
    # the default script is 15 s long; stretch the seated end if its phases are ever changed
    script = TugScript(seated_after_s=script.seated_after_s + SECONDS - script.duration_s)
    num_poses = NUM_POSES
    setup = ClipSetup(height_m=script.height_m)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "tug_15s.mp4"
        write_outcome_clip(clip, "tug", seated_after_s=script.seated_after_s)
        n_frames = decode_only(clip)
        first = analyze(clip, setup)  # warm-up: imports, MediaPipe graph
        missing = isinstance(first, str)
        analysed_frames = len(pose_only(clip, num_poses).times)
        t = {"decode": [], "pose": [], "pose_all": [], "analyze": []}
        for _ in range(repeats):
            t["decode"].append(timed(lambda: decode_only(clip)))
            t["pose"].append(timed(lambda: pose_only(clip, num_poses)))
            if not args.short:
                t["pose_all"].append(timed(lambda: pose_only(clip, num_poses, every_frame=True)))
            if not missing:
                t["analyze"].append(timed(lambda: analyze(clip, setup)))
    med = {k: statistics.median(v) for k, v in t.items() if v}
    result = {
        "clip": f"{script.duration_s:.0f} s synthetic TUG composite, {script.width}x{script.height}, "
                f"{script.fps:.0f} fps H.264, built from skimage astronaut photo",
        "frames": n_frames,
        "frames_analysed": analysed_frames,
        "repeats": repeats,
        "pipeline": "refused the clip" if missing else "core.movement.tug",
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "pose_num_poses": num_poses,
        "pose_frames_per_s": round(analysed_frames / med["pose"], 1),
        "pose_over_duration": round(med["pose"] / script.duration_s, 3),
        "pose_all_over_duration": round(med["pose_all"] / script.duration_s, 3) if "pose_all" in med else None,
        "baseline": "decode + MediaPipe pose only on the frames the pipeline analyses, same clip, same run",
    }
    if missing:
        result["refused"] = first
    else:
        result["analyze_over_pose"] = round(med["analyze"] / med["pose"], 3)
        result["analyze_over_pose_all"] = round(med["analyze"] / med["pose_all"], 3) if "pose_all" in med else None
        result["analyze_over_duration"] = round(med["analyze"] / script.duration_s, 3)
        result["target"] = "analyze_over_duration < 1 (analysed faster than the clip plays)"
        result["quality_ok"] = bool(first.quality.ok)
        measured = first.measure("tug_time_s")
        result["tug_time_s"] = {"true": round(script.tug_time_s, 3),
                                "measured": round(measured.value, 3) if measured else None}
    # other work on the machine slows MediaPipe (and so every figure) down: say how busy it was
    # (write_result adds the machine; the load before the run is kept here beside it)
    result["load_average_1min_before"] = round(load_before, 2)
    figures = []
    if not missing:
        over_pose = med["analyze"] / med["pose"]
        over_duration = med["analyze"] / script.duration_s
        figures = [
            Figure(f"TUG analysis of a {script.duration_s:.0f} s clip / MediaPipe-only on the same frames",
                   round(med["analyze"], 3), "s",
                   baseline="decode + MediaPipe pose only on the frames the pipeline analyses",
                   baseline_value=round(med["pose"], 3), ratio=round(over_pose, 3),
                   target=f"ratio <= {TARGET_OVER_POSE}", met=over_pose <= TARGET_OVER_POSE),
            Figure(f"TUG analysis of a {script.duration_s:.0f} s clip / the clip's duration",
                   round(med["analyze"], 3), "s", baseline="clip duration", baseline_value=script.duration_s,
                   ratio=round(over_duration, 3), target=f"ratio < {TARGET_OVER_DURATION:g}",
                   met=over_duration < TARGET_OVER_DURATION),
        ]
    out = write_result("outcome_tests", result, figures, short=args.short)
    print(json.dumps(result, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
