"""The clinic's record: models, sessions, migrations and the repository functions pages call.

    from core.store import open_store, transaction, repository as repo
    sessions = open_store(settings().database_url)
    with transaction(sessions) as s:
        rows = repo.search_patients(s, "smith")
"""
from core.store import audit as _audit_guard  # noqa: F401  (append-only listeners)
from core.store import repository
from core.store.db import (
    close_store,
    downgrade,
    make_engine,
    migrate,
    open_store,
    session_factory,
    transaction,
)
from core.store.errors import NotFound, PermissionDenied, ValidationError
from core.store.models import (
    Assessment,
    AuditEvent,
    Base,
    Clinician,
    ClinicianRating,
    MeasureValue,
    Patient,
    Recording,
    SignInSession,
    SignInThrottle,
    SignInTicket,
    Visit,
)
from core.store.repository import PatientRow

__all__ = [
    "Assessment", "AuditEvent", "Base", "Clinician", "ClinicianRating", "MeasureValue", "NotFound", "Patient",
    "PatientRow", "PermissionDenied", "Recording", "SignInSession", "SignInTicket", "ValidationError", "Visit", "close_store", "downgrade",
    "make_engine", "migrate", "open_store", "repository", "session_factory", "transaction",
]
