"""Fixtures of the security and bad-input audit: a real SQLite clinic in tmp_path with an
administrator, a clinician and a synthetic patient whose every text field is hostile (HTML,
script, Streamlit markdown, LaTeX) and carries a marker name that must never reach a log.
All data here is synthetic."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.store import (
    Assessment,
    AuditEvent,
    Clinician,
    ClinicianRating,
    MeasureValue,
    Patient,
    Recording,
    Visit,
    open_store,
    repository,
    transaction,
)
from tests.dashboard.conftest import ADMIN, admin_db, app, clinic_db  # noqa: F401  (fixtures)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VOWEL = next((FIXTURES / "voice").glob("PD_sample__AH_545692309*.wav"))  # public recording (Iyer 2023)

CLINICIAN = {"username": "clin", "display_name": "Synthetic Clinician", "password": "clinician-pass-123"}

SECRET_NAME = "Zyxw Secret-Name"  # synthetic marker: must appear in no log, output or side file
# Each must appear literally wherever the text is shown; none may be interpreted.
HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold**",
    "[link](javascript:alert(1))",
    ":red[x]",
    "$x^2$",
)
HOSTILE_NAME = f"{SECRET_NAME} " + " ".join(HOSTILE)
HOSTILE_MRN = "**M**:red[x]$x^2$<b>"
HOSTILE_NOTES = "Synthetic notes " + "\n".join(HOSTILE) + f"\n{SECRET_NAME}"
HOSTILE_FILE = "<img src=x onerror=alert(1)> **bold** :red[x] $x^2$ [l](javascript:alert(1)) vowel.wav"

RECORD_TABLES = (Patient, Visit, Recording, Assessment, MeasureValue, ClinicianRating)


@dataclass
class Clinic:
    url: str
    data_dir: Path
    patient_id: int
    visit_id: int

    def sessions(self):
        return open_store(self.url)


def row_counts(url: str) -> dict[str, int]:
    """Rows of every record table and the audit trail: compared before and after bad input."""
    with transaction(open_store(url)) as s:
        counts = {t.__tablename__: s.scalar(select(func.count()).select_from(t)) for t in RECORD_TABLES}
        counts["audit"] = s.scalar(select(func.count()).select_from(AuditEvent))
    return counts


def actor(s, username: str = ADMIN["username"]) -> Clinician:
    return s.scalar(select(Clinician).where(Clinician.username == username))


@pytest.fixture
def clinic(admin_db, tmp_path) -> Clinic:  # noqa: F811
    """Admin + clinician + one hostile synthetic patient with an old visit (overdue follow-up),
    hostile notes and one clinician rating. No recording (tests add what they need)."""
    with transaction(open_store(admin_db)) as s:
        admin = actor(s)
        repository.create_clinician(s, admin, role="clinician", **CLINICIAN)
        patient = repository.create_patient(s, admin, mrn=HOSTILE_MRN, name=HOSTILE_NAME,
                                            birth_date=date(1950, 5, 6), sex="female", diagnosis="pd",
                                            more_affected_side="left")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date.today() - timedelta(days=400),
                                        medication_state="on", hours_since_dose=1.5, notes=HOSTILE_NOTES)
        repository.set_rating(s, admin, visit.id, "3.4", "left", 2)
        ids = patient.id, visit.id
    return Clinic(admin_db, tmp_path, *ids)


@pytest.fixture
def clinic_with_clip(clinic) -> Clinic:
    """The hostile clinic plus a real vowel recording stored under a hostile file name."""
    from core.capture import add_clip

    with transaction(clinic.sessions()) as s:
        admin_id = actor(s).id
    outcome = add_clip(clinic.sessions(), admin_id, clinic.visit_id, VOWEL, HOSTILE_FILE, "vowel", None,
                       "upload", clinic.data_dir)
    assert outcome.status == "stored", outcome.message
    return clinic
