"""One recording -> TaskResult, whatever the task. Every task module exposes the same
`analyze(path, side=None) -> TaskResult` (decode -> quality -> signal -> measures -> score)."""
from __future__ import annotations

import importlib
from pathlib import Path

from core.pipeline import TaskResult, UnusableInput
from core.tasks import task_spec

# task -> its pipeline module (also read by core.vocabulary for each module's measure_infos())
TASK_MODULES = {
    "vowel": "core.voice.vowel",
    "reading": "core.voice.reading",
    "finger_tapping": "core.movement.finger_tapping",
    "tremor": "core.movement.tremor",
    "gait": "core.movement.gait",
}


def analyze_recording(path: str | Path, task: str, side: str | None = None,
                      cache_path: str | Path | None = None) -> TaskResult:
    """cache_path: where movement tasks keep (and reuse) the clip's landmark series (.npz)."""
    spec = task_spec(task)
    if spec.sided and side not in ("left", "right"):
        raise UnusableInput(f"{spec.label} is recorded per hand: say which side (left or right) was tested.")
    path = Path(path)
    if not path.is_file():
        raise UnusableInput(f"File not found: {path.name}")
    if path.stat().st_size == 0:
        raise UnusableInput("The file is empty (0 bytes): record or export it again.")
    module = importlib.import_module(TASK_MODULES[task])
    side = side if spec.sided else None
    if cache_path is not None and spec.modality == "movement":
        return module.analyze(path, side=side, cache_path=Path(cache_path))
    return module.analyze(path, side=side)
