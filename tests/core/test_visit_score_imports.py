"""The visit score is the current *fused* assessment: measures imported for a visit by another
model (the demo's telemonitoring rows, recording_id None) are neither shown as the visit's
score nor superseded by it. Synthetic data on a real SQLite store."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.store import Assessment, Clinician, open_store, repository, transaction
from core.visits import current_visit_score
from core.vocabulary import measure_info


def test_imported_visit_measures_are_no_score_and_survive_a_visit_score(tmp_path):
    sessions = open_store(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                            password="admin-password", role="admin")
        patient = repository.create_patient(s, admin, mrn="SYN-IMP", name="Synthetic Import", birth_date=date(1950, 1, 1),
                                            sex="unknown", diagnosis="pd", more_affected_side="unknown")
        visit_id = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 1, 1), medication_state="on").id
        imported = repository.save_assessment(
            s, admin, visit_id=visit_id, recording_id=None, model_name="synthetic_import", model_version="import-1",
            probability=None, interval=None, severity=None, abstained_reason=None, inputs_sha256="", explanation=None,
            measures=[measure_info("jitter_local_pct").measure(0.6)]).id
    with transaction(sessions) as s:
        assert current_visit_score(s, visit_id) is None  # imported measures are not a visit score
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician))
        fused = repository.save_assessment(
            s, admin, visit_id=visit_id, recording_id=None, model_name="fused", model_version="fused-1.0",
            probability=0.4, interval=(0.3, 0.5), severity=None, abstained_reason=None, inputs_sha256="",
            explanation=None, measures=[]).id
    with transaction(sessions) as s:
        assert current_visit_score(s, visit_id).id == fused
        assert s.get(Assessment, imported).superseded_at is None  # the imported measures stay current
