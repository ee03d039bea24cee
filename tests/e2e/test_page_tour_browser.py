"""Every signed-in page of the real dashboard in Chromium, opened by its address as a bookmark
would (sign-in form, then the page): each draws its title and no Streamlit exception, and a
whole-page screenshot of each is kept for a look. Synthetic clinic: one patient with two visits,
each holding the real public vowel recording (Iyer 2023), analysed."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.store import Clinician, close_store, open_store, repository, transaction
from core.visits import add_recording_and_analyze
from tests.e2e.conftest import (
    screenshot_whole_page,
    sign_in,
    start_dashboard,
    stop_dashboard,
    synthetic_clinic,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


def clinic_with_two_analysed_visits(data_dir: Path) -> tuple[int, int]:
    """(patient id, id of the later visit)."""
    clinic = synthetic_clinic(data_dir, mrn="SYN-TOUR-1", name="Synthetic Tour Patient", visit_date=date(2024, 2, 5))
    sessions = open_store(clinic.database_url)
    with transaction(sessions) as s:
        later = repository.create_visit(s, s.get(Clinician, clinic.admin_id), clinic.patient_id, visit_date=date(2024, 5, 6), medication_state="off",
                                        hours_since_dose=6.0, notes="Synthetic note: second visit.")
        later_id = later.id
    for visit_id in (clinic.visit_id, later_id):
        add_recording_and_analyze(sessions, clinic.admin_id, visit_id, VOWEL, "vowel.wav", "vowel", None, "upload",
                                  data_dir)
    close_store(clinic.database_url)
    return clinic.patient_id, later_id


def test_every_page_opens_by_its_address(tmp_path, page, screenshot_dir):
    data_dir = tmp_path / "data"
    patient_id, visit_id = clinic_with_two_analysed_visits(data_dir)
    tour = [  # (address, a heading the page must show)
        ("", "Patients"),
        (f"patient?patient={patient_id}", "Synthetic Tour Patient"),
        (f"visit?visit={visit_id}", "Visit of 2024-05-06"),
        (f"capture?visit={visit_id}", "Capture: visit of 2024-05-06"),
        (f"results?visit={visit_id}", "Results of the visit of 2024-05-06"),
        (f"ratings?visit={visit_id}", "Clinician ratings · 2024-05-06"),
        (f"trends?patient={patient_id}", "Trends · Synthetic Tour Patient"),
        (f"reports?patient={patient_id}", "Reports and exports"),
        (f"compare?patient={patient_id}", "Compare two visits"),
        ("overview", "Clinic overview"),
        ("models", "Models"),
        ("admin", "Administration"),
        ("visit?visit=999", "Visit"),  # a record that does not exist
    ]
    server = start_dashboard(data_dir)
    try:
        for n, (address, heading) in enumerate(tour):
            page.goto(f"{server.url}/{address}")
            if n == 0:
                sign_in(page)  # the sign-in lasts: every later address opens signed in
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)
            wait_until_idle(page, 60_000)
            assert page.locator('[data-testid="stException"]').count() == 0, address
            shot = screenshot_dir / f"{n:02d}-{address.split('?')[0] or 'patients'}.png"
            screenshot_whole_page(page, shot)
        expect(page.get_by_text("No visit chosen, or this visit does not exist.")).to_be_visible()
    except BaseException:
        print(server.log()[-4000:])
        raise
    finally:
        stop_dashboard(server.process)
