"""Clinic overview: patients with a recent significant change, overdue follow-ups, and clips
that need a retake. Selecting a row opens the patient's trends (or the visit of a clip)."""
from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from core.store import Patient, Visit
from core.tasks import TASKS
from core.trends import overdue_followups, patients_with_recent_change, recordings_needing_retake
from dashboard import state

TRENDS_PAGE = "views/trends.py"

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


def name_of(pid: int) -> str:
    return people.get(pid, ("", ""))[0]


def mrn_of(pid: int) -> str:
    return people.get(pid, ("", ""))[1]


def open_on_select(selection, patient_ids: list[int], page: str = TRENDS_PAGE, param: str = "patient") -> None:
    if selection and selection.selection.rows:
        st.switch_page(page, query_params={param: str(patient_ids[selection.selection.rows[0]])})


st.subheader("Recent significant change")
st.caption("Changes beyond the normal variation of each patient's baseline, flagged at a visit in the period. "
           "Select a row to open the patient's trends.")
changed = pd.DataFrame({
    "Patient": [name_of(f.patient_id) for f in flagged],
    "MRN": [mrn_of(f.patient_id) for f in flagged],
    "Visit": [f.event.visit_date for f in flagged],
    "Series": [f.series_label for f in flagged],
    "Direction": [f.event.direction for f in flagged],
    "Confirmed": [f.event.confirmed for f in flagged],
    "What changed": [f.summary for f in flagged],
}, columns=["Patient", "MRN", "Visit", "Series", "Direction", "Confirmed", "What changed"])
selection = st.dataframe(changed, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                         key="overview_changed")
open_on_select(selection, [f.patient_id for f in flagged])

st.subheader("Overdue follow-ups")
overdue_table = pd.DataFrame({
    "Patient": [name_of(p) for p in overdue["patient_id"]],
    "MRN": [mrn_of(p) for p in overdue["patient_id"]],
    "Last visit": overdue["last_visit"],
    "Days since": overdue["days_since"],
}, columns=["Patient", "MRN", "Last visit", "Days since"])
selection = st.dataframe(overdue_table, hide_index=True, width="stretch", on_select="rerun",
                         selection_mode="single-row", key="overview_overdue")
open_on_select(selection, list(overdue["patient_id"]), "views/patient.py")

st.subheader("Clips needing a retake")
retake_table = pd.DataFrame({
    "Patient": [name_of(p) for p in retakes["patient_id"]],
    "Visit": retakes["visit_date"],
    "Task": [TASKS[t].label if t in TASKS else t for t in retakes["task"]],
    "Side": retakes["side"].fillna(""),
    "Status": retakes["status"].str.replace("_", " "),
    "Problems": retakes["problems"],
}, columns=["Patient", "Visit", "Task", "Side", "Status", "Problems"])
selection = st.dataframe(retake_table, hide_index=True, width="stretch", on_select="rerun",
                         selection_mode="single-row", key="overview_retakes")
open_on_select(selection, list(retakes["visit_id"]), state.VISIT_PAGE, "visit")
