"""Clinician ratings of one visit: the MDS-UPDRS part III / Hoehn & Yahr form and the table
"rating vs app score". Usable on the visit page: `ratings_form(visit_id)`, `rating_vs_score_table(...)`."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.ratings import RATING_ITEMS, SIDES, entered_items, rating_label, validate_rating
from core.store import ValidationError, repository
from core.trends import load_patient_series, rating_vs_score
from dashboard import state
from core.vocabulary import score_label
from dashboard.formatting import MEDICATION_LABELS, SIDE_LABELS, label

KEY_ITEMS = ("3.1", "3.4", "3.10", "3.17", "3.18", "hoehn_yahr")  # what pdlens measures, shown first
NOT_RATED = None


def _widget_key(visit_id: int, item: str, side: str | None) -> str:
    return f"rating_{visit_id}_{item}_{side or ''}"


def _select(container, visit_id: int, item: str, side: str | None, current: dict) -> None:
    spec = RATING_ITEMS[item]
    options = [NOT_RATED, *spec.allowed]
    value = current.get((item, side))
    container.selectbox(
        rating_label(item, side), options, index=options.index(value) if value in options else 0,
        format_func=lambda v: "not rated" if v is None else f"{v:g}", key=_widget_key(visit_id, item, side),
        help=spec.description or None,
    )


def ratings_form(visit_id: int) -> bool:
    """The rating form of a visit; returns True when ratings were saved. Leaving an item at
    "not rated" keeps what is stored (a saved rating is changed, not deleted)."""
    with state.session() as s:
        current = {(r.item, r.side): r.score for r in repository.list_ratings(s, visit_id)}
    items = entered_items()
    key_items = [i for i in items if i.key in KEY_ITEMS]
    more_items = [i for i in items if i.key not in KEY_ITEMS]
    with st.form(f"ratings_{visit_id}"):
        for group in (key_items,):
            columns = st.columns(3)
            for n, spec in enumerate(group):
                column = columns[n % 3]
                for side in (SIDES if spec.sided else (None,)):
                    _select(column, visit_id, spec.key, side, current)
        with st.expander("More MDS-UPDRS part III items"):
            columns = st.columns(3)
            for n, spec in enumerate(more_items):
                if spec.allowed is None:
                    continue
                for side in (SIDES if spec.sided else (None,)):
                    _select(columns[n % 3], visit_id, spec.key, side, current)
        submitted = st.form_submit_button("Save ratings", type="primary", key=f"rating_save_{visit_id}")
    if not submitted:
        return False
    chosen = []
    try:
        for spec in items:
            for side in (SIDES if spec.sided else (None,)):
                value = st.session_state.get(_widget_key(visit_id, spec.key, side))
                if value is not None and current.get((spec.key, side)) != value:
                    chosen.append(validate_rating(spec.key, side, value))
    except ValidationError as problem:
        st.error(str(problem))
        return False
    if not chosen:
        st.info("Nothing changed.")
        return False
    saved = state.write(lambda s, actor: [repository.set_rating(s, actor, visit_id, i, side, v) for i, side, v in chosen])
    if saved is not None:
        st.success(f"Ratings saved ({len(saved)}).")
        return True
    return False


def rating_vs_score_table(patient_id: int, visit_id: int | None = None) -> pd.DataFrame:
    """The app's scores next to the clinician's matching ratings (one visit, or all)."""
    with state.session() as s:
        table = rating_vs_score(load_patient_series(s, patient_id))
    if visit_id is not None:
        table = table[table["visit_id"] == visit_id]
    return readable_rating_vs_score(table)


def _number_text(value, form: str = "{:.2f}", missing: str = "") -> str:
    return missing if value is None or pd.isna(value) else form.format(float(value))


def readable_rating_vs_score(table: pd.DataFrame) -> pd.DataFrame:
    """core.trends.rating_vs_score's table with column names and values a clinician reads (text
    cells: an empty value reads "not rated" or stays blank, never "None")."""
    return pd.DataFrame({
        "Visit": pd.to_datetime(table["visit_date"]).dt.date,
        "Medication": [label(MEDICATION_LABELS, m) for m in table["medication_state"]],
        "Score": [score_label(m).replace("Fused score", "Visit score (combined)") if isinstance(m, str) else ""
                  for m in table["model"]],
        "Side": [SIDE_LABELS.get(s, s) if isinstance(s, str) else "" for s in table["side"]],
        "App score": [_number_text(p, missing="not scored") for p in table["probability"]],
        "Uncertainty": ["" if pd.isna(lo) or pd.isna(hi) else f"{lo:.2f} to {hi:.2f}"
                        for lo, hi in zip(table["interval_low"], table["interval_high"])],
        "Rating item": [rating_label(i) if isinstance(i, str) else "" for i in table["rating_item"]],
        "Clinician rating": [_number_text(r, "{:g}", "not rated") for r in table["rating"]],
    })
