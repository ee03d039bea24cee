"""A small synthetic clinic (labelled synthetic, no patient data) built through the repository
on a real database, for the trends and reports tests."""
from __future__ import annotations

import hashlib
from datetime import date, timedelta

from core.store import open_store, repository, transaction
from core.vocabulary import measure_info

ADMIN = {"username": "admin", "display_name": "Synthetic Admin", "password": "correct-horse-battery"}
PATIENT = {"mrn": "SYN-0042", "name": "Synthetic Patient Zeta", "birth_date": date(1951, 3, 9), "sex": "male",
           "diagnosis": "pd", "more_affected_side": "right"}
OTHER = {"mrn": "SYN-0043", "name": "Synthetic Patient Eta", "birth_date": date(1948, 11, 30), "sex": "female",
         "diagnosis": "pd", "more_affected_side": "left"}
FIRST_VISIT = date(2024, 1, 8)
VISITS = 8
STEP_AT = 5  # visit index (0-based) from which the synthetic patient's tapping slows on the right


def _sha(*parts) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def build_synthetic_clinic(url: str) -> dict:
    """Two patients; the first has 8 visits (ON/OFF alternating) with voice and both-hand tapping
    assessments, gait measures (no gait score), fused scores and ratings; the right-hand tapping
    rate drops at visit 6. Measures are built from the measure vocabulary, as the pipelines do."""
    sessions = open_store(url)
    ids: dict = {"visits": []}
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, role="admin", **ADMIN)
        patient = repository.create_patient(s, admin, **PATIENT)
        other = repository.create_patient(s, admin, **OTHER)
        ids |= {"admin": admin.id, "patient": patient.id, "other": other.id}
        for i in range(VISITS):
            visit = repository.create_visit(s, admin, patient.id, visit_date=FIRST_VISIT + timedelta(days=30 * i),
                                            medication_state="on" if i % 2 == 0 else "off", hours_since_dose=1.5)
            ids["visits"].append(visit.id)
            wobble = (-1) ** i * 0.02
            vowel = repository.add_recording(s, admin, visit.id, task="vowel", side=None,
                                             stored_path=f"recordings/{_sha('v', i)}.wav", sha256=_sha("v", i),
                                             duration_s=5.0, format="wav", source="upload", quality_ok=True,
                                             status="analysed")
            repository.save_assessment(
                s, admin, visit_id=visit.id, recording_id=vowel.id, model_name="voice", model_version="voice-1.0",
                probability=0.40 + wobble, interval=(0.30 + wobble, 0.50 + wobble), severity=None,
                abstained_reason=None, inputs_sha256="", explanation=None,
                measures=[measure_info("jitter_local_pct").measure(0.60 + wobble),
                          measure_info("hnr_db").measure(20.0 + 10 * wobble)])
            for side in ("left", "right"):
                rate = 4.0 + wobble * 5 - (1.5 if side == "right" and i >= STEP_AT else 0.0)
                tap = repository.add_recording(s, admin, visit.id, task="finger_tapping", side=side,
                                               stored_path=f"recordings/{_sha('t', i, side)}.mp4",
                                               sha256=_sha("t", i, side), duration_s=10.0, format="mp4",
                                               source="upload", quality_ok=True, status="analysed")
                repository.save_assessment(
                    s, admin, visit_id=visit.id, recording_id=tap.id, model_name="finger_tapping",
                    model_version="tap-1.0", probability=0.3 + (0.4 if side == "right" and i >= STEP_AT else 0.0),
                    interval=None, severity=None, abstained_reason=None, inputs_sha256="", explanation=None,
                    measures=[measure_info("tap_frequency").measure(rate)])
                repository.set_rating(s, admin, visit.id, "3.4", side, 1.0 if side == "left" or i < STEP_AT else 3.0)
            walk = repository.add_recording(s, admin, visit.id, task="gait", side=None,
                                            stored_path=f"recordings/{_sha('w', i)}.mp4", sha256=_sha("w", i),
                                            duration_s=20.0, format="mp4", source="upload", quality_ok=True,
                                            status="analysed")
            repository.save_assessment(  # gait measures without a score
                s, admin, visit_id=visit.id, recording_id=walk.id, model_name="gait", model_version="gait-1.0",
                probability=None, interval=None, severity=None, abstained_reason="Synthetic: measures only.",
                inputs_sha256="", explanation=None,
                measures=[measure_info("cadence_steps_per_min").measure(110.0 + 50 * wobble),
                          measure_info("stride_time_cv_pct").measure(2.0 + 5 * wobble)])
            repository.save_assessment(
                s, admin, visit_id=visit.id, recording_id=None, model_name="fused", model_version="fused-1.0",
                probability=0.35 + wobble + (0.3 if i >= STEP_AT else 0.0), interval=(0.25, 0.75), severity=None,
                abstained_reason=None, inputs_sha256="",
                explanation={"contributions_logodds": {"voice": 0.1, "finger_tapping_right": 0.8},
                             "excluded": {}}, measures=[])
            repository.set_rating(s, admin, visit.id, "hoehn_yahr", None, 2.0)
        # a clip needing retake, on the last visit: a task with no usable clip (a failed gait
        # retake there would not need one: that visit's good gait clip counts)
        repository.add_recording(s, admin, ids["visits"][-1], task="tremor", side="left",
                                 stored_path=f"recordings/{_sha('g')}.mp4", sha256=_sha("g"), duration_s=4.0,
                                 format="mp4", source="upload", quality_ok=False, status="needs_retake",
                                 quality_json={"ok": False, "checks": [{"name": "detection_rate", "passed": False,
                                                                        "value": 0.2, "unit": "",
                                                                        "message": "Hand not in view: record again."}]})
        # the other patient: one old visit (overdue follow-up)
        repository.create_visit(s, admin, other.id, visit_date=date(2023, 1, 2), medication_state="unknown")
    return ids
