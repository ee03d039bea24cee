"""The audit trail (issue 14, HIPAA 45 CFR 164.312(b) style): append-only (the application
refuses to change or delete a row, and so does the database itself, by triggers of migration
0006), filterable by who, action, patient and period, exportable as CSV by an administrator,
without names or free text. Real SQLite file and, with DATABASE_URL_PG, real PostgreSQL."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from core.store import AuditEvent, PermissionDenied, ValidationError, downgrade, migrate, repository as repo, transaction
from core.store.audit import AuditTrailIsAppendOnly

REFUSED_BY_DATABASE = (DBAPIError,)


def _events(sessions) -> list[tuple]:
    with sessions() as s:
        return [(e.id, e.action, e.patient_id, e.detail, e.at) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_the_application_never_changes_or_deletes_an_audit_row(sessions, patient):
    before = _events(sessions)
    assert before
    attempts = {
        "ORM update": lambda s: setattr(s.scalar(select(AuditEvent).limit(1)), "action", "tampered"),
        "ORM delete": lambda s: s.delete(s.scalar(select(AuditEvent).limit(1))),
        "bulk update": lambda s: s.execute(update(AuditEvent).values(detail="x=1")),
        "bulk delete": lambda s: s.execute(delete(AuditEvent)),
        "SQL text update": lambda s: s.execute(text("UPDATE audit_events SET action = 'tampered'")),
        "SQL text delete": lambda s: s.execute(text("delete from audit_events")),
    }
    for what, attempt in attempts.items():
        with pytest.raises(AuditTrailIsAppendOnly), transaction(sessions) as s:
            attempt(s)
            s.flush()
            pytest.fail(f"{what} went through")
    assert _events(sessions) == before


def test_the_database_refuses_update_and_delete_whoever_connects(engine, sessions, patient):
    """A raw connection (a SQL shell, another program): the triggers of migration 0006 refuse."""
    before = _events(sessions)
    for statement in ("UPDATE audit_events SET action = 'tampered'", "DELETE FROM audit_events",
                      "UPDATE audit_events SET patient_id = NULL WHERE patient_id IS NOT NULL"):
        with pytest.raises(REFUSED_BY_DATABASE, match="append-only"):
            with engine.begin() as connection:
                connection.exec_driver_sql(statement)
    assert _events(sessions) == before
    with engine.begin() as connection:  # adding stays possible
        connection.exec_driver_sql("INSERT INTO audit_events (at, action, detail) VALUES (CURRENT_TIMESTAMP, 'probe', '')")
    assert len(_events(sessions)) == len(before) + 1


def test_truncate_of_the_audit_trail_is_refused(engine, sessions, patient):
    """PostgreSQL: a BEFORE TRUNCATE statement trigger (migration 0008) refuses TRUNCATE, alone
    or with other tables (the whole statement fails, so the other tables keep their rows too).
    SQLite has no TRUNCATE statement at all (and DELETE is refused by 0006's trigger)."""
    before = _events(sessions)
    with sessions() as s:
        patients = s.scalar(text("SELECT count(*) FROM patients"))
    statements = ["TRUNCATE audit_events", "TRUNCATE TABLE audit_events RESTART IDENTITY",
                  "TRUNCATE patients, audit_events CASCADE"]
    for statement in statements:
        if engine.dialect.name == "sqlite":
            with pytest.raises(DBAPIError, match="syntax error"):
                with engine.begin() as connection:
                    connection.exec_driver_sql(statement)
        else:
            with pytest.raises(REFUSED_BY_DATABASE, match="append-only"):
                with engine.begin() as connection:
                    connection.exec_driver_sql(statement)
    assert _events(sessions) == before
    with sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM patients")) == patients


@pytest.mark.postgres
def test_migration_0008_adds_the_truncate_guard_and_its_downgrade_removes_it(db_url, engine, patient):
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    downgrade(engine, "0007")
    try:
        with engine.begin() as connection:  # no guard before 0008
            connection.exec_driver_sql("TRUNCATE patients, audit_events CASCADE")
    finally:
        migrate(engine)
    with engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM audit_events").scalar() == 0
        connection.exec_driver_sql("INSERT INTO audit_events (at, action, detail) VALUES (CURRENT_TIMESTAMP, 'a', '')")
    with pytest.raises(REFUSED_BY_DATABASE, match="append-only"):
        with engine.begin() as connection:
            connection.exec_driver_sql("TRUNCATE audit_events")


def test_migration_0006_adds_the_triggers_and_its_downgrade_removes_them(db_url, engine):
    downgrade(engine, "0005")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO audit_events (at, action, detail) VALUES (CURRENT_TIMESTAMP, 'a', '')")
            connection.exec_driver_sql("UPDATE audit_events SET action = 'b'")  # no trigger before 0006
    finally:
        migrate(engine)
    with pytest.raises(REFUSED_BY_DATABASE):
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE audit_events SET action = 'c'")


@pytest.mark.parametrize("detail", ["Jane Doe", "note=the patient fell", "name=<b>x</b>", "mrn=AB 12"])
def test_an_audit_row_with_free_text_is_refused(sessions, detail):
    with pytest.raises(ValueError, match="never free text"), transaction(sessions) as s:
        s.add(AuditEvent(action="probe", detail=detail))


def test_every_kind_of_access_is_audited_with_who_what_which_patient_and_when(sessions, admin, patient, visit):
    with transaction(sessions) as s:
        assert repo.authenticate(s, "admin", "admin-password") is not None
        assert repo.authenticate(s, "admin", "wrong-password") is None
        repo.get_patient(s, admin, patient.id)
        repo.get_visit(s, admin, visit.id)
        repo.update_patient(s, admin, patient.id, sex="male")
        repo.update_visit(s, admin, visit.id, notes="a synthetic note about Synthetic Patient One")
        repo.archive_patient(s, admin, patient.id)
    with transaction(sessions) as s:
        events = repo.list_audit(s, admin, 100)
    by_action = {e.action: e for e in events}
    for action in ("login", "login_failed", "view_patient", "view_visit", "create_patient", "create_visit",
                   "update_patient", "update_visit", "archive_patient"):
        assert action in by_action, action
        assert by_action[action].at is not None
    for action in ("view_patient", "view_visit", "create_patient", "create_visit", "update_patient", "update_visit",
                   "archive_patient"):
        assert by_action[action].patient_id == patient.id and by_action[action].clinician_id == admin.id
    for e in events:
        assert "Synthetic" not in e.detail and "note" not in e.detail.replace("notes", "")


def test_the_trail_is_filtered_by_who_action_patient_and_period(sessions, admin, patient, visit):
    with transaction(sessions) as s:
        clin = repo.create_clinician(s, admin, username="clin", display_name="Synthetic Clin",
                                     password="clinician-pass", role="clinician")
        other = repo.create_patient(s, admin, mrn="SYN-0002", name="Synthetic Patient Two",
                                    birth_date=date(1951, 1, 1), sex="male", diagnosis="pd", more_affected_side="right")
        repo.get_patient(s, clin, patient.id)
        repo.get_patient(s, clin, other.id)
        repo.get_patient(s, admin, other.id)
        s.add(AuditEvent(at=datetime(2020, 6, 1, 12, tzinfo=timezone.utc), clinician_id=clin.id, action="view_patient",
                         patient_id=other.id))
    with transaction(sessions) as s:
        mine = repo.list_audit(s, admin, clinician_id=clin.id, action="view_patient")
        assert len(mine) == 3 and {e.clinician_id for e in mine} == {clin.id}
        assert [e.patient_id for e in repo.list_audit(s, admin, clinician_id=clin.id, action="view_patient",
                                                      patient_id=other.id)] == [other.id, other.id]
        old = repo.list_audit(s, admin, since=date(2020, 6, 1), until=date(2020, 6, 1))
        assert [e.at.year for e in old] == [2020]
        today = datetime.now(timezone.utc).date()
        assert all(e.at.year != 2020 for e in repo.list_audit(s, admin, since=today - timedelta(days=1)))
        assert repo.list_audit(s, admin, until=date(2019, 12, 31)) == []
        assert "view_patient" in repo.audit_actions(s, admin)
        with pytest.raises(Exception, match="swap the two dates"):
            repo.list_audit(s, admin, since=date(2021, 1, 2), until=date(2021, 1, 1))
        with pytest.raises(PermissionDenied):
            repo.list_audit(s, clin)


def test_the_csv_export_holds_every_matching_row_and_is_itself_audited(sessions, admin, patient, visit):
    with transaction(sessions) as s:
        for _ in range(3):
            repo.get_patient(s, admin, patient.id)
        total = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.patient_id == patient.id))
    with transaction(sessions) as s:
        data = repo.audit_csv(s, admin, patient_id=patient.id)
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == total and {r["patient_id"] for r in rows} == {str(patient.id)}
    assert list(rows[0]) == repo.AUDIT_CSV_COLUMNS
    assert rows[0]["username"] == "admin" and rows[0]["at_utc"].endswith("+00:00")
    assert "Synthetic Patient One" not in data and "SYN-0001" not in data
    with transaction(sessions) as s:
        last = repo.list_audit(s, admin, 1)[0]
    assert last.action == "export" and f"kind=audit_csv rows={total}" in last.detail and f"patient={patient.id}" in last.detail


def test_migration_0006_admits_the_reviewer_role_and_its_downgrade_deactivates_reviewers(engine, sessions, admin):
    with transaction(sessions) as s:
        reviewer = repo.create_clinician(s, admin, username="rev", display_name="Synthetic Reviewer",
                                         password="reviewer-pass-1", role="reviewer")
    downgrade(engine, "0005")
    try:
        with engine.begin() as connection:
            row = connection.exec_driver_sql(f"SELECT role, active FROM clinicians WHERE id = {reviewer.id}").one()
            assert (row[0], bool(row[1])) == ("clinician", False)
            with pytest.raises(DBAPIError):  # the old constraint is back
                with connection.begin_nested():
                    connection.exec_driver_sql(f"UPDATE clinicians SET role = 'reviewer' WHERE id = {reviewer.id}")
    finally:
        migrate(engine)


def test_a_list_of_patients_shown_is_audited_with_their_ids(sessions, admin, patient):
    with transaction(sessions) as s:
        repo.audit_list_view(s, admin, "patients", [patient.id, patient.id])
        repo.audit_list_view(s, admin, "overview", range(1, 400))
        with pytest.raises(ValidationError):
            repo.audit_list_view(s, admin, "somewhere", [1])
    with transaction(sessions) as s:
        short, long = repo.list_audit(s, admin, 2, action="view_patient_list")[::-1]
    assert short.detail == f"page=patients rows=1 ids={patient.id}"
    assert long.detail.startswith("page=overview rows=399 ids=1,2,3,") and len(long.detail) <= 500
    shown = len(long.detail.split(" ids=")[1].split(" ")[0].split(","))
    assert long.detail.endswith(f" more={399 - shown}")
