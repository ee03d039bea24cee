"""A clinician's first minutes in a real Chromium: create the administrator, sign in, create a
patient through the page, find it by search. Synthetic data only."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_PASSWORD as PASSWORD
from tests.e2e.conftest import sign_in, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PATIENT_NAME = "Synthetic Patient <b>Alpha</b> **bold**"  # must appear literally, never rendered


def textbox(page, label: str):
    return page.get_by_role("textbox", name=label, exact=True)


def test_admin_creates_a_patient_and_finds_it_by_search(dashboard, page, screenshot_dir):
    page.goto(dashboard.url)
    expect(page.get_by_role("heading", name="Create administrator account")).to_be_visible()
    wait_until_idle(page)
    textbox(page, "Username").fill("admin")
    textbox(page, "Display name").fill("Synthetic Admin")
    textbox(page, "Password").fill(PASSWORD)
    textbox(page, "Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator account").click()

    expect(page.get_by_role("heading", name="Sign in to pdlens")).to_be_visible()
    sign_in(page, "admin", "wrong-password")
    expect(page.get_by_text("Sign-in failed: unknown username or wrong password.")).to_be_visible()
    sign_in(page, "admin", PASSWORD)

    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    expect(page.get_by_text("No patients yet - create the first one below.")).to_be_visible()
    expect(page.get_by_text("Signed in as Synthetic Admin")).to_be_visible()
    wait_until_idle(page)
    page.screenshot(path=screenshot_dir / "01-empty-patient-list.png", full_page=True)

    textbox(page, "MRN").fill("SYN-0001")
    textbox(page, "Name").fill(PATIENT_NAME)
    # The birth date is typed (YYYY-MM-DD): first a future one, refused with nothing saved
    textbox(page, "Birth date").fill("2090-01-01")
    page.get_by_role("button", name="Create patient").click()
    expect(page.get_by_text("Birth date cannot be in the future (2090-01-01).")).to_be_visible()
    expect(page.get_by_text("Patient SYN-0001 created.")).to_have_count(0)
    wait_until_idle(page)
    textbox(page, "Birth date").fill("1950-04-02")
    page.get_by_role("combobox", name="Diagnosis status").click()
    page.get_by_role("option", name="Parkinson's disease").click()
    page.get_by_role("button", name="Create patient").click()

    expect(page.get_by_role("heading", name=PATIENT_NAME)).to_be_visible()
    expect(page.get_by_text("Patient SYN-0001 created.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/patient\?patient=1$"))
    expect(page.get_by_text("Parkinson's disease", exact=True)).to_be_visible()
    expect(page.get_by_text("1950-04-02 (age", exact=False)).to_be_visible()
    assert page.locator("h1 b, h1 strong").count() == 0  # the name's markup was not rendered
    wait_until_idle(page)
    page.screenshot(path=screenshot_dir / "02-patient-page.png", full_page=True)

    page.get_by_role("link", name="All patients").click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    wait_until_idle(page)
    search = textbox(page, "Search by name or MRN")
    search.fill("alpha")
    search.press("Enter")
    expect(page.get_by_text("1 patient matching the search")).to_be_visible()
    wait_until_idle(page)
    grid = page.locator('[data-testid="stDataFrame"]')
    # The grid draws on a canvas; its cell text is mirrored in an offscreen table for assistive
    # technology, hidden from Playwright's role queries, so read the cells directly.
    cells = grid.locator("td")
    expect(cells.filter(has_text=PATIENT_NAME)).to_have_count(1)
    expect(cells.filter(has_text="SYN-0001")).to_have_count(1)
    page.screenshot(path=screenshot_dir / "03-search-result.png", full_page=True)

    # any part of the MRN finds the patient; one click on a cell of the row opens it
    search.fill("0001")
    search.press("Enter")
    expect(page.get_by_text("1 patient matching the search")).to_be_visible()
    wait_until_idle(page)
    expect(cells.filter(has_text="SYN-0001")).to_have_count(1)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + 35 + 17)  # the first row, under the header
    expect(page.get_by_role("heading", name=PATIENT_NAME)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/patient\?patient=1$"))
    page.get_by_role("link", name="All patients").click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    wait_until_idle(page)

    search.fill("nobody by that name")
    search.press("Enter")
    expect(page.get_by_text("No patient matches this search.")).to_be_visible()

    # Opening the patient's address again (a new streamlit session) stays signed in.
    patient_address = f"{dashboard.url}/patient?patient=1"
    page.goto(patient_address)
    expect(page.get_by_role("heading", name=PATIENT_NAME)).to_be_visible()
    # A browser without the sign-in cookie: the address asks for sign-in, then opens that
    # patient (not the list, not "page not found").
    page.context.clear_cookies()
    page.goto(patient_address)
    expect(page.get_by_role("heading", name="Sign in to pdlens")).to_be_visible()
    sign_in(page, "admin", PASSWORD)
    expect(page.get_by_role("heading", name=PATIENT_NAME)).to_be_visible()
    expect(page).to_have_url(patient_address)
