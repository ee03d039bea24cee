"""The measure vocabulary: for every measure name a pipeline can store, what a clinician reads
(label), its unit, the task that measures it, its healthy reference range and where that range
comes from, and which direction is worse.

One source of truth per measure: each task pipeline defines its measures as `MeasureInfo`
entries next to the code that computes them, builds its `Measure` objects from those entries
(`MeasureInfo.measure`), and exposes them as `measure_infos()`:
core/voice/vowel.py, core/voice/reading.py, core/movement/finger_tapping.py (normal ranges from
the public table, read on first use), core/movement/tremor.py, core/movement/gait.py.
This module only gathers them, so the pages and exports that read STORED values (trends,
overview, reports, FHIR) show the same labels and units as the results page. The imported demo
data (core/demo.py) stores vowel measure names; clinician rating items live in core/ratings.py
and model scores are labelled here (`series_label`).

The pipelines are imported on first use, not when this module is imported, so that they can
import `MeasureInfo` from here. A new task module (toe tapping, ...) defines its entries the same
way, exposes `measure_infos()` and is listed in core.analysis.TASK_MODULES; nothing else changes.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from core.analysis import TASK_MODULES
from core.pipeline import Measure
from core.summary import readable as feature_text
from core.tasks import TASKS


@dataclass(frozen=True)
class MeasureInfo:
    """What pdlens knows about one measure, whoever reads it."""

    name: str  # the stored key (MeasureValue.name), e.g. "jitter_local_pct"
    label: str  # what a clinician reads, e.g. "Jitter (local)"
    unit: str  # as stored and shown: "%", "Hz", "s", "taps/s", "" (a ratio)
    task: str  # the core.tasks key of the pipeline that defines it
    normal_range: tuple[float | None, float | None] | None = None  # healthy reference, if known
    source: str = ""  # where the normal range (and the direction) comes from
    higher_is_worse: bool | None = None  # None: no established direction (e.g. pitch, tremor frequency)
    description: str = ""
    # A published clinical cut-off for people with Parkinson's (e.g. fall risk), beyond which
    # (in the worse direction) the value is flagged, and its wording with the source:
    # "above 11.5 s: higher fall risk in Parkinson's (Nocera et al. 2013)". None: no cut-off.
    cutoff: float | None = None
    cutoff_text: str = ""

    def beyond_cutoff(self, value: float) -> bool | None:
        """True when `value` lies beyond the published cut-off in the worse direction."""
        if self.cutoff is None or self.higher_is_worse is None or value != value:
            return None
        return value > self.cutoff if self.higher_is_worse else value < self.cutoff

    def measure(self, value: float, normal_range: tuple[float | None, float | None] | None = None) -> Measure:
        """This measure's value as the pipelines return it (`normal_range` overrides the entry's)."""
        return Measure(self.name, float(value), self.unit, self.label,
                       self.normal_range if normal_range is None else normal_range, self.description)

    @property
    def worse(self) -> str:
        """"higher", "lower" or "" (the wording core.trends uses)."""
        return {True: "higher", False: "lower"}.get(self.higher_is_worse, "")


@lru_cache(maxsize=1)
def _build() -> tuple[Mapping[str, MeasureInfo], Mapping[str, tuple[str, ...]]]:
    infos: dict[str, MeasureInfo] = {}
    tasks: dict[str, list[str]] = {}
    for task, module in TASK_MODULES.items():
        for info in importlib.import_module(module).measure_infos():
            known = infos.get(info.name)
            # A name shared by two tasks (mean F0 in vowel and reading) must be ONE definition.
            if known is not None and (known.label, known.unit) != (info.label, info.unit):
                raise RuntimeError(f"Measure '{info.name}' is defined twice with different labels or units "
                                   f"({known.task}, {task}): define it once and reuse the entry.")
            infos.setdefault(info.name, info)
            tasks.setdefault(info.name, []).append(task)
    return MappingProxyType(infos), MappingProxyType({k: tuple(v) for k, v in tasks.items()})


def catalogue() -> Mapping[str, MeasureInfo]:
    """Every measure any pipeline can emit, by name, in task order."""
    return _build()[0]


def measure_info(name: str) -> MeasureInfo | None:
    return catalogue().get(name)


def measure_tasks(name: str) -> tuple[str, ...]:
    """The tasks whose pipelines emit `name` (mean F0: vowel and reading)."""
    return _build()[1].get(name, ())


def readable(name: str) -> str:
    """A stored name nobody defined any more (an old or foreign export), made readable:
    'tap_rate_hz' -> 'Tap rate hz'."""
    text = feature_text(name).strip()
    return text[:1].upper() + text[1:]


def label(name: str) -> str:
    """What a clinician reads for a stored measure name."""
    info = measure_info(name)
    return info.label if info else readable(name)


def unit(name: str, stored: str | None = None) -> str:
    """The measure's unit; a stored unit wins (it is what the value was measured in)."""
    if stored:
        return stored
    info = measure_info(name)
    return info.unit if info else ""


def label_with_unit(name: str, stored_unit: str | None = None) -> str:
    """'Tapping rate (taps/s)'; no brackets for unitless ratios."""
    u = unit(name, stored_unit)
    return f"{label(name)} ({u})" if u else label(name)


def worse_direction(name: str) -> str:
    """"higher", "lower" or "" for a measure name ("" when unknown or not established)."""
    info = measure_info(name)
    return info.worse if info else ""


def with_side(text: str, side: str | None) -> str:
    return f"{text} ({side})" if isinstance(side, str) and side else text


VISIT_SCORE = "Visit score (combined)"  # the fused model's score, in the words on every page


def score_label(model: str) -> str:
    """'fused' -> 'Visit score (combined)', 'finger_tapping' -> 'Finger tapping score'."""
    if model == "fused":
        return VISIT_SCORE
    return f"{readable(model)} score"


def series_label(key: str, side: str | None = None) -> str:
    """The label of a trend series key: "score:<model>", "rating:<item>" or a measure name."""
    if key.startswith("score:"):
        return with_side(score_label(key[len("score:"):]), side)
    if key.startswith("rating:"):
        from core.ratings import rating_label

        return rating_label(key[len("rating:"):], side)
    return with_side(label(key), side)


def task_label(task: str | None) -> str:
    """A task key as a clinician reads it; measures imported without a recording carry the
    importing model's name instead of a task (the demo's UCI telemonitoring import)."""
    if not isinstance(task, str) or not task:
        return "Visit"
    if task in TASKS:
        return TASKS[task].label
    from core.demo import IMPORT_MODEL_NAME

    if task == IMPORT_MODEL_NAME:
        return "Voice, imported (UCI telemonitoring)"
    return readable(task)
