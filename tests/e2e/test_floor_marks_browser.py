"""Clicking the two floor marks of a gait-speed clip in a real Chromium: the clicks on the clip's
frame (a plotly figure's invisible grid) become the marks, Save measures the walk. The clip is a
real encoded video of an empty SYNTHETIC walkway whose landmark cache is replaced by a SYNTHETIC
walker (no person recorded)."""
from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.store import Assessment, Recording, close_store, open_store, transaction
from core.store.files import resolve_recording_path
from core.visits import add_recording_and_analyze, landmark_cache_path
from tests.core.movement.test_gait_speed import synthetic_10m_walk
from tests.core.test_floor_marks import empty_walkway
from tests.e2e.conftest import sign_in, start_dashboard, stop_dashboard, synthetic_clinic, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_clicking_the_floor_marks_times_the_walk(tmp_path, page, screenshot_dir):
    data_dir = tmp_path / "data"
    clinic = synthetic_clinic(data_dir, mrn="SYN-0110", name="Synthetic Walker", visit_date=date(2024, 4, 1))
    sessions = open_store(clinic.database_url)
    added = add_recording_and_analyze(sessions, clinic.admin_id, clinic.visit_id, empty_walkway(tmp_path / "w.mp4"),
                                      "walk.mp4", "gait_speed", None, "upload", data_dir)
    with transaction(sessions) as s:
        stored = resolve_recording_path(data_dir, s.get(Recording, added.recording_id).stored_path)
    pose, project = synthetic_10m_walk(speed=1.1)
    pose.save_series(landmark_cache_path(stored))
    server = start_dashboard(data_dir)
    try:
        page.goto(f"{server.url}/results?visit={clinic.visit_id}")
        sign_in(page)
        expect(page.get_by_text("Next click sets")).to_be_visible(timeout=60_000)
        wait_until_idle(page, 60_000)
        chart = page.locator(".js-plotly-plot").filter(has=page.locator("image")).last
        chart.scroll_into_view_if_needed()
        for k, along in enumerate((-3.0, 3.0)):
            x, y = project(along)
            box = page.locator(".js-plotly-plot").filter(has=page.locator("image")).last.locator(".nsewdrag").first.bounding_box()
            page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
            wait_until_idle(page)
            across = page.get_by_label(f"Mark {k + 1}: across (% of width)")
            value = float(across.input_value())
            assert value == pytest.approx(100 * x, abs=1.0), (k, value, 100 * x)
        chart.screenshot(path=screenshot_dir / "floor-marks.png")
        page.get_by_role("button", name="Save the marks and measure again").click()
        wait_until_idle(page, 60_000)
        expect(page.get_by_text("Floor marks: set")).to_be_visible(timeout=30_000)
        with transaction(sessions) as s:
            rec = s.get(Recording, added.recording_id)
            assert rec.quality_ok and rec.setup_json["marks_distance_m"] == 6.0
            current = s.scalars(select(Assessment).where(Assessment.recording_id == rec.id,
                                                         Assessment.superseded_at.is_(None))).one()
            speed = {m.name: m.value for m in current.measures}["gait_speed_m_s"]
        # clicks land on the 1% grid: 6 m over ~0.5 of the picture, the timing error is about 2% a mark
        assert speed == pytest.approx(1.1, rel=0.06)
    finally:
        stop_dashboard(server.process)
        close_store(clinic.database_url)
