"""Two clinicians saving the same visit's rating, or editing the same patient, at the same moment
(two threads, each with its own connection, released together) on a real SQLite file: neither
gets a crash; the loser at most gets a clear one-line message; the record stays whole (one rating
row per item and side, a patient with a consistent name). Synthetic data."""
from __future__ import annotations

import threading
import time

import pytest

from sqlalchemy import select

from core.store import ClinicianRating, Patient, ValidationError, open_store, repository, transaction
from tests.security.conftest import CLINICIAN, actor

ROUNDS = 8


def _race(url: str, *calls) -> list[BaseException | None]:
    """Run each call(s) in its own thread and transaction, started together; their errors."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i, call):
        sessions = open_store(url)
        try:
            barrier.wait()
            with transaction(sessions) as s:
                time.sleep(0.05)  # both sessions are open before either writes, as two clicks would be
                call(s)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


def _only_clear_messages(errors) -> None:
    for exc in errors:
        assert exc is None or isinstance(exc, ValidationError), f"a concurrent save crashed: {exc!r}"
        if exc is not None:
            assert "reload and try again" in str(exc) or "at the same time" in str(exc), str(exc)


@pytest.mark.parametrize("side", ["right", None])  # None: unsided items (3.1 speech, Hoehn and Yahr)
def test_two_sessions_rating_the_same_item_at_once(clinic, side):
    with transaction(clinic.sessions()) as s:
        admin, clin = actor(s), actor(s, CLINICIAN["username"])
    # Items the scale rates per side (3.4-3.8, 3.15, 3.16) or once (3.1, 3.2, 3.9-3.14).
    items = ("3.4", "3.5", "3.6", "3.7", "3.8", "3.15", "3.16") if side else ("3.1", "3.2", "3.9", "3.10", "3.11",
                                                                            "3.12", "3.13", "3.14")
    for round_ in range(ROUNDS):
        item = items[round_ % len(items)]
        errors = _race(clinic.url,
                       lambda s: repository.set_rating(s, admin, clinic.visit_id, item, side, 1),
                       lambda s: repository.set_rating(s, clin, clinic.visit_id, item, side, 3))
        _only_clear_messages(errors)
        assert any(e is None for e in errors)
        same_side = ClinicianRating.side.is_(None) if side is None else ClinicianRating.side == side
        with transaction(clinic.sessions()) as s:
            rows = list(s.scalars(select(ClinicianRating).where(ClinicianRating.visit_id == clinic.visit_id,
                                                                ClinicianRating.item == item, same_side)))
        assert len(rows) == 1 and rows[0].score in (1, 3), f"{len(rows)} rows for item {item} side {side}"


def test_two_sessions_editing_the_same_patient_at_once(clinic):
    with transaction(clinic.sessions()) as s:
        admin, clin = actor(s), actor(s, CLINICIAN["username"])
    for round_ in range(ROUNDS):
        errors = _race(clinic.url,
                       lambda s: repository.update_patient(s, admin, clinic.patient_id, name=f"Synthetic A{round_}",
                                                           diagnosis="pd"),
                       lambda s: repository.update_patient(s, clin, clinic.patient_id, name=f"Synthetic B{round_}",
                                                           diagnosis="control"))
        _only_clear_messages(errors)
        assert any(e is None for e in errors)
        with transaction(clinic.sessions()) as s:
            patient = s.get(Patient, clinic.patient_id)
            assert patient.name in (f"Synthetic A{round_}", f"Synthetic B{round_}")
            assert patient.name_lower == patient.name.lower()  # search key agrees with the name
