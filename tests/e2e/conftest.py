"""Real-browser fixtures: the real dashboard server (`streamlit run dashboard/server.py`, the
st.App that also serves the sign-in cookie routes) on a free port with its own data dir, and
Debian's Chromium driven by Playwright.

    def test_something(dashboard, page):
        page.goto(dashboard.url)
        ...

`dashboard` is a fresh server with an empty SQLite database per test; `start_dashboard()` is
there for tests that need their own environment (extra env vars, a command prefix such as
`unshare --net ...` for WebRTC, see DESIGN.md). `synthetic_clinic(data_dir)` fills the database
that `start_dashboard(data_dir)` serves with an administrator, a synthetic patient and a visit,
and `sign_in(page)` signs in as that administrator. Never `playwright install`: the browser is
/usr/bin/chromium from apt.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STARTUP_TIMEOUT_S = 60
ADMIN_USERNAME, ADMIN_PASSWORD = "admin", "synthetic-admin-pass"


@dataclass
class Dashboard:
    url: str
    data_dir: Path
    database_url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit not healthy after {STARTUP_TIMEOUT_S} s:\n{log_path.read_text(errors='replace')}")


def start_dashboard(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    command_prefix: list[str] | None = None,
    address: str = "127.0.0.1",
    base_path: str = "",
) -> Dashboard:
    """Start `streamlit run dashboard/server.py` with the flags from DESIGN.md and wait for
    /_stcore/health. The clinic and demo databases are SQLite files in `data_dir`. With
    `base_path` ("pdlens") the server is under that path, as behind a reverse proxy, and the
    Dashboard's url ends with it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database_url = f"sqlite:///{data_dir / 'clinic.sqlite'}"
    process_env = dict(
        os.environ,
        PDLENS_DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        PDLENS_DEMO_DATABASE_URL=f"sqlite:///{data_dir / 'demo.sqlite'}",
        PDLENS_BCRYPT_ROUNDS="4",  # test speed only
        NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR", "/tmp/numba_cache"),
        PYTHONUNBUFFERED="1",
    )
    process_env.update(env or {})
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/server.py",
        "--server.headless", "true",
        "--server.address", address,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]
    if base_path:
        command += ["--server.baseUrlPath", base_path]
    log_path = data_dir / "streamlit.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        (command_prefix or []) + command, cwd=PROJECT_ROOT, env=process_env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://{address}:{port}" + (f"/{base_path.strip('/')}" if base_path.strip("/") else "")
    try:
        _wait_healthy(url, process, log_path)
    except BaseException:
        stop_dashboard(process)
        raise
    return Dashboard(url=url, data_dir=data_dir, database_url=database_url, process=process, log_path=log_path)


def stop_dashboard(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def dashboard(tmp_path) -> Iterator[Dashboard]:
    """A fresh dashboard server with an empty clinic database."""
    server = start_dashboard(tmp_path / "data")
    yield server
    stop_dashboard(server.process)


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Where a test saves its screenshots (kept by pytest's tmp_path retention for a look)."""
    path = tmp_path / "screenshots"
    path.mkdir()
    return path


IDLE_APP = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'


def wait_until_idle(page, timeout_ms: int = 20_000) -> None:
    """Wait until Streamlit has finished the script run a click or keypress started. The short
    pause lets the rerun request reach the server first; typing into a page that is still being
    replaced loses the keystrokes."""
    page.wait_for_timeout(250)
    page.locator(IDLE_APP).wait_for(state="attached", timeout=timeout_ms)


def choose_option(page, combobox, option_name, attempts: int = 3) -> None:
    """Open a select box and click one of its options. On a busy machine the first click can
    land while the page is still being replaced and the list never opens: open it again."""
    option = page.get_by_role("option", name=option_name)
    for attempt in range(attempts):
        wait_until_idle(page)
        combobox.click()
        try:
            option.wait_for(state="visible", timeout=5_000)
            break
        except Exception:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
    option.click()


def screenshot_whole_page(page, path: Path, max_height: int = 6_000) -> None:
    """A screenshot of the whole page. Streamlit scrolls inside its main section, so Playwright's
    full_page stops at the viewport: the viewport grows to the content for the shot, then back."""
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(0, ...Array.from(document.querySelectorAll('[data-testid=\"stMain\"]'), e => e.scrollHeight))")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, max_height))})
    page.wait_for_timeout(500)  # charts redraw at the new size
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(size)


def sign_in(page, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> None:
    """Fill and submit the sign-in form the page shows."""
    wait_until_idle(page)
    page.get_by_role("textbox", name="Username", exact=True).fill(username)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


@dataclass
class SyntheticClinic:
    database_url: str
    admin_id: int
    patient_id: int
    visit_id: int


def synthetic_clinic(data_dir: Path, *, mrn: str = "SYN-E2E-1", name: str = "Synthetic Browser Patient",
                     visit_date: date = date(2024, 6, 1), medication_state: str = "on") -> SyntheticClinic:
    """The clinic database that `start_dashboard(data_dir)` serves, with the administrator
    (ADMIN_USERNAME / ADMIN_PASSWORD), one synthetic patient and one visit."""
    from core.store import close_store, open_store, repository, transaction

    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'clinic.sqlite'}"
    with transaction(open_store(url)) as s:
        admin = repository.create_clinician(s, None, username=ADMIN_USERNAME, display_name="Synthetic Admin",
                                            password=ADMIN_PASSWORD, role="admin")
        patient = repository.create_patient(s, admin, mrn=mrn, name=name, birth_date=date(1951, 3, 3),
                                            sex="unknown", diagnosis="unknown", more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=visit_date, medication_state=medication_state)
        clinic = SyntheticClinic(url, admin.id, patient.id, visit.id)
    close_store(url)
    return clinic
