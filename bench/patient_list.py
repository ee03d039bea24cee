"""How fast the patient list and search answer with 10,000 patients and 100,000 visits.

Fills a fresh SQLite database in a temporary folder with SYNTHETIC patients and visits (bulk
inserts; no real data), then times the repository calls the patient list page makes, each
inside its own transaction as the page does. Prints the median of repeated runs and the ratio
against a baseline measured in the same run (a `SELECT 1` round trip through the same session
machinery), and writes bench/results/patient_list.json (--short: 2,000 patients, 20,000 visits,
5 repeats; bench/results/short/).

    .venv/bin/python bench/patient_list.py [--patients 10000] [--visits 100000] [--repeat 30] [--short]
    .venv/bin/python bench/patient_list.py --url postgresql+psycopg://...   (an EMPTY scratch
        database, e.g. from `scripts/pg-test-server.sh scratch`; its tables are dropped afterwards;
        results go to bench/results/patient_list_postgresql.json)

bench/run.py runs the --url form too when DATABASE_URL_PG is set (BENCH_VARIANTS below).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from bench.common import Figure, add_short_flag, write_result  # noqa: E402

from core.store import (  # noqa: E402
    Patient, Visit, downgrade, make_engine, migrate, repository as repo, session_factory, transaction,
)

# bench/run.py: also run this script with `--url $DATABASE_URL_PG` when that variable is set
BENCH_VARIANTS = {"postgresql": {"env": "DATABASE_URL_PG", "flag": "--url"}}
SLOWEST_TARGET_MS = 1000  # the patient list and search answer in under a second
FIRST = ["Ada", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keiko", "Luis",
         "Maria", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tamar", "Ugo", "Vera", "Wen", "Ximena"]
LAST = ["Martin", "Novak", "Okafor", "Petrov", "Quispe", "Rossi", "Schmidt", "Tanaka", "Umarov", "Varga",
        "Weber", "Xu", "Yilmaz", "Zhang", "Andersen", "Brown", "Costa", "Dubois", "Evans", "Fischer"]


def fill(sessions, n_patients: int, n_visits: int, seed: int = 7) -> float:
    """Bulk-insert synthetic patients and visits; returns seconds taken."""
    rng = random.Random(seed)
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    with transaction(sessions) as s:
        patients = []
        for i in range(n_patients):
            name = f"Synthetic {rng.choice(FIRST)} {rng.choice(LAST)}-{i:05d}"
            mrn = f"SYN-{i:06d}"
            patients.append(dict(
                mrn=mrn, mrn_lower=mrn.lower(), name=name, name_lower=name.lower(),
                birth_date=date(1930, 1, 1) + timedelta(days=rng.randrange(60 * 365)),
                sex=rng.choice(("female", "male")), diagnosis=rng.choice(("pd", "control", "unknown")),
                more_affected_side=rng.choice(("left", "right", "none", "unknown")),
                archived=rng.random() < 0.05, created_at=now, updated_at=now,
            ))
        s.execute(insert(Patient), patients)
        ids = s.scalars(select(Patient.id)).all()
        visits = [
            dict(patient_id=rng.choice(ids), visit_date=date(2015, 1, 1) + timedelta(days=rng.randrange(3650)),
                 medication_state=rng.choice(("on", "off", "unknown")), hours_since_dose=None, clinician_id=None,
                 notes="synthetic", created_at=now)
            for _ in range(n_visits)
        ]
        s.execute(insert(Visit), visits)
    with sessions() as s:
        s.execute(text("ANALYZE"))  # statistics, as a long-running clinic database has them
        s.commit()
    return time.perf_counter() - started


def median_ms(sessions, call, repeat: int) -> float:
    with transaction(sessions) as s:  # warm-up (page cache, statement cache)
        call(s)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        with transaction(sessions) as s:
            call(s)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--url", help="an empty scratch database instead of a temporary SQLite file")
    add_short_flag(parser)
    args = parser.parse_args()
    if args.short:
        args.patients, args.visits, args.repeat = 2_000, 20_000, 5

    with tempfile.TemporaryDirectory(prefix="pdlens-bench-") as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        engine = make_engine(url)
        backend = engine.dialect.name
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as s:
            if repo.count_patients(s, include_archived=True):
                print("error: the database given with --url must be empty (it is filled, then dropped)", file=sys.stderr)
                return 2
        fill_s = fill(sessions, args.patients, args.visits)
        some_patient = args.patients // 2 + 1
        last_offset = max(0, args.patients - 600)  # 9,400 with the default 10,000 patients
        calls = {
            "baseline: SELECT 1": lambda s: s.execute(text("SELECT 1")).scalar(),
            "baseline: patient by primary key": lambda s: s.get(Patient, some_patient),
            "list, first page (empty query)": lambda s: repo.search_patients(s, ""),
            f"list, last page (offset {last_offset:,})": lambda s: repo.search_patients(s, "", offset=last_offset),
            "search name substring 'mar'": lambda s: repo.search_patients(s, "mar"),
            "search two words 'grace weber'": lambda s: repo.search_patients(s, "grace weber"),
            "search MRN prefix 'syn-00421'": lambda s: repo.search_patients(s, "syn-00421"),
            "search, no match": lambda s: repo.search_patients(s, "zzzz"),
            "count all": lambda s: repo.count_patients(s, ""),
            "count name substring 'mar'": lambda s: repo.count_patients(s, "mar"),
            "visits of one patient": lambda s: repo.list_visits(s, some_patient),
        }
        results = {name: median_ms(sessions, call, args.repeat) for name, call in calls.items()}
        with sessions() as s:
            first_page_rows = len(repo.search_patients(s, ""))
        if args.url:
            downgrade(engine, "base")
        engine.dispose()

    baseline = results["baseline: SELECT 1"]
    print(f"SYNTHETIC data: {args.patients:,} patients, {args.visits:,} visits, filled in {fill_s:.1f} s ({backend})")
    print(f"median of {args.repeat} runs, each in its own transaction; ratio = time / 'SELECT 1' round trip")
    print(f"{'operation':36s} {'median ms':>10s} {'x baseline':>11s}")
    for name, ms in results.items():
        print(f"{name:36s} {ms:10.2f} {ms / baseline:11.1f}")
    worst = max(ms for name, ms in results.items() if not name.startswith("baseline"))
    print(f"slowest list/search call: {worst:.1f} ms ({'well under' if worst < 250 else 'NOT under'} a second)")

    result_name = "patient_list" if backend == "sqlite" else f"patient_list_{backend}"
    data = {
        "benchmark": "patient_list",
        "data": "synthetic",
        "backend": backend,
        "patients": args.patients, "visits": args.visits, "repeat": args.repeat, "fill_seconds": round(fill_s, 2),
        "first_page_rows": first_page_rows,
        "median_ms": {name: round(ms, 3) for name, ms in results.items()},
        "ratio_to_select_1": {name: round(ms / baseline, 2) for name, ms in results.items()},
        "slowest_list_or_search_ms": round(worst, 3),
    }
    first = results["list, first page (empty query)"]
    figures = [
        Figure(f"{backend}: slowest patient list or search call, {args.patients:,} patients", round(worst, 3), "ms",
               baseline="SELECT 1 round trip", baseline_value=round(baseline, 3),
               target=f"< {SLOWEST_TARGET_MS} ms", met=worst < SLOWEST_TARGET_MS),
        Figure(f"{backend}: patient list, first page", round(first, 3), "ms",
               baseline="SELECT 1 round trip", baseline_value=round(baseline, 3)),
    ]
    results_file = write_result(result_name, data, figures, short=args.short)
    print(f"wrote {results_file.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
