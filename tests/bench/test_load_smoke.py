"""bench/load.py in its short form against a real dashboard server: signed-in websocket sessions
get their pages (patient, results, trends) with the expected headings and no error; and a page
that cannot be shown (a patient id that does not exist) is counted as an error, so the check
that the pages arrived can fail."""
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from bench import load


@pytest.mark.slow
def test_short_load_run_gets_every_page_without_errors():
    data = load.run(sessions=5, duration_s=3.0, max_opens=6, batch=False)
    for phase in (data["baseline_1_session"], data["loaded"]):
        assert phase["opens"] > 0
        assert phase["errors"] == 0, phase["error_kinds"]
        assert phase["median_s"] > 0
    assert data["loaded"]["opens"] > data["baseline_1_session"]["opens"]  # 5 sessions really ran


@pytest.mark.slow
def test_a_page_without_its_heading_counts_as_an_error():
    with tempfile.TemporaryDirectory(prefix="pdlens-load-test-") as tmp:
        clinic = load.make_clinic(Path(tmp) / "data")
        server = load.start_dashboard(clinic.data_dir)
        try:
            cookie = load.signed_in_cookie(server)
            missing = max(p[0] for p in clinic.patients) + 1000
            bogus = load.Clinic(clinic.data_dir, clinic.database_url,
                                [(missing, "none", "Nobody", missing, "1900-01-01")])
            opens = asyncio.run(load.phase(server, bogus, [cookie], duration_s=30.0, max_opens=3))
        finally:
            load.stop_dashboard(server.process)
    assert len(opens.times_s) == 3
    assert len(opens.errors) == 3, opens.errors
    assert all("expected heading missing" in e for e in opens.errors)
