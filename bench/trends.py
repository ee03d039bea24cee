"""How fast the trends page's data loads for a long history, and how much memory a clinic
export takes. All data is SYNTHETIC (bulk inserts into a fresh SQLite file in a temp folder).

1. One synthetic patient with 500 visits x 50 measures (+ 4 model scores and 2 ratings a
   visit): median time of `load_patient_series` + `analyse_patient` (everything the trends page
   computes) against a baseline measured in the same run: loading the visit list alone.
2. A clinic of 10,000 synthetic patients (3 visits x 10 measures + a score + a rating each):
   CSV and Parquet export streamed in chunks of 500 patients; time and peak Python memory
   (tracemalloc), against the same export done in one chunk of all patients (unbounded).

    .venv/bin/python bench/trends.py [--visits 500] [--measures 50] [--patients 10000] [--repeat 7] [--short]

Writes bench/results/trends.json (--short: 100 visits, 1,000 patients, 3 repeats; bench/results/short/).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bench.common import Figure, add_short_flag, write_result  # noqa: E402
from core.reports import export_chunks, write_csv, write_parquet  # noqa: E402
from core.store import (  # noqa: E402
    Assessment, Clinician, ClinicianRating, MeasureValue, Patient, Visit, make_engine, migrate, session_factory,
    transaction,
)
from core.trends import analyse_patient, load_patient_series, load_visits  # noqa: E402

MODELS = ("voice", "finger_tapping", "gait", "fused")


def _ids(s, model, rows):
    return s.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows).all()


def fill(sessions, n_patients: int, n_visits: int, n_measures: int, scores: bool, seed: int = 3) -> float:
    """Synthetic patients, each with n_visits visits of n_measures measures, model scores and ratings."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    with transaction(sessions) as s:
        rater = Clinician(username="bench", display_name="Synthetic rater", password_hash="x", role="admin")
        s.add(rater)
        s.flush()
        for first in range(0, n_patients, 1000):
            block = range(first, min(n_patients, first + 1000))
            patients = _ids(s, Patient, [dict(
                mrn=f"SYN-{i:06d}", mrn_lower=f"syn-{i:06d}", name=f"Synthetic Patient {i:06d}",
                name_lower=f"synthetic patient {i:06d}", birth_date=date(1940 + i % 30, 1 + i % 12, 1 + i % 28),
                sex="female" if i % 2 else "male", diagnosis="pd", more_affected_side="left", archived=False,
                created_at=now, updated_at=now) for i in block])
            visits = _ids(s, Visit, [dict(
                patient_id=p, visit_date=date(2020, 1, 1) + timedelta(days=7 * v),
                medication_state=("on", "off")[v % 2], hours_since_dose=None, clinician_id=rater.id, notes="",
                created_at=now) for p in patients for v in range(n_visits)])
            assessments = _ids(s, Assessment, [dict(
                visit_id=v, recording_id=None, model_name=model, model_version="bench-1", inputs_sha256="",
                probability=float(rng.uniform(0.2, 0.8)) if scores else None,
                interval_low=0.1 if scores else None, interval_high=0.9 if scores else None, created_at=now)
                for v in visits for model in (MODELS if scores else MODELS[-1:])])
            per_visit = len(MODELS) if scores else 1
            values = rng.normal(1.0, 0.1, size=len(visits) * n_measures)
            s.execute(insert(MeasureValue), [dict(
                assessment_id=assessments[k * per_visit], name=f"measure_{m:02d}", value=float(values[k * n_measures + m]),
                unit="") for k in range(len(visits)) for m in range(n_measures)])
            s.execute(insert(ClinicianRating), [dict(
                visit_id=v, item=item, side=None, score=float(rng.integers(0, 5)), rater_id=rater.id, created_at=now)
                for v in visits for item in (("3.1", "hoehn_yahr") if scores else ("3.1",))])
    return time.perf_counter() - started


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_patient(folder: Path, n_visits: int, n_measures: int, repeat: int) -> dict:
    engine = make_engine(f"sqlite:///{folder / 'patient.sqlite'}")
    migrate(engine)
    sessions = session_factory(engine)
    fill_s = fill(sessions, 1, n_visits, n_measures, scores=True)
    with transaction(sessions) as s:
        patient_id = s.query(Patient.id).scalar()

    def visits_only():
        with transaction(sessions) as s:
            load_visits(s, patient_id)

    def page_data():
        with transaction(sessions) as s:
            analyse_patient(load_patient_series(s, patient_id))

    def load_only():
        with transaction(sessions) as s:
            load_patient_series(s, patient_id)

    page_data()  # warm up (imports, SQLite cache)
    baseline = median_seconds(visits_only, repeat)
    loading = median_seconds(load_only, repeat)
    total = median_seconds(page_data, repeat)
    engine.dispose()
    return {"visits": n_visits, "measures_per_visit": n_measures, "fill_seconds": round(fill_s, 2),
            "baseline_visit_list_s": round(baseline, 5), "load_series_s": round(loading, 4),
            "load_and_analyse_s": round(total, 4), "load_and_analyse_vs_baseline": round(total / baseline, 1)}


def bench_export(folder: Path, n_patients: int, chunk: int) -> dict:
    engine = make_engine(f"sqlite:///{folder / 'clinic.sqlite'}")
    migrate(engine)
    sessions = session_factory(engine)
    fill_s = fill(sessions, n_patients, 3, 10, scores=False)

    def run(kind: str, chunk_patients: int, deidentified: bool = False) -> dict:
        out = folder / f"export.{kind}"
        tracemalloc.start()
        started = time.perf_counter()
        with transaction(sessions) as s:
            chunks = export_chunks(s, deidentified=deidentified, salt="bench" if deidentified else None,
                                   chunk_patients=chunk_patients)
            if kind == "csv":
                with open(out, "w", newline="") as handle:
                    rows = write_csv(chunks, handle, deidentified)
            else:
                rows = write_parquet(chunks, out, deidentified)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"rows": rows, "seconds": round(seconds, 2), "peak_mb": round(peak / 2**20, 1),
                "file_mb": round(out.stat().st_size / 2**20, 1)}

    result = {"patients": n_patients, "fill_seconds": round(fill_s, 2), "chunk_patients": chunk,
              "csv_chunked": run("csv", chunk), "parquet_chunked": run("parquet", chunk),
              "csv_deidentified_chunked": run("csv", chunk, deidentified=True),
              "csv_one_chunk_baseline": run("csv", n_patients)}
    result["csv_peak_memory_vs_one_chunk"] = round(
        result["csv_chunked"]["peak_mb"] / result["csv_one_chunk_baseline"]["peak_mb"], 3)
    engine.dispose()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=500)
    parser.add_argument("--measures", type=int, default=50)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    add_short_flag(parser)
    args = parser.parse_args(argv)
    if args.short:
        args.visits, args.patients, args.chunk, args.repeat = 100, 1_000, 100, 3
    with tempfile.TemporaryDirectory(prefix="pdlens-bench-trends-") as tmp:
        folder = Path(tmp)
        patient = bench_patient(folder, args.visits, args.measures, args.repeat)
        print(f"trends data, {args.visits} visits x {args.measures} measures: load+analyse "
              f"{patient['load_and_analyse_s'] * 1000:.0f} ms (load {patient['load_series_s'] * 1000:.0f} ms), "
              f"visit list alone {patient['baseline_visit_list_s'] * 1000:.1f} ms "
              f"(x{patient['load_and_analyse_vs_baseline']})")
        export = bench_export(folder, args.patients, args.chunk)
        for key in ("csv_chunked", "parquet_chunked", "csv_deidentified_chunked", "csv_one_chunk_baseline"):
            r = export[key]
            print(f"export {key}: {r['rows']:,} rows in {r['seconds']} s, peak {r['peak_mb']} MB, file {r['file_mb']} MB")
    result = {"synthetic": True, "trends_page_data": patient, "clinic_export": export}
    chunked, whole = export["csv_chunked"], export["csv_one_chunk_baseline"]
    figures = [
        Figure(f"trends page data, {args.visits} visits x {args.measures} measures", patient["load_and_analyse_s"],
               "s", baseline="loading the visit list alone", baseline_value=patient["baseline_visit_list_s"],
               ratio=patient["load_and_analyse_vs_baseline"]),
        Figure(f"clinic CSV export of {args.patients:,} patients in chunks of {args.chunk}: peak memory",
               chunked["peak_mb"], "MB", baseline="the same export in one chunk", baseline_value=whole["peak_mb"],
               ratio=export["csv_peak_memory_vs_one_chunk"]),
        Figure(f"clinic CSV export of {args.patients:,} patients in chunks of {args.chunk}: time",
               chunked["seconds"], "s", baseline="the same export in one chunk", baseline_value=whole["seconds"]),
    ]
    out = write_result("trends", result, figures, short=args.short)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
