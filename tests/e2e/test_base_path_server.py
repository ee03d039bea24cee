"""The real pdlens server behind a reverse proxy's path (server.baseUrlPath "pdlens"): the
sign-in route is served under the path, and a websocket session carrying the cookie it set
opens the signed-in patients list there. No browser: HTTP and the Streamlit websocket protocol
driven directly (as bench/load.py does)."""
from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest
import websockets

from bench.load import ADMIN, PASSWORD, open_page, signed_in_cookie
from core.config import settings
from core.store import close_store, open_store, repository, transaction
from tests.e2e.conftest import start_dashboard, stop_dashboard

pytestmark = pytest.mark.slow


@pytest.fixture
def server_under_a_path(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    monkeypatch.setenv("PDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    settings.cache_clear()
    with transaction(open_store(url)) as s:
        repository.create_clinician(s, None, username=ADMIN, display_name="Synthetic Admin",
                                    password=PASSWORD, role="admin")
    close_store(url)
    server = start_dashboard(tmp_path, base_path="pdlens")
    yield server
    stop_dashboard(server.process)
    close_store(url)
    settings.cache_clear()


async def _first_page(server, cookie: str) -> str | None:
    ws_url = server.url.replace("http://", "ws://") + "/_stcore/stream"
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=30,
                                  additional_headers={"Cookie": cookie, "Origin": server.url.rsplit("/", 1)[0]}) as ws:
        _elapsed, error = await open_page(ws, "", "", "Patients", server.url)
        return error


def test_sign_in_and_the_patients_list_under_the_base_path(server_under_a_path):
    server = server_under_a_path
    assert server.url.endswith("/pdlens")
    root = server.url.removesuffix("/pdlens")
    with pytest.raises(urllib.error.HTTPError) as not_there:  # the route is not at the root any more
        urllib.request.urlopen(urllib.request.Request(f"{root}/_pdlens/sign-in", data=b"", method="POST"), timeout=10)
    assert not_there.value.code in (404, 405)
    cookie = signed_in_cookie(server)  # POST /pdlens/_pdlens/sign-in: 303 and the cookie
    assert asyncio.run(_first_page(server, cookie)) is None  # signed in: the patients list, no error
