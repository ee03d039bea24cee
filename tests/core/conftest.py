"""Shared fixtures for core tests: a real SQLite store in tmp_path with one synthetic visit."""
from __future__ import annotations

from datetime import date

import pytest

from core.store import close_store, open_store, repository, transaction


@pytest.fixture
def store(tmp_path, monkeypatch):
    """(sessionmaker, admin id, visit id, data dir) of a clinic with one synthetic patient and visit."""
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")  # test speed only
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    sessions = open_store(url)
    admin_id, visit_id = synthetic_clinic(sessions)
    yield sessions, admin_id, visit_id, tmp_path / "data"
    close_store(url)


def synthetic_clinic(sessions) -> tuple[int, int]:
    """An administrator, one synthetic patient and one visit: (admin id, visit id)."""
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                            password="correct-horse-battery", role="admin")
        patient = repository.create_patient(s, admin, mrn="SYN-001", name="Synthetic Patient",
                                            birth_date=date(1950, 1, 1), sex="unknown", diagnosis="unknown",
                                            more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 1, 5), medication_state="on")
        return admin.id, visit.id


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    """(URL, ids) of the synthetic multi-visit clinic of tests/core/trends_synthetic.py."""
    from tests.core.trends_synthetic import build_synthetic_clinic

    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")  # test speed only
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    ids = build_synthetic_clinic(url)
    yield url, ids
    close_store(url)
