"""The dashboard shell through streamlit's AppTest, against a real SQLite file (synthetic data)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core.store import Clinician, Patient, Visit, open_store, repository, transaction
from dashboard.formatting import escape_markdown
from tests.dashboard.conftest import ADMIN, open_page, sign_in, texts

SYNTHETIC_PATIENT = {
    "mrn": "SYN-0001",
    "name": "Synthetic Patient Alpha",
    "birth_date": date(1950, 4, 2),
    "sex": "female",
    "diagnosis": "pd",
    "more_affected_side": "left",
}


def count(url: str, model) -> int:
    with transaction(open_store(url)) as s:
        return s.scalar(select(func.count()).select_from(model))


def add_patients(url: str, *patients: dict) -> list[int]:
    with transaction(open_store(url)) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == ADMIN["username"]))
        return [repository.create_patient(s, admin, **patient).id for patient in patients]


def add_clinician(url: str) -> None:
    """A second account, role clinician: username "clin", password "clinician-pass"."""
    with transaction(open_store(url)) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == ADMIN["username"]))
        repository.create_clinician(
            s, admin, username="clin", display_name="Synthetic Clinician", password="clinician-pass", role="clinician"
        )


def fill_patient_form(at, prefix: str, patient: dict) -> None:
    at.text_input(key=f"{prefix}_mrn").input(patient["mrn"])
    at.text_input(key=f"{prefix}_name").input(patient["name"])
    birth_date = patient["birth_date"]
    at.text_input(key=f"{prefix}_birth_date").input(birth_date.isoformat() if isinstance(birth_date, date) else birth_date)
    at.selectbox(key=f"{prefix}_sex").set_value(patient["sex"])
    at.selectbox(key=f"{prefix}_diagnosis").set_value(patient["diagnosis"])
    at.selectbox(key=f"{prefix}_side").set_value(patient["more_affected_side"])


def submit(at, label: str):
    [button] = [b for b in at.get("button") if b.label == label]
    button.click()
    return at.run()


def table_column(at, index: int, column: str) -> list:
    return list(at.dataframe[index].value[column])


def open_patient(at, patient_id: int):
    return open_page(at, "views/patient.py", patient=patient_id)


# --- first run, login, logout -----------------------------------------------------------------


def test_first_run_offers_only_admin_creation_then_login(app, clinic_db):
    at = app.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Create administrator account"]
    assert len(at.dataframe) == 0 and not at.sidebar.get("button")  # nothing else reachable

    form = at.get("form")[0]
    for widget, value in zip(form.text_input, ["admin", "Synthetic Admin", "short", "short"]):
        widget.input(value)
    submit(at, "Create administrator account")
    assert "at least 8 characters" in at.error[0].value
    assert count(clinic_db, Clinician) == 0

    at.text_input[2].input(ADMIN["password"])
    at.text_input[3].input(ADMIN["password"] + "x")
    submit(at, "Create administrator account")
    assert "passwords differ" in at.error[0].value
    assert at.text_input[0].value == "admin"  # what the user typed is kept
    assert count(clinic_db, Clinician) == 0

    at.text_input[3].input(ADMIN["password"])
    submit(at, "Create administrator account")
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in to pdlens"]
    assert "Administrator account created" in at.success[0].value
    with transaction(open_store(clinic_db)) as s:
        [admin] = s.scalars(select(Clinician)).all()
        assert (admin.username, admin.role) == ("admin", "admin")


def test_failed_login_does_not_say_which_part_was_wrong(app, admin_db):
    at = sign_in(app, ADMIN["username"], "wrong-password")
    assert "unknown username or wrong password" in at.error[0].value
    message_for_wrong_password = at.error[0].value
    at = sign_in(at, "nobody-here", ADMIN["password"])
    assert at.error[0].value == message_for_wrong_password
    assert [t.value for t in at.title] == ["Sign in to pdlens"]
    assert "signed_in" not in at.session_state


def test_login_shows_who_and_role_then_logout_returns_to_sign_in(app, admin_db):
    at = sign_in(app)
    assert not at.exception
    assert [t.value for t in at.title] == ["Patients"]
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert "Synthetic Admin" in sidebar and "Administrator" in sidebar
    assert "No patients yet - create the first one" in at.info[0].value

    at.sidebar.button(key="logout").click()
    at.run()
    assert [t.value for t in at.title] == ["Sign in to pdlens"]
    at.query_params["patient"] = "1"  # a patient link without a session still lands on sign-in
    at.run()
    assert [t.value for t in at.title] == ["Sign in to pdlens"]


def test_deactivated_clinician_is_signed_out_on_next_click(app, admin_db):
    add_clinician(admin_db)
    at = sign_in(app, "clin", "clinician-pass")
    assert [t.value for t in at.title] == ["Patients"]
    assert not any(link.label == "Administration" for link in at.sidebar.get("page_link"))
    with transaction(open_store(admin_db)) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        clin = s.scalar(select(Clinician).where(Clinician.username == "clin"))
        repository.set_clinician_active(s, admin, clin.id, False)
    at.run()
    assert [t.value for t in at.title] == ["Sign in to pdlens"]


# --- patients -------------------------------------------------------------------------------


def test_create_patient_opens_it_and_it_is_found_by_name_and_mrn(app, admin_db):
    at = sign_in(app)
    fill_patient_form(at, "new_patient", SYNTHETIC_PATIENT)
    submit(at, "Create patient")
    assert not at.exception
    assert [t.value for t in at.title] == [SYNTHETIC_PATIENT["name"]]
    assert "SYN\\-0001 created" in at.success[0].value
    assert at.query_params["patient"] == "1"
    assert count(admin_db, Patient) == 1

    at.switch_page("views/patients.py").run()
    for query in ("alpha", "syn-0001", "SYN-00"):
        at.text_input(key="patient_search").input(query).run()
        assert table_column(at, 0, "Name") == [SYNTHETIC_PATIENT["name"]], query
        assert table_column(at, 0, "MRN") == ["SYN-0001"]
        assert table_column(at, 0, "Age")[0] >= 75
    at.text_input(key="patient_search").input("nobody by that name").run()
    assert len(at.dataframe) == 0
    assert "No patient matches this search" in at.info[0].value


def test_selecting_a_row_opens_the_patient(app, admin_db):
    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    at = sign_in(app)
    at.session_state["patient_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == [SYNTHETIC_PATIENT["name"]]
    assert at.query_params["patient"] == str(patient_id)


def test_patient_list_pages_through_many_patients(app, admin_db):
    patients = [
        dict(SYNTHETIC_PATIENT, mrn=f"SYN-{i:04d}", name=f"Synthetic Person {i:02d}") for i in range(30)
    ]
    add_patients(admin_db, *patients)
    at = sign_in(app)
    assert len(at.dataframe[0].value) == 25
    assert "Page 1 of 2" in texts(at)
    at.button(key="next_page").click().run()
    assert len(at.dataframe[0].value) == 5
    assert "Page 2 of 2" in texts(at)
    at.button(key="previous_page").click().run()
    first_page_names = set(table_column(at, 0, "Name"))
    assert len(first_page_names) == 25
    at.text_input(key="patient_search").input("Person 29").run()  # a new search starts at page 1
    assert table_column(at, 0, "Name") == ["Synthetic Person 29"]


def test_edit_patient(app, admin_db):
    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    at = open_patient(sign_in(app), patient_id)
    prefix = f"edit_patient_{patient_id}"
    assert at.text_input(key=f"{prefix}_name").value == SYNTHETIC_PATIENT["name"]  # prefilled
    at.text_input(key=f"{prefix}_name").input("Synthetic Patient Beta")
    at.selectbox(key=f"{prefix}_diagnosis").set_value("control")
    submit(at, "Save changes")
    assert not at.exception
    assert [t.value for t in at.title] == ["Synthetic Patient Beta"]
    assert "Patient details saved" in at.success[0].value
    with transaction(open_store(admin_db)) as s:
        patient = s.get(Patient, patient_id)
        assert (patient.name, patient.diagnosis, patient.mrn) == ("Synthetic Patient Beta", "control", "SYN-0001")


def test_archive_hides_patient_until_show_archived_and_unarchive_restores(app, admin_db):
    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    at = open_patient(sign_in(app), patient_id)
    at.button(key="archive").click().run()
    assert "Archive this patient?" in at.warning[0].value
    at.button(key="archive_cancel").click().run()  # cancel changes nothing
    with transaction(open_store(admin_db)) as s:
        assert not s.get(Patient, patient_id).archived
    at.button(key="archive").click().run()
    at.button(key="archive_confirm").click().run()
    assert not at.exception
    assert "Patient archived" in at.success[0].value
    assert "archived" in at.warning[0].value
    with transaction(open_store(admin_db)) as s:
        assert s.get(Patient, patient_id).archived

    at.switch_page("views/patients.py").run()
    assert len(at.dataframe) == 0
    assert "No patient matches" in at.info[0].value
    at.toggle(key="show_archived").set_value(True).run()
    assert table_column(at, 0, "Name") == [SYNTHETIC_PATIENT["name"]]
    assert table_column(at, 0, "Archived") == ["archived"]

    at = open_patient(at, patient_id)
    at.button(key="archive").click().run()
    at.button(key="archive_confirm").click().run()
    with transaction(open_store(admin_db)) as s:
        assert not s.get(Patient, patient_id).archived


# --- visits ---------------------------------------------------------------------------------


def test_create_visit_opens_the_visit_page(app, admin_db):
    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    at = open_patient(sign_in(app), patient_id)
    assert "No visits yet" in texts(at)
    at.text_input(key="new_visit_date").input("2026-01-15")
    at.radio(key="new_visit_medication").set_value("off")
    at.number_input(key="new_visit_hours").set_value(12.5)
    at.text_area(key="new_visit_notes").input("Synthetic note: walked with a cane.")
    submit(at, "Create visit")
    assert not at.exception
    assert [t.value for t in at.title] == ["Visit of 2026-01-15"]
    page = texts(at)
    assert "No recordings in this visit yet" in page
    assert "Synthetic note: walked with a cane." in page
    assert "**OFF**" in page and "**12\\.5 h**" in page
    with transaction(open_store(admin_db)) as s:
        [visit] = repository.list_visits(s, patient_id)
        assert (visit.medication_state, visit.hours_since_dose) == ("off", 12.5)

    at = open_patient(at, patient_id)
    assert table_column(at, 0, "Medication") == ["OFF"]
    assert table_column(at, 0, "Status") == ["No clips yet"]
    assert table_column(at, 0, "Visit score") == [""]
    at.session_state["visit_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert [t.value for t in at.title] == ["Visit of 2026-01-15"]


# --- bad input ------------------------------------------------------------------------------


def test_bad_patient_input_shows_the_error_keeps_the_form_and_writes_nothing(app, admin_db):
    add_patients(admin_db, SYNTHETIC_PATIENT)
    at = sign_in(app)
    cases = [
        (dict(SYNTHETIC_PATIENT, mrn="syn-0001", name="Someone Else"), "already exists"),
        (dict(SYNTHETIC_PATIENT, mrn="SYN-0002", name="   "), "Name is required"),
        (dict(SYNTHETIC_PATIENT, mrn="SYN-0003", birth_date=date.today() + timedelta(days=30)), "future"),
    ]
    for patient, message in cases:
        fill_patient_form(at, "new_patient", patient)
        submit(at, "Create patient")
        assert not at.exception
        assert [t.value for t in at.title] == ["Patients"], message
        assert message in at.error[0].value
        assert at.text_input(key="new_patient_mrn").value == patient["mrn"]  # kept for correction
        assert count(admin_db, Patient) == 1
    with transaction(open_store(admin_db)) as s:
        events = [e.action for e in repository.list_audit(s, s.scalar(select(Clinician)), 50)]
    assert events.count("create_patient") == 1


def test_ten_thousand_and_one_character_notes_are_refused(app, admin_db):
    [patient_id] = add_patients(admin_db, SYNTHETIC_PATIENT)
    at = open_patient(sign_in(app), patient_id)
    at.text_area(key="new_visit_notes").input("x" * 10_001)
    submit(at, "Create visit")
    assert "Notes are too long" in at.error[0].value
    assert len(at.text_area(key="new_visit_notes").value) == 10_001
    assert count(admin_db, Visit) == 0


def test_html_in_a_name_is_shown_as_text(app, admin_db):
    name = "<script>alert(1)</script> **bold** :red[x] $x$"
    [patient_id] = add_patients(admin_db, dict(SYNTHETIC_PATIENT, name=name, mrn="<b>SYN</b>"))
    at = sign_in(app)
    assert table_column(at, 0, "Name") == [name]  # dataframes show cell text as text
    at = open_patient(at, patient_id)
    assert [t.value for t in at.title] == [escape_markdown(name)]
    for element in at.get("markdown") + at.get("title") + at.get("caption"):
        proto = element.proto
        if getattr(proto, "allow_html", False):
            assert "script" not in str(proto.body)
    assert "<script>" not in "".join(t.value for t in at.title)


def test_escape_markdown_leaves_no_markup():
    assert escape_markdown("<b>x</b> **y** [a](b)") == r"\<b\>x\<\/b\> \*\*y\*\* \[a\]\(b\)"


# --- administration and demo ----------------------------------------------------------------


def test_admin_adds_and_deactivates_a_clinician_and_sees_the_audit_trail(app, admin_db):
    at = sign_in(app)
    at.switch_page("views/admin.py").run()
    assert not at.exception
    at.text_input(key="new_clinician_username").input("clin")
    at.text_input(key="new_clinician_display_name").input("Synthetic Clinician")
    at.text_input(key="new_clinician_password").input("clinician-pass")
    at.text_input(key="new_clinician_password_again").input("clinician-pass")
    submit(at, "Add clinician")
    assert "Account clin added" in at.success[0].value
    assert table_column(at, 0, "Username") == ["admin", "clin"]
    assert "create_clinician" in table_column(at, 1, "Action")

    at.selectbox[0].set_value(2)
    at.radio[0].set_value("Deactivated")
    submit(at, "Apply")
    assert table_column(at, 0, "Active") == [True, False]
    with transaction(open_store(admin_db)) as s:
        assert repository.authenticate(s, "clin", "clinician-pass") is None


def test_clinician_cannot_open_the_admin_page(app, admin_db):
    add_clinician(admin_db)
    at = sign_in(app, "clin", "clinician-pass")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/admin.py")  # the page is not even registered for a clinician
    at.run()
    assert [t.value for t in at.title] == ["Patients"]


def test_demo_database_is_separate_and_labelled_on_every_page(app, admin_db, tmp_path):
    at = app.run()
    at.sidebar.radio[0].set_value("demo").run()
    assert [t.value for t in at.title] == ["Demo database not built yet"]
    assert not (tmp_path / "demo.sqlite").exists()  # choosing it did not create an empty one

    demo_url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    with transaction(open_store(demo_url)) as s:
        demo = repository.create_clinician(
            s, None, username="demo", display_name="Demo clinician", password="demo-password", role="admin"
        )
        repository.create_patient(s, demo, **dict(SYNTHETIC_PATIENT, name="Synthetic Demo Patient"))
    at.run()
    assert [t.value for t in at.title] == ["Sign in to pdlens"]
    assert "DEMO database" in at.warning[0].value
    at = sign_in(at, "demo", "demo-password")
    assert [t.value for t in at.title] == ["Patients"]
    assert "DEMO database" in at.warning[0].value
    assert table_column(at, 0, "Name") == ["Synthetic Demo Patient"]
    assert count(admin_db, Patient) == 0  # the clinic database is untouched
