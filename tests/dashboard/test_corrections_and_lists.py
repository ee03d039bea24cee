"""Corrections (visit details, patient details, the birth-date bug) and the lists (one click
opens a row, MRN search anywhere, visit status and score) through AppTest of the real
dashboard against a real SQLite file. Synthetic data only."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from core.store import AuditEvent, Patient, Visit, open_store, repository, transaction
from tests.core.trends_synthetic import build_synthetic_clinic
from tests.dashboard.conftest import open_page, sign_in, texts
from tests.dashboard.test_dashboard_shell import SYNTHETIC_PATIENT, add_patients, fill_patient_form, submit

FUTURE = (date.today() + timedelta(days=800)).isoformat()  # beyond any date widget's default range


def stored_patient(url: str, patient_id: int) -> Patient:
    with transaction(open_store(url)) as s:
        patient = s.get(Patient, patient_id)
        s.expunge(patient)
        return patient


def actions(url: str) -> list[str]:
    with transaction(open_store(url)) as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def plain(text: str) -> str:
    return text.replace("\\", "")


# --- the birth-date bug -------------------------------------------------------------------------


def test_a_future_birth_date_is_refused_on_create_and_nothing_is_saved(app, admin_db):
    at = sign_in(app)
    fill_patient_form(at, "new_patient", dict(SYNTHETIC_PATIENT, birth_date="1960-01-01"))
    at.text_input(key="new_patient_birth_date").input(FUTURE)  # corrected to a future date before Create
    submit(at, "Create patient")
    assert not at.exception
    assert [t.value for t in at.title] == ["Patients"]
    assert plain(at.error[0].value) == f"Birth date cannot be in the future ({FUTURE})."
    assert not at.success  # never "Patient created"
    with transaction(open_store(admin_db)) as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == 0
    assert at.text_input(key="new_patient_birth_date").value == FUTURE  # kept, to be corrected


def test_a_birth_date_out_of_range_is_refused_on_edit_and_the_old_one_kept(app, admin_db):
    [patient_id] = add_patients(admin_db, dict(SYNTHETIC_PATIENT, birth_date=date(1960, 1, 1)))
    at = open_page(sign_in(app), "views/patient.py", patient=patient_id)
    prefix = f"edit_patient_{patient_id}"
    assert at.text_input(key=f"{prefix}_birth_date").value == "1960-01-01"  # prefilled
    for typed, message in ((FUTURE, "cannot be in the future"), ("1899-12-31", "cannot be before 1900"),
                           ("31/12/1950", "must be a date like"), ("", "Birth date is required")):
        at.text_input(key=f"{prefix}_name").input("Synthetic Renamed")
        at.text_input(key=f"{prefix}_birth_date").input(typed)
        submit(at, "Save changes")
        assert not at.exception
        assert message in plain(at.error[0].value), typed
        assert not at.success
        kept = stored_patient(admin_db, patient_id)
        assert (kept.birth_date, kept.name) == (date(1960, 1, 1), SYNTHETIC_PATIENT["name"])
    assert "update_patient" not in actions(admin_db)

    at.text_input(key=f"{prefix}_birth_date").input("1961-02-03")
    submit(at, "Save changes")
    assert "Patient details saved" in at.success[0].value
    assert stored_patient(admin_db, patient_id).birth_date == date(1961, 2, 3)
    assert actions(admin_db).count("update_patient") == 1


# --- correcting a visit ---------------------------------------------------------------------------


def test_visit_details_are_corrected_on_the_visit_page_validated_and_audited(app, admin_db):
    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    with transaction(open_store(admin_db)) as s:
        admin = s.scalar(select(repository.Clinician))
        visit_id = repository.create_visit(s, admin, patient_id, visit_date=date(2026, 1, 15), medication_state="on",
                                           hours_since_dose=2.0, notes="Synthetic note.").id
    at = open_page(sign_in(app), "views/visit.py", visit=visit_id)
    prefix = f"edit_visit_{visit_id}"
    assert at.text_input(key=f"{prefix}_date").value == "2026-01-15"
    assert at.radio(key=f"{prefix}_medication").value == "on"
    assert at.number_input(key=f"{prefix}_hours").value == 2.0
    for field, bad, message in (("date", FUTURE, "Visit date cannot be in the future"),
                                ("hours", 80.0, "at most 72"), ("hours", -1.0, "at least 0")):
        at.text_input(key=f"{prefix}_date").input("2026-01-15")
        at.number_input(key=f"{prefix}_hours").set_value(2.0)
        at.radio(key=f"{prefix}_medication").set_value("off")
        (at.text_input(key=f"{prefix}_date").input(bad) if field == "date"
         else at.number_input(key=f"{prefix}_hours").set_value(bad))
        submit(at, "Save visit details")
        assert not at.exception
        assert message in plain(at.error[0].value), bad
        with transaction(open_store(admin_db)) as s:
            visit = s.get(Visit, visit_id)
            assert (visit.visit_date, visit.medication_state, visit.hours_since_dose) == (date(2026, 1, 15), "on", 2.0)
    assert "update_visit" not in actions(admin_db)

    at.text_input(key=f"{prefix}_date").input("2026-01-14")
    at.number_input(key=f"{prefix}_hours").set_value(None)
    at.text_area(key=f"{prefix}_notes").input("Synthetic note, corrected.")
    submit(at, "Save visit details")
    assert not at.exception
    assert "Visit details saved" in at.success[0].value
    assert [t.value for t in at.title] == ["Visit of 2026-01-14"]
    with transaction(open_store(admin_db)) as s:
        visit = s.get(Visit, visit_id)
        assert (visit.visit_date, visit.medication_state, visit.hours_since_dose, visit.notes) == (
            date(2026, 1, 14), "off", None, "Synthetic note, corrected.")
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "update_visit")).one()
        assert "visit_date" in event.detail and "notes" in event.detail
        assert "Synthetic" not in event.detail  # field names only, never the text


# --- lists ------------------------------------------------------------------------------------------


def test_clicking_any_cell_of_a_patient_row_opens_the_patient(app, admin_db):
    ids = add_patients(admin_db, SYNTHETIC_PATIENT, dict(SYNTHETIC_PATIENT, mrn="SYN-0002", name="Synthetic Beta"))
    at = sign_in(app)
    names = list(at.dataframe[0].value["Name"])
    at.session_state["patient_table"] = {"selection": {"rows": [], "columns": [], "cells": [[1, "Diagnosis"]]}}
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == [names[1]]
    assert at.query_params["patient"] == str(ids[[SYNTHETIC_PATIENT["name"], "Synthetic Beta"].index(names[1])])
    at.switch_page("views/patients.py").run()  # back to the list: the old click does not open the patient again
    assert [t.value for t in at.title] == ["Patients"]


def test_mrn_search_finds_any_part_of_the_mrn(app, admin_db):
    add_patients(admin_db, dict(SYNTHETIC_PATIENT, mrn="T-0001"), dict(SYNTHETIC_PATIENT, mrn="T-0002", name="Synthetic Beta"))
    at = sign_in(app)
    at.text_input(key="patient_search").input("0001").run()
    assert list(at.dataframe[0].value["MRN"]) == ["T-0001"]
    assert "1 patient matching the search" in texts(at)


def test_visit_list_shows_status_and_score_and_a_click_opens_the_visit(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    at = open_page(sign_in(app), "views/patient.py", patient=ids["patient"])
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == ["Date", "Medication", "Hours since dose", "Status", "Visit score"]
    assert table["Status"].iloc[-1] == "4 of 7 tasks done"  # the first visit: vowel, both hands, gait
    assert table["Visit score"].iloc[-1] == "0.37"
    assert table["Visit score"].iloc[0] == "0.63"  # the newest visit first
    assert table["Status"].iloc[0].endswith("of 7 tasks done") or "retake" in table["Status"].iloc[0]
    assert "8 visits" in texts(at)
    at.session_state["visit_table"] = {"selection": {"rows": [], "columns": [], "cells": [[0, "Status"]]}}
    at.run()
    assert not at.exception
    assert at.query_params["visit"] == str(ids["visits"][-1])


def test_visit_list_of_imported_measures_says_so_and_shows_no_score(app, admin_db):
    """A visit holding only imported measures (as the demo's telemonitoring visits do): no clips,
    and no visit score (the import is not one)."""
    from core.vocabulary import measure_info

    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    with transaction(open_store(admin_db)) as s:
        admin = s.scalar(select(repository.Clinician))
        visit = repository.create_visit(s, admin, patient_id, visit_date=date(2024, 1, 1), medication_state="on")
        repository.save_assessment(s, admin, visit_id=visit.id, recording_id=None, model_name="synthetic_import",
                                   model_version="import-1", probability=None, interval=None, severity=None,
                                   abstained_reason=None, inputs_sha256="", explanation=None,
                                   measures=[measure_info("jitter_local_pct").measure(0.6)])
    at = open_page(sign_in(app), "views/patient.py", patient=patient_id)
    table = at.dataframe[0].value
    assert list(table["Status"]) == ["Imported measures, no clips"] and list(table["Visit score"]) == [""]
