"""The cookie routes of the pdlens server (dashboard/web.py), driven as the ASGI app they are
(a real Starlette app and a real SQLite file; no browser): the ticket is exchanged once for a
signed HttpOnly SameSite=Strict cookie, `next` never leaves the site, requests from another
site are refused, sign-out ends the session and clears the cookie."""
from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from core import sessions
from core.config import settings
from core.store import Clinician, close_store, open_store, repository, transaction
from dashboard import web

HOST = "clinic.example:8501"


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    monkeypatch.setenv("PDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PDLENS_DEMO_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.sqlite'}")
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    monkeypatch.delenv("PDLENS_SECRET_KEY", raising=False)
    settings.cache_clear()
    with transaction(open_store(url)) as s:
        repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                    password="synthetic-admin-pass", role="admin")
    yield url
    close_store(url)
    settings.cache_clear()


def ticket_for(url: str) -> str:
    with transaction(open_store(url)) as s:
        return sessions.issue_ticket(s, s.scalar(select(Clinician)))


def call(path: str, fields: dict | None = None, headers: dict | None = None, cookie: str | None = None,
         scheme: str = "http") -> tuple[int, dict[str, list[str]]]:
    """POST `fields` to `path` of an app carrying only the pdlens routes; (status, headers)."""
    app = Starlette(routes=web.routes())
    body = urlencode(fields or {}).encode()
    raw_headers = {"host": HOST, "content-type": "application/x-www-form-urlencoded",
                   "content-length": str(len(body)), "origin": f"{scheme}://{HOST}", "sec-fetch-site": "same-origin"}
    raw_headers.update(headers or {})
    if cookie is not None:
        raw_headers["cookie"] = f"{web.COOKIE}={cookie}"
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "scheme": scheme, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "server": ("clinic.example", 8501),
             "headers": [(k.encode(), v.encode()) for k, v in raw_headers.items() if v is not None]}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    response_headers: dict[str, list[str]] = {}
    for key, value in start["headers"]:
        response_headers.setdefault(key.decode().lower(), []).append(value.decode())
    return start["status"], response_headers


def set_cookie(headers: dict[str, list[str]]) -> tuple[str, str]:
    [line] = [h for h in headers.get("set-cookie", []) if h.startswith(web.COOKIE + "=")]
    parsed = SimpleCookie()
    parsed.load(line)
    return parsed[web.COOKIE].value, line.lower()


def test_a_ticket_becomes_a_signed_httponly_strict_cookie_and_sends_the_browser_on(clinic):
    status, headers = call(web.SIGN_IN_PATH, {"ticket": ticket_for(clinic), "database": "clinic",
                                              "next": "/patient?patient=3"})
    assert status == 303 and headers["location"] == ["/patient?patient=3"]
    value, line = set_cookie(headers)
    assert "httponly" in line and "samesite=strict" in line and "path=/" in line and "max-age=43200" in line
    assert "secure" not in line  # plain http
    database, token = web.read_cookie(value)
    assert database == "clinic"
    with transaction(open_store(clinic)) as s:
        assert sessions.session_clinician(s, token).username == "admin"
    assert web.read_cookie(value[:-2] + ("AA" if not value.endswith("AA") else "BB")) is None  # tampered


def test_over_https_the_cookie_is_secure(clinic):
    status, headers = call(web.SIGN_IN_PATH, {"ticket": ticket_for(clinic), "database": "clinic"}, scheme="https")
    assert status == 303
    _, line = set_cookie(headers)
    assert "secure" in line


def test_a_ticket_works_once(clinic):
    ticket = ticket_for(clinic)
    assert "set-cookie" in call(web.SIGN_IN_PATH, {"ticket": ticket, "database": "clinic"})[1]
    status, headers = call(web.SIGN_IN_PATH, {"ticket": ticket, "database": "clinic"})
    assert status == 303 and headers["location"] == ["/"] and "set-cookie" not in headers


@pytest.mark.parametrize("next_path", ["https://elsewhere.example/", "//elsewhere.example/x", "/\\elsewhere.example",
                                       "javascript:alert(1)", "patients", "/ok\r\nSet-Cookie: x=1"])
def test_next_never_leaves_the_site(clinic, next_path):
    status, headers = call(web.SIGN_IN_PATH, {"ticket": ticket_for(clinic), "database": "clinic", "next": next_path})
    assert status == 303 and headers["location"] == ["/"]


@pytest.mark.parametrize("headers", [{"origin": "http://elsewhere.example"}, {"sec-fetch-site": "cross-site"},
                                     {"sec-fetch-site": "same-site"}])
def test_requests_from_another_site_are_refused(clinic, headers):
    ticket = ticket_for(clinic)
    status, response = call(web.SIGN_IN_PATH, {"ticket": ticket, "database": "clinic"}, headers=headers)
    assert status == 403 and "set-cookie" not in response
    # the refused ticket was not spent: the real page can still use it
    assert "set-cookie" in call(web.SIGN_IN_PATH, {"ticket": ticket, "database": "clinic"})[1]


def test_sign_out_ends_the_session_and_clears_the_cookie(clinic):
    _, headers = call(web.SIGN_IN_PATH, {"ticket": ticket_for(clinic), "database": "clinic"})
    value, _ = set_cookie(headers)
    _, token = web.read_cookie(value)
    refused, _ = call(web.SIGN_OUT_PATH, cookie=value, headers={"origin": "http://elsewhere.example"})
    assert refused == 403
    with transaction(open_store(clinic)) as s:
        assert sessions.session_clinician(s, token) is not None
    status, headers = call(web.SIGN_OUT_PATH, cookie=value)
    assert status == 303 and headers["location"] == ["/"]
    cleared, line = set_cookie(headers)
    assert cleared == "" and "max-age=0" in line
    with transaction(open_store(clinic)) as s:
        assert sessions.session_clinician(s, token) is None


def test_building_the_routes_does_not_switch_this_process_to_cookie_sign_in():
    web.routes()
    assert web.routes_served() is False  # AppTest runs in test processes rely on this


def test_the_signing_key_is_created_once_and_kept_private(clinic, tmp_path):
    value = web.cookie_value("clinic", "synthetic-token")
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert web.read_cookie(value) == ("clinic", "synthetic-token")  # same key on the next read
    key_file.write_text("another-key")
    assert web.read_cookie(value) is None  # a cookie signed with another key is refused


@pytest.fixture
def under_a_path():
    """The server behind a reverse proxy at /clinic/pdlens (server.baseUrlPath)."""
    from streamlit import config

    before = config.get_option("server.baseUrlPath")
    config.set_option("server.baseUrlPath", "clinic/pdlens/")
    yield "/clinic/pdlens"
    config.set_option("server.baseUrlPath", before)


def test_under_a_base_path_the_routes_redirects_and_cookie_follow_it(clinic, under_a_path):
    assert call(web.SIGN_IN_PATH, {"ticket": ticket_for(clinic), "database": "clinic"})[0] == 404
    status, headers = call(under_a_path + web.SIGN_IN_PATH, {"ticket": ticket_for(clinic), "database": "clinic"})
    assert status == 303 and headers["location"] == [under_a_path + "/"]
    value, line = set_cookie(headers)
    assert f"path={under_a_path}/" in line
    _, headers = call(under_a_path + web.SIGN_IN_PATH, {"ticket": ticket_for(clinic), "database": "clinic",
                                                        "next": "https://elsewhere.example/"})
    assert headers["location"] == [under_a_path + "/"]
    status, headers = call(under_a_path + web.SIGN_OUT_PATH, cookie=value)
    assert status == 303 and headers["location"] == [under_a_path + "/"]
    _, line = set_cookie(headers)
    assert f"path={under_a_path}/" in line and "max-age=0" in line


def test_the_sign_in_page_posts_to_the_route_under_the_base_path(under_a_path):
    from dashboard import state

    html = state.route_form_html(web.SIGN_IN_PATH, {"ticket": "AbC-123_x", "database": "clinic"})
    assert f'action="{under_a_path}{web.SIGN_IN_PATH}"' in html
    assert f'name="next" value="{under_a_path}/"' in html
