"""What every bench script shares: the machine it ran on, and one result file per script whose
`figures` list the README's benchmark table is generated from (bench/report.py).

A figure is one headline number with the baseline it is compared with in the same run:

    Figure("stop-to-result, 10 s tapping clip", 1.2, "s", baseline="post-hoc analysis of the same clip",
           baseline_value=6.1, target="<= 1.5 s", met=True)

`ratio` is value / baseline_value unless given. Scripts call `write_result(name, data, figures)`,
which writes bench/results/<name>.json with `data`, `figures` and `machine`. `--short` (every
script accepts it through `add_short_flag`) runs a reduced form for CI: fewer repeats, smaller
inputs; its results go to bench/results/short/ so they never overwrite the full run's.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    name: str  # what is measured, in words a reader of the README understands
    value: float
    unit: str  # "s", "x" (a ratio), "ms", "%"...
    baseline: str | None = None  # what the value is compared with, measured in the same run
    baseline_value: float | None = None
    ratio: float | None = None  # value / baseline_value unless given
    target: str | None = None  # e.g. "<= 1.5 s", from the issue that asked for the figure
    met: bool | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline_value:
            self.ratio = self.value / self.baseline_value


def machine() -> dict[str, Any]:
    """The machine and how busy it was (other work slows every figure down)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"python": platform.python_version(), "processor": platform.machine(), "cpus": os.cpu_count(),
            "platform": platform.platform(terse=True), "load_average_1min": load}


def add_short_flag(parser) -> None:
    parser.add_argument("--short", action="store_true",
                        help="a reduced run for CI (fewer repeats, smaller inputs); results in bench/results/short/")


def write_result(name: str, data: dict[str, Any], figures: list[Figure], short: bool = False) -> Path:
    folder = RESULTS_DIR / "short" if short else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    out = dict(data)
    out["figures"] = [asdict(f) for f in figures]
    out["machine"] = machine()
    out["when"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out["short"] = bool(short)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")
    return path
