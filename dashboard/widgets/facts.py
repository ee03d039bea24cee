"""A compact row of labelled values (demographics, visit details): short labels over values,
user text escaped, nothing truncated the way st.metric truncates long values."""
from __future__ import annotations

import streamlit as st

from dashboard.formatting import escape_markdown


def facts(items: list[tuple[str, str]], per_row: int = 3) -> None:
    for start in range(0, len(items), per_row):
        columns = st.columns(per_row)
        for column, (name, value) in zip(columns, items[start : start + per_row]):
            with column:
                st.caption(escape_markdown(name))
                st.markdown(f"**{escape_markdown(value)}**" if value else "—")
