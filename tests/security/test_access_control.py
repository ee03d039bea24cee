"""Access to patient data: every page but sign-in needs a session, a clinician reaches neither
the Administration page nor its repository functions, a deactivated account loses access at its
next action, passwords are stored only as bcrypt hashes, a failed sign-in does not say whether
the account exists, and the audit trail records sign-ins, views, writes and exports without
names or free text. Real dashboard (AppTest) on a real SQLite file; synthetic data only."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.store import AuditEvent, Clinician, PermissionDenied, open_store, repository, transaction
from dashboard.app import SIGNED_IN_PAGES
from tests.dashboard.conftest import ADMIN, APP, open_page, sign_in, texts
from tests.security.conftest import (
    CLINICIAN,
    HOSTILE_MRN,
    HOSTILE_NAME,
    HOSTILE_NOTES,
    SECRET_NAME,
    actor,
)
from tests.security.markdown_check import plain_strings


def _everything(at: AppTest) -> str:
    return texts(at) + "\n" + plain_strings(at)


def test_no_page_shows_anything_without_a_session(clinic):
    """Every signed-in page's address, with a record id, shows only the sign-in form."""
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    for page_file, _title, _admin_only in SIGNED_IN_PAGES:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page_file)  # not registered without a session
        at.query_params["patient"] = str(clinic.patient_id)
        at.query_params["visit"] = str(clinic.visit_id)
        at.run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Sign in to pdlens"], page_file
        assert SECRET_NAME not in _everything(at)
        assert not at.dataframe and not at.sidebar.get("page_link")


def test_clinician_cannot_reach_administration(clinic):
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60), CLINICIAN["username"], CLINICIAN["password"])
    assert [t.value for t in at.title] == ["Patients"]
    assert not any(link.label == "Administration" for link in at.sidebar.get("page_link"))
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/admin.py")
    # a session whose role was raised by hand still gets nothing: the role is re-read each run
    who = at.session_state["signed_in"]
    at.session_state["signed_in"] = type(who)(who.clinician_id, who.username, who.display_name, "admin", who.database)
    at.run()
    assert at.session_state["signed_in"].role == "clinician"
    assert not any(link.label == "Administration" for link in at.sidebar.get("page_link"))


def test_repository_refuses_admin_functions_to_a_clinician(clinic):
    with transaction(clinic.sessions()) as s:
        clin, admin = actor(s, CLINICIAN["username"]), actor(s)
    calls = {
        "list_clinicians": lambda s: repository.list_clinicians(s, clin),
        "list_audit": lambda s: repository.list_audit(s, clin),
        "create_clinician": lambda s: repository.create_clinician(
            s, clin, username="intruder", display_name="X", password="intruder-pass", role="admin"),
        "set_clinician_active": lambda s: repository.set_clinician_active(s, clin, admin.id, False),
        "change_password": lambda s: repository.change_password(s, clin, admin.id, "taken-over-pass"),
        "first-run admin again": lambda s: repository.create_clinician(
            s, None, username="intruder", display_name="X", password="intruder-pass", role="admin"),
    }
    for what, call in calls.items():
        with pytest.raises(PermissionDenied), transaction(clinic.sessions()) as s:
            call(s)
            pytest.fail(f"{what} was allowed for a clinician")
    with transaction(clinic.sessions()) as s:
        assert [c.username for c in repository.list_clinicians(s, admin)] == ["admin", "clin"]
        assert repository.authenticate(s, ADMIN["username"], ADMIN["password"]) is not None


def test_deactivated_account_loses_access_at_its_next_action(clinic):
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60), CLINICIAN["username"], CLINICIAN["password"])
    open_page(at, "views/patient.py", patient=clinic.patient_id)
    assert SECRET_NAME in _everything(at)
    with transaction(clinic.sessions()) as s:
        clin = actor(s, CLINICIAN["username"])
        repository.set_clinician_active(s, actor(s), clin.id, False)
    at.run()  # the next click
    assert [t.value for t in at.title] == ["Sign in to pdlens"]
    assert SECRET_NAME not in _everything(at)
    assert "signed_in" not in at.session_state
    # the repository refuses the stale account object too, for reads and writes
    for call in (lambda s: repository.get_patient(s, clin, clinic.patient_id),
                 lambda s: repository.update_patient(s, clin, clinic.patient_id, name="Changed")):
        with pytest.raises(PermissionDenied), transaction(clinic.sessions()) as s:
            call(s)
    with transaction(clinic.sessions()) as s:
        assert repository.authenticate(s, CLINICIAN["username"], CLINICIAN["password"]) is None


def test_passwords_are_stored_only_as_bcrypt_hashes(clinic):
    with transaction(clinic.sessions()) as s:
        hashes = {c.username: c.password_hash for c in s.scalars(select(Clinician))}
    assert set(hashes) == {"admin", "clin"}
    for password_hash in hashes.values():
        assert password_hash.startswith(("$2b$", "$2a$", "$2y$")) and len(password_hash) == 60
    # neither password, in any encoding, is in the database files (including the WAL)
    db_files = list(Path(clinic.url.removeprefix("sqlite:///")).parent.glob("clinic.sqlite*"))
    raw = b"".join(p.read_bytes() for p in db_files)
    for password in (ADMIN["password"], CLINICIAN["password"]):
        assert password.encode() not in raw and password.encode("utf-16-le") not in raw


def test_failed_sign_in_does_not_reveal_whether_the_account_exists(clinic):
    pages = {}
    for case, username in (("wrong password", ADMIN["username"]), ("no such account", "nobody-here")):
        at = sign_in(AppTest.from_file(str(APP), default_timeout=60), username, "not-the-password")
        assert "signed_in" not in at.session_state
        pages[case] = ([e.value for e in at.error], [t.value for t in at.title], [w.value for w in at.warning],
                       [i.value for i in at.info])
    assert pages["wrong password"] == pages["no such account"]
    assert pages["wrong password"][0] == ["Sign-in failed: unknown username or wrong password."]
    with transaction(clinic.sessions()) as s:
        failed = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")))
    assert len(failed) == 2  # both are audited, without the typed username or password
    assert not any("nobody-here" in e.detail or "not-the-password" in e.detail for e in failed)


def test_audit_trail_records_access_without_names_or_free_text(clinic):
    """Sign-in, a patient and a visit opened, a write through a page, an export: each audited,
    and no detail holds the name, MRN, notes or birth date."""
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60))
    open_page(at, "views/patient.py", patient=clinic.patient_id)
    at.text_area(key="new_visit_notes").input(f"Synthetic follow-up note {SECRET_NAME}")
    at.button(key=next(b.key for b in at.button if b.label == "Create visit")).click()
    at.run()
    assert not at.exception
    open_page(at, "views/visit.py", visit=clinic.visit_id)
    open_page(at, "views/reports.py", patient=clinic.patient_id)
    at.button(key="reports_prepare_csv").click()
    at.run()
    assert not at.exception and any("Download CSV" in b.label for b in at.get("download_button"))
    with transaction(clinic.sessions()) as s:
        events = repository.list_audit(s, actor(s), 500)
    actions = {e.action for e in events}
    assert {"login", "view_patient", "view_visit", "create_visit", "export", "create_patient", "set_rating"} <= actions
    assert all(e.patient_id == clinic.patient_id for e in events
               if e.action in ("view_patient", "view_visit", "create_visit") or (e.action == "export"))
    forbidden = [SECRET_NAME, HOSTILE_NAME, HOSTILE_MRN, HOSTILE_NOTES, "1950-05-06", "Synthetic follow-up", "<", "*"]
    for e in events:
        assert not any(f in e.detail for f in forbidden), (e.action, e.detail)
