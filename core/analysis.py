"""One recording -> TaskResult, whatever the task. Every task module exposes the same
`analyze(path, side=None) -> TaskResult` (decode -> quality -> signal -> measures -> score)."""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.pipeline import TaskResult, UnusableInput
from core.tasks import task_spec

# task -> its pipeline module (also read by core.vocabulary for each module's measure_infos())
TASK_MODULES = {
    "vowel": "core.voice.vowel",
    "reading": "core.voice.reading",
    "finger_tapping": "core.movement.finger_tapping",
    "tremor": "core.movement.tremor",
    "gait": "core.movement.gait",
    "tug": "core.movement.tug",
    "sit_to_stand": "core.movement.sit_to_stand",
    "gait_speed": "core.movement.gait_speed",
}


@dataclass(frozen=True)
class ClipSetup:
    """What the clinic told pdlens about how a clip was filmed, for the tasks that measure
    distance (gait speed): the patient's height from the patient record, and two floor marks a
    known distance apart that the clinician clicked on a frame of the clip (picture coordinates
    as fractions of the width and height, 0..1). Tasks that need none of it ignore it."""

    height_m: float | None = None
    marks: tuple[tuple[float, float], tuple[float, float]] | None = None
    marks_distance_m: float | None = None

    @classmethod
    def from_json(cls, stored: dict[str, Any] | None, height_m: float | None = None) -> "ClipSetup":
        """Recording.setup_json (marks) plus the patient's height."""
        stored = stored or {}
        marks = stored.get("marks")
        return cls(height_m=height_m,
                   marks=tuple(tuple(float(v) for v in m) for m in marks) if marks else None,
                   marks_distance_m=stored.get("marks_distance_m"))

    def to_json(self) -> dict[str, Any]:
        """What Recording.setup_json keeps (the height lives on the patient record)."""
        if self.marks is None:
            return {}
        return {"marks": [list(m) for m in self.marks], "marks_distance_m": self.marks_distance_m}


def analyze_recording(path: str | Path, task: str, side: str | None = None,
                      cache_path: str | Path | None = None, setup: ClipSetup | None = None) -> TaskResult:
    """cache_path: where movement tasks keep (and reuse) the clip's landmark series (.npz);
    setup: the clip's set-up, passed to the pipelines whose analyze() takes one."""
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
    kwargs: dict[str, Any] = {}
    if cache_path is not None and spec.modality == "movement":
        kwargs["cache_path"] = Path(cache_path)
    if "setup" in inspect.signature(module.analyze).parameters:
        kwargs["setup"] = setup or ClipSetup()
    return module.analyze(path, side=side, **kwargs)
