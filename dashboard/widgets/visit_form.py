"""The visit fields, shared by the "New visit" form (patient page) and the "Correct visit
details" form (visit page). Inside an st.form; the repository validates every field before
anything is written, and audits the change."""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.store.models import MEDICATION_STATES, Visit
from dashboard import state
from dashboard.formatting import MEDICATION_LABELS, escape_markdown
from dashboard.widgets.patient_form import date_field

MAX_NOTES = 10_000
HOURS_MAX = 72.0


def visit_fields(key: str, visit: Visit | None = None) -> dict:
    """Inputs for one visit; returns the typed values by field name (`key` keeps forms apart)."""
    left, right = st.columns(2)
    with left:
        visit_date = date_field("Visit date", visit.visit_date if visit else date.today(), f"{key}_date",
                                help="Year-month-day, e.g. 2026-01-15. Not in the future.")
        current = visit.medication_state if visit else "unknown"
        medication_state = st.radio(
            "Medication state", MEDICATION_STATES, index=MEDICATION_STATES.index(current),
            format_func=MEDICATION_LABELS.get, horizontal=True, key=f"{key}_medication",
        )
    with right:
        # no min/max on the widget: a browser field out of its bounds keeps the previous value
        # unseen; the repository refuses anything outside 0-72 h with a clear message instead
        # value=None keeps the field clearable (empty = unknown) even when a value is stored
        if visit is not None and f"{key}_hours" not in st.session_state:
            st.session_state[f"{key}_hours"] = visit.hours_since_dose
        hours_since_dose = st.number_input(
            "Hours since last levodopa dose", value=None, step=0.5,
            help=f"0 to {HOURS_MAX:g} hours. Leave empty when unknown or not taking levodopa.", key=f"{key}_hours",
        )
    notes = st.text_area("Notes", value=visit.notes or "" if visit else "", key=f"{key}_notes",
                         help=f"At most {MAX_NOTES:,} characters.")
    return {"visit_date": visit_date, "medication_state": medication_state,
            "hours_since_dose": hours_since_dose, "notes": notes}


def edit_visit_form(visit: Visit) -> None:
    """"Correct visit details": date, medication state, hours since the dose, notes."""
    from core.store import repository

    with st.expander("Correct visit details", icon=":material/edit:"):
        with st.form(f"edit_visit_{visit.id}"):
            fields = visit_fields(f"edit_visit_{visit.id}", visit)
            saved = st.form_submit_button("Save visit details", type="primary")
        if saved:
            updated = state.write(lambda s, actor: repository.update_visit(s, actor, visit.id, **fields))
            if updated is not None:
                state.flash(f"Visit details saved (visit of {escape_markdown(updated.visit_date.isoformat())}).")
                st.rerun()
