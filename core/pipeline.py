"""Types every clinical task pipeline returns, so that storage, models, explanations and pages
treat voice and movement alike.

Every pipeline has the same stages: decode -> quality check -> signal -> measures -> model input.
A pipeline raises `UnusableInput` when a file cannot be analysed at all (not audio, corrupt,
empty); a clip that decodes but fails a quality check returns a `TaskResult` whose quality is
not ok and whose score is None. The score itself comes from models.registry.shipped_model_score
(the dependency runs one way: task modules -> models.registry -> these types).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


class UnusableInput(ValueError):
    """A recording that cannot be analysed. str(exc) is one line for the clinician: what went
    wrong and what to do about it. Never contains patient data."""


@dataclass(frozen=True)
class Measure:
    """A named clinical measure: the vocabulary that is stored, trended, explained, exported."""

    name: str  # stable snake_case key, e.g. "jitter_local_pct"
    value: float
    unit: str  # "%", "Hz", "dB", "s", "taps/s", "" ...
    label: str  # what a clinician reads, e.g. "Jitter (local)"
    normal_range: tuple[float | None, float | None] | None = None  # healthy reference, if known
    description: str = ""

    def in_normal_range(self) -> bool | None:
        if self.normal_range is None:
            return None
        lo, hi = self.normal_range
        return (lo is None or self.value >= lo) and (hi is None or self.value <= hi)


@dataclass(frozen=True)
class QualityCheck:
    name: str  # e.g. "duration", "silence", "clipping", "snr", "detection_rate"
    passed: bool
    value: float | None
    unit: str
    message: str  # what was found and, if failed, what to do ("record again in a quieter room")


@dataclass(frozen=True)
class Quality:
    checks: tuple[QualityCheck, ...]

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def problems(self) -> list[str]:
        return [c.message for c in self.checks if not c.passed]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.__dict__ for c in self.checks]}


@dataclass(frozen=True)
class ModelScore:
    """One model's output for one recording or visit."""

    model: str  # "voice", "finger_tapping", "gait", "fused"
    model_version: str
    probability: float | None  # calibrated P(PD-like pattern); None when abstained
    interval: tuple[float, float] | None = None  # uncertainty band on the probability
    severity: float | None = None  # predicted 0-4 MDS-UPDRS item score, where a model gives one
    abstained: str | None = None  # reason when the model declines to score


@dataclass
class TaskResult:
    task: str  # a key of core.tasks.TASKS
    side: str | None  # "left" / "right" for sided tasks
    duration_s: float
    quality: Quality
    measures: list[Measure]
    score: ModelScore | None = None  # None when quality failed or no model exists (tremor)
    # Signals kept for explanations and plots, e.g. {"audio": ndarray, "sample_rate": 16000}
    # or {"times": ndarray, "landmarks": ndarray (frames, 21|33, 3), ...}. Not stored in the DB.
    signal: dict[str, Any] = field(default_factory=dict)

    def measure(self, name: str) -> Measure | None:
        return next((m for m in self.measures if m.name == name), None)

    def measure_values(self) -> dict[str, float]:
        return {m.name: m.value for m in self.measures}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON of the result (signals are left out: they are arrays for plots; NaN -> None)."""

        def number(x: float | None) -> float | None:
            return None if x is None or (isinstance(x, float) and math.isnan(x)) else x

        return {
            "task": self.task,
            "side": self.side,
            "duration_s": round(self.duration_s, 3),
            "quality": self.quality.as_dict(),
            "measures": [
                {
                    "name": m.name,
                    "value": number(m.value),
                    "unit": m.unit,
                    "label": m.label,
                    "normal_range": list(m.normal_range) if m.normal_range else None,
                    "in_normal_range": m.in_normal_range(),
                }
                for m in self.measures
            ],
            "score": asdict(self.score) if self.score else None,
        }
