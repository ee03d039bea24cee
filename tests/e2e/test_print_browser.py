"""Printing the results page from a real Chromium: the print style sheet hides the sidebar,
header and buttons, and the whole page (down to its closing summary) reaches the paper in a few
A4 pages. Synthetic clinic (tests/core/trends_synthetic.py), no patient data."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from core.store import close_store
from tests.core.trends_synthetic import ADMIN, PATIENT, build_synthetic_clinic
from tests.e2e.conftest import sign_in, start_dashboard, stop_dashboard, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_results_page_prints_without_the_sidebar(tmp_path, page, monkeypatch, screenshot_dir):
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")  # test speed only
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'clinic.sqlite'}"
    ids = build_synthetic_clinic(url)
    close_store(url)
    server = start_dashboard(data_dir)
    try:
        page.goto(f"{server.url}/results?visit={ids['visits'][-1]}")
        sign_in(page, ADMIN["username"], ADMIN["password"])
        wait_until_idle(page)
        page.get_by_role("heading", name="Summary").wait_for()
        assert page.locator('[data-testid="stSidebar"]').is_visible()  # on screen it is there
        page.emulate_media(media="print")
        page.wait_for_timeout(300)
        assert page.locator('[data-testid="stSidebar"]').is_hidden()
        assert page.get_by_role("button", name="Prepare visit summary (PDF)").is_hidden()
        page.screenshot(path=screenshot_dir / "results-print-media.png")
        pdf = page.pdf(format="A4", print_background=False)
    finally:
        stop_dashboard(server.process)
    reader = PdfReader(io.BytesIO(pdf))
    print(f"results page printed on {len(reader.pages)} A4 pages")
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Signed in as" not in text and "Log out" not in text  # no sidebar on paper
    assert PATIENT["name"] in text and "Visit score" in text
    assert "Summary" in text and "Decision support, not a diagnosis" in text  # the end of the page printed too
    assert len(reader.pages) <= 6, f"{len(reader.pages)} pages"
