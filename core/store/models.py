"""The clinic's record: SQLAlchemy 2 typed models (DESIGN.md section 2).

Enumerated fields are short strings with CHECK constraints (portable across SQLite and
PostgreSQL, readable in a SQL shell). Every change of schema goes through an Alembic migration
in core/store/alembic/versions; a test checks that the models and the migrations agree.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from core.tasks import TASKS

ROLES = ("admin", "clinician", "reviewer")  # core.permissions: what each may do
SEXES = ("female", "male", "other", "unknown")
DIAGNOSES = ("pd", "control", "unknown")
AFFECTED_SIDES = ("left", "right", "none", "unknown")
MEDICATION_STATES = ("on", "off", "unknown")
RECORDING_SIDES = ("left", "right")
RECORDING_SOURCES = ("upload", "browser", "import")
RECORDING_STATUSES = ("recorded", "analysed", "needs_retake", "failed")
TASK_KEYS = tuple(TASKS)
# An audit row's detail: space-separated `key=value` tokens of ids, codes, numbers and field
# lists (no spaces inside a value), and the few flags below; so no sentence, name or note fits.
AUDIT_FLAGS = ("computed",)
_AUDIT_TOKEN = rf"(?:[a-z_][a-z0-9_]*=[A-Za-z0-9_.,:/+\-]*|{'|'.join(AUDIT_FLAGS)})"
AUDIT_DETAIL_PATTERN = re.compile(rf"{_AUDIT_TOKEN}(?: {_AUDIT_TOKEN})*")
AUDIT_ACTION_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")

# Named constraints, so that migrations can drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _one_of(column: str, values: tuple[str, ...], nullable: bool = False) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({allowed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=f"{column}_allowed")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Clinician(Base):
    __tablename__ = "clinicians"
    __table_args__ = (_one_of("role", ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"Clinician(id={self.id}, username={self.username!r}, role={self.role!r})"


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        _one_of("sex", SEXES),
        _one_of("diagnosis", DIAGNOSES),
        _one_of("more_affected_side", AFFECTED_SIDES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased copies kept by the repository: case-insensitive search with a plain B-tree
    # index that works the same on SQLite and PostgreSQL.
    name_lower: Mapped[str] = mapped_column(String(200), index=True)
    mrn_lower: Mapped[str] = mapped_column(String(32), index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(16))
    diagnosis: Mapped[str] = mapped_column(String(16))
    more_affected_side: Mapped[str] = mapped_column(String(16))
    # Height (cm), optional: scales gait speed from a video filmed without floor marks.
    height_cm: Mapped[float | None] = mapped_column(Float)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    visits: Mapped[list[Visit]] = relationship(back_populates="patient", order_by="Visit.visit_date.desc()")

    def __repr__(self) -> str:  # no name: reprs end up in logs
        return f"Patient(id={self.id}, mrn={self.mrn!r})"


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (
        _one_of("medication_state", MEDICATION_STATES),
        Index("ix_visits_patient_id_visit_date", "patient_id", "visit_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    visit_date: Mapped[date] = mapped_column(Date)
    medication_state: Mapped[str] = mapped_column(String(16))
    hours_since_dose: Mapped[float | None] = mapped_column(Float)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinicians.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="visits")
    clinician: Mapped[Clinician | None] = relationship()

    def __repr__(self) -> str:
        return f"Visit(id={self.id}, patient_id={self.patient_id}, visit_date={self.visit_date})"


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("visit_id", "sha256"),
        _one_of("task", TASK_KEYS),
        _one_of("side", RECORDING_SIDES, nullable=True),
        _one_of("source", RECORDING_SOURCES),
        _one_of("status", RECORDING_STATUSES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    task: Mapped[str] = mapped_column(String(32))
    side: Mapped[str | None] = mapped_column(String(8))
    stored_path: Mapped[str] = mapped_column(String(300))  # relative to the data dir
    sha256: Mapped[str] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    format: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    original_name: Mapped[str] = mapped_column(String(255), default="")
    quality_ok: Mapped[bool] = mapped_column(default=False)
    quality_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="recorded")
    # The clip that counts for its task and side on this visit (core.visits.refresh_counting_clips
    # keeps exactly one per task and side, or none): the clinician's choice if she made one, else
    # the latest clip that passed its quality check. Excluded clips never count.
    counts: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    chosen: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    excluded_reason: Mapped[str | None] = mapped_column(Text)
    # How the clip was filmed, where a task needs it (core.analysis.ClipSetup.to_json): the two
    # floor marks a clinician clicked on a frame of a gait speed clip and their distance apart.
    setup_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the retention policy (core.retention) deleted the raw clip and its side files;
    # the measures, scores and explanation of the clip are kept.
    clip_removed_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def excluded(self) -> bool:
        return self.excluded_reason is not None

    def __repr__(self) -> str:
        return f"Recording(id={self.id}, visit_id={self.visit_id}, task={self.task!r}, side={self.side!r})"


class Assessment(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    # None for a visit-level (fused) assessment
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"), index=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    probability: Mapped[float | None] = mapped_column(Float)
    interval_low: Mapped[float | None] = mapped_column(Float)
    interval_high: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[float | None] = mapped_column(Float)
    abstained_reason: Mapped[str | None] = mapped_column(Text)
    inputs_sha256: Mapped[str] = mapped_column(String(64), default="")
    explanation_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a newer assessment of the same clip (re-analysis, relabel) or of the same visit
    # (a new combined score) replaces this one. History is kept; only rows with None are current,
    # and every page, report and export reads current rows only.
    superseded_at: Mapped[datetime | None] = mapped_column(index=True)

    @property
    def current(self) -> bool:
        return self.superseded_at is None

    measures: Mapped[list[MeasureValue]] = relationship(back_populates="assessment", order_by="MeasureValue.id")

    def __repr__(self) -> str:
        return f"Assessment(id={self.id}, visit_id={self.visit_id}, model={self.model_name!r})"


class MeasureValue(Base):
    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16), default="")

    assessment: Mapped[Assessment] = relationship(back_populates="measures")

    def __repr__(self) -> str:
        return f"MeasureValue({self.name}={self.value} {self.unit})"


class ClinicianRating(Base):
    __tablename__ = "clinician_ratings"
    __table_args__ = (
        UniqueConstraint("visit_id", "item", "side"),
        # The constraint above lets any number of NULL sides through (SQL NULLs differ): one
        # unsided rating per visit and item is enforced here, so two clinicians saving "3.1" at
        # once cannot both insert.
        Index("uq_clinician_ratings_visit_id_item_unsided", "visit_id", "item", unique=True,
              sqlite_where=text("side IS NULL"), postgresql_where=text("side IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    item: Mapped[str] = mapped_column(String(32))  # MDS-UPDRS item "3.4", "hoehn_yahr", ...
    side: Mapped[str | None] = mapped_column(String(8))
    score: Mapped[float] = mapped_column(Float)
    rater_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"ClinicianRating(visit_id={self.visit_id}, item={self.item!r}, side={self.side!r}, score={self.score})"


class AuditEvent(Base):
    """Who did what to which patient, when. `detail` holds ids and field names only: never
    patient names or free text, so the audit log itself is not a second copy of the record
    (checked when the row is made: `key=value` tokens of ids, codes and numbers).

    Append-only: the application never updates or deletes a row (core.store.audit refuses it
    in the ORM; triggers of migration 0006 refuse it in the database)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Plain ids, not foreign keys (migration 0007): a deleted patient's audit rows stay, with
    # the id only (core.retention.delete_patient).
    clinician_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")

    @validates("detail")
    def _no_free_text(self, _key, value):
        if value and not AUDIT_DETAIL_PATTERN.fullmatch(value):
            raise ValueError("An audit detail holds ids, codes and numbers only (key=value), never free text.")
        return value

    @validates("action")
    def _action_code(self, _key, value):
        if not AUDIT_ACTION_PATTERN.fullmatch(value or ""):
            raise ValueError("An audit action is a lower-case code.")
        return value

    def __repr__(self) -> str:
        return f"AuditEvent(id={self.id}, action={self.action!r}, patient_id={self.patient_id})"


class SignInThrottle(Base):
    """Failed sign-ins per typed username, for the lockout (core.store.repository.attempt_sign_in).
    Kept for any username typed, existing or not, so that a lockout says nothing about whether
    an account exists; only the SHA-256 of the lower-cased username is stored (a password typed
    into the username field is not kept in clear)."""

    __tablename__ = "sign_in_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    username_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"SignInThrottle(id={self.id}, failures={self.failures})"


SESSION_END_REASONS = ("logout", "idle", "expired", "signed_out_everywhere", "password_changed", "account_inactive")


class SignInSession(Base):
    """One browser's sign-in, so that a reload or a new tab stays signed in. The browser holds
    a random token in an HTTP-only cookie; only the token's SHA-256 is stored here, so a copy
    of the database does not let anyone sign in. A session ends at logout, after the idle
    timeout, at its absolute expiry, or when an administrator signs the account out everywhere."""

    __tablename__ = "sign_in_sessions"
    __table_args__ = (_one_of("end_reason", SESSION_END_REASONS, nullable=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # absolute end, whatever the activity
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))

    def __repr__(self) -> str:  # never the token hash: reprs end up in logs
        return f"SignInSession(id={self.id}, clinician_id={self.clinician_id}, ended={self.ended_at is not None})"


class SignInTicket(Base):
    """A one-time, short-lived ticket that carries a successful sign-in from the login page to
    the server route that sets the HTTP-only cookie (the page itself cannot set one). Stored
    hashed; used once; refused after its expiry."""

    __tablename__ = "sign_in_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinician_id: Mapped[int] = mapped_column(ForeignKey("clinicians.id"), index=True)
    ticket_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"SignInTicket(id={self.id}, clinician_id={self.clinician_id}, used={self.used_at is not None})"


class ClinicModelVersion(Base):
    """One trained version of a clinic's own model (core.clinic_models): what it learned from,
    how it did in patient-grouped cross-validation beside its baselines, its fitted parameters
    (plain JSON numbers: no pickled code), its generated model card, and whether and when an
    administrator activated it. At most one version per target is active (activated_at set,
    deactivated_at None); rollback sets deactivated_at. Counts only in data_summary: no
    patient id, name or rating."""

    __tablename__ = "clinic_model_versions"
    __table_args__ = (
        UniqueConstraint("target_key", "version"),
        # one active version per target, even when two administrators activate at the same moment
        Index("uq_clinic_model_versions_one_active", "target_key", unique=True,
              sqlite_where=text("activated_at IS NOT NULL AND deactivated_at IS NULL"),
              postgresql_where=text("activated_at IS NOT NULL AND deactivated_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_key: Mapped[str] = mapped_column(String(48), index=True)  # "updrs_motor_total", "3.4:left"
    target_item: Mapped[str] = mapped_column(String(32))
    target_side: Mapped[str | None] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per target
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(Integer)  # clinician id; None: the command line
    data_summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    card: Mapped[str] = mapped_column(Text)
    beats_baseline: Mapped[bool] = mapped_column(default=False)
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    activated_by: Mapped[int | None] = mapped_column(Integer)
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)
    deactivated_by: Mapped[int | None] = mapped_column(Integer)

    @property
    def active(self) -> bool:
        return self.activated_at is not None and self.deactivated_at is None

    @property
    def label(self) -> str:
        """The model_version its estimates carry: 'clinic-updrs_motor_total-v2'."""
        return f"clinic-{self.target_key.replace(':', '-')}-v{self.version}"

    def __repr__(self) -> str:
        return f"ClinicModelVersion(id={self.id}, target={self.target_key!r}, version={self.version})"
