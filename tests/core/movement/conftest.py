"""Movement clips encoded once per test session (in a temporary folder) for the hand-framing
tests: they stand for the real recordings clinics make (see tests/fixtures/movement/seated.py)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.movement.clips import frames_only, tapping_frames, write_video
from tests.fixtures.movement.seated import seated_frames

HIGH_QUALITY = {"crf": "17"}  # phones record 1080p at 15-20 Mbit/s: far less blocky than the x264 default


@pytest.fixture(scope="session")
def movement_clips(tmp_path_factory):
    """Lazily encoded clips by name (each encoded at most once per session)."""
    folder = tmp_path_factory.mktemp("movement_clips")
    made: dict[str, object] = {}

    def make(name: str):
        if name in made:
            return made[name]
        path = folder / f"{name}.mp4"
        if name == "portrait_60fps_rotated":
            # 1080x1920 upright at 60 fps, stored as a phone does: landscape pixels + a display
            # matrix (90 degrees). The left hand taps 2.5 times a second for 5 s (12 taps).
            frames = (np.ascontiguousarray(np.rot90(rgb, k=-1)) for _, rgb in seated_frames(5.0, fps=60.0))
            write_video(path, frames, fps=60, rotation=90, options=HIGH_QUALITY)
        elif name == "seated_vfr":
            # a variable frame rate around 30 fps (frame gaps 20-47 ms); the left hand taps 3 a second
            rng = np.random.default_rng(3)
            times = np.cumsum(np.r_[0.0, rng.uniform(0.6, 1.4, 149) / 30.0])
            write_video(path, frames_only(seated_frames(0, tested="left", rate_hz=3.0, times=times)),
                        times=times, options=HIGH_QUALITY)
        elif name == "seated_tremor_left":
            write_video(path, frames_only(seated_frames(6.0, movement="tremor", rate_hz=5.0)), fps=30,
                        options=HIGH_QUALITY)
        elif name == "close_up_12_taps":
            write_video(path, frames_only(tapping_frames(seconds=4.5, rate_hz=2.7, start_closed=True)), fps=30)
        elif name == "close_up_6_taps":
            write_video(path, frames_only(tapping_frames(seconds=3.0, rate_hz=2.0, start_closed=True)), fps=30)
        else:
            raise KeyError(name)
        made[name] = path
        return path

    return make


@pytest.fixture(scope="session")
def outcome_clips(tmp_path_factory):
    """Clips of the outcome tests (tests/fixtures/movement/outcome_clips.py), encoded at most once
    per session: outcome_clips(kind, **script) -> (path, script with its truth)."""
    from tests.fixtures.movement.outcome_clips import write_outcome_clip

    folder = tmp_path_factory.mktemp("outcome_clips")
    made: dict[tuple, tuple] = {}

    def make(kind: str, **script):
        key = (kind, tuple(sorted(script.items())))
        if key not in made:
            path = folder / f"{kind}_{len(made)}.mp4"
            made[key] = (path, write_outcome_clip(path, kind, **script))
        return made[key]

    return make
