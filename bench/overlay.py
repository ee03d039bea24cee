"""Benchmark: the live landmark overlay of the browser recorder (core.recorders.LandmarkOverlay,
the function the WebRTC video callback runs on the newest frame) on 640x480 frames.

Frames: the real hand photo of the test fixtures with a warped tapping thumb (tests/fixtures/
movement/clips.py), encoded once to H.264 mp4 in a temporary folder. Measured in the same run:
  baseline   decode only (PyAV -> RGB 640x480), frames per second
  hand lite  decode + overlay (hand landmarker lite on a 320 px copy, drawn at 640x480)
  hand 640   the same without the downscale (what the downscale buys)
  pose       decode + pose overlay (pose full, the gait task; no lite pose bundle exists)
Each overlay fps is reported as a ratio to the baseline; a webcam delivers 30 fps, and the
recorder records every frame but overlays only the newest one, so the overlay keeps up when it
sustains about 15 fps or more (every second frame drawn). Writes bench/results/overlay.json
(--short: a 3 s clip, one repeat; bench/results/short/).

    .venv/bin/python bench/overlay.py [--seconds 6] [--repeats 3] [--short]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
from core.recorders import LandmarkOverlay  # noqa: E402
from core.media.video import iter_frames  # noqa: E402
from tests.fixtures.movement.clips import frames_only, tapping_frames, write_video  # noqa: E402

WEBCAM_FPS = 30.0
KEEPS_UP_FPS = WEBCAM_FPS / 2  # the newest of every two webcam frames overlaid


def fps_of(path: Path, overlay_kind: str | None, max_side: int = 320) -> float:
    """Frames per second of decode (+ overlay) over the whole clip, after a warm-up frame."""
    if overlay_kind is None:
        start, n = time.perf_counter(), 0
        for _t, _rgb in iter_frames(path, max_side=None):
            n += 1
        return n / (time.perf_counter() - start)
    with LandmarkOverlay(overlay_kind, max_side=max_side) as overlay:
        frames = iter_frames(path, max_side=None)
        t0, first = next(frames)
        overlay.process(first, t0)  # model load and first inference are not the steady state
        start, n = time.perf_counter(), 0
        for t, rgb in frames:
            out = overlay.process(rgb, t)
            n += 1
        assert out.shape == rgb.shape
        return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=3)
    add_short_flag(parser)
    args = parser.parse_args()
    if args.short:
        args.seconds, args.repeats = 3.0, 1
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_video(Path(tmp) / "tapping.mp4", frames_only(tapping_frames(seconds=args.seconds)), fps=30)
        variants = {"baseline_decode": (None, 320), "hand_lite_320": ("hand", 320),
                    "hand_lite_640": ("hand", 640), "pose_full_320": ("pose", 320)}
        runs: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.repeats):  # interleaved, so machine load hits every variant alike
            for name, (kind, side) in variants.items():
                runs[name].append(fps_of(clip, kind, side))
    fps = {k: statistics.median(v) for k, v in runs.items()}
    base = fps["baseline_decode"]
    result = {
        "what": "live landmark overlay on 640x480 frames (real hand photo, warped tapping), processed fps",
        "frame_size": [640, 480],
        "clip_seconds": args.seconds,
        "repeats": args.repeats,
        "fps_median": {k: round(v, 1) for k, v in fps.items()},
        "ratio_to_decode_baseline": {k: round(v / base, 3) for k, v in fps.items()},
        "share_of_webcam_frames_overlaid": {k: round(min(1.0, v / WEBCAM_FPS), 2) for k, v in fps.items()
                                            if k != "baseline_decode"},
        "all_runs_fps": {k: [round(x, 1) for x in v] for k, v in runs.items()},
        "command": ".venv/bin/python bench/overlay.py --seconds %g --repeats %d" % (args.seconds, args.repeats),
    }
    figures = [
        Figure(f"live overlay, {label}, frames per second", round(fps[key], 1), "fps",
               baseline="decode only, same clip", baseline_value=round(base, 1), ratio=round(fps[key] / base, 3),
               target=f">= {KEEPS_UP_FPS:g} fps (half a 30 fps webcam)", met=fps[key] >= KEEPS_UP_FPS)
        for key, label in (("hand_lite_320", "hand lite at 320 px"), ("pose_full_320", "pose full at 320 px"))
    ]
    out = write_result("overlay", result, figures, short=args.short)
    for k, v in fps.items():
        print(f"{k:<18} {v:7.1f} fps   x{v / base:.3f} of decode")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
