"""Per-browser-session state of the dashboard: which database, who is signed in, messages
carried across a page switch. Everything that touches st.session_state lives here.

Who is signed in lasts beyond one browser tab: a sign-in is a server-side session
(core.sessions) whose random token the browser keeps in an HTTP-only cookie, set and cleared by
the server routes of dashboard/web.py. Every page run reads the cookie (st.context.cookies) and
checks its session again (ended, idle, deactivated account); st.session_state is only the
per-tab cache. Where those routes are not served (AppTest, a bare `streamlit run
dashboard/app.py`) the token lives in st.session_state alone: the same checks, but a reload
signs out."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import streamlit as st
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core import sessions
from core.config import settings
from core.store import NotFound, PermissionDenied, ValidationError, open_store, repository, transaction
from core.store.models import Clinician, Patient, Visit
from core.store.orphans import sweep_orphan_files
from dashboard import web
from dashboard.formatting import escape_markdown

log = logging.getLogger(__name__)

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
ACCOUNT_PAGE = "views/account.py"
COMPARE_PAGE = "views/compare.py"

CLINIC = "clinic"
DEMO = "demo"
DATABASE_LABELS = {
    CLINIC: "Clinic database",
    DEMO: "Demo database (public research data, synthetic clips)",
}

_DATABASE_KEY = "database"
_SIGNED_IN_KEY = "signed_in"
_TOKEN_KEY = "sign_in_token"  # this tab's session token (server memory only; never shown)
_GO_HOME_KEY = "go_home"
_RECORDS_OF_KEY = "records_database"  # the database whose record ids the address holds
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
    """Choose the database (signed out only); every page's state goes. A record id that this
    tab opened in the other database (a signed-in page with ?visit=5, then an expired sign-in)
    means nothing here, so it leaves the address too; a bookmarked address never opened here is
    kept for the sign-in that follows."""
    if choice not in DATABASE_LABELS:
        raise ValueError(f"unknown database {choice!r}")
    if choice != database():
        records_of = st.session_state.pop(_RECORDS_OF_KEY, None)
        sign_out()
        if records_of not in (None, choice):
            st.query_params.clear()
            st.session_state[_GO_HOME_KEY] = True
    st.session_state[_DATABASE_KEY] = choice


def note_records_database() -> None:
    """Called on every signed-in page run: the record ids in the address belong to this database."""
    if st.query_params.to_dict():
        st.session_state[_RECORDS_OF_KEY] = database()


def is_demo() -> bool:
    return database() == DEMO


def database_url() -> str:
    return web.database_url(database())


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
def _store(url: str, recordings_dir: str) -> sessionmaker[Session]:
    sessions = open_store(url)
    try:  # files a killed analysis left without rows (core/store/orphans.py)
        sweep_orphan_files(sessions, recordings_dir)
    except Exception:  # never keeps the app from serving
        log.exception("the sweep of unreferenced recording files failed")
    return sessions


@st.cache_resource(show_spinner=False, on_release=lambda executor: executor.close())
def _upload_executor():
    """The local Dask cluster that analyses multi-file uploads: one per server process, started
    at the first multi-file upload, PDLENS_UPLOAD_WORKERS worker processes (default: the number
    of cores), closed at exit. Falls back to analysing in the server process if it cannot start."""
    import atexit

    from core.executor import DaskExecutor, SerialExecutor

    try:
        executor = DaskExecutor(workers=settings().upload_workers or None)
    except Exception:
        logging.getLogger(__name__).exception("the upload cluster could not start: analysing in this process")
        return SerialExecutor()
    atexit.register(executor.close)
    return executor


def upload_executor():
    """core.executor executor for multi-file uploads (see _upload_executor)."""
    return _upload_executor()


def store() -> sessionmaker[Session]:
    """The sessionmaker of the chosen database (engine, migrations and the sweep of files
    without rows once per process)."""
    return _store(database_url(), str(data_dir()))


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


def session_token() -> str | None:
    """This tab's sign-in token (for core.sessions calls such as keeping this session when the
    password changes)."""
    return st.session_state.get(_TOKEN_KEY)


def _remember(clinician: Clinician, token: str) -> None:
    st.session_state[_TOKEN_KEY] = token
    st.session_state[_SIGNED_IN_KEY] = SignedIn(
        clinician_id=clinician.id,
        username=clinician.username,
        display_name=clinician.display_name,
        role=clinician.role,
        database=database(),
    )


# The only HTML pdlens renders itself: a form that POSTs to one of the server's sign-in routes
# (so the one-time ticket never appears in an address or a server log) and the script that
# submits it. Field values must be URL-safe tokens or our own names (checked), never user text;
# where to go next is read by the script from the browser's own address (the route accepts
# local paths only): the record that address names, or the patients list when it names none.
_ROUTE_FORM = (
    '<form id="pdlens-route" method="post" action="{action}">{inputs}'
    '<input type="hidden" name="next" value="{home}">'
    '<noscript><button type="submit">Continue</button></noscript></form>'
    "<script>(function () {{"
    ' var form = document.getElementById("pdlens-route");'
    " if (window.location.search) {{ form.elements.next.value = window.location.pathname + window.location.search; }}"
    " form.submit(); }})();</script>"
)
_ROUTE_VALUE = re.compile(r"^[A-Za-z0-9_-]{0,100}$")
_BASE_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*/$")


def route_form_html(action: str, fields: dict[str, str]) -> str:
    """The auto-submitting form of `_post`. Raises ValueError for any value that is not a plain
    token (so no text a user typed can ever reach this HTML)."""
    if action not in (web.SIGN_IN_PATH, web.SIGN_OUT_PATH):
        raise ValueError(f"not a sign-in route: {action!r}")
    action, home = web.route_path(action), web.home()
    if not _BASE_PATH.match(home):  # the server's own setting, never user text; checked all the same
        raise ValueError("server.baseUrlPath must be a plain path")
    for name, value in fields.items():
        if not _ROUTE_VALUE.match(name) or not _ROUTE_VALUE.match(value):
            raise ValueError("route form values must be URL-safe tokens")
    inputs = "".join(f'<input type="hidden" name="{name}" value="{value}">' for name, value in fields.items())
    return _ROUTE_FORM.format(action=action, inputs=inputs, home=home)


def _post(action: str, fields: dict[str, str], message: str) -> NoReturn:
    """Send the browser to one of the server's sign-in routes and end this page run."""
    st.info(message)
    st.html(route_form_html(action, fields), unsafe_allow_javascript=True)
    st.stop()


def sign_in(clinician: Clinician) -> None:
    """After authenticate() succeeded: start the server-side session. With the server routes,
    hand it to the cookie route through a one-time ticket (ends this page run); otherwise keep
    the token in this tab and rerun. Without a record in the address, the patients list opens."""
    if web.routes_served():
        with session() as s:
            ticket = sessions.issue_ticket(s, clinician)
        _post(web.SIGN_IN_PATH, {"ticket": ticket, "database": database()}, "Signing in ...")
    with session() as s:
        token = sessions.start_session(s, clinician)
    _remember(clinician, token)
    if not st.query_params.to_dict():
        st.session_state[_GO_HOME_KEY] = True
    st.rerun()


def sign_out() -> None:
    """Forget the signed-in clinician and everything shown for them (search, selections)."""
    keep = {_DATABASE_KEY, _RECORDS_OF_KEY}
    for key in list(st.session_state.keys()):
        if key not in keep:
            del st.session_state[key]


def log_out() -> None:
    """Logout: end the session on the server, forget every page's state and the record in the
    address, clear the cookie (through the sign-out route) and start again at the patients
    list. Ends the page run."""
    token = session_token()
    if token is not None:
        with session() as s:
            sessions.end_session(s, token)
    sign_out()
    st.session_state.pop(_RECORDS_OF_KEY, None)
    st.query_params.clear()
    if web.routes_served():
        _post(web.SIGN_OUT_PATH, {}, "Signing out ...")
    st.session_state[_GO_HOME_KEY] = True
    st.rerun()


def pop_go_home() -> bool:
    """True once after sign-in, logout or a database switch: the app then opens its first page
    (the patients list, or the sign-in form) instead of the address the tab was at."""
    return bool(st.session_state.pop(_GO_HOME_KEY, False))


def _cookie_sign_in() -> tuple[str, str] | None:
    """(database, token) of a valid sign-in cookie sent with this browser tab, if any."""
    if not web.routes_served():
        return None
    try:
        value = st.context.cookies.get(web.COOKIE)
    except Exception:  # no browser request behind this run (a bare script run)
        return None
    return web.read_cookie(value)


def restore_from_cookie() -> None:
    """A new tab or a reload: take the sign-in from the cookie when this tab has none yet (its
    database too). Called at the start of every page run, before the database is opened."""
    if session_token() is not None:
        return
    found = _cookie_sign_in()
    if found is None:
        return
    cookie_database, token = found
    if cookie_database == DEMO and demo_database_missing():
        return
    recordings = settings().demo_data_dir if cookie_database == DEMO else settings().data_dir
    with transaction(_store(web.database_url(cookie_database), str(recordings))) as s:
        clinician = sessions.session_clinician(s, token)
        if clinician is None:
            return
        st.session_state[_DATABASE_KEY] = cookie_database
        _remember(clinician, token)


def refresh_signed_in(s: Session) -> SignedIn | None:
    """Check this tab's session on every run, so that a logout elsewhere, the idle timeout, a
    deactivated account or a changed role takes effect at once. Signs out when it no longer holds."""
    token = session_token()
    who = signed_in()
    if token is None or who is None:
        if token is not None or st.session_state.get(_SIGNED_IN_KEY) is not None:
            sign_out()
        return None
    clinician = sessions.session_clinician(s, token)
    if clinician is None or clinician.id != who.clinician_id:
        sign_out()
        return None
    _remember(clinician, token)
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


# --- what the signed-in role may do (core.permissions) ----------------------------------------


def may(action: str) -> bool:
    """True when the signed-in clinician's role may do `action` (core.permissions). Pages hide or
    disable a control with `cannot(action)` as the reason; core/ checks again on every call."""
    from core.permissions import allowed

    who = signed_in()
    return who is not None and allowed(who.role, action)


def cannot(action: str) -> str:
    """The one line saying why this role may not do `action`."""
    from core.permissions import refusal

    return refusal(action)


def require_permission(action: str, title: str) -> None:
    """A page the role may not use at all (Capture for a reviewer): its title, why, a way back;
    ends the page run."""
    if not may(action):
        _nothing_to_show(title, cannot(action))


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
