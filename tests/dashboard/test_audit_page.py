"""Administration page: the audit trail filtered by who, action, patient id and period, and
its CSV export (issue 14). Real dashboard (AppTest) on a real SQLite file; synthetic data."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.store import AuditEvent, Clinician, open_store, repository, transaction
from tests.dashboard.conftest import ADMIN, APP, open_page, sign_in


def _clinic(url: str) -> tuple[int, int, int]:
    with transaction(open_store(url)) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == ADMIN["username"]))
        clin = repository.create_clinician(s, admin, username="clin", display_name="Synthetic Clin",
                                           password="clinician-pass-1", role="clinician")
        ids = []
        for n in (1, 2):
            patient = repository.create_patient(s, admin, mrn=f"SYN-{n}", name=f"Synthetic Person {n}",
                                                birth_date=date(1950, 1, n), sex="female", diagnosis="pd",
                                                more_affected_side="left")
            ids.append(patient.id)
        repository.get_patient(s, clin, ids[0])
        repository.get_patient(s, clin, ids[1])
        return clin.id, ids[0], ids[1]


def test_the_administrator_filters_the_trail_and_downloads_it_as_csv(admin_db):
    clin_id, first, second = _clinic(admin_db)
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60))
    open_page(at, "views/admin.py")
    assert not at.exception
    at.selectbox(key="audit_who").select(clin_id)
    at.selectbox(key="audit_action").select("view_patient")
    at.number_input(key="audit_patient").set_value(second)
    at.run()
    shown = at.dataframe[-1].value
    assert list(shown["Patient id"]) == [second] and list(shown["Who"]) == ["clin"]
    assert list(shown["Action"]) == ["view_patient"]

    at.button(key="audit_prepare_csv").click()
    at.run()
    assert not at.exception
    assert any(b.label.startswith("Download audit CSV") for b in at.get("download_button"))
    rows = list(csv.DictReader(io.StringIO(at.session_state["audit_csv"].decode())))
    assert [(r["username"], r["action"], r["patient_id"]) for r in rows] == [("clin", "view_patient", str(second))]
    with transaction(open_store(admin_db)) as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last.action == "export" and "kind=audit_csv" in last.detail and last.patient_id == second

    at.date_input(key="audit_since").set_value(date(2020, 1, 1))
    at.date_input(key="audit_until").set_value(date(2020, 1, 2))
    at.run()
    assert not at.exception
    assert "No events match." in [i.value for i in at.info]