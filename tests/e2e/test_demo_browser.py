"""The demo database in a real Chromium, as a newcomer meets it: choose the demo database, sign
in as the demo user, open a fictional demo patient's latest visit (synthetic tapping clip, part of
a real public vowel) and their trends. The visit score, the explanation panels and the key frame
are drawn, and the pages say what is synthetic. The demo is the session's full build
(tests/conftest.py), copied into this test's data dir. Screenshots are kept."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.demo import CLIP_PATIENTS, DEMO_PASSWORD, DEMO_USERNAME
from core.store import Patient, Visit, close_store, open_store, transaction
from tests.conftest import copy_built_demo
from tests.e2e.conftest import screenshot_whole_page, sign_in, start_dashboard, stop_dashboard, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DEMO_LABEL = "Demo database (public research data, synthetic clips)"


def test_a_synthetic_demo_patient_in_chromium(tmp_path, built_demo, page, screenshot_dir):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    demo_url, _ = copy_built_demo(built_demo, data_dir)  # PDLENS_DATA_DIR=data_dir: demo clips in data_dir/demo
    with transaction(open_store(demo_url)) as s:
        patient = s.scalar(select(Patient).where(Patient.mrn == CLIP_PATIENTS[0].mrn))
        patient_id, name = patient.id, patient.name
        visit_id, visit_date = s.execute(select(Visit.id, Visit.visit_date).where(Visit.patient_id == patient_id)
                                         .order_by(Visit.visit_date.desc()).limit(1)).one()
    close_store(demo_url)
    server = start_dashboard(data_dir, env={"PDLENS_DEMO_DATABASE_URL": demo_url})
    try:
        page.goto(f"{server.url}/results?visit={visit_id}")
        demo = page.get_by_role("radio", name=DEMO_LABEL)
        expect(demo).to_be_attached(timeout=30_000)
        wait_until_idle(page)
        page.get_by_text(DEMO_LABEL).click()
        expect(page.get_by_role("heading", name="Sign in to pdlens")).to_be_visible(timeout=30_000)
        sign_in(page, DEMO_USERNAME, DEMO_PASSWORD)

        expect(page.get_by_role("heading", name=f"Results of the visit of {visit_date.isoformat()}")).to_be_visible(
            timeout=60_000)
        wait_until_idle(page, 60_000)
        expect(page.get_by_text("DEMO database, not clinic patients").first).to_be_visible()
        expect(page.get_by_text("linearly interpolated").first).to_be_visible()
        expect(page.get_by_text("Demo patient with synthetic movement clips").first).to_be_visible()
        expect(page.get_by_text("File: synthetic_finger_tapping_left.mp4").first).to_be_attached()
        expect(page.locator(".js-plotly-plot image").first).to_be_attached(timeout=30_000)  # the key frame
        assert page.locator('[data-testid="stException"]').count() == 0
        screenshot_whole_page(page, screenshot_dir / "demo-synthetic-results.png")
        assert (screenshot_dir / "demo-synthetic-results.png").stat().st_size > 50_000

        # on to the trends through the app's own links (a new address would start a new session)
        page.get_by_role("link", name=f"Back to the visit of {visit_date.isoformat()}").click()
        expect(page.get_by_role("heading", name=f"Visit of {visit_date.isoformat()}")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Demo visit of a fictional patient").first).to_be_visible()  # the visit notes
        page.get_by_role("link", name=f"Back to {name}").click()
        page.get_by_role("link", name="Trends over visits").click()
        expect(page.get_by_role("heading", name=f"Trends · {name}")).to_be_visible(timeout=60_000)
        wait_until_idle(page, 60_000)
        expect(page.get_by_text("Demo patient with synthetic movement clips").first).to_be_visible()
        expect(page.get_by_text(f"{len(CLIP_PATIENTS[0].visits)} visits from").first).to_be_visible()
        expect(page.locator(".js-plotly-plot").first.locator(".scatterlayer .trace").first).to_be_attached(
            timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        screenshot_whole_page(page, screenshot_dir / "demo-synthetic-trends.png")
    finally:
        stop_dashboard(server.process)
