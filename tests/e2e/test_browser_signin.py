"""Sign-in that lasts and logout that really ends, in a real Chromium against the real server
(dashboard/server.py): reload and a new tab stay signed in, the cookie is HttpOnly and
SameSite=Strict, logout on a patient page ends the session on the server (a copy of the old
cookie is refused) and the next user lands on the patients list; the idle timeout signs out.
Synthetic data only; screenshots are kept in tmp_path."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import (
    sign_in,
    start_dashboard,
    stop_dashboard,
    synthetic_clinic,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COOKIE = "pdlens_session"
PATIENT = "Synthetic Browser Patient"


def session_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def session_rows(database_url: str) -> list[tuple[str | None]]:
    from core.store import SignInSession, close_store, open_store, transaction

    with transaction(open_store(database_url)) as s:
        rows = [row.end_reason for row in s.scalars(select(SignInSession).order_by(SignInSession.id))]
    close_store(database_url)
    return rows


def heading(page, name: str):
    return page.get_by_role("heading", name=name, exact=True)


def test_sign_in_survives_reload_and_new_tab_and_logout_ends_it(tmp_path, page, screenshot_dir):
    data_dir = tmp_path / "data"
    clinic = synthetic_clinic(data_dir, name=PATIENT)
    server = start_dashboard(data_dir)
    try:
        patient_address = f"{server.url}/patient?patient={clinic.patient_id}"
        page.goto(patient_address)
        expect(heading(page, "Sign in to pdlens")).to_be_visible()
        sign_in(page)
        expect(heading(page, PATIENT)).to_be_visible()
        expect(page).to_have_url(patient_address)  # the bookmarked record opened after sign-in

        cookie = session_cookie(page.context)
        assert cookie is not None
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert cookie["secure"] is False  # plain http on loopback; Secure is set over https
        assert COOKIE not in page.evaluate("document.cookie")  # no script can read it
        wait_until_idle(page)
        page.screenshot(path=screenshot_dir / "01-signed-in-patient.png")

        page.reload()
        expect(heading(page, PATIENT)).to_be_visible()
        expect(page.get_by_text("Signed in as Synthetic Admin")).to_be_visible()
        assert page.get_by_role("textbox", name="Password", exact=True).count() == 0

        tab = page.context.new_page()
        tab.goto(server.url)
        expect(heading(tab, "Patients")).to_be_visible()
        expect(tab.get_by_text("Signed in as Synthetic Admin")).to_be_visible()
        wait_until_idle(tab)
        tab.screenshot(path=screenshot_dir / "02-new-tab-signed-in.png")
        assert session_rows(clinic.database_url) == [None]  # one sign-in, shared by both tabs

        wait_until_idle(page)
        page.get_by_role("button", name="Log out").click()
        expect(heading(page, "Sign in to pdlens")).to_be_visible()
        expect(page).to_have_url(f"{server.url}/")  # the patient's address is gone
        assert session_cookie(page.context) is None
        assert session_rows(clinic.database_url) == ["logout"]
        wait_until_idle(page)
        page.screenshot(path=screenshot_dir / "03-logged-out.png")

        tab.reload()  # the other tab is signed out too
        expect(heading(tab, "Sign in to pdlens")).to_be_visible()
        tab.close()

        page.context.add_cookies([cookie])  # a copy of the old cookie: its session is over
        page.goto(patient_address)
        expect(heading(page, "Sign in to pdlens")).to_be_visible()
        page.context.clear_cookies()

        page.goto(server.url)
        sign_in(page)  # the next user
        expect(heading(page, "Patients")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/$"))
        wait_until_idle(page)
        page.screenshot(path=screenshot_dir / "04-next-user-patients-list.png")
        assert session_rows(clinic.database_url) == ["logout", None]
    except BaseException:
        print(server.log()[-4000:])
        raise
    finally:
        stop_dashboard(server.process)


def test_an_idle_sign_in_expires(tmp_path, page, screenshot_dir):
    data_dir = tmp_path / "data"
    clinic = synthetic_clinic(data_dir, name=PATIENT)
    server = start_dashboard(data_dir, env={"PDLENS_SESSION_IDLE_MINUTES": "0.25"})  # 15 s
    try:
        page.goto(server.url)
        sign_in(page)
        expect(heading(page, "Patients")).to_be_visible()
        wait_until_idle(page)
        page.reload()  # activity: still signed in
        expect(heading(page, "Patients")).to_be_visible()
        wait_until_idle(page)
        page.wait_for_timeout(17_000)
        page.reload()
        expect(heading(page, "Sign in to pdlens")).to_be_visible()
        page.screenshot(path=screenshot_dir / "idle-expired.png")
        assert session_rows(clinic.database_url) == ["idle"]
    except BaseException:
        print(server.log()[-4000:])
        raise
    finally:
        stop_dashboard(server.process)
