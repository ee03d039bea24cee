"""The patient fields, shared by the "New patient" and "Edit patient" forms."""
from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from core.store.models import AFFECTED_SIDES, DIAGNOSES, SEXES, Patient
from dashboard.formatting import DIAGNOSIS_LABELS, SEX_LABELS, SIDE_LABELS

OLDEST_BIRTH_DATE = date(1900, 1, 1)
# Not today: a date input silently empties a value beyond its maximum, and "Birth date is
# required" would hide the real mistake. The store refuses future dates with a clear message.
LATEST_SELECTABLE_DATE = timedelta(days=366)


def _index(options: tuple[str, ...], value: str | None, default: str) -> int:
    return options.index(value if value in options else default)


def patient_fields(key: str, patient: Patient | None = None) -> dict:
    """Inputs for one patient inside an st.form; returns the typed values by field name.
    `key` keeps the widgets of different forms apart."""
    left, right = st.columns(2)
    with left:
        mrn = st.text_input(
            "MRN", value=patient.mrn if patient else "", max_chars=32, key=f"{key}_mrn",
            help="Medical record number: unique in this database.",
        )
        name = st.text_input("Name", value=patient.name if patient else "", max_chars=200, key=f"{key}_name")
        birth_date = st.date_input(
            "Birth date",
            value=patient.birth_date if patient else None,
            min_value=OLDEST_BIRTH_DATE,
            max_value=date.today() + LATEST_SELECTABLE_DATE,
            format="YYYY-MM-DD",
            key=f"{key}_birth_date",
        )
    with right:
        sex = st.selectbox(
            "Sex", SEXES, index=_index(SEXES, patient and patient.sex, "unknown"),
            format_func=SEX_LABELS.get, key=f"{key}_sex",
        )
        diagnosis = st.selectbox(
            "Diagnosis status", DIAGNOSES, index=_index(DIAGNOSES, patient and patient.diagnosis, "unknown"),
            format_func=DIAGNOSIS_LABELS.get, key=f"{key}_diagnosis",
        )
        side = st.selectbox(
            "More affected side", AFFECTED_SIDES,
            index=_index(AFFECTED_SIDES, patient and patient.more_affected_side, "unknown"),
            format_func=SIDE_LABELS.get, key=f"{key}_side",
        )
    return {
        "mrn": mrn,
        "name": name,
        "birth_date": birth_date,
        "sex": sex,
        "diagnosis": diagnosis,
        "more_affected_side": side,
    }

