"""Account protection (issue 14): the sign-in lockout after repeated failures (count and
duration from settings, the clock moved with `now=`), the same refusal whether or not the
account exists, and the password rule (length, not a common password from the shipped list).
Idle expiry and "sign out everywhere" are tested in test_sessions.py (core) and
tests/dashboard/test_account_pages.py (pages). Real SQLite file; synthetic accounts only."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.auth import COMMON_PASSWORDS_FILE, common_passwords, is_common_password, password_problem
from core.config import settings
from core.store import AuditEvent, Clinician, SignInThrottle, ValidationError, repository, transaction
from core.store.errors import PermissionDenied
from tests.dashboard.conftest import ADMIN, APP, sign_in
from tests.security.test_sessions import CLIN_PASSWORD, T0, db  # noqa: F401  (fixture)


def attempt(factory, username, password, now):
    with transaction(factory) as s:
        return repository.attempt_sign_in(s, username, password, now=now)


def fail_until_locked(factory, username, now) -> list:
    return [attempt(factory, username, "not-the-password", now + timedelta(seconds=i))
            for i in range(settings().lockout_attempts)]


def test_repeated_failures_lock_the_username_even_for_the_right_password_then_it_unlocks(db):
    factory, _ = db
    results = fail_until_locked(factory, "clin", T0)
    assert [r.locked for r in results] == [False] * (settings().lockout_attempts - 1) + [True]
    during = T0 + timedelta(minutes=settings().lockout_minutes) - timedelta(seconds=1)
    refused = attempt(factory, "clin", CLIN_PASSWORD, during)
    assert refused.clinician is None and refused.locked
    assert "try again in 1 minute" in refused.message
    after = T0 + timedelta(seconds=settings().lockout_attempts) + timedelta(minutes=settings().lockout_minutes)
    assert attempt(factory, "clin", CLIN_PASSWORD, after).clinician.username == "clin"
    # after the lockout ended the count starts again: one failure does not lock
    assert not attempt(factory, "clin", "not-the-password", after + timedelta(seconds=1)).locked
    with transaction(factory) as s:
        actions = [(e.action, e.detail) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert ("sign_in_locked", f"failures={settings().lockout_attempts}") in actions
    assert ("login_failed", "reason=locked") in actions
    assert actions[-2][0] == "login"


def test_a_success_resets_the_count_and_failures_older_than_the_window_do_not_add_up(db):
    factory, _ = db
    attempts = settings().lockout_attempts
    for i in range(attempts - 1):
        attempt(factory, "clin", "not-the-password", T0 + timedelta(seconds=i))
    assert attempt(factory, "clin", CLIN_PASSWORD, T0 + timedelta(seconds=30)).clinician is not None
    for i in range(attempts - 1):
        assert not attempt(factory, "clin", "not-the-password", T0 + timedelta(minutes=1, seconds=i)).locked
    later = T0 + timedelta(minutes=1) + timedelta(minutes=settings().lockout_minutes)
    assert not attempt(factory, "clin", "not-the-password", later).locked  # the old failures expired


def test_lockout_count_and_duration_are_settings(db, monkeypatch):
    factory, _ = db
    monkeypatch.setenv("PDLENS_LOCKOUT_ATTEMPTS", "2")
    monkeypatch.setenv("PDLENS_LOCKOUT_MINUTES", "3")
    settings.cache_clear()
    assert not attempt(factory, "clin", "nope-nope", T0).locked
    second = attempt(factory, "clin", "nope-nope", T0 + timedelta(seconds=1))
    assert second.locked and "3 minutes" in second.message
    assert attempt(factory, "clin", CLIN_PASSWORD, T0 + timedelta(minutes=2)).clinician is None
    assert attempt(factory, "clin", CLIN_PASSWORD, T0 + timedelta(minutes=3, seconds=2)).clinician is not None


def test_the_lockout_says_nothing_about_whether_the_account_exists(db):
    factory, _ = db
    existing = fail_until_locked(factory, "clin", T0)
    missing = fail_until_locked(factory, "nobody-here", T0)
    assert [r.message for r in existing] == [r.message for r in missing]
    later = T0 + timedelta(minutes=1)
    assert attempt(factory, "clin", CLIN_PASSWORD, later).message == attempt(factory, "nobody-here", "x", later).message
    with transaction(factory) as s:
        stored = list(s.scalars(select(SignInThrottle.username_sha256)))
        details = " ".join(e.detail for e in s.scalars(select(AuditEvent)))
    assert len(stored) == 2 and all(len(h) == 64 for h in stored)  # hashes, never the typed name
    assert "nobody-here" not in details and "not-the-password" not in details


def test_an_administrator_lifts_a_lockout_and_the_right_password_works_at_once(db):
    """Someone typed a colleague's username with wrong passwords until it locked: the administrator
    unlocks it (core, the permission table's unlock_sign_in), audited with ids and codes only."""
    factory, _ = db
    fail_until_locked(factory, "clin", T0)
    during = T0 + timedelta(minutes=1)
    assert attempt(factory, "clin", CLIN_PASSWORD, during).locked
    with transaction(factory) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        clin_id = s.scalar(select(Clinician.id).where(Clinician.username == "clin"))
        lockouts = repository.sign_in_lockouts(s, admin, now=during)
        assert list(lockouts) == [clin_id]
        assert lockouts[clin_id] > during
        assert repository.unlock_sign_in(s, admin, "  CLIN ", now=during) is True  # as the sign-in form reads it
    with transaction(factory) as s:
        assert repository.sign_in_lockouts(s, s.scalar(select(Clinician).where(Clinician.username == "admin")),
                                           now=during) == {}
    assert attempt(factory, "clin", CLIN_PASSWORD, during + timedelta(seconds=1)).clinician.username == "clin"
    # the failures were forgotten too: a new failure starts a fresh count, it does not lock again
    assert not attempt(factory, "clin", "not-the-password", during + timedelta(seconds=2)).locked
    with transaction(factory) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        assert repository.unlock_sign_in(s, admin, "clin", now=during) is False  # was not locked
        rows = s.execute(select(AuditEvent.clinician_id, AuditEvent.detail)
                         .where(AuditEvent.action == "unlock_sign_in").order_by(AuditEvent.id)).all()
    assert rows == [(admin.id, f"clinician={clin_id} was_locked=True"), (admin.id, f"clinician={clin_id} was_locked=False")]


def test_a_username_without_an_account_can_be_unlocked_and_says_nothing_more(db):
    factory, _ = db
    fail_until_locked(factory, "nobody-here", T0)
    with transaction(factory) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        assert repository.sign_in_lockouts(s, admin, now=T0 + timedelta(minutes=1)) == {}  # only hashes stored
        assert repository.unlock_sign_in(s, admin, "nobody-here", now=T0 + timedelta(minutes=1)) is True
        with pytest.raises(ValidationError, match="username"):
            repository.unlock_sign_in(s, admin, "   ")
    assert not attempt(factory, "nobody-here", "x", T0 + timedelta(minutes=1, seconds=1)).locked
    with transaction(factory) as s:
        details = [e.detail for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "unlock_sign_in"))]
    assert details == ["clinician=none was_locked=True"]


@pytest.mark.parametrize("role", ["clinician", "reviewer"])
def test_only_an_administrator_may_unlock(db, role):
    factory, _ = db
    fail_until_locked(factory, "admin", T0)
    with transaction(factory) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        other = repository.create_clinician(s, admin, username=f"other-{role}", display_name="Synthetic Other",
                                            password="synthetic-other-pass", role=role)
    with pytest.raises(PermissionDenied, match="administrator"), transaction(factory) as s:
        repository.unlock_sign_in(s, s.get(Clinician, other.id), "admin", now=T0 + timedelta(minutes=1))
    with pytest.raises(PermissionDenied), transaction(factory) as s:
        repository.sign_in_lockouts(s, s.get(Clinician, other.id))
    assert attempt(factory, "admin", "synthetic-admin-pass", T0 + timedelta(minutes=1)).locked  # still locked


def test_the_sign_in_page_shows_the_lockout_the_same_way_for_any_username(admin_db, monkeypatch):
    monkeypatch.setenv("PDLENS_LOCKOUT_ATTEMPTS", "2")
    settings.cache_clear()
    shown = {}
    for username in (ADMIN["username"], "nobody-here"):
        at = AppTest.from_file(str(APP), default_timeout=60)
        for _ in range(2):
            at = sign_in(at, username, "not-the-password")
        sign_in(at, username, ADMIN["password"])  # even the right password now
        assert "signed_in" not in at.session_state
        shown[username] = [e.value for e in at.error]
    assert shown[ADMIN["username"]] == shown["nobody-here"]
    assert "paused after repeated failures" in shown["nobody-here"][0]


def test_the_common_password_list_is_shipped_with_its_source_and_licence():
    header = "\n".join(line for line in COMMON_PASSWORDS_FILE.read_text().splitlines() if line.startswith("#"))
    assert "SecLists" in header and "MIT" in header
    words = common_passwords()
    assert len(words) >= 200 and all(len(w) >= 8 for w in words)


@pytest.mark.parametrize("password", ["password", "Password1", "BASEBALL", "sunshine2024!", "iloveyou", "1q2w3e4r"])
def test_common_passwords_are_refused(password):
    assert is_common_password(password)
    assert "most common" in password_problem(password)


@pytest.mark.parametrize("password", ["mauve-otter-tram", "17-lamp-7", "pass-word-clinic-9"])
def test_uncommon_passwords_of_the_right_length_are_accepted(password):
    assert password_problem(password) is None


def test_accounts_refuse_a_common_password_and_write_nothing(db):
    factory, _ = db
    with transaction(factory) as s:
        admin = s.scalar(select(repository.Clinician).where(repository.Clinician.username == "admin"))
        with pytest.raises(ValidationError, match="most common"):
            repository.create_clinician(s, admin, username="newbie", display_name="Synthetic New",
                                        password="Superman99", role="clinician")
        with pytest.raises(ValidationError, match="most common"):
            repository.change_password(s, admin, admin.id, "trustno1")
    with transaction(factory) as s:
        assert s.scalar(select(repository.Clinician).where(repository.Clinician.username == "newbie")) is None


def test_counters_that_can_no_longer_lock_anyone_are_cleared(db):
    """Usernames typed once (a typo, a spray of guesses) do not pile up for ever."""
    factory, _ = db
    for name in ("typo-one", "typo-two"):
        attempt(factory, name, "x-x-x-x-x", T0)
    fail_until_locked(factory, "clin", T0)
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(SignInThrottle)) == 3
    later = T0 + timedelta(days=2)
    attempt(factory, "someone-else", "x-x-x-x-x", later)
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(SignInThrottle)) == 1
