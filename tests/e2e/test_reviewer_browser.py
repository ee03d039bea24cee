"""A reviewer in a real Chromium (issue 14): signs in, opens the patient and the visit, sees the
record but no control that changes it, and the Capture page says why it is closed to them.
Synthetic data only."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.permissions import EDIT_RECORD, RECORD, refusal
from tests.e2e.conftest import ADMIN_USERNAME, sign_in, start_dashboard, stop_dashboard, synthetic_clinic, \
    wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REVIEWER = ("rev", "Synthetic Reviewer", "reviewer-pass-123")


def test_a_reviewer_reads_the_record_and_cannot_change_it(tmp_path, page, screenshot_dir):
    from sqlalchemy import select

    from core.store import Clinician, close_store, open_store, repository, transaction

    data_dir = tmp_path / "data"
    clinic = synthetic_clinic(data_dir)
    with transaction(open_store(clinic.database_url)) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == ADMIN_USERNAME))
        repository.create_clinician(s, admin, username=REVIEWER[0], display_name=REVIEWER[1], password=REVIEWER[2],
                                    role="reviewer")
    close_store(clinic.database_url)
    server = start_dashboard(data_dir)
    try:
        page.goto(server.url)
        sign_in(page, REVIEWER[0], REVIEWER[2])
        expect(page.get_by_role("heading", name="Patients")).to_be_visible()
        expect(page.get_by_text(refusal(EDIT_RECORD))).to_be_visible()
        expect(page.get_by_role("button", name="Create patient")).to_have_count(0)

        page.goto(f"{server.url}/patient?patient={clinic.patient_id}")
        expect(page.get_by_role("heading", name="Synthetic Browser Patient")).to_be_visible()
        wait_until_idle(page)
        expect(page.get_by_role("button", name="Create visit")).to_have_count(0)
        expect(page.get_by_role("button", name="Archive patient")).to_have_count(0)

        page.goto(f"{server.url}/visit?visit={clinic.visit_id}")
        expect(page.get_by_text(refusal(RECORD))).to_be_visible()
        expect(page.get_by_role("link", name="Record or upload clips for this visit")).to_have_count(0)
        wait_until_idle(page)
        page.screenshot(path=screenshot_dir / "reviewer-visit.png", full_page=True)

        page.goto(f"{server.url}/capture?visit={clinic.visit_id}")
        expect(page.get_by_role("heading", name="Capture")).to_be_visible()
        expect(page.get_by_text(refusal(RECORD))).to_be_visible()
        expect(page.get_by_role("button", name="Record")).to_have_count(0)
    finally:
        stop_dashboard(server.process)
