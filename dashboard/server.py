"""The pdlens server: `streamlit run dashboard/server.py` (what `make run` and the browser
tests start). It serves the dashboard (dashboard/app.py) as an `st.App`, Streamlit's own ASGI
server, with the two routes that set and clear the HTTP-only sign-in cookie (dashboard/web.py).

`streamlit run dashboard/app.py` still works, but without those routes a sign-in lasts only as
long as the browser tab (a reload signs out)."""
from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/server.py` puts dashboard/ on sys.path, not the project root.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import streamlit as st  # noqa: E402

from dashboard import web  # noqa: E402

app = st.App(Path(__file__).resolve().parent / "app.py", routes=web.routes())
web.mark_routes_served()
