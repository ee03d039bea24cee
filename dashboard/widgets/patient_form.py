"""The patient fields, shared by the "New patient" and "Edit patient" forms."""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.store.models import AFFECTED_SIDES, DIAGNOSES, SEXES, Patient
from dashboard.formatting import DIAGNOSIS_LABELS, SEX_LABELS, SIDE_LABELS

DATE_HELP = "Year-month-day, e.g. 1950-04-02."


def date_field(label: str, value: date | None, key: str, help: str = DATE_HELP, placeholder: str = "YYYY-MM-DD") -> str:
    """A date typed as text (YYYY-MM-DD). Not st.date_input: a date outside its range turns the
    field red in the browser while the server keeps (and saves) the previous value, and on the
    server a value beyond the bounds is silently reset to the default. Here what was typed is
    what is checked: the repository refuses a date that is malformed, in the future or before
    1900 with a clear message, and nothing is saved."""
    return st.text_input(label, value=value.isoformat() if value else "", max_chars=10, key=key,
                         placeholder=placeholder, help=help)


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
        birth_date = date_field("Birth date", patient.birth_date if patient else None, f"{key}_birth_date",
                                placeholder="YYYY-MM-DD, e.g. 1950-04-02")
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
        height = st.text_input(
            "Height (cm)", value=height_text(patient.height_cm if patient else None), max_chars=6,
            key=f"{key}_height_cm", placeholder="optional, e.g. 172",
            help="Scales gait speed from the video when no floor marks were clicked on the clip. "
                 "Leave empty if not measured.",
        )
    return {
        "mrn": mrn,
        "name": name,
        "birth_date": birth_date,
        "sex": sex,
        "diagnosis": diagnosis,
        "more_affected_side": side,
        "height_cm": height,  # text as typed: the repository checks it (50-250 cm, empty = not recorded)
    }


def height_text(height_cm: float | None) -> str:
    """172.0 -> "172", 172.5 -> "172.5", None -> "" (not recorded)."""
    return "" if height_cm is None else f"{height_cm:g}"

