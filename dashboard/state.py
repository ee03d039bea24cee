"""Per-browser-session state of the dashboard: which database, who is signed in, messages
carried across a page switch. Everything that touches st.session_state lives here."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import streamlit as st
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.config import settings
from core.store import NotFound, PermissionDenied, ValidationError, open_store, repository, transaction
from core.store.models import Clinician, Patient, Visit
from dashboard.formatting import escape_markdown

T = TypeVar("T")

# Page files, relative to dashboard/app.py (st.switch_page and st.page_link take these).
LOGIN_PAGE = "views/login.py"
SETUP_PAGE = "views/setup_admin.py"
PATIENTS_PAGE = "views/patients.py"
PATIENT_PAGE = "views/patient.py"
VISIT_PAGE = "views/visit.py"
ADMIN_PAGE = "views/admin.py"
RESULTS_PAGE = "views/results.py"
RATINGS_PAGE = "views/ratings.py"
TRENDS_PAGE = "views/trends.py"
REPORTS_PAGE = "views/reports.py"
OVERVIEW_PAGE = "views/overview.py"
MODELS_PAGE = "views/models.py"
CAPTURE_PAGE = "views/capture.py"

CLINIC = "clinic"
DEMO = "demo"
DATABASE_LABELS = {
    CLINIC: "Clinic database",
    DEMO: "Demo database (public research data, synthetic clips)",
}

_DATABASE_KEY = "database"
_SIGNED_IN_KEY = "signed_in"
_FLASH_KEY = "flash"


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, kept as plain values (no ORM object outlives its session)."""

    clinician_id: int
    username: str
    display_name: str
    role: str
    database: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# --- database -------------------------------------------------------------------------------


def database() -> str:
    return st.session_state.get(_DATABASE_KEY, CLINIC)


def set_database(choice: str) -> None:
    if choice not in DATABASE_LABELS:
        raise ValueError(f"unknown database {choice!r}")
    if choice != database():
        sign_out()
    st.session_state[_DATABASE_KEY] = choice


def is_demo() -> bool:
    return database() == DEMO


def database_url() -> str:
    return settings().demo_database_url if is_demo() else settings().database_url


def data_dir() -> Path:
    """Where the chosen database's recordings live: the demo's clips apart from the clinic's."""
    return settings().demo_data_dir if is_demo() else settings().data_dir


def demo_database_missing() -> bool:
    """True when the demo database is an SQLite file that has not been built yet. Opening it
    would create an empty database and hide the real problem (`python -m core.demo` not run)."""
    url = make_url(settings().demo_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return False
    return not Path(url.database).expanduser().exists()


@st.cache_resource(show_spinner=False)
def _store(url: str) -> sessionmaker[Session]:
    return open_store(url)


def store() -> sessionmaker[Session]:
    """The sessionmaker of the chosen database (engine and migrations once per process)."""
    return _store(database_url())


@contextmanager
def session() -> Iterator[Session]:
    """One transaction on the chosen database: commits at the end, rolls back on error."""
    with transaction(store()) as s:
        yield s


# --- who is signed in -----------------------------------------------------------------------


def signed_in() -> SignedIn | None:
    who = st.session_state.get(_SIGNED_IN_KEY)
    if who is not None and who.database != database():
        return None
    return who


def sign_in(clinician: Clinician) -> None:
    st.session_state[_SIGNED_IN_KEY] = SignedIn(
        clinician_id=clinician.id,
        username=clinician.username,
        display_name=clinician.display_name,
        role=clinician.role,
        database=database(),
    )


def sign_out() -> None:
    """Forget the signed-in clinician and everything shown for them (search, selections)."""
    keep = {_DATABASE_KEY}
    for key in list(st.session_state.keys()):
        if key not in keep:
            del st.session_state[key]


def refresh_signed_in(s: Session) -> SignedIn | None:
    """Re-read the signed-in clinician from the database on every run, so that a deactivated
    account or a changed role takes effect at once. Signs out when the account is gone."""
    who = signed_in()
    if who is None:
        return None
    clinician = s.get(Clinician, who.clinician_id)
    if clinician is None or not clinician.active or clinician.username != who.username:
        sign_out()
        return None
    sign_in(clinician)
    return signed_in()


def actor(s: Session) -> Clinician:
    """The signed-in clinician as an object of session `s`, for repository calls."""
    who = signed_in()
    if who is None:
        raise PermissionDenied("Sign in first.")
    clinician = s.get(Clinician, who.clinician_id)
    if clinician is None:
        raise PermissionDenied("Your account no longer exists: sign in again.")
    return clinician


# --- writes and messages --------------------------------------------------------------------


def write(change: Callable[[Session, Clinician], T]) -> T | None:
    """Run `change(session, actor)` in one transaction. A ValidationError or PermissionDenied
    is shown as st.error with its message (escaped: it may quote what the user typed, e.g. an MRN) and
    nothing is written; returns None then."""
    try:
        with session() as s:
            return change(s, actor(s))
    except (ValidationError, PermissionDenied) as problem:
        st.error(escape_markdown(str(problem)))
        return None


def read(fetch: Callable[[Session, Clinician], T]) -> T | None:
    """Run `fetch(session, actor)` (reads may write an audit event, so it is a transaction).
    A record that does not exist gives None; a refusal is shown as st.error."""
    try:
        with session() as s:
            return fetch(s, actor(s))
    except PermissionDenied as problem:
        st.error(escape_markdown(str(problem)))
        return None
    except NotFound:
        return None


def flash(message: str) -> None:
    """A success message shown once on the next page run (survives st.switch_page)."""
    st.session_state[_FLASH_KEY] = message


def pop_flash() -> str | None:
    return st.session_state.pop(_FLASH_KEY, None)


# --- which record a page shows ----------------------------------------------------------------


def id_from_query(name: str) -> int | None:
    """The record id in the page URL (?patient=12), so that a link survives a reload."""
    value = st.query_params.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


NO_PATIENT = "No patient chosen, or this patient does not exist. Choose one on the Patients page."
NO_VISIT = "No visit chosen, or this visit does not exist. Open a patient and choose one of their visits."


def _nothing_to_show(title: str, message: str) -> NoReturn:
    """The page's title, why there is nothing to show, a way back; ends the page run."""
    st.title(title)
    st.info(message)
    st.page_link(PATIENTS_PAGE, label="Back to patients", icon=":material/arrow_back:")
    st.stop()


def patient_from_query() -> Patient | None:
    """The patient of ?patient=ID (the view is audited), or None when there is no such patient."""
    patient_id = id_from_query("patient")
    if patient_id is None:
        return None
    return read(lambda s, actor: repository.get_patient(s, actor, patient_id))


def require_patient(title: str) -> Patient:
    """The patient of ?patient=ID; otherwise the page says "No patient chosen" and stops."""
    patient = patient_from_query()
    if patient is None:
        _nothing_to_show(title, NO_PATIENT)
    return patient


def require_visit(title: str) -> tuple[Visit, Patient]:
    """The visit of ?visit=ID and its patient (both views audited); otherwise the page says
    "No visit chosen" and stops."""
    visit_id = id_from_query("visit")
    found = None
    if visit_id is not None:

        def fetch(s: Session, actor: Clinician) -> tuple[Visit, Patient]:
            visit = repository.get_visit(s, actor, visit_id)
            return visit, repository.get_patient(s, actor, visit.patient_id)

        found = read(fetch)
    if found is None:
        _nothing_to_show(title, NO_VISIT)
    return found
