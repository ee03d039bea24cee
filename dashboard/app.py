"""pdlens dashboard script, served by `streamlit run dashboard/server.py` (the st.App that also
carries the sign-in cookie routes; `streamlit run dashboard/app.py` works without them).

Decides which pages exist for this browser session (first-run setup, login, or the signed-in
pages) and draws the frame around them. The pages themselves live in dashboard/views/."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import streamlit as st  # noqa: E402

from core.store import repository  # noqa: E402
from dashboard import heap, state  # noqa: E402
from dashboard.widgets import chrome  # noqa: E402

st.set_page_config(page_title="pdlens", page_icon=":material/monitor_heart:", layout="wide")


def _demo_missing_page() -> None:
    st.title("Demo database not built yet")
    st.info(
        "The demo database is built from public data by one command on the server: "
        "`python -m core.demo` (or `make demo`). Then reload this page, or choose the clinic "
        "database in the sidebar."
    )


# The signed-in pages: (file, title, administrators only). The first is the landing page.
SIGNED_IN_PAGES = [
    (state.PATIENTS_PAGE, "Patients", False),
    (state.PATIENT_PAGE, "Patient", False),
    (state.VISIT_PAGE, "Visit", False),
    (state.CAPTURE_PAGE, "Capture", False),
    (state.RESULTS_PAGE, "Visit results", False),
    (state.RATINGS_PAGE, "Clinician ratings", False),
    (state.TRENDS_PAGE, "Patient trends", False),
    (state.COMPARE_PAGE, "Compare visits", False),
    (state.REPORTS_PAGE, "Reports and exports", False),
    (state.OVERVIEW_PAGE, "Clinic overview", False),
    (state.MODELS_PAGE, "Models", False),
    (state.ACCOUNT_PAGE, "My account", False),
    (state.ADMIN_PAGE, "Administration", True),
]


def _signed_in_pages(who: state.SignedIn) -> list[st.Page]:
    return [
        st.Page(file, title=title, default=index == 0)
        for index, (file, title, admin_only) in enumerate(SIGNED_IN_PAGES)
        if who.is_admin or not admin_only
    ]


def _at_every_address(page: str | Callable[[], None], title: str) -> list[st.Page]:
    """`page` as the default page and also under the address of every signed-in page: a
    bookmarked link (/patient?patient=12) of a signed-out browser shows the sign-in (or
    first-run) form instead of "page not found", and after sign-in the same address opens the
    record."""
    pages = [st.Page(page, title=title, default=True)]
    for page_file, _title, _admin_only in SIGNED_IN_PAGES:
        pages.append(st.Page(page, title=title, url_path=Path(page_file).stem))
    return pages


def _pages() -> list[st.Page]:
    state.restore_from_cookie()  # a reload or a new tab of a signed-in browser
    if state.is_demo() and state.demo_database_missing():
        return _at_every_address(_demo_missing_page, "Demo database not built")
    with state.session() as s:
        who = state.refresh_signed_in(s)
        if who is None:
            if not repository.has_any_clinician(s):
                return _at_every_address(state.SETUP_PAGE, "Create administrator account")
            return _at_every_address(state.LOGIN_PAGE, "Sign in")
    return _signed_in_pages(who)


pages = _pages()
page = st.navigation(pages, position="hidden")
chrome.print_styles()
if state.pop_go_home() and page.url_path != pages[0].url_path:
    st.switch_page(pages[0])  # after sign-in, logout or a database switch: start at the first page
if state.signed_in() is not None:
    state.note_records_database()
chrome.sidebar(state.signed_in())
chrome.demo_banner()
if (message := state.pop_flash()) is not None:
    st.success(message)
page.run()
heap.freeze_long_lived_objects()  # after the page's own imports: see dashboard/heap.py
