"""The two HTTP routes that make a sign-in last: Streamlit pages cannot set an HTTP-only cookie
(a page's JavaScript never can), so the pdlens server (dashboard/server.py, an `st.App`) adds

- POST /_pdlens/sign-in  (ticket, database, next): exchanges the login page's one-time ticket
  for a server-side session (core.sessions) and sets the cookie: signed (itsdangerous, with the
  key of core.config.secret_key), HttpOnly, SameSite=Strict, Secure when served over https,
  holding the database name and the session's random token; then redirects to `next` (a local
  path only).
- POST /_pdlens/sign-out: ends the cookie's session on the server, clears the cookie and
  redirects to the patients list ("/"), so the next user starts with nothing of the last one.

Behind a reverse proxy that serves pdlens under a path (`server.baseUrlPath`, e.g. "pdlens"), the
routes, the redirects and the cookie live under that path too: /pdlens/_pdlens/sign-in, /pdlens/.

Both refuse requests from another site (Origin / Sec-Fetch-Site), so no other page can sign a
browser in to someone else's account or out of its own. Every page run reads the cookie
through st.context.cookies (dashboard/state.py) and checks its session again.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from core import sessions
from core.config import secret_key, settings
from core.store import open_store, transaction

COOKIE = "pdlens_session"
SIGN_IN_PATH = "/_pdlens/sign-in"
SIGN_OUT_PATH = "/_pdlens/sign-out"
HOME = "/"
_SALT = "pdlens-sign-in-cookie"
MAX_FORM_BYTES = 4096
DATABASES = ("clinic", "demo")

_routes_served = False


def base_path() -> str:
    """The address prefix of this server: "" or, with server.baseUrlPath "clinic/pdlens",
    "/clinic/pdlens" (Streamlit serves its own routes there; ours follow)."""
    from streamlit import config

    parts = [part for part in str(config.get_option("server.baseUrlPath") or "").split("/") if part]
    return "/" + "/".join(parts) if parts else ""


def route_path(path: str) -> str:
    """SIGN_IN_PATH or SIGN_OUT_PATH under this server's base path."""
    return base_path() + path


def home() -> str:
    """The patients list: the first page, at the base path."""
    return base_path() + HOME


def routes_served() -> bool:
    """True in a process whose server carries the sign-in routes (dashboard/server.py). False
    under AppTest or a bare `streamlit run dashboard/app.py`: the dashboard then keeps the
    sign-in in the browser session only (still a server-side session, ended at logout)."""
    return _routes_served


def database_url(name: str) -> str:
    if name not in DATABASES:
        raise ValueError(f"unknown database {name!r}")
    return settings().demo_database_url if name == "demo" else settings().database_url


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(), salt=_SALT)


def _max_age_s() -> int:
    return int(settings().session_max_hours * 3600)


def cookie_value(database: str, token: str) -> str:
    return _serializer().dumps({"db": database, "token": token})


def read_cookie(value: str | None) -> tuple[str, str] | None:
    """(database, token) of a cookie this server signed and that is not past its lifetime."""
    if not value or len(value) > MAX_FORM_BYTES:
        return None
    try:
        payload = _serializer().loads(value, max_age=_max_age_s())
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(payload, dict):
        return None
    database, token = payload.get("db"), payload.get("token")
    if database not in DATABASES or not isinstance(token, str):
        return None
    return database, token


def safe_next(value: str | None) -> str:
    """`value` when it is a path on this server ("/patient?patient=3"), else home(). Refuses
    absolute and scheme-relative URLs ("https://x", "//x", "/\\x") so that the sign-in route
    cannot send anyone to another site."""
    if not value or len(value) > 1000 or not value.startswith("/") or value.startswith(("//", "/\\")):
        return home()
    if any(ord(ch) < 32 or ch == "\\" for ch in value):
        return home()
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return home()
    return value


def _same_origin(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return False
    return True


def _https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def _redeem(database: str, ticket: str) -> str | None:
    with transaction(open_store(database_url(database))) as s:
        return sessions.redeem_ticket(s, ticket)


def _end(database: str, token: str) -> None:
    with transaction(open_store(database_url(database))) as s:
        sessions.end_session(s, token)


def _forbidden() -> Response:
    return PlainTextResponse("Refused: this request did not come from a pdlens page.", status_code=403)


async def sign_in(request: Request) -> Response:
    if not _same_origin(request):
        return _forbidden()
    form = await _form(request)
    database = form.get("database", "")
    if database not in DATABASES:
        return RedirectResponse(home(), status_code=303)
    token = await run_in_threadpool(_redeem, database, form.get("ticket", ""))
    if token is None:  # used, expired or forged ticket: back to the sign-in form
        return RedirectResponse(home(), status_code=303)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    response.set_cookie(COOKIE, cookie_value(database, token), max_age=_max_age_s(), path=home(),
                        httponly=True, samesite="strict", secure=_https(request))
    response.headers["Cache-Control"] = "no-store"
    return response


async def sign_out(request: Request) -> Response:
    if not _same_origin(request):
        return _forbidden()
    signed_in = read_cookie(request.cookies.get(COOKIE))
    if signed_in is not None:
        await run_in_threadpool(_end, *signed_in)
    response = RedirectResponse(home(), status_code=303)
    response.delete_cookie(COOKIE, path=home(), httponly=True, samesite="strict", secure=_https(request))
    response.headers["Cache-Control"] = "no-store"
    return response


def routes() -> list[Route]:
    """The routes to mount in st.App (dashboard/server.py)."""
    return [Route(route_path(SIGN_IN_PATH), sign_in, methods=["POST"]),
            Route(route_path(SIGN_OUT_PATH), sign_out, methods=["POST"])]


def mark_routes_served() -> None:
    """Called by dashboard/server.py, whose server carries routes(): pages then sign in with the cookie."""
    global _routes_served
    _routes_served = True
