"""Clinician ratings of one visit: the MDS-UPDRS part III / Hoehn & Yahr form with its "Outcome
tests" section (balance-scale totals, six-minute walk, stopwatch times), and the table "rating vs
app score". Usable on the visit page: `ratings_form(visit_id)`, `rating_vs_score_table(...)`,
`stopwatch_lines(visit_id)`."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.ratings import (RATING_ITEMS, entered_items, legacy_location, outcome_items, part3_total, rating_label,
                          stopwatch_pairs, validate_rating)
from core.store import ValidationError, repository
from core.trends import load_patient_series, rating_vs_score
from dashboard import state
from core.vocabulary import score_label
from dashboard.formatting import MEDICATION_LABELS, SIDE_LABELS, escape_markdown, label

NOT_RATED = None
# The form's sections, in scale order: (heading, item keys). Every entered item is in one.
SECTIONS = (
    ("Speech, face and rigidity", ("3.1", "3.2", "3.3")),
    ("Hands and feet", ("3.4", "3.5", "3.6", "3.7", "3.8")),
    ("Gait, posture and balance", ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")),
    ("Tremor", ("3.15", "3.16", "3.17", "3.18")),
    ("Stage", ("hoehn_yahr",)),
)
OUTCOME_HEADING = "Outcome tests"


def _widget_key(visit_id: int, item: str, side: str | None) -> str:
    return f"rating_{visit_id}_{item}_{side or ''}"


def _choice_text(spec, value) -> str:
    return "not rated" if value is None else spec.score_text(value)


def _select(container, visit_id: int, item: str, side: str | None, current: dict) -> None:
    spec = RATING_ITEMS[item]
    options = [NOT_RATED, *spec.allowed]
    value = current.get((item, side))
    container.selectbox(
        rating_label(item, side), options,
        index=options.index(value) if value in options else 0,
        format_func=lambda v, spec=spec: _choice_text(spec, v), key=_widget_key(visit_id, item, side),
    )


def _number(container, visit_id: int, spec, current: dict) -> None:
    """A number box with its unit for an outcome value; empty = not entered."""
    value = current.get((spec.key, None))
    unit = "points" if spec.integer else spec.unit
    container.number_input(
        f"{spec.label} ({unit}, {spec.low:g}-{spec.high:g})", value=None if value is None else float(value),
        step=spec.step, format=f"%.{spec.decimals}f", placeholder="not entered",
        key=_widget_key(visit_id, spec.key, None),
    )


def stopwatch_lines(visit_id: int) -> list[str]:
    """'TUG: video 12.4 s, stopwatch 12.1 s' for each outcome test of the visit (plain text)."""
    with state.session() as s:
        return [p.text for p in stopwatch_pairs(s, visit_id)]


def _current(visit_id: int) -> tuple[dict, list]:
    """{(item, location): score} of the visit (older 3.17 sides read as upper extremity), and the rows."""
    with state.session() as s:
        rows = [(r.item, r.side, r.score) for r in repository.list_ratings(s, visit_id)]
    return {(item, legacy_location(item, side)): score for item, side, score in rows}, rows


def part3_total_line(visit_id: int) -> str:
    """'MDS-UPDRS part III total 23 of 132' or '... 5 of 33 scores missing' (plain text)."""
    _, rows = _current(visit_id)
    return part3_total(rows).text


def _rows(specs) -> list[list]:
    """Items grouped into form rows: [sided item] alone, or up to three unsided items in a row."""
    rows: list[list] = []
    for spec in specs:
        if spec.sided or not rows or rows[-1][0].sided or len(rows[-1]) == 3:
            rows.append([spec])
        else:
            rows[-1].append(spec)
    return rows


def ratings_form(visit_id: int) -> bool:
    """The rating form of a visit: every MDS-UPDRS part III score (33, with their sides and
    body locations), Hoehn & Yahr and the outcome tests; returns True when ratings were saved.
    Leaving an item at "not rated" (or an outcome box empty) keeps what is stored (a saved
    rating is changed, not deleted)."""
    current, rows = _current(visit_id)
    st.markdown(f"**{part3_total(rows).text}**")
    items = {spec.key: spec for spec in entered_items()}
    with st.form(f"ratings_{visit_id}"):
        for heading, keys in SECTIONS:
            st.markdown(f"**{heading}**")
            # In scale order: a sided item on its own row (one box per location); consecutive
            # unsided items three to a row.
            for group in _rows(items[key] for key in keys):
                if group[0].sided:
                    spec = group[0]
                    for column, side in zip(st.columns(len(spec.locations)), spec.locations):
                        _select(column, visit_id, spec.key, side, current)
                else:
                    for column, spec in zip(st.columns(3), group):
                        _select(column, visit_id, spec.key, None, current)
        st.markdown(f"**{OUTCOME_HEADING}**")
        st.caption("Totals of the balance scales (the scales' own forms are scored on paper), the six-minute walk "
                   "distance and the times taken by stopwatch. Leave a box empty when the test was not done.")
        outcomes = outcome_items()
        for start in range(0, len(outcomes), 3):
            for column, spec in zip(st.columns(3), outcomes[start:start + 3]):
                _number(column, visit_id, spec, current)
        submitted = st.form_submit_button("Save ratings", type="primary", key=f"rating_save_{visit_id}")
    if not submitted:
        return False
    chosen = []
    try:
        for spec in items.values():
            for side in (spec.locations or (None,)):
                value = st.session_state.get(_widget_key(visit_id, spec.key, side))
                if value is not None and current.get((spec.key, side)) != value:
                    chosen.append(validate_rating(spec.key, side, value))
    except ValidationError as problem:
        st.error(escape_markdown(str(problem)))
        return False
    if not chosen:
        st.info("Nothing changed.")
        return False
    saved = state.write(lambda s, actor: [repository.set_rating(s, actor, visit_id, i, side, v) for i, side, v in chosen])
    if saved is not None:
        n = len(saved)
        st.success(f"Ratings saved: {n} {'value' if n == 1 else 'values'}. {part3_total_line(visit_id)}.")
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
        "Score": [score_label(m) if isinstance(m, str) else ""
                  for m in table["model"]],
        "Side": [SIDE_LABELS.get(s, s) if isinstance(s, str) else "" for s in table["side"]],
        "App score": [_number_text(p, missing="not scored") for p in table["probability"]],
        "Uncertainty": ["" if pd.isna(lo) or pd.isna(hi) else f"{lo:.2f} to {hi:.2f}"
                        for lo, hi in zip(table["interval_low"], table["interval_high"])],
        "Rating item": [rating_label(i) if isinstance(i, str) else "" for i in table["rating_item"]],
        "Clinician rating": [_number_text(r, "{:g}", "not rated") for r in table["rating"]],
    })
