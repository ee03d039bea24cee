"""The demo database built from the real UCI telemonitoring data (public, de-identified). These
builds leave out the demo patients with analysed clips (clips=False: quick, and the same on SQLite
and PostgreSQL); tests/core/test_demo_clips.py checks the whole build."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core.demo import DEMO_PASSWORD, DEMO_USERNAME, NotADemoDatabase, build_demo_database, load_visits
from core.store import ClinicianRating, MeasureValue, Patient, Visit, repository as repo, transaction

EXPECTED_MEASURES = {
    "jitter_local_pct", "jitter_abs_s", "jitter_rap", "jitter_ppq5", "jitter_ddp", "shimmer_local", "shimmer_db",
    "shimmer_apq3", "shimmer_apq5", "shimmer_apq11", "shimmer_dda", "nhr", "hnr_db", "rpde", "dfa", "ppe",
}


def counts(sessions) -> dict[str, int]:
    with sessions() as s:
        return {model.__name__: s.scalar(select(func.count()).select_from(model))
                for model in (Patient, Visit, MeasureValue, ClinicianRating)}


def test_demo_database_builds_and_rebuilds_identically(db_url, engine, sessions, tmp_path):
    # `engine` first: it empties the PostgreSQL test database left by other tests
    summary = build_demo_database(db_url, clips=False)
    visits_per_day = load_visits()
    assert (summary.patients, summary.visits) == (34, len(visits_per_day))
    assert summary.measures == 16 * summary.visits and summary.ratings == 2 * summary.visits
    first = counts(sessions)
    assert first == {"Patient": 34, "Visit": summary.visits, "MeasureValue": summary.measures,
                     "ClinicianRating": summary.ratings}

    with transaction(sessions) as s:
        demo = repo.authenticate(s, DEMO_USERNAME, DEMO_PASSWORD)
        assert demo is not None and demo.role == "admin"
        rows = repo.search_patients(s, "demo patient", limit=100)
        assert len(rows) == 34 and all(r.mrn.startswith("DEMO-") and "(UCI telemonitoring)" in r.name for r in rows)
        assert all(r.diagnosis == "pd" and r.visit_count > 0 for r in rows)
        series = repo.measure_series(s, rows[0].id)
    assert set(series["name"]) == EXPECTED_MEASURES
    days = (series["visit_date"].max() - series["visit_date"].min()).days
    assert days > 120  # about six months of real follow-up
    jitter = series.loc[series["name"] == "jitter_local_pct", "value"]
    assert 0.05 < jitter.median() < 5  # percent, as in Praat's jitter (local)
    assert series["visit_date"].min().date() >= date(2023, 12, 1)

    again = build_demo_database(db_url, clips=False)  # rebuilding replaces: same content, not doubled
    assert again.built and counts(sessions) == first
    kept = build_demo_database(db_url, if_missing=True, clips=False)
    assert not kept.built and counts(sessions) == first


def test_demo_builder_refuses_a_database_with_real_patients(db_url, sessions, admin, patient):
    with pytest.raises(NotADemoDatabase, match="refusing to replace it"):
        build_demo_database(db_url, clips=False)
    with transaction(sessions) as s:
        assert repo.count_patients(s) == 1
