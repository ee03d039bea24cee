"""Everything the pages do with the record goes through these functions (no SQL in pages).

Rules that hold for every function here:
- `s` is a Session inside `core.store.transaction(...)`: it commits when the block ends and
  rolls back on any exception, so a write is all or nothing.
- Input is validated BEFORE anything is added to the session; bad input raises
  `ValidationError` with one line a clinician can act on.
- Every write and every view of a patient or visit adds an AuditEvent in the same transaction.
  Its `detail` holds ids and field names only, never names, notes or other free text.
- `actor` is the logged-in Clinician; a deactivated account may not read or write.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth import dummy_verify, hash_password, password_problem, verify_password
from core.pipeline import Measure
from core.store.errors import NotFound, PermissionDenied, ValidationError
from core.store.models import (
    AFFECTED_SIDES,
    DIAGNOSES,
    MEDICATION_STATES,
    RECORDING_SIDES,
    RECORDING_SOURCES,
    RECORDING_STATUSES,
    ROLES,
    SignInThrottle,
    SEXES,
    Assessment,
    AuditEvent,
    Clinician,
    ClinicianRating,
    MeasureValue,
    Patient,
    Recording,
    Visit,
)
from core.tasks import TASKS

MRN_MAX = 32
NAME_MAX = 200
NOTES_MAX = 10_000
HOURS_SINCE_DOSE_MAX = 72.0
EARLIEST_DATE = date(1900, 1, 1)
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
UPDRS_ITEM_PATTERN = re.compile(r"^[1-4]\.\d{1,2}[a-z]?$")  # "3.4", "3.17", "3.3a"


# ---------------------------------------------------------------- helpers


def _audit(s: Session, actor: Clinician | None, action: str, patient_id: int | None = None, detail: str = "") -> None:
    s.add(AuditEvent(clinician_id=actor.id if actor else None, action=action, patient_id=patient_id, detail=detail))


def _active_actor(s: Session, actor: Clinician | None) -> Clinician:
    """The actor as stored now: an account deactivated since login loses access at once."""
    current = s.get(Clinician, actor.id) if actor is not None and actor.id is not None else None
    if current is None or not current.active:
        raise PermissionDenied("Your account is not active. Ask an administrator.")
    return current


def _may(s: Session, actor: Clinician | None, action: str) -> Clinician:
    """The active actor, if their role may do `action` (core.permissions); else PermissionDenied."""
    from core.permissions import require

    current = _active_actor(s, actor)
    require(current, action)
    return current


def _admin(s: Session, actor: Clinician | None, what: str = "manage clinician accounts") -> Clinician:
    current = _active_actor(s, actor)
    if current.role != "admin":
        raise PermissionDenied(f"Only an administrator can {what}.")
    return current


def _choice(value, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{what} must be one of: {', '.join(allowed)} (got {value!r}).")
    return value


def _text(value, what: str, max_len: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text.")
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{what} is required.")
    if len(value) > max_len:
        raise ValidationError(f"{what} is too long: at most {max_len} characters (got {len(value)}).")
    return value


_YEAR_MONTH_DAY = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def _parse_date_text(text: str, what: str) -> date:
    """A typed date: ISO (2024-03-31, 20240331) or year-month-day with other separators or
    without leading zeros (2024/3/31, 2024.03.31). Day-first forms are refused: 03/04/1950
    would be ambiguous."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    match = _YEAR_MONTH_DAY.fullmatch(text)
    if match:
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            raise ValidationError(f"{what}: {text} is not a real date.") from None
    raise ValidationError(f"{what} must be a date like 2024-03-31 (year-month-day).")


def _past_date(value, what: str) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        if not value.strip():
            raise ValidationError(f"{what} is required.")
        value = _parse_date_text(value.strip(), what)
    if not isinstance(value, date):
        raise ValidationError(f"{what} is required.")
    if value > date.today():
        raise ValidationError(f"{what} cannot be in the future ({value.isoformat()}).")
    if value < EARLIEST_DATE:
        raise ValidationError(f"{what} cannot be before {EARLIEST_DATE.year} ({value.isoformat()}).")
    return value


def _number(value, what: str, low: float | None = None, high: float | None = None, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be a number.") from None
    if not math.isfinite(number):
        raise ValidationError(f"{what} must be a finite number.")
    if low is not None and number < low:
        raise ValidationError(f"{what} must be at least {low:g} (got {number:g}).")
    if high is not None and number > high:
        raise ValidationError(f"{what} must be at most {high:g} (got {number:g}).")
    return number


def _json_or_none(value, what: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a JSON object (a dict).")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} cannot be stored as JSON: {exc}.") from None
    return value


def _flush(s: Session, message: str) -> None:
    """Flush, turning a constraint race (two clinicians saving the same thing at once) into the
    same clear message the pre-check gives."""
    try:
        s.flush()
    except IntegrityError:
        raise ValidationError(message) from None


def _patient(s: Session, patient_id: int) -> Patient:
    patient = s.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    return patient


def _visit(s: Session, visit_id: int) -> Visit:
    visit = s.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"No visit with id {visit_id}.")
    return visit


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------- clinicians and login


def has_any_clinician(s: Session) -> bool:
    return s.scalar(select(Clinician.id).limit(1)) is not None


def create_clinician(
    s: Session, actor: Clinician | None, *, username: str, display_name: str, password: str, role: str
) -> Clinician:
    """Add an account. With actor None only the first-run administrator can be created."""
    if actor is None:
        if has_any_clinician(s):
            raise PermissionDenied("An administrator already exists: log in as an administrator to add clinicians.")
        if role != "admin":
            raise ValidationError("The first account must be an administrator.")
    else:
        actor = _admin(s, actor)
    username = _text(username, "Username", 64).lower()
    if not USERNAME_PATTERN.match(username):
        raise ValidationError(
            "Username must be 3-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    display_name = _text(display_name, "Display name", 200)
    role = _choice(role, ROLES, "Role")
    if not isinstance(password, str):
        raise ValidationError("Password is required.")
    problem = password_problem(password)
    if problem:
        raise ValidationError(problem)
    message = f"The username {username} is already taken."
    if s.scalar(select(Clinician.id).where(Clinician.username == username)) is not None:
        raise ValidationError(message)
    clinician = Clinician(
        username=username, display_name=display_name, password_hash=hash_password(password), role=role, active=True
    )
    s.add(clinician)
    _flush(s, message)
    _audit(s, actor or clinician, "create_clinician", detail=f"clinician={clinician.id} role={role}")
    return clinician


SIGN_IN_FAILED = "Sign-in failed: unknown username or wrong password."


def _locked_message(minutes: float) -> str:
    wait = max(1, math.ceil(minutes))
    return (f"Sign-in failed, and sign-in with this username is now paused after repeated failures: "
            f"try again in {wait} minute{'s' if wait != 1 else ''}.")


@dataclass(frozen=True)
class SignInAttempt:
    """The outcome of attempt_sign_in: the clinician on success, else None and the one line to
    show (the same whether or not the username exists)."""

    clinician: Clinician | None
    message: str | None = None

    @property
    def locked(self) -> bool:
        return self.clinician is None and self.message is not None and self.message != SIGN_IN_FAILED


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns: they are UTC."""
    return moment if moment is None or moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _username_key(username: str) -> str:
    """What sign_in_throttles stores of a typed username: the SHA-256 of its normalised form."""
    import hashlib

    return hashlib.sha256(username.encode("utf-8")).hexdigest()


def _normal_username(username: str | None) -> str:
    return (username or "").strip().lower()[:NAME_MAX]


def _throttle(s: Session, username: str) -> SignInThrottle:
    """The failure counter of a typed username (created on first use; two first failures at once
    end with one row)."""
    key = _username_key(username)
    row = s.scalar(select(SignInThrottle).where(SignInThrottle.username_sha256 == key))
    if row is None:
        try:
            with s.begin_nested():
                row = SignInThrottle(username_sha256=key, failures=0)
                s.add(row)
        except IntegrityError:
            row = s.scalar(select(SignInThrottle).where(SignInThrottle.username_sha256 == key))
    return row


def attempt_sign_in(s: Session, username: str, password: str, now: datetime | None = None) -> SignInAttempt:
    """Check a username and password, with the lockout: after `lockout_attempts` failures in a
    row within `lockout_minutes` (core.config), that username is refused for `lockout_minutes`,
    even with the right password. Counted per typed username whether or not an account has it,
    so neither the lockout nor its message tells whether the account exists. A success resets
    the count. Success, failure and refusal while locked are audited (never the username or
    the password; the clinician's id when the account exists). `now=` lets tests move the clock."""
    from core.config import settings

    config = settings()
    window = timedelta(minutes=config.lockout_minutes)
    now = _aware(now) if now is not None else datetime.now(timezone.utc)
    username = _normal_username(username)
    password = password if isinstance(password, str) else ""
    clinician = s.scalar(select(Clinician).where(Clinician.username == username)) if username else None
    stale = now - window - timedelta(days=1)  # counters that can no longer lock anyone: cleared
    s.execute(delete(SignInThrottle).where(
        or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until < stale),
        or_(SignInThrottle.first_failure_at.is_(None), SignInThrottle.first_failure_at < stale)))
    throttle = _throttle(s, username)
    locked_until = _aware(throttle.locked_until)
    if locked_until is not None and now < locked_until:
        _audit(s, clinician, "login_failed", detail="reason=locked")
        return SignInAttempt(None, _locked_message((locked_until - now).total_seconds() / 60))
    if locked_until is not None or (throttle.first_failure_at is not None
                                    and now - _aware(throttle.first_failure_at) >= window):
        throttle.failures, throttle.first_failure_at, throttle.locked_until = 0, None, None  # a fresh start
    if clinician is None:
        dummy_verify(password)  # same time as a wrong password
        reason = "unknown_username"
    elif not verify_password(password, clinician.password_hash):
        reason = "wrong_password"
    elif not clinician.active:
        reason = "inactive"
    else:
        throttle.failures, throttle.first_failure_at, throttle.locked_until = 0, None, None
        _audit(s, clinician, "login")
        return SignInAttempt(clinician)
    throttle.failures += 1
    if throttle.first_failure_at is None:
        throttle.first_failure_at = now
    _audit(s, clinician, "login_failed", detail=f"reason={reason}")
    if throttle.failures >= config.lockout_attempts:
        throttle.locked_until = now + window
        _audit(s, clinician, "sign_in_locked", detail=f"failures={throttle.failures}")
        return SignInAttempt(None, _locked_message(config.lockout_minutes))
    return SignInAttempt(None, SIGN_IN_FAILED)


def sign_in_lockouts(s: Session, actor: Clinician, now: datetime | None = None) -> dict[int, datetime]:
    """Administrators only: the accounts whose username is locked out now, as clinician id ->
    the end of the lockout (UTC). Locked usernames without an account are not listed (only their
    hash is stored)."""
    _may(s, actor, "unlock_sign_in")
    now = _aware(now) if now is not None else datetime.now(timezone.utc)
    by_key = {_username_key(c.username): c.id for c in s.scalars(select(Clinician))}
    locked = s.execute(select(SignInThrottle.username_sha256, SignInThrottle.locked_until)
                       .where(SignInThrottle.locked_until.is_not(None))).all()
    return {by_key[key]: _aware(until) for key, until in locked if key in by_key and _aware(until) > now}


def unlock_sign_in(s: Session, actor: Clinician, username: str, now: datetime | None = None) -> bool:
    """Administrators only (core.permissions UNLOCK_SIGN_IN): end the sign-in lockout of a
    username now and forget its failed attempts, e.g. after someone locked a colleague out by
    typing her username with wrong passwords. Works for any typed username, with or without an
    account. True when the username was locked out. Audited as `unlock_sign_in` with the account's
    id (none when no account has that username) and whether it was locked; never the username."""
    actor = _may(s, actor, "unlock_sign_in")
    now = _aware(now) if now is not None else datetime.now(timezone.utc)
    username = _normal_username(username)
    if not username:
        raise ValidationError("Give the username to unlock.")
    throttle = s.scalar(select(SignInThrottle).where(SignInThrottle.username_sha256 == _username_key(username)))
    locked_until = _aware(throttle.locked_until) if throttle is not None else None
    was_locked = locked_until is not None and now < locked_until
    if throttle is not None:
        s.delete(throttle)
    clinician_id = s.scalar(select(Clinician.id).where(Clinician.username == username))
    _audit(s, actor, "unlock_sign_in",
           detail=f"clinician={clinician_id if clinician_id is not None else 'none'} was_locked={was_locked}")
    return was_locked


def authenticate(s: Session, username: str, password: str, now: datetime | None = None) -> Clinician | None:
    """The clinician if the username and password match an active account that is not locked
    out, else None (attempt_sign_in tells why, in words fit for the sign-in page)."""
    return attempt_sign_in(s, username, password, now=now).clinician


def list_clinicians(s: Session, actor: Clinician) -> list[Clinician]:
    """Administrators only (the Administration page)."""
    _admin(s, actor)
    return list(s.scalars(select(Clinician).order_by(Clinician.username)))


def set_clinician_active(s: Session, actor: Clinician, clinician_id: int, active: bool) -> Clinician:
    actor = _admin(s, actor)
    clinician = s.get(Clinician, clinician_id)
    if clinician is None:
        raise NotFound(f"No clinician with id {clinician_id}.")
    if clinician.id == actor.id and not active:
        raise ValidationError("You cannot deactivate your own account.")
    clinician.active = bool(active)
    _audit(s, actor, "set_clinician_active", detail=f"clinician={clinician.id} active={bool(active)}")
    return clinician


def change_password(s: Session, actor: Clinician, clinician_id: int, new_password: str) -> None:
    """A clinician changes their own password; an administrator may reset anyone's."""
    current = _active_actor(s, actor)
    if current.id != clinician_id and current.role != "admin":
        raise PermissionDenied("Only an administrator can change another clinician's password.")
    clinician = s.get(Clinician, clinician_id)
    if clinician is None:
        raise NotFound(f"No clinician with id {clinician_id}.")
    problem = password_problem(new_password if isinstance(new_password, str) else "")
    if problem:
        raise ValidationError(problem)
    clinician.password_hash = hash_password(new_password)
    _audit(s, current, "change_password", detail=f"clinician={clinician.id}")


# ---------------------------------------------------------------- patients

PATIENT_FIELDS = ("mrn", "name", "birth_date", "sex", "diagnosis", "more_affected_side", "height_cm")
HEIGHT_CM_RANGE = (50.0, 250.0)  # what a height on the patient record may be (gait speed's scale)


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list."""

    id: int
    mrn: str
    name: str
    birth_date: date
    sex: str
    diagnosis: str
    archived: bool
    visit_count: int
    last_visit_date: date | None


def _clean_patient_fields(fields: dict) -> dict:
    clean = {}
    if "mrn" in fields:
        clean["mrn"] = _text(fields["mrn"], "MRN", MRN_MAX)
    if "name" in fields:
        clean["name"] = _text(fields["name"], "Name", NAME_MAX)
    if "birth_date" in fields:
        clean["birth_date"] = _past_date(fields["birth_date"], "Birth date")
    if "sex" in fields:
        clean["sex"] = _choice(fields["sex"], SEXES, "Sex")
    if "diagnosis" in fields:
        clean["diagnosis"] = _choice(fields["diagnosis"], DIAGNOSES, "Diagnosis")
    if "more_affected_side" in fields:
        clean["more_affected_side"] = _choice(fields["more_affected_side"], AFFECTED_SIDES, "More affected side")
    if "height_cm" in fields:
        clean["height_cm"] = _height_cm(fields["height_cm"])
    return clean


def _height_cm(value) -> float | None:
    """The patient's height in cm, or None (not recorded). Used to scale gait speed from video
    when no floor marks were clicked."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        height = float(value)
    except (TypeError, ValueError):
        raise ValidationError("Height: enter the patient's height in centimetres, e.g. 172.") from None
    lo, hi = HEIGHT_CM_RANGE
    if not (height == height and lo <= height <= hi):
        raise ValidationError(f"Height: {height:g} cm is outside {lo:g}-{hi:g} cm; enter it in centimetres.")
    return round(height, 1)


def _check_mrn_free(s: Session, mrn: str, patient_id: int | None = None) -> str:
    """MRNs are unique ignoring case ("ab12" and "AB12" are the same chart)."""
    message = f"A patient with MRN {mrn} already exists."
    query = select(Patient.id).where(Patient.mrn_lower == mrn.lower())
    if patient_id is not None:
        query = query.where(Patient.id != patient_id)
    if s.scalar(query.limit(1)) is not None:
        raise ValidationError(message)
    return message


def create_patient(
    s: Session,
    actor: Clinician,
    *,
    mrn: str,
    name: str,
    birth_date: date,
    sex: str,
    diagnosis: str,
    more_affected_side: str,
    height_cm: float | None = None,
) -> Patient:
    actor = _may(s, actor, "edit_record")
    clean = _clean_patient_fields(
        dict(mrn=mrn, name=name, birth_date=birth_date, sex=sex, diagnosis=diagnosis,
             more_affected_side=more_affected_side, height_cm=height_cm)
    )
    message = _check_mrn_free(s, clean["mrn"])
    patient = Patient(**clean, name_lower=clean["name"].lower(), mrn_lower=clean["mrn"].lower(), archived=False)
    s.add(patient)
    _flush(s, message)
    _audit(s, actor, "create_patient", patient.id)
    return patient


def _reject_unknown_fields(fields: dict, editable: tuple[str, ...] | list[str]) -> None:
    unknown = set(fields) - set(editable)
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))}: editable fields are {', '.join(editable)}.")


def update_patient(s: Session, actor: Clinician, patient_id: int, **fields) -> Patient:
    actor = _may(s, actor, "edit_record")
    _reject_unknown_fields(fields, PATIENT_FIELDS)
    patient = _patient(s, patient_id)
    clean = _clean_patient_fields(fields)
    message = _check_mrn_free(s, clean["mrn"], patient.id) if "mrn" in clean else ""
    changed = [name for name, value in clean.items() if getattr(patient, name) != value]
    for name in changed:
        setattr(patient, name, clean[name])
    patient.name_lower = patient.name.lower()
    patient.mrn_lower = patient.mrn.lower()
    _flush(s, message or "The patient could not be saved.")
    _audit(s, actor, "update_patient", patient.id, detail=f"fields={','.join(changed)}")
    return patient


def _set_archived(s: Session, actor: Clinician, patient_id: int, archived: bool) -> Patient:
    actor = _may(s, actor, "edit_record")
    patient = _patient(s, patient_id)
    patient.archived = archived
    _audit(s, actor, "archive_patient" if archived else "unarchive_patient", patient.id)
    return patient


def archive_patient(s: Session, actor: Clinician, patient_id: int) -> Patient:
    """Hide a patient from the list. Nothing is ever deleted."""
    return _set_archived(s, actor, patient_id, True)


def unarchive_patient(s: Session, actor: Clinician, patient_id: int) -> Patient:
    return _set_archived(s, actor, patient_id, False)


def get_patient(s: Session, actor: Clinician, patient_id: int) -> Patient:
    """Open a patient's record (audited as a view)."""
    actor = _active_actor(s, actor)
    patient = _patient(s, patient_id)
    _audit(s, actor, "view_patient", patient.id)
    return patient


def _search_filter(query: str, include_archived: bool):
    """Every word of the query must appear in the name or in the MRN (case-insensitive, anywhere),
    so "smith jo" finds "Jo Smith", "AB12" finds MRN "ab1234" and "0001" finds "T-0001"."""
    conditions = []
    if not include_archived:
        conditions.append(Patient.archived.is_(False))
    for word in (query or "").lower().split():
        escaped = _like_escape(word)
        conditions.append(
            or_(
                Patient.name_lower.like(f"%{escaped}%", escape="\\"),
                Patient.mrn_lower.like(f"%{escaped}%", escape="\\"),
            )
        )
    return and_(True, *conditions)


def search_patients(
    s: Session, query: str = "", *, include_archived: bool = False, limit: int = 50, offset: int = 0
) -> list[PatientRow]:
    """One page of the patient list, sorted by name. Two indexed queries: the page of patients,
    then visit counts and last visit dates for just those patients."""
    patients = s.execute(
        select(
            Patient.id, Patient.mrn, Patient.name, Patient.birth_date, Patient.sex, Patient.diagnosis, Patient.archived
        )
        .where(_search_filter(query, include_archived))
        .order_by(Patient.name_lower, Patient.id)
        .limit(max(0, int(limit)))
        .offset(max(0, int(offset)))
    ).all()
    if not patients:
        return []
    ids = [p.id for p in patients]
    stats = {
        row.patient_id: (row.visit_count, row.last_visit_date)
        for row in s.execute(
            select(
                Visit.patient_id,
                func.count(Visit.id).label("visit_count"),
                func.max(Visit.visit_date).label("last_visit_date"),
            )
            .where(Visit.patient_id.in_(ids))
            .group_by(Visit.patient_id)
        )
    }
    rows = []
    for p in patients:
        visit_count, last_visit = stats.get(p.id, (0, None))
        if isinstance(last_visit, str):  # SQLite returns max() of a date column as text
            last_visit = date.fromisoformat(last_visit)
        rows.append(PatientRow(p.id, p.mrn, p.name, p.birth_date, p.sex, p.diagnosis, p.archived, visit_count, last_visit))
    return rows


LIST_VIEW_PAGES = ("patients", "overview")


def audit_list_view(s: Session, actor: Clinician, page: str, patient_ids: Iterable[int]) -> None:
    """A list that shows patients' names (the patient list, the clinic overview) is a view too:
    one audit row with the page and the ids shown (as many as fit, then how many more)."""
    actor = _may(s, actor, "view")
    page = _choice(page, LIST_VIEW_PAGES, "List page")
    ids = sorted({int(i) for i in patient_ids})
    detail = f"page={page} rows={len(ids)}"
    shown: list[str] = []
    for n, pid in enumerate(ids):
        candidate = ",".join([*shown, str(pid)])
        rest = len(ids) - n - 1
        if len(detail) + len(" ids=") + len(candidate) + len(f" more={rest}") > 500:
            break
        shown.append(str(pid))
    if shown:
        detail += f" ids={','.join(shown)}"
    if len(shown) < len(ids):
        detail += f" more={len(ids) - len(shown)}"
    _audit(s, actor, "view_patient_list", detail=detail)


def count_patients(s: Session, query: str = "", include_archived: bool = False) -> int:
    return s.scalar(select(func.count(Patient.id)).where(_search_filter(query, include_archived))) or 0


# ---------------------------------------------------------------- visits

VISIT_FIELDS = ("visit_date", "medication_state", "hours_since_dose", "notes")


def _clean_visit_fields(fields: dict) -> dict:
    clean = {}
    if "visit_date" in fields:
        clean["visit_date"] = _past_date(fields["visit_date"], "Visit date")
    if "medication_state" in fields:
        clean["medication_state"] = _choice(fields["medication_state"], MEDICATION_STATES, "Medication state")
    if "hours_since_dose" in fields:
        clean["hours_since_dose"] = _number(
            fields["hours_since_dose"], "Hours since the last dose", 0.0, HOURS_SINCE_DOSE_MAX, optional=True
        )
    if "notes" in fields:
        notes = fields["notes"] if fields["notes"] is not None else ""
        if not isinstance(notes, str):
            raise ValidationError("Notes must be text.")
        if len(notes) > NOTES_MAX:
            raise ValidationError(f"Notes are too long: at most {NOTES_MAX:,} characters (got {len(notes):,}).")
        clean["notes"] = notes
    return clean


def _writable_patient(s: Session, patient_id: int) -> Patient:
    patient = _patient(s, patient_id)
    if patient.archived:
        raise ValidationError("This patient is archived: restore the patient before adding or changing visits.")
    return patient


def create_visit(
    s: Session,
    actor: Clinician,
    patient_id: int,
    *,
    visit_date: date,
    medication_state: str,
    hours_since_dose: float | None = None,
    notes: str = "",
) -> Visit:
    actor = _may(s, actor, "edit_record")
    patient = _writable_patient(s, patient_id)
    clean = _clean_visit_fields(
        dict(visit_date=visit_date, medication_state=medication_state, hours_since_dose=hours_since_dose, notes=notes)
    )
    visit = Visit(patient_id=patient.id, clinician_id=actor.id, **clean)
    s.add(visit)
    s.flush()
    _audit(s, actor, "create_visit", patient.id, detail=f"visit={visit.id}")
    return visit


def list_visits(s: Session, patient_id: int) -> list[Visit]:
    """A patient's visits, newest first."""
    return list(
        s.scalars(select(Visit).where(Visit.patient_id == patient_id).order_by(Visit.visit_date.desc(), Visit.id.desc()))
    )


def get_visit(s: Session, actor: Clinician, visit_id: int) -> Visit:
    """Open a visit (audited as a view of its patient)."""
    actor = _active_actor(s, actor)
    visit = _visit(s, visit_id)
    _audit(s, actor, "view_visit", visit.patient_id, detail=f"visit={visit.id}")
    return visit


def update_visit(s: Session, actor: Clinician, visit_id: int, **fields) -> Visit:
    actor = _may(s, actor, "edit_record")
    _reject_unknown_fields(fields, VISIT_FIELDS)
    visit = _visit(s, visit_id)
    _writable_patient(s, visit.patient_id)
    clean = _clean_visit_fields(fields)
    changed = [name for name, value in clean.items() if getattr(visit, name) != value]
    for name in changed:
        setattr(visit, name, clean[name])
    _audit(s, actor, "update_visit", visit.patient_id, detail=f"visit={visit.id} fields={','.join(changed)}")
    return visit


# ---------------------------------------------------------------- recordings, assessments, ratings


def _relative_path(value) -> str:
    path = _text(value, "Stored path", 300)
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts:
        raise ValidationError("Stored path must be relative to the data folder.")
    return path


def add_recording(
    s: Session,
    actor: Clinician,
    visit_id: int,
    *,
    task: str,
    side: str | None,
    stored_path: str,
    sha256: str,
    duration_s: float | None,
    format: str,
    source: str,
    original_name: str = "",
    quality_ok: bool = False,
    quality_json: dict | None = None,
    status: str = "recorded",
) -> Recording:
    actor = _may(s, actor, "record")
    visit = _visit(s, visit_id)
    _writable_patient(s, visit.patient_id)
    task = _choice(task, tuple(TASKS), "Task")
    if TASKS[task].sided:
        side = _choice(side, RECORDING_SIDES, f"Side for {TASKS[task].label}")
    elif side is not None:
        raise ValidationError(f"{TASKS[task].label} is not recorded per side: leave the side empty.")
    if not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256):
        raise ValidationError("sha256 must be 64 lower-case hex digits.")
    values = dict(
        visit_id=visit.id,
        task=task,
        side=side,
        stored_path=_relative_path(stored_path),
        sha256=sha256,
        duration_s=_number(duration_s, "Duration", 0.0, 24 * 3600.0, optional=True),
        format=_text(format, "Format", 32),
        source=_choice(source, RECORDING_SOURCES, "Source"),
        original_name=_text(original_name, "Original file name", 255, required=False),
        quality_ok=bool(quality_ok),
        quality_json=_json_or_none(quality_json, "Quality"),
        status=_choice(status, RECORDING_STATUSES, "Status"),
    )
    message = "This file was already added to this visit."
    if s.scalar(select(Recording.id).where(Recording.visit_id == visit.id, Recording.sha256 == sha256)) is not None:
        raise ValidationError(message)
    recording = Recording(**values)
    s.add(recording)
    _flush(s, message)
    refresh_counting_clips(s, visit.id)
    _audit(s, actor, "add_recording", visit.patient_id, detail=f"visit={visit.id} recording={recording.id} task={task}")
    return recording


def list_recordings(s: Session, visit_id: int) -> list[Recording]:
    return list(s.scalars(select(Recording).where(Recording.visit_id == visit_id).order_by(Recording.id)))


# ---------------------------------------------------------------- the clip that counts


def refresh_counting_clips(s: Session, visit_id: int) -> None:
    """Mark, per task and side of a visit, the one clip that counts: the clinician's chosen clip,
    else the latest clip that passed its quality check; excluded clips never count, and a failed
    retake never displaces a good clip. Called after every change of a visit's clips, in the
    same transaction."""
    s.flush()
    groups: dict[tuple[str, str | None], list[Recording]] = {}
    for r in list_recordings(s, visit_id):
        groups.setdefault((r.task, r.side), []).append(r)
    for clips in groups.values():
        usable = [r for r in clips if r.excluded_reason is None]
        chosen = [r for r in usable if r.chosen]
        good = [r for r in usable if r.quality_ok and r.status not in ("needs_retake", "failed")]
        pick = chosen[-1] if chosen else (good[-1] if good else None)
        for r in clips:
            r.counts = r is pick
            if r.chosen and r is not pick:
                r.chosen = False
    s.flush()


def _writable_recording(s: Session, actor: Clinician, recording_id: int) -> tuple[Clinician, Recording, Visit]:
    actor = _may(s, actor, "record")
    recording = get_recording(s, recording_id)
    visit = _visit(s, recording.visit_id)
    _writable_patient(s, visit.patient_id)
    return actor, recording, visit


def _set_choice(s: Session, recording: Recording, chosen_id: int | None) -> None:
    """The clinician's choice for the clip's task and side: clip `chosen_id`, or none."""
    for other in list_recordings(s, recording.visit_id):
        if (other.task, other.side) == (recording.task, recording.side):
            other.chosen = other.id == chosen_id
    refresh_counting_clips(s, recording.visit_id)


def choose_recording(s: Session, actor: Clinician, recording_id: int) -> Recording:
    """The clinician says this clip counts for its task and side (even one that failed its
    quality check: she saw it and judged it usable)."""
    actor, recording, visit = _writable_recording(s, actor, recording_id)
    if recording.excluded_reason is not None:
        raise ValidationError("This clip is excluded: include it again before choosing it.")
    _set_choice(s, recording, recording.id)
    _audit(s, actor, "choose_recording", visit.patient_id, detail=f"visit={visit.id} recording={recording.id}")
    return recording


def clear_recording_choice(s: Session, actor: Clinician, recording_id: int) -> Recording:
    """Back to the automatic rule for this clip's task and side (latest clip that passed)."""
    actor, recording, visit = _writable_recording(s, actor, recording_id)
    _set_choice(s, recording, None)
    _audit(s, actor, "clear_recording_choice", visit.patient_id, detail=f"visit={visit.id} recording={recording.id}")
    return recording


EXCLUSION_REASON_MAX = 500


def exclude_recording(s: Session, actor: Clinician, recording_id: int, reason: str) -> Recording:
    """Keep a clip out of every score, trend and report, with the clinician's reason (kept in
    the record, never in the audit trail)."""
    actor, recording, visit = _writable_recording(s, actor, recording_id)
    recording.excluded_reason = _text(reason, "The reason for excluding the clip", EXCLUSION_REASON_MAX)
    recording.chosen = False
    refresh_counting_clips(s, visit.id)
    _audit(s, actor, "exclude_recording", visit.patient_id, detail=f"visit={visit.id} recording={recording.id}")
    return recording


def include_recording(s: Session, actor: Clinician, recording_id: int) -> Recording:
    actor, recording, visit = _writable_recording(s, actor, recording_id)
    recording.excluded_reason = None
    refresh_counting_clips(s, visit.id)
    _audit(s, actor, "include_recording", visit.patient_id, detail=f"visit={visit.id} recording={recording.id}")
    return recording


def relabel_recording(s: Session, actor: Clinician, recording_id: int, *, task: str, side: str | None,
                      quality_ok: bool, quality_json: dict | None, status: str,
                      duration_s: float | None) -> Recording:
    """Give a clip another task or side, with the result of analysing it again as that task
    (core.visits.relabel_clip does the analysis). The clinician's choice is cleared: the clip
    competes under its new label by the usual rule."""
    actor, recording, visit = _writable_recording(s, actor, recording_id)
    task = _choice(task, tuple(TASKS), "Task")
    if TASKS[task].sided:
        side = _choice(side, RECORDING_SIDES, f"Side for {TASKS[task].label}")
    else:
        side = None
    before = (recording.task, recording.side)
    recording.task, recording.side = task, side
    recording.quality_ok = bool(quality_ok)
    recording.quality_json = _json_or_none(quality_json, "Quality")
    recording.status = _choice(status, RECORDING_STATUSES, "Status")
    recording.duration_s = _number(duration_s, "Duration", 0.0, 24 * 3600.0, optional=True)
    recording.chosen = False
    refresh_counting_clips(s, visit.id)
    _audit(s, actor, "relabel_recording", visit.patient_id,
           detail=f"visit={visit.id} recording={recording.id} from={before[0]}/{before[1] or '-'} to={task}/{side or '-'}")
    return recording


def set_recording_setup(s: Session, actor: Clinician, recording_id: int, setup_json: dict | None, *,
                        quality_ok: bool, quality_json: dict | None, status: str,
                        duration_s: float | None, measured_again: bool = False) -> Recording:
    """Store how a clip was filmed (Recording.setup_json: the floor marks of a gait-speed clip,
    core.analysis.ClipSetup.to_json; empty: none), with the result of analysing it again with that
    set-up (core.visits.set_floor_marks does the analysis). `measured_again`: the set-up is
    unchanged, the clip was measured again (e.g. after the patient's height was entered). Audited
    without free text."""
    actor, recording, visit = _writable_recording(s, actor, recording_id)
    setup_json = _json_or_none(setup_json or None, "Clip set-up")
    recording.setup_json = setup_json
    recording.quality_ok = bool(quality_ok)
    recording.quality_json = _json_or_none(quality_json, "Quality")
    recording.status = _choice(status, RECORDING_STATUSES, "Status")
    recording.duration_s = _number(duration_s, "Duration", 0.0, 24 * 3600.0, optional=True)
    refresh_counting_clips(s, visit.id)
    distance = (setup_json or {}).get("marks_distance_m")
    action = "measure_clip_again" if measured_again else ("set_floor_marks" if setup_json else "clear_floor_marks")
    _audit(s, actor, action, visit.patient_id,
           detail=f"visit={visit.id} recording={recording.id}"
           + (f" distance_m={float(distance):g}" if distance is not None else ""))
    return recording


def get_recording(s: Session, recording_id: int) -> Recording:
    recording = s.get(Recording, recording_id)
    if recording is None:
        raise NotFound(f"No recording with id {recording_id}.")
    return recording


def set_recording_status(
    s: Session,
    actor: Clinician,
    recording_id: int,
    status: str,
    *,
    quality_ok: bool | None = None,
    quality_json: dict | None = None,
) -> Recording:
    """After analysis: "analysed", "needs_retake" (quality failed) or "failed"."""
    actor = _may(s, actor, "record")
    recording = get_recording(s, recording_id)
    status = _choice(status, RECORDING_STATUSES, "Status")
    quality_json = _json_or_none(quality_json, "Quality")
    recording.status = status
    if quality_ok is not None:
        recording.quality_ok = bool(quality_ok)
    if quality_json is not None:
        recording.quality_json = quality_json
    visit = s.get(Visit, recording.visit_id)
    _audit(s, actor, "set_recording_status", visit.patient_id, detail=f"recording={recording.id} status={status}")
    return recording


def _clean_measures(measures: Iterable[Measure]) -> list[dict]:
    rows, seen = [], set()
    for m in measures or ():
        name = _text(getattr(m, "name", None), "Measure name", 64)
        if name in seen:
            raise ValidationError(f"Measure {name} appears twice in one assessment.")
        seen.add(name)
        value = _number(getattr(m, "value", None), f"Measure {name}")
        unit = _text(getattr(m, "unit", "") or "", f"Unit of {name}", 16, required=False)
        rows.append(dict(name=name, value=value, unit=unit))
    return rows


def save_assessment(
    s: Session,
    actor: Clinician,
    *,
    visit_id: int,
    recording_id: int | None,
    model_name: str,
    model_version: str,
    probability: float | None,
    interval: tuple[float, float] | None,
    severity: float | None,
    abstained_reason: str | None,
    inputs_sha256: str,
    explanation: dict | None,
    measures: list[Measure],
) -> Assessment:
    """An assessment and all its measures, in the caller's transaction."""
    actor = _may(s, actor, "record")
    visit = _visit(s, visit_id)
    if recording_id is not None:
        recording = s.get(Recording, recording_id)
        if recording is None or recording.visit_id != visit.id:
            raise ValidationError(f"Recording {recording_id} does not belong to visit {visit.id}.")
    probability = _number(probability, "Probability", 0.0, 1.0, optional=True)
    low = high = None
    if interval is not None:
        try:
            low, high = interval
        except (TypeError, ValueError):
            raise ValidationError("Interval must be a pair (low, high).") from None
        low = _number(low, "Interval low", 0.0, 1.0)
        high = _number(high, "Interval high", 0.0, 1.0)
        if low > high:
            raise ValidationError("Interval low must not be above interval high.")
    values = dict(
        visit_id=visit.id,
        recording_id=recording_id,
        model_name=_text(model_name, "Model name", 100),
        model_version=_text(model_version, "Model version", 100),
        probability=probability,
        interval_low=low,
        interval_high=high,
        severity=_number(severity, "Severity", 0.0, 4.0, optional=True),
        abstained_reason=_text(abstained_reason, "Abstention reason", 2000, required=False) or None,
        inputs_sha256=_text(inputs_sha256, "Inputs sha256", 64, required=False),
        explanation_json=_json_or_none(explanation, "Explanation"),
    )
    measure_rows = _clean_measures(measures)
    # One current assessment per clip and one current visit score: the new one supersedes.
    # (a visit score supersedes the visit score, not measures imported for the visit by another model)
    same = (and_(Assessment.recording_id.is_(None), Assessment.model_name == values["model_name"])
            if recording_id is None else Assessment.recording_id == recording_id)
    now = datetime.now(timezone.utc)
    for older in s.scalars(select(Assessment).where(Assessment.visit_id == visit.id, same,
                                                    Assessment.superseded_at.is_(None))):
        older.superseded_at = now
    assessment = Assessment(**values)
    s.add(assessment)
    s.flush()
    if measure_rows:
        s.add_all(MeasureValue(assessment_id=assessment.id, **row) for row in measure_rows)
    _audit(s, actor, "save_assessment", visit.patient_id, detail=f"visit={visit.id} assessment={assessment.id}")
    return assessment


def list_assessments(s: Session, visit_id: int, include_superseded: bool = False) -> list[Assessment]:
    """A visit's current assessments (one per clip, one visit score), oldest first; with
    include_superseded also the history they replaced."""
    query = select(Assessment).where(Assessment.visit_id == visit_id)
    if not include_superseded:
        query = query.where(Assessment.superseded_at.is_(None))
    return list(s.scalars(query.order_by(Assessment.id)))


def counted_assessment():
    """The SQL condition for "this assessment is part of the record": current, and either the
    visit score or the assessment of the clip that counts. Use with Assessment outer-joined to
    Recording on Assessment.recording_id."""
    return and_(Assessment.superseded_at.is_(None),
                or_(Assessment.recording_id.is_(None), Recording.counts.is_(True)))


MEASURE_SERIES_COLUMNS = [
    "visit_id", "visit_date", "medication_state", "task", "side", "name", "value", "unit", "model_name", "assessment_id",
]


def measure_series(s: Session, patient_id: int, names: list[str] | None = None) -> pd.DataFrame:
    """Every measure of a patient's record (current assessments of the clips that count), one
    row per value, oldest visit first (one query).
    task/side come from the recording and are None for visit-level assessments."""
    query = (
        select(
            Visit.id.label("visit_id"),
            Visit.visit_date,
            Visit.medication_state,
            Recording.task,
            Recording.side,
            MeasureValue.name,
            MeasureValue.value,
            MeasureValue.unit,
            Assessment.model_name,
            Assessment.id.label("assessment_id"),
        )
        .select_from(MeasureValue)
        .join(Assessment, MeasureValue.assessment_id == Assessment.id)
        .join(Visit, Assessment.visit_id == Visit.id)
        .outerjoin(Recording, Assessment.recording_id == Recording.id)
        .where(Visit.patient_id == patient_id, counted_assessment())
        .order_by(Visit.visit_date, Visit.id, Assessment.id, MeasureValue.name)
    )
    if names is not None:
        query = query.where(MeasureValue.name.in_(list(names)))
    frame = pd.DataFrame([tuple(row) for row in s.execute(query)], columns=MEASURE_SERIES_COLUMNS)
    frame["visit_date"] = pd.to_datetime(frame["visit_date"])
    frame["value"] = frame["value"].astype(float)
    return frame


def set_rating(s: Session, actor: Clinician, visit_id: int, item: str, side: str | None, score: float) -> ClinicianRating:
    """The clinician's own score for an item (MDS-UPDRS "3.4" 0-4 per location, "hoehn_yahr"
    0-5, totals); setting it again replaces it. Items of core.ratings are checked there (their
    locations: "right"/"left", or "neck", "rue", "lue", "rle", "lle", "lipjaw"); other
    MDS-UPDRS-numbered items (imports) take 0-4. Saving a part III item recomputes the stored
    part III total once all 33 scores are present."""
    from core.ratings import LOCATIONS, PART3_TOTAL_ITEM, RATING_ITEMS, legacy_location, validate_rating

    actor = _may(s, actor, "rate")
    visit = _visit(s, visit_id)
    item = _text(item, "Rating item", 32)
    if item in RATING_ITEMS:
        item, side, score = validate_rating(item, side, score)
    else:
        if side is not None:
            side = _choice(side, tuple(LOCATIONS), "Side")
        if UPDRS_ITEM_PATTERN.match(item):
            score = _number(score, f"Score for item {item}", 0.0, 4.0)
        else:
            score = _number(score, f"Score for {item}", 0.0, 1000.0)
    rating = _stored_rating(s, visit.id, item, side)
    if rating is None and side is not None:
        # An older row of the same location under its former side name (3.17 "right" = "rue").
        for legacy in [k for k in LOCATIONS if k != side and legacy_location(item, k) == side]:
            rating = _stored_rating(s, visit.id, item, legacy)
            if rating is not None:
                rating.side = side
                break
    if rating is None:
        rating = ClinicianRating(visit_id=visit.id, item=item, side=side, score=score, rater_id=actor.id)
        s.add(rating)
    else:
        rating.score, rating.rater_id = score, actor.id
    _flush(s, f"Item {item} was rated at the same time by someone else: reload and try again.")
    _audit(s, actor, "set_rating", visit.patient_id, detail=f"visit={visit.id} item={item} side={side or '-'}")
    spec = RATING_ITEMS.get(item)
    if spec is not None and spec.part3:
        _refresh_part3_total(s, actor, visit, PART3_TOTAL_ITEM)
    return rating


def _stored_rating(s: Session, visit_id: int, item: str, side: str | None) -> ClinicianRating | None:
    side_match = ClinicianRating.side.is_(None) if side is None else ClinicianRating.side == side
    return s.scalar(select(ClinicianRating).where(ClinicianRating.visit_id == visit_id, ClinicianRating.item == item,
                                                  side_match))


def _refresh_part3_total(s: Session, actor: Clinician, visit: Visit, total_item: str) -> None:
    """Store the part III total (the sum of the 33 scores) once every score is present. A partly
    rated exam keeps whatever total was stored before (an imported one, typically)."""
    from core.ratings import part3_total

    total = part3_total(list_ratings(s, visit.id))
    if total.total is None:
        return
    row = _stored_rating(s, visit.id, total_item, None)
    if row is None:
        s.add(ClinicianRating(visit_id=visit.id, item=total_item, side=None, score=total.total, rater_id=actor.id))
    elif row.score == total.total:
        return
    else:
        row.score, row.rater_id = total.total, actor.id
    _flush(s, "The part III total was saved at the same time by someone else: reload and try again.")
    _audit(s, actor, "set_rating", visit.patient_id, detail=f"visit={visit.id} item={total_item} side=- computed")


def list_ratings(s: Session, visit_id: int) -> list[ClinicianRating]:
    return list(
        s.scalars(select(ClinicianRating).where(ClinicianRating.visit_id == visit_id).order_by(ClinicianRating.item, ClinicianRating.side))
    )


# ---------------------------------------------------------------- audit


AUDIT_CSV_COLUMNS = ["id", "at_utc", "clinician_id", "username", "action", "patient_id", "detail"]


def _audit_query(*, clinician_id: int | None = None, action: str | None = None, patient_id: int | None = None,
                 since: date | datetime | None = None, until: date | datetime | None = None):
    """The filtered trail, newest first. `since`/`until` are inclusive calendar days (UTC) when
    dates, exact instants when datetimes."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if clinician_id is not None:
        query = query.where(AuditEvent.clinician_id == int(clinician_id))
    if action:
        query = query.where(AuditEvent.action == action)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == int(patient_id))
    if since is not None:
        start = since if isinstance(since, datetime) else datetime.combine(since, datetime.min.time(), timezone.utc)
        query = query.where(AuditEvent.at >= start)
    if until is not None:
        if isinstance(until, datetime):
            query = query.where(AuditEvent.at <= until)
        else:
            end = datetime.combine(until, datetime.min.time(), timezone.utc) + timedelta(days=1)
            query = query.where(AuditEvent.at < end)
    if since is not None and until is not None and not isinstance(since, datetime) and not isinstance(until, datetime) \
            and until < since:
        raise ValidationError("The audit period ends before it starts: swap the two dates.")
    return query


def list_audit(s: Session, actor: Clinician, limit: int = 200, patient_id: int | None = None, *,
               clinician_id: int | None = None, action: str | None = None,
               since: date | datetime | None = None, until: date | datetime | None = None) -> list[AuditEvent]:
    """Newest first, filtered by who, what, which patient and a period. Administrators only:
    the trail says who opened which patient."""
    _admin(s, actor, "read the audit trail")
    query = _audit_query(clinician_id=clinician_id, action=action, patient_id=patient_id, since=since, until=until)
    return list(s.scalars(query.limit(max(0, int(limit)))))


def audit_actions(s: Session, actor: Clinician) -> list[str]:
    """The actions present in the trail (for the filter's choices)."""
    _admin(s, actor, "read the audit trail")
    return sorted(s.scalars(select(AuditEvent.action).distinct()))


def audit_csv(s: Session, actor: Clinician, *, clinician_id: int | None = None, action: str | None = None,
              patient_id: int | None = None, since: date | datetime | None = None,
              until: date | datetime | None = None) -> str:
    """The filtered trail as CSV (every matching row, newest first; the username next to the
    clinician id; no names or free text are in the trail). Administrators only; the export is
    itself audited with its filters."""
    import csv
    import io

    actor = _admin(s, actor, "export the audit trail")
    query = _audit_query(clinician_id=clinician_id, action=action, patient_id=patient_id, since=since, until=until)
    usernames = {cid: name for cid, name in s.execute(select(Clinician.id, Clinician.username))}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(AUDIT_CSV_COLUMNS)
    rows = 0
    for event in s.scalars(query.execution_options(yield_per=1000)):
        at = event.at if event.at.tzinfo is not None else event.at.replace(tzinfo=timezone.utc)
        writer.writerow([event.id, at.astimezone(timezone.utc).isoformat(), event.clinician_id or "",
                         usernames.get(event.clinician_id, ""), event.action, event.patient_id or "", event.detail])
        rows += 1
    filters = " ".join(f"{k}={v}" for k, v in (("clinician", clinician_id), ("action", action),
                                                ("patient", patient_id),
                                                ("since", since.isoformat() if since else None),
                                                ("until", until.isoformat() if until else None)) if v is not None and v != "")
    _audit(s, actor, "export", patient_id, detail=f"kind=audit_csv rows={rows}" + (f" {filters}" if filters else ""))
    return out.getvalue()
