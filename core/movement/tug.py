"""tug: placeholder until its pipeline lands (issue 12). Refuses every clip."""
from __future__ import annotations

from pathlib import Path

from core.vocabulary import MeasureInfo

MEASURES: tuple[MeasureInfo, ...] = ()


def measure_infos() -> tuple[MeasureInfo, ...]:
    return MEASURES


def analyze(path: str | Path, side: str | None = None, cache_path: str | Path | None = None, setup=None):
    from core.pipeline import UnusableInput

    raise UnusableInput("This outcome test cannot be analysed yet.")
