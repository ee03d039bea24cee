"""Roles (issue 14): one permission table (core.permissions) enforced in core/ and reflected in
the pages. A reviewer sees patients, visits, results, trends and reports, and cannot record,
upload, analyse or correct clips, rate, add or change patients and visits, or export identified
data; a clinician can. Real SQLite clinic (tests.security.conftest), real clip, real dashboard
(AppTest); synthetic data only."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core import permissions
from core.capture import add_clip
from core.export import run_export
from core.reports import audit_export, check_export
from core.store import AuditEvent, PermissionDenied, Recording, ValidationError, repository, transaction
from core.store.models import ROLES
from core.visits import exclude_clip, relabel_clip
from tests.dashboard.conftest import APP, open_page, sign_in, texts
from tests.security.conftest import HOSTILE_MRN, SECRET_NAME, VOWEL, actor, row_counts

REVIEWER = {"username": "rev", "display_name": "Synthetic Reviewer", "password": "reviewer-pass-123"}


@pytest.fixture
def reviewed(clinic):
    with transaction(clinic.sessions()) as s:
        repository.create_clinician(s, actor(s), role="reviewer", **REVIEWER)
    return clinic


def test_the_permission_table_covers_every_role_and_keeps_the_reviewer_read_only():
    assert set(ROLES) == {"admin", "clinician", "reviewer"}
    assert permissions.actions_of("admin") == list(permissions.PERMISSIONS)  # the administrator may all
    assert set(permissions.actions_of("reviewer")) == {permissions.VIEW, permissions.EXPORT_DEIDENTIFIED}
    assert set(permissions.actions_of("clinician")) == set(permissions.PERMISSIONS) - {
        permissions.MANAGE_ACCOUNTS, permissions.READ_AUDIT, permissions.DELETE_PATIENT, permissions.UNLOCK_SIGN_IN,
        permissions.TRAIN_CLINIC_MODEL, permissions.ACTIVATE_CLINIC_MODEL}
    for action in permissions.PERMISSIONS:
        assert "\n" not in permissions.refusal(action) and permissions.refusal(action).endswith(".")
    with pytest.raises(KeyError):
        permissions.allowed("admin", "launch_rockets")
    assert not permissions.allowed(None, permissions.VIEW)


def test_core_refuses_every_write_to_a_reviewer_and_writes_nothing(reviewed):
    sessions = reviewed.sessions()
    with transaction(sessions) as s:
        rev = actor(s, REVIEWER["username"])
    writes = {
        "create_patient": lambda s: repository.create_patient(
            s, rev, mrn="REV-1", name="Synthetic Other", birth_date=date(1960, 1, 1), sex="male", diagnosis="pd",
            more_affected_side="left"),
        "update_patient": lambda s: repository.update_patient(s, rev, reviewed.patient_id, sex="male"),
        "archive_patient": lambda s: repository.archive_patient(s, rev, reviewed.patient_id),
        "create_visit": lambda s: repository.create_visit(s, rev, reviewed.patient_id, visit_date=date(2025, 1, 1),
                                                          medication_state="on"),
        "update_visit": lambda s: repository.update_visit(s, rev, reviewed.visit_id, medication_state="off"),
        "add_recording": lambda s: repository.add_recording(
            s, rev, reviewed.visit_id, task="vowel", side=None, stored_path="r/x.wav", sha256="a" * 64,
            duration_s=3.0, format="wav", source="upload"),
        "set_rating": lambda s: repository.set_rating(s, rev, reviewed.visit_id, "3.4", "left", 3),
        "list_audit": lambda s: repository.list_audit(s, rev),
        "audit_csv": lambda s: repository.audit_csv(s, rev),
        "identified export": lambda s: audit_export(s, rev, "csv", None, "scope=clinic deidentified=no"),
        "pdf export": lambda s: audit_export(s, rev, "pdf", reviewed.patient_id),
    }
    before = row_counts(reviewed.url)
    for what, write in writes.items():
        with pytest.raises(PermissionDenied) as refused, transaction(sessions) as s:
            write(s)
            pytest.fail(f"{what} was allowed for a reviewer")
        assert "\n" not in str(refused.value), what
    assert row_counts(reviewed.url) == before


def test_a_reviewer_reads_the_record_and_the_views_are_audited(reviewed):
    with transaction(reviewed.sessions()) as s:
        rev = actor(s, REVIEWER["username"])
        assert repository.get_patient(s, rev, reviewed.patient_id).id == reviewed.patient_id
        assert repository.get_visit(s, rev, reviewed.visit_id).id == reviewed.visit_id
        check_export(s, rev, identified=False)  # de-identified research tables are allowed
        audit_export(s, rev, "csv", None, "scope=clinic deidentified=yes")
    with transaction(reviewed.sessions()) as s:
        mine = [(e.action, e.patient_id) for e in s.scalars(select(AuditEvent).where(AuditEvent.clinician_id == rev.id))]
    assert ("view_patient", reviewed.patient_id) in mine and ("view_visit", reviewed.patient_id) in mine
    assert ("export", None) in mine


def test_a_reviewer_cannot_upload_a_real_clip_and_nothing_is_stored(reviewed):
    with transaction(reviewed.sessions()) as s:
        rev_id = actor(s, REVIEWER["username"]).id
    outcome = add_clip(reviewed.sessions(), rev_id, reviewed.visit_id, VOWEL, VOWEL.name, "vowel", None, "upload",
                       reviewed.data_dir / "data")
    assert outcome.status == "failed" and "Reviewers" in outcome.message
    assert not (reviewed.data_dir / "data").exists() or not any((reviewed.data_dir / "data").rglob("*.wav"))
    with transaction(reviewed.sessions()) as s:
        assert s.scalar(select(func.count()).select_from(Recording)) == 0


@pytest.mark.slow
def test_a_reviewer_cannot_correct_or_relabel_a_clip_a_clinician_can(clinic_with_clip):
    clinic = clinic_with_clip
    with transaction(clinic.sessions()) as s:
        repository.create_clinician(s, actor(s), role="reviewer", **REVIEWER)
        rev_id = actor(s, REVIEWER["username"]).id
        clin_id = actor(s, "clin").id
        recording_id = s.scalar(select(Recording.id))
    with pytest.raises(PermissionDenied):
        exclude_clip(clinic.sessions(), rev_id, recording_id, "synthetic reason")
    with pytest.raises(PermissionDenied):
        relabel_clip(clinic.sessions(), rev_id, recording_id, "reading", None, clinic.data_dir)
    with transaction(clinic.sessions()) as s:
        assert s.get(Recording, recording_id).excluded_reason is None
    exclude_clip(clinic.sessions(), clin_id, recording_id, "synthetic reason")
    with transaction(clinic.sessions()) as s:
        assert s.get(Recording, recording_id).excluded_reason == "synthetic reason"


def test_the_command_line_export_refuses_identified_data_to_a_reviewer(reviewed, tmp_path):
    out = tmp_path / "export.csv"
    with pytest.raises(ValueError, match="de-identified"):
        run_export(reviewed.sessions(), "csv", out, clinician_username=REVIEWER["username"])
    assert not out.exists()
    run_export(reviewed.sessions(), "csv", out, clinician_username=REVIEWER["username"], deidentified=True)
    assert HOSTILE_MRN not in out.read_text() and SECRET_NAME not in out.read_text()


def _button_labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button] + [b.label for b in at.get("form_submit_button")] if at.get(
        "form_submit_button") else [b.label for b in at.button]


def test_the_pages_show_a_reviewer_the_record_without_the_controls_that_change_it(reviewed):
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60), REVIEWER["username"], REVIEWER["password"])
    assert [t.value for t in at.title] == ["Patients"]
    assert "Create patient" not in _button_labels(at)
    assert permissions.refusal(permissions.EDIT_RECORD) in texts(at)

    open_page(at, "views/patient.py", patient=reviewed.patient_id)
    assert not at.exception
    assert not {"Create visit", "Save changes", "Archive patient"} & set(_button_labels(at))
    assert at.dataframe  # the visits are shown

    open_page(at, "views/visit.py", visit=reviewed.visit_id)
    assert not at.exception
    assert not any(link.label.startswith("Record or upload") for link in at.get("page_link"))
    assert permissions.refusal(permissions.RECORD) in texts(at)

    open_page(at, "views/capture.py", visit=reviewed.visit_id)
    assert [t.value for t in at.title] == ["Capture"]
    assert permissions.refusal(permissions.RECORD) in texts(at)
    assert not at.get("file_uploader") and [b.key for b in at.button] == ["logout"]

    open_page(at, "views/ratings.py", visit=reviewed.visit_id)
    assert not at.exception
    assert "Save ratings" not in _button_labels(at)
    assert permissions.refusal(permissions.RATE) in texts(at)

    open_page(at, "views/results.py", visit=reviewed.visit_id)
    assert not at.exception
    assert "Prepare visit summary (PDF)" not in _button_labels(at)

    open_page(at, "views/trends.py", patient=reviewed.patient_id)
    assert not at.exception

    open_page(at, "views/reports.py", patient=reviewed.patient_id)
    assert not at.exception
    assert "Prepare PDF report" not in _button_labels(at)
    box = at.checkbox(key="reports_deidentified")
    assert box.value is True and box.disabled
    at.button(key="reports_prepare_csv").click()
    at.run()
    assert not at.exception
    data = at.session_state["reports_file_csv"][0].decode()
    header = next(csv.reader(io.StringIO(data)))
    assert "pseudonym" in header and "mrn" not in header and "name" not in header
    assert SECRET_NAME not in data
    assert not any(link.label == "Administration" for link in at.sidebar.get("page_link"))


def test_a_clinician_keeps_every_control(clinic):
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60), "clin", "clinician-pass-123")
    assert "Create patient" in _button_labels(at)
    open_page(at, "views/patient.py", patient=clinic.patient_id)
    assert {"Create visit", "Save changes"} <= set(_button_labels(at))
    open_page(at, "views/ratings.py", visit=clinic.visit_id)
    assert "Save ratings" in _button_labels(at)
    open_page(at, "views/reports.py", patient=clinic.patient_id)
    assert "Prepare PDF report" in _button_labels(at)
    assert not at.checkbox(key="reports_deidentified").disabled


def test_an_administrator_can_create_a_reviewer_on_the_administration_page(admin_db):
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60))
    open_page(at, "views/admin.py")
    at.text_input(key="new_clinician_username").input("rev2")
    at.text_input(key="new_clinician_display_name").input("Synthetic Reviewer Two")
    at.selectbox(key="new_clinician_role").select("reviewer")
    at.text_input(key="new_clinician_password").input("reviewer-pass-456")
    at.text_input(key="new_clinician_password_again").input("reviewer-pass-456")
    at.button(key=next(b.key for b in at.get("form_submit_button") if b.label == "Add clinician")).click()
    at.run()
    assert not at.exception and not at.error
    with transaction(__import__("core.store", fromlist=["open_store"]).open_store(admin_db)) as s:
        assert actor(s, "rev2").role == "reviewer"
