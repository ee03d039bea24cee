"""The benchmark table, generated from the results files (never typed by hand).

Reads bench/results/*.json (the full runs; with --short, bench/results/short/*.json) as written by
bench/common.py's `write_result`, and writes one Markdown table of every script's headline figures:
script, figure, value, baseline (measured in the same run), ratio, target, met; under a line saying
which machine ran them (cpus, python, load average) and when. A results file without `figures`
(written before bench/common.py) is listed as "not run with the current format".

The full run's table goes to bench/results/TABLE.md and into README.md between
`<!-- bench-table:start -->` and `<!-- bench-table:end -->`; the short run's to
bench/results/short/TABLE.md only (the README shows the full run).

    .venv/bin/python bench/report.py [--short]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
OLD_FORMAT = "not run with the current format"


def load_results(folder: Path) -> list[tuple[str, dict[str, Any] | None, str | None]]:
    """(name, parsed file or None, problem) for every *.json in `folder`, by name."""
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            out.append((path.stem, None, f"unreadable results file ({type(exc).__name__})"))
            continue
        if not isinstance(data, dict):
            out.append((path.stem, None, "unreadable results file (not an object)"))
            continue
        out.append((path.stem, data, None))
    return out


def number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def cell(text: Any) -> str:
    """Table-safe text: one line, pipes escaped (figure names come from the scripts)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def with_unit(value: Any, unit: str | None) -> str:
    shown = number(value)
    return f"{shown} {unit}" if shown and unit else shown


def figure_row(script: str, fig: dict[str, Any]) -> list[str]:
    unit = fig.get("unit")
    baseline = ""
    if fig.get("baseline") is not None or fig.get("baseline_value") is not None:
        parts = [p for p in (fig.get("baseline"), with_unit(fig.get("baseline_value"), unit)) if p]
        baseline = ": ".join(str(p) for p in parts)
    met = fig.get("met")
    return [script, fig.get("name", ""), with_unit(fig.get("value"), unit), baseline,
            number(fig.get("ratio")), fig.get("target") or "",
            "" if met is None else ("yes" if met else "**no**")]


def machine_line(results: list[dict[str, Any]]) -> str:
    machines = [r.get("machine") for r in results if isinstance(r.get("machine"), dict)]
    if not machines:
        return "Machine: not recorded."

    def values(key):
        return sorted({m.get(key) for m in machines if m.get(key) is not None}, key=str)

    cpus = ", ".join(str(v) for v in values("cpus")) or "?"
    python = ", ".join(str(v) for v in values("python")) or "?"
    processor = ", ".join(str(v) for v in values("processor"))
    loads = [m["load_average_1min"] for m in machines if isinstance(m.get("load_average_1min"), (int, float))]
    load = (f"{min(loads):.2f}" if min(loads) == max(loads) else f"{min(loads):.2f} to {max(loads):.2f}") if loads else "?"
    dates = sorted({str(r["when"])[:10] for r in results if r.get("when")})
    when = (dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}") if dates else "?"
    proc = f" ({processor})" if processor else ""
    return (f"Machine: {cpus} CPUs{proc}, Python {python}; 1-minute load average {load} when the scripts "
            f"finished; run {when} (UTC).")


def render(folder: Path, short: bool = False) -> str:
    loaded = load_results(folder)
    current = [data for _, data, _ in loaded if data is not None and "figures" in data]
    header = ["script", "figure", "value", "baseline (same run)", "ratio", "target", "met"]
    newest = max((str(d["when"])[:10] for d in current if d.get("when")), default=None)
    rows = []
    for name, data, problem in loaded:
        if data is not None and "figures" in data and data.get("when") and str(data["when"])[:10] != newest:
            name = f"{name} (run {str(data['when'])[:10]})"  # older than the rest: its script did not run since
        if data is None:
            rows.append([name, f"*{problem}*", "", "", "", "", ""])
        elif "figures" not in data:
            rows.append([name, f"*{OLD_FORMAT}*", "", "", "", "", ""])
        elif not data["figures"]:
            why = f" ({data['refused']})" if data.get("refused") else ""
            rows.append([name, f"*no headline figure in this run{why}*", "", "", "", "", ""])
        else:
            rows.extend(figure_row(name, fig) for fig in data["figures"])
    kind = "short form (`make bench-short`, CI)" if short else "full run (`make bench`)"
    lines = [f"Generated by `bench/report.py` from `{folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder}"
             f"/*.json`, {kind}; do not edit by hand.", "", machine_line(current), ""]
    if not rows:
        return "\n".join(lines + ["No results yet: run `make bench`.", ""])
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(" --- " for _ in header) + "|")
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def insert_table(readme: str, table: str) -> str:
    """README text with everything between the markers replaced by `table`."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"the README has no {START} ... {END} markers (in its '## Benchmarks' section)")
    return readme[: start + len(START)] + "\n" + table.rstrip("\n") + "\n" + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the short form's results (bench/results/short/)")
    parser.add_argument("--results", type=Path, help="the results folder (default: bench/results[/short])")
    parser.add_argument("--readme", type=Path, default=README,
                        help="the README to insert the full run's table into (default: README.md)")
    args = parser.parse_args(argv)
    folder = args.results or (RESULTS_DIR / "short" if args.short else RESULTS_DIR)
    table = render(folder, short=args.short)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "TABLE.md").write_text(table)
    print(f"wrote {folder / 'TABLE.md'}")
    if not args.short:
        try:
            args.readme.write_text(insert_table(args.readme.read_text(), table))
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"updated the table in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
