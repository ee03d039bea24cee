"""Server-side sign-in sessions (core.sessions) on a real SQLite file: expiry after idle time,
logout on the server, tokens stored only hashed, deactivated accounts refused, a password
change or an administrator's "sign out everywhere" ending the other sessions, one-time
tickets. Synthetic accounts only."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from core import sessions
from core.auth import verify_password
from core.config import settings
from core.store import (
    AuditEvent,
    Clinician,
    PermissionDenied,
    SignInSession,
    SignInTicket,
    ValidationError,
    make_engine,
    migrate,
    repository,
    session_factory,
    transaction,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
ADMIN_PASSWORD = "synthetic-admin-pass"
CLIN_PASSWORD = "synthetic-clin-pass"


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("PDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PDLENS_SESSION_IDLE_MINUTES", raising=False)
    monkeypatch.delenv("PDLENS_SESSION_MAX_HOURS", raising=False)
    settings.cache_clear()
    path = tmp_path / "sessions.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        admin = repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                            password=ADMIN_PASSWORD, role="admin")
        repository.create_clinician(s, admin, username="clin", display_name="Synthetic Clinician",
                                    password=CLIN_PASSWORD, role="clinician")
    yield factory, path
    engine.dispose()
    settings.cache_clear()


def account(s, username: str) -> Clinician:
    return s.scalar(select(Clinician).where(Clinician.username == username))


def start(factory, username: str = "clin", now: datetime = T0) -> str:
    with transaction(factory) as s:
        return sessions.start_session(s, account(s, username), now=now)


def who(factory, token, now: datetime) -> str | None:
    with transaction(factory) as s:
        clinician = sessions.session_clinician(s, token, now=now)
        return clinician.username if clinician else None


def session_row(factory, token) -> SignInSession:
    with transaction(factory) as s:
        return s.scalar(select(SignInSession).where(SignInSession.token_sha256 == sessions.token_sha256(token)))


def audit_actions(factory) -> list[tuple[str, str]]:
    with transaction(factory) as s:
        return [(e.action, e.detail) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_a_session_lasts_while_used_and_ends_after_the_idle_timeout(db):
    factory, _ = db
    token = start(factory)
    assert who(factory, token, T0 + timedelta(minutes=29)) == "clin"
    # that activity moved the idle clock: 29 minutes after it the session still holds
    assert who(factory, token, T0 + timedelta(minutes=58)) == "clin"
    assert who(factory, token, T0 + timedelta(minutes=58 + 30)) is None
    row = session_row(factory, token)
    assert row.end_reason == "idle"
    assert row.ended_at.replace(tzinfo=timezone.utc) == T0 + timedelta(minutes=58 + 30)
    # ended for good: coming back "in time" again does not revive it
    assert who(factory, token, T0 + timedelta(minutes=59)) is None
    assert ("session_expired", f"session={row.id} clinician={row.clinician_id} reason=idle") in audit_actions(factory)


def test_idle_timeout_is_a_setting(db, monkeypatch):
    factory, _ = db
    monkeypatch.setenv("PDLENS_SESSION_IDLE_MINUTES", "5")
    settings.cache_clear()
    token = start(factory)
    assert who(factory, token, T0 + timedelta(minutes=4)) == "clin"
    assert who(factory, token, T0 + timedelta(minutes=9, seconds=30)) is None


def test_a_session_ends_at_its_absolute_expiry_even_when_busy(db, monkeypatch):
    factory, _ = db
    monkeypatch.setenv("PDLENS_SESSION_MAX_HOURS", "1")
    settings.cache_clear()
    token = start(factory)
    for minutes in (20, 40, 59):
        assert who(factory, token, T0 + timedelta(minutes=minutes)) == "clin"
    assert who(factory, token, T0 + timedelta(minutes=61)) is None
    assert session_row(factory, token).end_reason == "expired"


def test_logout_ends_the_session_on_the_server(db):
    factory, _ = db
    token = start(factory)
    other_browser = start(factory)
    with transaction(factory) as s:
        assert sessions.end_session(s, token, now=T0 + timedelta(minutes=1)) is True
    assert who(factory, token, T0 + timedelta(minutes=2)) is None  # the cookie is useless now
    assert session_row(factory, token).end_reason == "logout"
    with transaction(factory) as s:
        assert sessions.end_session(s, token) is False  # a second logout changes nothing
    assert who(factory, other_browser, T0 + timedelta(minutes=2)) == "clin"  # only this browser
    assert sum(action == "session_end" for action, _ in audit_actions(factory)) == 1


def test_unknown_and_malformed_tokens_are_refused(db):
    factory, _ = db
    start(factory)
    for token in (None, "", "x" * 5000, 42, "not-a-token-we-issued"):
        assert who(factory, token, T0) is None


def test_only_the_token_hash_is_stored(db):
    factory, path = db
    token = start(factory)
    ticket = None
    with transaction(factory) as s:
        ticket = sessions.issue_ticket(s, account(s, "admin"), now=T0)
    raw = path.read_bytes() + (path.parent / (path.name + "-wal")).read_bytes()
    assert token.encode() not in raw and ticket.encode() not in raw
    with sqlite3.connect(path) as connection:
        [(stored,)] = connection.execute("SELECT token_sha256 FROM sign_in_sessions").fetchall()
        [(stored_ticket,)] = connection.execute("SELECT ticket_sha256 FROM sign_in_tickets").fetchall()
        details = " ".join(d for (d,) in connection.execute("SELECT detail FROM audit_events"))
    assert stored == sessions.token_sha256(token) and len(stored) == 64 and stored != token
    assert stored_ticket == sessions.token_sha256(ticket)
    assert token not in details and stored not in details
    assert "Synthetic" not in details  # ids only, no names
    assert len(token) >= 43  # 32 random bytes


def test_a_deactivated_accounts_session_is_refused(db):
    factory, _ = db
    token = start(factory)
    with transaction(factory) as s:
        repository.set_clinician_active(s, account(s, "admin"), account(s, "clin").id, False)
        assert sessions.open_session_count(s, account(s, "clin").id, now=T0) == 0  # not "signed in now"
    assert who(factory, token, T0 + timedelta(minutes=1)) is None
    assert session_row(factory, token).end_reason == "account_inactive"
    with transaction(factory) as s:  # and reactivating does not bring the old session back
        repository.set_clinician_active(s, account(s, "admin"), account(s, "clin").id, True)
    assert who(factory, token, T0 + timedelta(minutes=2)) is None
    with pytest.raises(PermissionDenied), transaction(factory) as s:
        clin = account(s, "clin")
        clin.active = False
        s.flush()
        sessions.start_session(s, clin, now=T0)


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(db):
    factory, _ = db
    here, laptop, phone = start(factory), start(factory), start(factory)
    admin_token = start(factory, "admin")
    with transaction(factory) as s:
        ended = sessions.change_own_password(s, account(s, "clin"), CLIN_PASSWORD, "a-new-synthetic-pass",
                                             "a-new-synthetic-pass", keep_token=here)
    assert ended == 2
    later = T0 + timedelta(minutes=1)
    assert who(factory, here, later) == "clin"
    assert who(factory, laptop, later) is None and who(factory, phone, later) is None
    assert session_row(factory, laptop).end_reason == "password_changed"
    assert who(factory, admin_token, later) == "admin"  # other accounts untouched
    with transaction(factory) as s:
        assert verify_password("a-new-synthetic-pass", account(s, "clin").password_hash)
    actions = [a for a, _ in audit_actions(factory)]
    assert "change_password" in actions and "sessions_ended" in actions


@pytest.mark.parametrize("current, new, again, message", [
    ("wrong-current-pass", "a-new-synthetic-pass", "a-new-synthetic-pass", "current password is wrong"),
    (CLIN_PASSWORD, "a-new-synthetic-pass", "a-new-synthetic-typo", "two new passwords differ"),
    (CLIN_PASSWORD, "short", "short", "at least 8 characters"),
    (CLIN_PASSWORD, CLIN_PASSWORD, CLIN_PASSWORD, "same as the current one"),
])
def test_a_refused_password_change_writes_nothing(db, current, new, again, message):
    factory, _ = db
    other = start(factory)
    before = audit_actions(factory)
    with pytest.raises(ValidationError, match=message), transaction(factory) as s:
        sessions.change_own_password(s, account(s, "clin"), current, new, again)
    with transaction(factory) as s:
        assert verify_password(CLIN_PASSWORD, account(s, "clin").password_hash)
    assert audit_actions(factory) == before
    assert who(factory, other, T0 + timedelta(minutes=1)) == "clin"


def test_an_administrator_resets_a_password_and_every_session_of_that_account_ends(db):
    factory, _ = db
    laptop = start(factory)
    with transaction(factory) as s:
        assert sessions.reset_password(s, account(s, "admin"), account(s, "clin").id,
                                       "reset-synthetic-pass", "reset-synthetic-pass") == 1
    assert who(factory, laptop, T0 + timedelta(minutes=1)) is None
    with transaction(factory) as s:
        assert repository.authenticate(s, "clin", "reset-synthetic-pass") is not None
        with pytest.raises(PermissionDenied):  # a clinician cannot reset anyone's password
            sessions.reset_password(s, account(s, "clin"), account(s, "admin").id, "x-synthetic-pass",
                                    "x-synthetic-pass")
        with pytest.raises(ValidationError, match="My account"):  # own password: through My account
            sessions.reset_password(s, account(s, "admin"), account(s, "admin").id, "x-synthetic-pass",
                                    "x-synthetic-pass")


def test_sign_out_everywhere_is_for_administrators_and_ends_every_session(db):
    factory, _ = db
    tokens = [start(factory) for _ in range(3)]
    admin_token = start(factory, "admin")
    with transaction(factory) as s:
        with pytest.raises(PermissionDenied):
            sessions.end_all_sessions(s, account(s, "clin"), account(s, "admin").id)
    with transaction(factory) as s:
        assert sessions.open_session_count(s, account(s, "clin").id, now=T0) == 3
        assert sessions.end_all_sessions(s, account(s, "admin"), account(s, "clin").id) == 3
        assert sessions.open_session_count(s, account(s, "clin").id, now=T0) == 0
    assert all(who(factory, t, T0 + timedelta(minutes=1)) is None for t in tokens)
    assert who(factory, admin_token, T0 + timedelta(minutes=1)) == "admin"
    assert any(a == "sessions_ended" and "sessions=3 reason=signed_out_everywhere" in d
               for a, d in audit_actions(factory))


def test_a_ticket_is_redeemed_once_and_only_in_time(db):
    factory, _ = db
    with transaction(factory) as s:
        ticket = sessions.issue_ticket(s, account(s, "clin"), now=T0)
        late = sessions.issue_ticket(s, account(s, "clin"), now=T0)
    with transaction(factory) as s:
        token = sessions.redeem_ticket(s, ticket, now=T0 + timedelta(seconds=5))
    assert who(factory, token, T0 + timedelta(seconds=6)) == "clin"
    with transaction(factory) as s:
        assert sessions.redeem_ticket(s, ticket, now=T0 + timedelta(seconds=7)) is None  # used
        assert sessions.redeem_ticket(s, late, now=T0 + timedelta(seconds=sessions.TICKET_SECONDS)) is None
        assert sessions.redeem_ticket(s, "forged-ticket", now=T0) is None
        assert s.scalar(select(func.count()).select_from(SignInSession)) == 1
        refused = [e.detail for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in_ticket_refused"))]
    assert refused == ["reason=used", "reason=expired", "reason=unknown"]


def test_a_ticket_of_an_account_deactivated_meanwhile_starts_no_session(db):
    factory, _ = db
    with transaction(factory) as s:
        ticket = sessions.issue_ticket(s, account(s, "clin"), now=T0)
        repository.set_clinician_active(s, account(s, "admin"), account(s, "clin").id, False)
    with transaction(factory) as s:
        assert sessions.redeem_ticket(s, ticket, now=T0 + timedelta(seconds=1)) is None
        assert s.scalar(select(func.count()).select_from(SignInSession)) == 0
        assert s.scalar(select(func.count()).select_from(SignInTicket).where(SignInTicket.used_at.is_not(None))) == 1
