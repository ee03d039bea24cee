"""Landing page: find a patient (name or MRN), page through the list, create a patient."""
import math

import pandas as pd
import streamlit as st

from core.store import repository
from dashboard import state
from dashboard.formatting import DIAGNOSIS_LABELS, age_years, escape_markdown, label, plural
from dashboard.widgets.patient_form import patient_fields
from dashboard.widgets.tables import table_opening

PAGE_SIZE = 25

st.title("Patients")

search_column, archived_column = st.columns([3, 1], vertical_alignment="bottom")
with search_column:
    query = st.text_input(
        "Search by name or MRN", key="patient_search", placeholder="e.g. Smith, or any part of the MRN such as 0042"
    ).strip()
with archived_column:
    include_archived = st.toggle("Show archived", key="show_archived")

# Back to the first page whenever the search changes.
if st.session_state.get("patient_list_filter") != (query, include_archived):
    st.session_state["patient_list_filter"] = (query, include_archived)
    st.session_state["patient_list_page"] = 0
page_number = st.session_state.get("patient_list_page", 0)

with state.session() as s:
    total = repository.count_patients(s, query, include_archived)
    page_count = max(1, math.ceil(total / PAGE_SIZE))
    page_number = min(page_number, page_count - 1)
    rows = repository.search_patients(
        s, query, include_archived=include_archived, limit=PAGE_SIZE, offset=page_number * PAGE_SIZE
    )
    has_any_patient = total > 0 or repository.count_patients(s, "", True) > 0
    if rows:
        repository.audit_list_view(s, state.actor(s), "patients", [row.id for row in rows])

if not has_any_patient:
    st.info("No patients yet - create the first one below.", icon=":material/person_add:")
elif total == 0:
    st.info("No patient matches this search. Check the spelling or the MRN, or turn on *Show archived*.")
else:
    table = pd.DataFrame(
        {
            "MRN": [row.mrn for row in rows],
            "Name": [row.name for row in rows],
            "Age": [age_years(row.birth_date) for row in rows],
            "Diagnosis": [label(DIAGNOSIS_LABELS, row.diagnosis) for row in rows],
            "Visits": [row.visit_count for row in rows],
            "Last visit": [row.last_visit_date.isoformat() if row.last_visit_date else "" for row in rows],
            "Archived": ["archived" if row.archived else "" for row in rows],
        }
    )
    if not include_archived:
        table = table.drop(columns="Archived")
    st.caption(plural(total, "patient") + (" matching the search" if query else "") + " · click a patient to open it")
    table_opening(table, [row.id for row in rows], state.PATIENT_PAGE, "patient", "patient_table",
                  column_config={"Age": st.column_config.NumberColumn("Age", format="%d")})

    if page_count > 1:
        previous_column, position_column, next_column = st.columns([1, 2, 1], vertical_alignment="center")
        with previous_column:
            if st.button("Previous", icon=":material/chevron_left:", disabled=page_number == 0, key="previous_page"):
                st.session_state["patient_list_page"] = page_number - 1
                st.rerun()
        with position_column:
            st.caption(f"Page {page_number + 1} of {page_count}")
        with next_column:
            if st.button("Next", icon=":material/chevron_right:", disabled=page_number >= page_count - 1, key="next_page"):
                st.session_state["patient_list_page"] = page_number + 1
                st.rerun()

if state.may("edit_record"):
    with st.expander("New patient", expanded=not has_any_patient, icon=":material/person_add:"):
        with st.form("new_patient"):
            fields = patient_fields("new_patient")
            submitted = st.form_submit_button("Create patient", type="primary")
        if submitted:
            patient = state.write(lambda s, actor: repository.create_patient(s, actor, **fields))
            if patient is not None:
                state.flash(f"Patient {escape_markdown(patient.mrn)} created.")
                st.switch_page(state.PATIENT_PAGE, query_params={"patient": str(patient.id)})
else:
    st.caption(state.cannot("edit_record"))
