"""Server-side time of the dashboard's patient pages with 10,000 patients and 100,000 visits.

Fills a fresh SQLite database with SYNTHETIC patients and visits (the same filler as
bench/patient_list.py), signs in through streamlit's AppTest and times complete script runs of
the real dashboard (app.py: session check, sidebar, page, table building) for the patient list,
searches, paging and one patient page. The baseline is the same patients page on an EMPTY
database, measured in the same run: the ratio says what the data adds to streamlit's own cost.
Browser rendering is not included. Writes bench/results/dashboard_patients.json.

    NUMBA_CACHE_DIR=/tmp/numba_cache .venv/bin/python bench/dashboard_patients.py [--repeat 10]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from patient_list import fill  # noqa: E402  (bench/patient_list.py: bulk synthetic rows)
from streamlit.testing.v1 import AppTest  # noqa: E402

from core.config import settings  # noqa: E402
from core.store import open_store, repository, transaction  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "dashboard_patients.json"
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
    args = parser.parse_args()
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

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "dashboard_patients",
        "data": "synthetic",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "patients": args.patients,
        "visits": args.visits,
        "repeat": args.repeat,
        "rows_shown": rows_shown,
        "median_ms": {name: round(ms, 1) for name, ms in results.items()},
        "ratio_to_empty_database": {name: round(ms / baseline, 2) for name, ms in results.items()},
    }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
