"""Administration page: deleting a patient's record needs the MRN typed twice and the box
ticked; it removes the patient and leaves one audit row with the id only (issue 14). Real
dashboard (AppTest) on a real SQLite file; synthetic data."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.store import AuditEvent, Clinician, Patient, open_store, repository, transaction
from tests.dashboard.conftest import ADMIN, APP, open_page, sign_in


def test_the_administrator_deletes_a_patient_after_confirming(admin_db):
    with transaction(open_store(admin_db)) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == ADMIN["username"]))
        patient_id = repository.create_patient(s, admin, mrn="SYN-DEL", name="Synthetic Deletable",
                                               birth_date=date(1950, 1, 1), sex="female", diagnosis="pd",
                                               more_affected_side="left").id
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60))
    open_page(at, "views/admin.py")
    assert not at.exception
    at.text_input(key="delete_patient_mrn").input("SYN-DEL")
    at.text_input(key="delete_patient_mrn_again").input("SYN-DEL")
    at.button[[b.label for b in at.button].index("Delete patient")].click()  # box not ticked
    at.run()
    assert any("tick the box" in e.value for e in at.error)
    with transaction(open_store(admin_db)) as s:
        assert s.get(Patient, patient_id) is not None

    at.text_input(key="delete_patient_mrn").input("SYN-DEL")
    at.text_input(key="delete_patient_mrn_again").input("SYN-DEL")
    at.checkbox(key="delete_patient_sure").check()
    at.button[[b.label for b in at.button].index("Delete patient")].click()
    at.run()
    assert not at.exception and not at.error
    with transaction(open_store(admin_db)) as s:
        assert s.get(Patient, patient_id) is None
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "patient_deleted"))
        assert event.patient_id == patient_id and "SYN-DEL" not in event.detail and "Synthetic" not in event.detail
