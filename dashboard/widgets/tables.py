"""A table whose rows open a record: select a row, the page of that row's record opens."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st


def table_opening(frame: pd.DataFrame, ids: Sequence[int], page: str, param: str, key: str, **options) -> None:
    """st.dataframe of `frame` (row i is the record ids[i]); selecting a row opens `page` with
    ?param=<that id>. `options` go to st.dataframe (column_config, ...)."""
    selection = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun",
                             selection_mode="single-row", key=key, **options)
    if selection and selection.selection.rows:
        st.switch_page(page, query_params={param: str(int(ids[selection.selection.rows[0]]))})
