"""Server-side sign-in sessions: a sign-in that survives a reload or a new tab, and a logout
that really ends it. No Streamlit here (the dashboard keeps the token in an HTTP-only cookie).

- `start_session` makes a random token (`secrets.token_urlsafe(32)`); only its SHA-256 is
  stored, so a copy of the database signs nobody in.
- `session_clinician` is called on every page run: it refuses an ended session, an expired
  one (idle longer than PDLENS_SESSION_IDLE_MINUTES, or older than PDLENS_SESSION_MAX_HOURS)
  and one whose account was deactivated, and otherwise notes the activity.
- The login page cannot set an HTTP-only cookie itself, so it hands the sign-in to the
  cookie-setting server route through a one-time ticket (`issue_ticket` / `redeem_ticket`),
  also stored hashed and valid for TICKET_SECONDS.
- Every start, end and expiry is audited with ids only (never a name or a token).

Times are timezone-aware UTC; `now=` lets tests move the clock.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.auth import verify_password
from core.config import settings
from core.store import repository
from core.store.errors import NotFound, ValidationError
from core.store.models import Clinician, SignInSession, SignInTicket, utcnow
from core.store.repository import _active_actor, _admin, _audit

TOKEN_BYTES = 32
TICKET_SECONDS = 60
MAX_TOKEN_LENGTH = 200  # a token_urlsafe(32) is 43 characters; anything far longer is not ours
TOUCH_INTERVAL = timedelta(seconds=60)  # last_seen_at is written at most this often


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _now(now: datetime | None) -> datetime:
    return _aware(now) if now is not None else utcnow()


def idle_timeout() -> timedelta:
    return timedelta(minutes=settings().session_idle_minutes)


def max_lifetime() -> timedelta:
    return timedelta(hours=settings().session_max_hours)


def _touch_interval() -> timedelta:
    return min(TOUCH_INTERVAL, idle_timeout() / 10)


def _plausible(token) -> bool:
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH


def _open_session(s: Session, token) -> SignInSession | None:
    if not _plausible(token):
        return None
    return s.scalar(select(SignInSession).where(SignInSession.token_sha256 == token_sha256(token)))


def _end(s: Session, row: SignInSession, at: datetime, reason: str, actor: Clinician | None = None,
         action: str = "session_end") -> None:
    row.ended_at = at
    row.end_reason = reason
    _audit(s, actor, action, detail=f"session={row.id} clinician={row.clinician_id} reason={reason}")


# ---------------------------------------------------------------- sessions


def start_session(s: Session, clinician: Clinician, now: datetime | None = None) -> str:
    """A new session for an active clinician; returns the token (only its hash is stored)."""
    current = _active_actor(s, clinician)
    now = _now(now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = SignInSession(clinician_id=current.id, token_sha256=token_sha256(token), created_at=now,
                        last_seen_at=now, expires_at=now + max_lifetime())
    s.add(row)
    s.flush()
    _audit(s, current, "session_start", detail=f"session={row.id} clinician={current.id}")
    return token


def session_clinician(s: Session, token, now: datetime | None = None) -> Clinician | None:
    """The clinician signed in by `token`, or None when the token is unknown, its session ended
    or expired, or the account is no longer active. An expiry found here ends the session (and
    is audited); a valid session's last activity is brought up to `now`."""
    row = _open_session(s, token)
    if row is None or row.ended_at is not None:
        return None
    now = _now(now)
    clinician = s.get(Clinician, row.clinician_id)
    if clinician is None or not clinician.active:
        _end(s, row, now, "account_inactive", action="session_expired")
        return None
    last_seen = _aware(row.last_seen_at)
    if now >= _aware(row.expires_at):
        _end(s, row, _aware(row.expires_at), "expired", clinician, action="session_expired")
        return None
    if now - last_seen >= idle_timeout():
        _end(s, row, last_seen + idle_timeout(), "idle", clinician, action="session_expired")
        return None
    if now - last_seen >= _touch_interval():
        row.last_seen_at = now
    return clinician


def end_session(s: Session, token, now: datetime | None = None) -> bool:
    """Logout: end the session of `token` on the server. False when it was not open."""
    row = _open_session(s, token)
    if row is None or row.ended_at is not None:
        return False
    _end(s, row, _now(now), "logout", s.get(Clinician, row.clinician_id))
    return True


def _end_sessions_of(s: Session, actor: Clinician, clinician_id: int, reason: str, *, keep_token: str | None = None,
                     now: datetime | None = None) -> int:
    now = _now(now)
    query = select(SignInSession).where(SignInSession.clinician_id == clinician_id, SignInSession.ended_at.is_(None))
    if _plausible(keep_token):
        query = query.where(SignInSession.token_sha256 != token_sha256(keep_token))
    rows = list(s.scalars(query))
    for row in rows:
        row.ended_at = now
        row.end_reason = reason
    _audit(s, actor, "sessions_ended", detail=f"clinician={clinician_id} sessions={len(rows)} reason={reason}")
    return len(rows)


def end_all_sessions(s: Session, actor: Clinician, clinician_id: int, now: datetime | None = None) -> int:
    """An administrator signs an account out everywhere (a lost phone, a shared computer).
    Returns how many sessions were ended."""
    actor = _admin(s, actor, "sign an account out everywhere")
    if s.get(Clinician, clinician_id) is None:
        raise NotFound(f"No clinician with id {clinician_id}.")
    return _end_sessions_of(s, actor, clinician_id, "signed_out_everywhere", now=now)


def open_session_count(s: Session, clinician_id: int, now: datetime | None = None) -> int:
    """Sessions of an active account that are neither ended nor past their idle or absolute expiry."""
    clinician = s.get(Clinician, clinician_id)
    if clinician is None or not clinician.active:
        return 0  # refused at their next click
    now = _now(now)
    rows = s.scalars(select(SignInSession).where(SignInSession.clinician_id == clinician_id,
                                                 SignInSession.ended_at.is_(None)))
    return sum(1 for row in rows
               if now < _aware(row.expires_at) and now - _aware(row.last_seen_at) < idle_timeout())


# ---------------------------------------------------------------- passwords


def _check_new_password(new_password, new_password_again) -> str:
    if not isinstance(new_password, str) or not new_password:
        raise ValidationError("Type the new password.")
    if new_password != new_password_again:
        raise ValidationError("The two new passwords differ: type the same new password twice.")
    return new_password


def change_own_password(s: Session, actor: Clinician, current_password, new_password, new_password_again,
                        keep_token: str | None = None) -> int:
    """A clinician changes their own password (the current one is required). Every other
    session of the account ends; the one of `keep_token` (this browser) stays. Everything is
    checked before anything is written. Returns how many other sessions were ended."""
    current = _active_actor(s, actor)
    if not isinstance(current_password, str) or not verify_password(current_password, current.password_hash):
        raise ValidationError("The current password is wrong: nothing was changed.")
    new_password = _check_new_password(new_password, new_password_again)
    if new_password == current_password:
        raise ValidationError("The new password is the same as the current one: choose a different one.")
    repository.change_password(s, current, current.id, new_password)
    return _end_sessions_of(s, current, current.id, "password_changed", keep_token=keep_token)


def reset_password(s: Session, actor: Clinician, clinician_id: int, new_password, new_password_again) -> int:
    """An administrator sets another clinician's password (forgotten, or an account to take
    back): every session of that account ends. Returns how many were ended."""
    actor = _admin(s, actor, "reset another clinician's password")
    target = s.get(Clinician, clinician_id)
    if target is None:
        raise NotFound(f"No clinician with id {clinician_id}.")
    if target.id == actor.id:
        raise ValidationError("To change your own password use My account (it asks for your current password).")
    new_password = _check_new_password(new_password, new_password_again)
    repository.change_password(s, actor, target.id, new_password)
    return _end_sessions_of(s, actor, target.id, "password_changed")


# ---------------------------------------------------------------- one-time sign-in tickets


def issue_ticket(s: Session, clinician: Clinician, now: datetime | None = None) -> str:
    """After a successful authenticate(): a one-time ticket the browser carries to the route
    that sets the cookie. Expired and used tickets older than a day are cleared here."""
    current = _active_actor(s, clinician)
    now = _now(now)
    s.execute(delete(SignInTicket).where(SignInTicket.expires_at < now - timedelta(days=1)))
    ticket = secrets.token_urlsafe(TOKEN_BYTES)
    s.add(SignInTicket(clinician_id=current.id, ticket_sha256=token_sha256(ticket), created_at=now,
                       expires_at=now + timedelta(seconds=TICKET_SECONDS)))
    s.flush()
    return ticket


def redeem_ticket(s: Session, ticket, now: datetime | None = None) -> str | None:
    """Exchange a ticket (once, before it expires, for a still active account) for a new
    session; returns its token, or None (audited with the reason)."""
    now = _now(now)
    row = (s.scalar(select(SignInTicket).where(SignInTicket.ticket_sha256 == token_sha256(ticket)))
           if _plausible(ticket) else None)
    reason = None
    if row is None:
        reason = "unknown"
    elif row.used_at is not None:
        reason = "used"
    elif now >= _aware(row.expires_at):
        reason = "expired"
    if reason is None:
        row.used_at = now
        clinician = s.get(Clinician, row.clinician_id)
        if clinician is not None and clinician.active:
            return start_session(s, clinician, now=now)
        reason = "account_inactive"
    _audit(s, None, "sign_in_ticket_refused", detail=f"reason={reason}")
    return None
