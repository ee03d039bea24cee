"""Clinic overview: patients with a recent significant change, overdue follow-ups, and clips
that need a retake. Selecting a row opens the patient's trends (or the visit of a clip)."""
from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from core.capture import STATUS_LABELS
from core.store import Patient, Visit, repository
from core.trends import overdue_followups, patients_with_recent_change, recordings_needing_retake
from core.vocabulary import task_label
from dashboard import state
from dashboard.formatting import label, plural
from dashboard.widgets.tables import table_opening

st.title("Clinic overview")
with state.session() as s:
    latest_visit = s.scalar(select(func.max(Visit.visit_date)))

left, middle, right = st.columns(3)
# The demo data is historical: judge it as of its last visit, not today.
default_as_of = latest_visit if state.is_demo() and latest_visit else date.today()
as_of = left.date_input("As of", value=default_as_of, key="overview_as_of", format="YYYY-MM-DD")
recent_days = middle.number_input("Recent change: within the last (days)", 7, 730, 90, key="overview_recent_days")
overdue_days = right.number_input("Follow-up overdue after (days without a visit)", 7, 730, 90,
                                  key="overview_overdue_days")

with state.session() as s:
    flagged = patients_with_recent_change(s, as_of, int(recent_days))
    overdue = overdue_followups(s, as_of, int(overdue_days))
    retakes = recordings_needing_retake(s)
    ids = {f.patient_id for f in flagged} | set(overdue["patient_id"]) | set(retakes["patient_id"])
    people = {pid: (name, mrn) for pid, name, mrn in
              s.execute(select(Patient.id, Patient.name, Patient.mrn).where(Patient.id.in_(ids))).all()} if ids else {}
    if ids:
        repository.audit_list_view(s, state.actor(s), "overview", ids)


def name_of(pid: int) -> str:
    return people.get(pid, ("", ""))[0]


def mrn_of(pid: int) -> str:
    return people.get(pid, ("", ""))[1]


st.subheader("Recent significant change")
if not flagged:
    st.info(f"No patient has a change beyond their normal variation in the {plural(int(recent_days), 'day')} up to "
            f"{as_of:%Y-%m-%d}.", icon=":material/check_circle:")
else:
    st.caption("Changes beyond the normal variation of each patient's baseline, flagged at a visit in the period. "
               "Click a row to open the patient's trends.")
    changed = pd.DataFrame({
        "Patient": [name_of(f.patient_id) for f in flagged],
        "MRN": [mrn_of(f.patient_id) for f in flagged],
        "Visit": [f.event.visit_date for f in flagged],
        "Series": [f.series_label for f in flagged],
        "Direction": [f.event.direction for f in flagged],
        "Confirmed": [f.event.confirmed for f in flagged],
        "What changed": [f.summary for f in flagged],
    })
    table_opening(changed, [f.patient_id for f in flagged], state.TRENDS_PAGE, "patient", "overview_changed")

st.subheader("Overdue follow-ups")
if overdue.empty:
    st.info(f"Every patient has had a visit in the {plural(int(overdue_days), 'day')} up to {as_of:%Y-%m-%d}.",
            icon=":material/check_circle:")
else:
    st.caption(f"No visit for more than {plural(int(overdue_days), 'day')}. Click a row to open the patient.")
    overdue_table = pd.DataFrame({
        "Patient": [name_of(p) for p in overdue["patient_id"]],
        "MRN": [mrn_of(p) for p in overdue["patient_id"]],
        "Last visit": overdue["last_visit"],
        "Days since": overdue["days_since"],
    })
    table_opening(overdue_table, list(overdue["patient_id"]), state.PATIENT_PAGE, "patient", "overview_overdue")

st.subheader("Clips needing a retake")
if retakes.empty:
    st.info("No clip needs a retake.", icon=":material/check_circle:")
else:
    st.caption("Clips whose quality check failed: record the task again. Click a row to open the visit.")
    retake_table = pd.DataFrame({
        "Patient": [name_of(p) for p in retakes["patient_id"]],
        "Visit": retakes["visit_date"],
        "Task": [task_label(t) for t in retakes["task"]],
        "Side": retakes["side"].fillna(""),
        "Status": [label(STATUS_LABELS, s) for s in retakes["status"]],
        "Problems": retakes["problems"],
    })
    table_opening(retake_table, list(retakes["visit_id"]), state.VISIT_PAGE, "visit", "overview_retakes")
