"""The visit results page in a real Chromium: a synthetic clinic whose visit has a real analysed
vowel (public Iyer 2023 sample) and a synthetic 10 s tapping video; every panel is drawn (plotly
charts in the DOM, the key frame image, the not-a-diagnosis statement) and a screenshot is kept."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.store import close_store, open_store
from core.visits import add_recording_and_analyze
from tests.e2e.conftest import (
    screenshot_whole_page,
    sign_in,
    start_dashboard,
    stop_dashboard,
    synthetic_clinic,
    wait_until_idle,
)
from tests.fixtures.fused.clips import write_tapping_clip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


def analysed_visit(data_dir: Path) -> int:
    clinic = synthetic_clinic(data_dir, mrn="SYN-0100", name="Synthetic Patient", visit_date=date(2024, 3, 1))
    sessions = open_store(clinic.database_url)
    add_recording_and_analyze(sessions, clinic.admin_id, clinic.visit_id, VOWEL, "vowel.wav", "vowel", None,
                              "upload", data_dir)
    clip = write_tapping_clip(data_dir.parent / "synthetic_tapping.mp4", seconds=10.0)
    add_recording_and_analyze(sessions, clinic.admin_id, clinic.visit_id, clip, "tapping.mp4", "finger_tapping",
                              "left", "upload", data_dir)
    close_store(clinic.database_url)
    return clinic.visit_id


def test_results_page_draws_every_panel_in_chromium(tmp_path, page, screenshot_dir):
    data_dir = tmp_path / "data"
    visit_id = analysed_visit(data_dir)
    server = start_dashboard(data_dir)
    try:
        page.goto(f"{server.url}/results?visit={visit_id}")
        sign_in(page)
        expect(page.get_by_role("heading", name="Visit score")).to_be_visible(timeout=60_000)
        wait_until_idle(page, 60_000)
        expect(page.get_by_text("Decision support, not a diagnosis").first).to_be_visible()
        plots = page.locator(".js-plotly-plot")
        # voice is measures-only (models/voice/status.json): score, tapping attribution(s), signal, key frame
        expect(plots.nth(3)).to_be_attached(timeout=30_000)
        assert plots.count() >= 4
        expect(page.get_by_text("Measures only").first).to_be_attached()
        expect(page.locator(".js-plotly-plot image").first).to_be_attached()  # the key frame picture
        screenshot_whole_page(page, screenshot_dir / "visit-results.png")
        assert (screenshot_dir / "visit-results.png").stat().st_size > 50_000
    finally:
        stop_dashboard(server.process)
