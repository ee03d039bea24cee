"""Server-side time of the dashboard's patient pages with 10,000 patients and 100,000 visits.

Fills a fresh SQLite database with SYNTHETIC patients and visits (the same filler as
bench/patient_list.py), signs in through streamlit's AppTest and times complete script runs of
the real dashboard (app.py: session check, sidebar, page, table building) for the patient list,
searches, paging and one patient page. The baseline is the same patients page on an EMPTY
database, measured in the same run: the ratio says what the data adds to streamlit's own cost.
Browser rendering is not included. Writes bench/results/dashboard_patients.json (--short: 2,000
patients, 20,000 visits, 3 repeats; bench/results/short/).

    NUMBA_CACHE_DIR=/tmp/numba_cache .venv/bin/python bench/dashboard_patients.py [--repeat 10] [--short]
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
from bench.patient_list import fill  # noqa: E402  (bulk synthetic rows)
from streamlit.testing.v1 import AppTest  # noqa: E402

from core.config import settings  # noqa: E402
from core.store import open_store, repository, transaction  # noqa: E402

SLOWEST_TARGET_MS = 1000  # a patient page answers in under a second
APP = ROOT / "dashboard" / "app.py"
PASSWORD = "bench-password"


def signed_in_app(folder: Path, name: str) -> tuple[AppTest, object]:
    """A fresh clinic database in `folder` with an administrator, and an AppTest signed in."""
    url = f"sqlite:///{folder / f'{name}.sqlite'}"
    os.environ.update(PDLENS_DATA_DIR=str(folder), DATABASE_URL=url, PDLENS_BCRYPT_ROUNDS="4")
    settings.cache_clear()
    sessions = open_store(url)
    with transaction(sessions) as s:
        repository.create_clinician(s, None, username="admin", display_name="Bench Admin", password=PASSWORD, role="admin")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    form = at.get("form")[0]
    form.text_input[0].input("admin")
    form.text_input[1].input(PASSWORD)
    form.button[0].click()
    at.run()
    assert [t.value for t in at.title] == ["Patients"], [t.value for t in at.title]
    return at, sessions


def median_ms(at: AppTest, prepare, repeat: int) -> float:
    prepare(at)
    at.run()  # warm-up
    assert not at.exception, at.exception
    times = []
    for _ in range(repeat):
        prepare(at)
        started = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - started) * 1000)
    assert not at.exception, at.exception
    return statistics.median(times)


def search(query: str):
    def prepare(at: AppTest) -> None:
        at.text_input(key="patient_search").set_value(query)
    return prepare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    add_short_flag(parser)
    args = parser.parse_args()
    if args.short:
        args.patients, args.visits, args.repeat = 2_000, 20_000, 3
    logging.getLogger("streamlit").setLevel(logging.ERROR)

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pdlens-bench-dashboard-") as tmp:
        folder = Path(tmp)
        empty_at, _ = signed_in_app(folder, "empty")
        results["baseline: patients page, empty database"] = median_ms(empty_at, search(""), args.repeat)

        at, sessions = signed_in_app(folder, "full")
        fill_s = fill(sessions, args.patients, args.visits)
        results["patients page, first 25 of all"] = median_ms(at, search(""), args.repeat)
        rows_shown = len(at.dataframe[0].value)
        results["search name substring 'mar'"] = median_ms(at, search("mar"), args.repeat)
        results["search two words 'grace weber'"] = median_ms(at, search("grace weber"), args.repeat)
        results["search MRN prefix 'syn-00421'"] = median_ms(at, search("syn-00421"), args.repeat)
        results["search, no match"] = median_ms(at, search("zzzz"), args.repeat)

        def last_page(at: AppTest) -> None:
            at.text_input(key="patient_search").set_value("")
            at.session_state["patient_list_page"] = 10_000
        results["patients page, last page"] = median_ms(at, last_page, args.repeat)

        with transaction(sessions) as s:
            busiest = max(repository.search_patients(s, "", limit=200), key=lambda row: row.visit_count)
        at.switch_page("views/patient.py")
        at.query_params["patient"] = str(busiest.id)
        results[f"patient page ({busiest.visit_count} visits)"] = median_ms(at, lambda at: None, args.repeat)

    baseline = results["baseline: patients page, empty database"]
    print(f"SYNTHETIC data: {args.patients:,} patients, {args.visits:,} visits, filled in {fill_s:.1f} s (sqlite)")
    print(f"median of {args.repeat} full AppTest script runs; ratio = time / the same page on an empty database")
    print(f"{'page run':42s} {'median ms':>10s} {'x baseline':>11s}")
    for name, ms in results.items():
        print(f"{name:42s} {ms:10.1f} {ms / baseline:11.2f}")
    worst = max(ms for name, ms in results.items() if not name.startswith("baseline"))
    print(f"slowest page run: {worst:.0f} ms ({'well under' if worst < 500 else 'NOT under'} a second)")

    data = {
        "benchmark": "dashboard_patients",
        "data": "synthetic",
        "patients": args.patients,
        "visits": args.visits,
        "repeat": args.repeat,
        "rows_shown": rows_shown,
        "median_ms": {name: round(ms, 1) for name, ms in results.items()},
        "ratio_to_empty_database": {name: round(ms / baseline, 2) for name, ms in results.items()},
    }
    first = results["patients page, first 25 of all"]
    figures = [
        Figure(f"slowest patients or patient page run, {args.patients:,} patients", round(worst, 1), "ms",
               baseline="patients page, empty database", baseline_value=round(baseline, 1),
               target=f"< {SLOWEST_TARGET_MS} ms", met=worst < SLOWEST_TARGET_MS),
        Figure(f"patients page, first 25 of {args.patients:,}", round(first, 1), "ms",
               baseline="patients page, empty database", baseline_value=round(baseline, 1)),
    ]
    out = write_result("dashboard_patients", data, figures, short=args.short)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
