"""AppTest fixtures and helpers: the real dashboard script (dashboard/app.py, every page
registered) against a real SQLite file in tmp_path."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

import pytest
from streamlit.testing.v1 import AppTest

from core.config import settings
from core.store import close_store, open_store, repository, transaction

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
ADMIN = {"username": "admin", "display_name": "Synthetic Admin", "password": "correct-horse-battery"}


@pytest.fixture
def clinic_db(tmp_path, monkeypatch) -> str:
    """An empty clinic database (and a data dir) in tmp_path; returns its URL."""
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    monkeypatch.setenv("PDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PDLENS_DEMO_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.sqlite'}")
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")  # test speed only
    settings.cache_clear()
    yield url
    close_store(url)
    settings.cache_clear()


@pytest.fixture
def app(clinic_db) -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


@pytest.fixture
def admin_db(clinic_db) -> str:
    """The clinic database with its administrator already created (through the repository)."""
    with transaction(open_store(clinic_db)) as s:
        repository.create_clinician(s, None, role="admin", **ADMIN)
    return clinic_db


def signed_in_app(timeout: float = 60) -> AppTest:
    """A fresh AppTest of the real dashboard, signed in as the administrator of `admin_db`."""
    return sign_in(AppTest.from_file(str(APP), default_timeout=timeout))


def sign_in(at: AppTest, username: str = ADMIN["username"], password: str = ADMIN["password"],
            demo: bool = False) -> AppTest:
    """Fill and submit the sign-in form (of the demo database when `demo`)."""
    if demo:
        at.session_state["database"] = "demo"
    at.run()
    form = at.get("form")[0]
    form.text_input[0].input(username)
    form.text_input[1].input(password)
    form.button[0].click()
    return at.run()


def texts(at: AppTest) -> str:
    """Everything the page says in markdown, titles, alerts and captions, as one string."""
    from dashboard.widgets.chrome import PRINT_CSS  # the print style sheet: not something the page says

    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "success", "info", "warning", "error", "text"):
        parts.extend(str(el.value) for el in at.get(kind) if el.value != PRINT_CSS)
    return "\n".join(parts)


def open_page(at: AppTest, page: str, **query) -> AppTest:
    """Switch a signed-in AppTest to `page` (e.g. "views/results.py") with ?key=value and run it."""
    at.switch_page(page)
    for key, value in query.items():
        at.query_params[key] = str(value)
    return at.run()


def charts(at: AppTest) -> list[dict]:
    """The plotly figures of the page (AppTest shows them as unknown elements with a JSON spec)."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def values(data) -> list:
    """A plotly array from the spec: a plain list, or plotly's typed array {"dtype", "bdata"}."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)
