"""The patient trends page in a real Chromium with a real multi-visit patient of the demo database
(built by core.demo from the public UCI telemonitoring data: six months of home voice measures
and the study's UPDRS ratings). The demo database is chosen in the sidebar, as a clinician would;
the charts are in the DOM and a screenshot of the page is kept."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from core.demo import DEMO_PASSWORD, DEMO_USERNAME, build_demo_database
from core.store import Patient, Visit, close_store, open_store, transaction
from tests.e2e.conftest import screenshot_whole_page, sign_in, start_dashboard, stop_dashboard, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def demo_patient_with_most_visits(url: str) -> tuple[int, str, int]:
    """(id, name, number of visits) of the demo patient followed longest."""
    with transaction(open_store(url)) as s:
        patient_id, name, visits = s.execute(
            select(Patient.id, Patient.name, func.count(Visit.id)).join(Visit).group_by(Patient.id)
            .order_by(func.count(Visit.id).desc(), Patient.id).limit(1)
        ).one()
    close_store(url)
    return patient_id, name, visits


def test_trends_of_a_demo_patient_in_chromium(tmp_path, page, screenshot_dir):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    demo_url = f"sqlite:///{data_dir / 'demo.sqlite'}"
    build_demo_database(demo_url, clips=False)  # the telemonitoring patients only: quick
    patient_id, name, visits = demo_patient_with_most_visits(demo_url)
    assert visits >= 20  # a real multi-visit history, not a single point
    server = start_dashboard(data_dir, env={"PDLENS_DEMO_DATABASE_URL": demo_url})
    try:
        # The patient's trends address, signed out: choose the demo database, then sign in.
        page.goto(f"{server.url}/trends?patient={patient_id}")
        demo = page.get_by_role("radio", name="Demo database (public research data, synthetic clips)")
        expect(demo).to_be_attached(timeout=30_000)
        wait_until_idle(page)
        page.get_by_text("Demo database (public research data, synthetic clips)").click()
        expect(page.get_by_role("heading", name="Sign in to pdlens")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Demo login: username demo")).to_be_visible()
        sign_in(page, DEMO_USERNAME, DEMO_PASSWORD)

        expect(page.get_by_role("heading", name=f"Trends · {name}")).to_be_visible(timeout=60_000)
        wait_until_idle(page, 60_000)
        expect(page.get_by_text("DEMO database, not clinic patients").first).to_be_visible()
        expect(page.get_by_text(f"{visits} visits from 2024-01-")).to_be_visible()
        expect(page.get_by_text("No model scores stored for this patient yet").first).to_be_visible()
        expect(page.get_by_role("heading", name="Clinician ratings")).to_be_visible()
        expect(page.get_by_text("Shulman").first).to_be_attached()  # the source of the UPDRS change threshold

        # At least one chosen voice measure and both UPDRS ratings (motor, total), each a chart.
        plots = page.locator(".js-plotly-plot")
        expect(plots.nth(2)).to_be_attached(timeout=30_000)
        assert plots.count() >= 3
        expect(plots.first.locator(".scatterlayer .trace").first).to_be_attached()  # drawn points
        assert page.locator('[data-testid="stException"]').count() == 0

        screenshot_whole_page(page, screenshot_dir / "trends-demo-patient.png")
        assert (screenshot_dir / "trends-demo-patient.png").stat().st_size > 50_000
    finally:
        stop_dashboard(server.process)
