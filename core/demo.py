"""The demo database: real, public longitudinal data to try pdlens on without the clinic's record.

Source: the UCI Parkinsons Telemonitoring data (Tsanas, Little, McSharry, Ramig, IEEE TBME 2010;
CC BY 4.0; models/datasets/voice/uci_telemonitoring): home voice recordings of people with
early-stage Parkinson's disease over six months, with the study's (linearly interpolated) motor
and total UPDRS. Each subject becomes a demo patient "Demo patient NN (UCI telemonitoring)",
each recording day a visit (2024-01-01 + day since recruitment), the day's recordings averaged
into one assessment of 16 voice measures, and the UPDRS scores into two clinician ratings.

    python -m core.demo [--url URL] [--if-missing]

Log in to the demo database as `demo` / `demo-password`. These credentials exist in the demo
database only. Rebuilding replaces the demo database; a database that holds any non-demo patient
is never touched.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.engine import make_url

from core.auth import hash_password
from core.config import DATASETS_DIR, settings
from core.store.db import close_store, current_revision, downgrade, make_engine, migrate, session_factory, transaction
from core.store.models import (
    Assessment,
    AuditEvent,
    Clinician,
    ClinicianRating,
    MeasureValue,
    Patient,
    Visit,
)

TELEMONITORING_FILE = DATASETS_DIR / "voice" / "uci_telemonitoring" / "parkinsons_updrs.data"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_RATER_USERNAME = "demo-rater"
DEMO_MRN_PREFIX = "DEMO-"
BASE_DATE = date(2024, 1, 1)  # day 0 of the study for every demo patient
IMPORT_MODEL_NAME = "uci_telemonitoring_import"
IMPORT_MODEL_VERSION = "uci-telemonitoring-2009"
SOURCE = "UCI Parkinsons Telemonitoring (Tsanas et al., IEEE TBME 2010; CC BY 4.0)"

# data column -> (measure name, unit, scale). The UCI "Jitter(%)" column holds a fraction
# (0.0066 = 0.66 %, consistent with Jitter(Abs) / pitch period), so it is scaled to percent to
# match the name jitter_local_pct. Other ratios stay fractions, as Praat reports them.
VOICE_MEASURES: dict[str, tuple[str, str, float]] = {
    "Jitter(%)": ("jitter_local_pct", "%", 100.0),
    "Jitter(Abs)": ("jitter_abs_s", "s", 1.0),
    "Jitter:RAP": ("jitter_rap", "", 1.0),
    "Jitter:PPQ5": ("jitter_ppq5", "", 1.0),
    "Jitter:DDP": ("jitter_ddp", "", 1.0),
    "Shimmer": ("shimmer_local", "", 1.0),
    "Shimmer(dB)": ("shimmer_db", "dB", 1.0),
    "Shimmer:APQ3": ("shimmer_apq3", "", 1.0),
    "Shimmer:APQ5": ("shimmer_apq5", "", 1.0),
    "Shimmer:APQ11": ("shimmer_apq11", "", 1.0),
    "Shimmer:DDA": ("shimmer_dda", "", 1.0),
    "NHR": ("nhr", "", 1.0),
    "HNR": ("hnr_db", "dB", 1.0),
    "RPDE": ("rpde", "", 1.0),
    "DFA": ("dfa", "", 1.0),
    "PPE": ("ppe", "", 1.0),
}
RATINGS = {"motor_UPDRS": "updrs_motor_total", "total_UPDRS": "updrs_total"}


@dataclass(frozen=True)
class DemoSummary:
    url: str  # password hidden
    patients: int
    visits: int
    measures: int
    ratings: int
    seconds: float
    built: bool  # False when --if-missing found an existing demo database


class NotADemoDatabase(RuntimeError):
    """The target database holds real (non-demo) patients or accounts."""


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def load_visits(path=TELEMONITORING_FILE) -> pd.DataFrame:
    """One row per subject and recording day: the day's recordings averaged."""
    data = pd.read_csv(path)
    data["day"] = data["test_time"].map(math.floor)
    value_columns = ["age", "sex", *RATINGS, *VOICE_MEASURES]
    days = data.groupby(["subject#", "day"], sort=True)
    visits = days[value_columns].mean()
    visits["recordings"] = days.size()
    return visits.reset_index()


def _existing_demo(engine) -> tuple[int, bool]:
    """(patients, only demo content) for an existing database."""
    if "patients" not in inspect(engine).get_table_names():
        return 0, True
    with engine.connect() as connection:
        patients = connection.scalar(select(func.count(Patient.id))) or 0
        foreign_patients = connection.scalar(
            select(func.count(Patient.id)).where(~Patient.mrn.startswith(DEMO_MRN_PREFIX))
        )
        foreign_accounts = connection.scalar(
            select(func.count(Clinician.id)).where(Clinician.username.not_in([DEMO_USERNAME, DEMO_RATER_USERNAME]))
        )
    return patients, not foreign_patients and not foreign_accounts


def build_demo_database(url: str | None = None, *, if_missing: bool = False) -> DemoSummary:
    """(Re)build the demo database at `url` (default: settings().demo_database_url)."""
    url = url or settings().demo_database_url
    started = time.perf_counter()
    close_store(url)  # a cached engine of this process would keep serving the old schema
    engine = make_engine(url)
    try:
        existing_patients, only_demo = _existing_demo(engine)
        if not only_demo:
            raise NotADemoDatabase(
                f"{_safe_url(url)} holds patients or accounts that are not demo data: refusing to replace it. "
                "Point --url at a separate demo database."
            )
        if if_missing and existing_patients and current_revision(engine) is not None:
            migrate(engine)
            return DemoSummary(_safe_url(url), existing_patients, 0, 0, 0, time.perf_counter() - started, False)
        downgrade(engine, "base")  # drops every table of a previous demo build
        migrate(engine)
        counts = _fill(session_factory(engine))
        return DemoSummary(_safe_url(url), *counts, time.perf_counter() - started, True)
    finally:
        engine.dispose()


def _fill(sessions) -> tuple[int, int, int, int]:
    visits = load_visits()
    inputs_sha256 = hashlib.sha256(TELEMONITORING_FILE.read_bytes()).hexdigest()
    with transaction(sessions) as s:
        admin = Clinician(username=DEMO_USERNAME, display_name="Demo administrator", role="admin",
                          password_hash=hash_password(DEMO_PASSWORD), active=True)
        # Rater of the study's UPDRS scores; inactive with an unknown password: nobody logs in as it.
        rater = Clinician(username=DEMO_RATER_USERNAME, display_name="UCI telemonitoring study raters (demo)",
                          role="clinician", password_hash=hash_password(secrets.token_urlsafe(24)), active=False)
        s.add_all([admin, rater])
        s.flush()

        subjects = visits.groupby("subject#").first()
        patient_rows = []
        for subject, row in subjects.iterrows():
            name = f"Demo patient {int(subject):02d} (UCI telemonitoring)"
            mrn = f"{DEMO_MRN_PREFIX}{int(subject):02d}"
            patient_rows.append(dict(
                mrn=mrn, mrn_lower=mrn.lower(), name=name, name_lower=name.lower(),
                # only the age at recruitment is known: born mid-year, age years before day 0
                birth_date=date(BASE_DATE.year - int(row["age"]), 7, 1),
                sex="female" if int(row["sex"]) == 1 else "male",
                diagnosis="pd", more_affected_side="unknown", archived=False,
            ))
        patient_ids = s.scalars(insert(Patient).returning(Patient.id, sort_by_parameter_order=True), patient_rows).all()
        patient_id = dict(zip(subjects.index, patient_ids))

        visit_rows = [
            dict(
                patient_id=patient_id[row["subject#"]],
                visit_date=BASE_DATE + timedelta(days=int(row["day"])),
                medication_state="unknown", hours_since_dose=None, clinician_id=rater.id,
                notes=(f"Demo data, not a clinic visit: {int(row['recordings'])} home voice recordings of day "
                       f"{int(row['day'])} of the study, averaged. Source: {SOURCE}."),
            )
            for _, row in visits.iterrows()
        ]
        visit_ids = s.scalars(insert(Visit).returning(Visit.id, sort_by_parameter_order=True), visit_rows).all()

        assessment_rows = [
            dict(
                visit_id=visit_id, recording_id=None, model_name=IMPORT_MODEL_NAME,
                model_version=IMPORT_MODEL_VERSION, probability=None, interval_low=None, interval_high=None,
                severity=None, abstained_reason=None, inputs_sha256=inputs_sha256,
                explanation_json={"source": SOURCE, "recordings_averaged": int(recordings)},
            )
            for visit_id, recordings in zip(visit_ids, visits["recordings"])
        ]
        assessment_ids = s.scalars(
            insert(Assessment).returning(Assessment.id, sort_by_parameter_order=True), assessment_rows
        ).all()

        measure_rows, rating_rows = [], []
        for (_, row), visit_id, assessment_id in zip(visits.iterrows(), visit_ids, assessment_ids):
            for column, (name, unit, scale) in VOICE_MEASURES.items():
                measure_rows.append(dict(assessment_id=assessment_id, name=name, value=float(row[column]) * scale, unit=unit))
            for column, item in RATINGS.items():
                rating_rows.append(dict(visit_id=visit_id, item=item, side=None, score=round(float(row[column]), 2),
                                        rater_id=rater.id))
        s.execute(insert(MeasureValue), measure_rows)
        s.execute(insert(ClinicianRating), rating_rows)
        s.add(AuditEvent(clinician_id=admin.id, action="build_demo_database",
                         detail=f"patients={len(patient_ids)} visits={len(visit_ids)}"))
    return len(patient_ids), len(visit_ids), len(measure_rows), len(rating_rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database URL (default: PDLENS_DEMO_DATABASE_URL or <data dir>/demo.sqlite)")
    parser.add_argument("--if-missing", action="store_true", help="keep an existing demo database")
    args = parser.parse_args(argv)
    try:
        summary = build_demo_database(args.url, if_missing=args.if_missing)
    except NotADemoDatabase as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if summary.built:
        print(f"Demo database built at {summary.url}: {summary.patients} patients, {summary.visits} visits, "
              f"{summary.measures} measures, {summary.ratings} ratings in {summary.seconds:.1f} s.")
    else:
        print(f"Demo database already present at {summary.url} ({summary.patients} patients): kept.")
    print(f"Log in to the demo with username '{DEMO_USERNAME}' and password '{DEMO_PASSWORD}' (demo database only).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
