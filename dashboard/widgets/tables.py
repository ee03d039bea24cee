"""A table whose rows open a record with one click: clicking any cell of a row (or its row
checkbox) opens the page of that row's record."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st


def clicked_row(selection) -> int | None:
    """The row position of a dataframe selection: a selected row, else the row of a clicked cell."""
    if not selection:
        return None
    chosen = selection.get("selection", {}) if isinstance(selection, dict) else getattr(selection, "selection", {})
    rows = list(chosen.get("rows") or [])
    if rows:
        return int(rows[0])
    cells = list(chosen.get("cells") or [])
    if cells:
        return int(cells[0][0])
    return None


def table_opening(frame: pd.DataFrame, ids: Sequence[int], page: str, param: str, key: str, **options) -> None:
    """st.dataframe of `frame` (row i is the record ids[i]); one click on a row opens `page`
    with ?param=<that id>. Cell selection is on so that a click anywhere on the row counts, not
    only on the small row checkbox. `options` go to st.dataframe (column_config, ...)."""
    selection = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun",
                             selection_mode=["single-row", "single-cell"], key=key, **options)
    row = clicked_row(selection)
    if row is not None and 0 <= row < len(ids):
        st.switch_page(page, query_params={param: str(int(ids[row]))})
