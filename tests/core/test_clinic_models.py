"""Models tailored by each clinic (core.clinic_models): patient-grouped CV, the baselines, the
minimum-data check, refusal to activate a model that loses, activation and rollback (audited),
estimates carrying their version, and the demo database's worked example.

The clinics here are SYNTHETIC (patients "Synthetic Patient NN (synthetic clinic)"): finger-tapping
clips stored as rows with measures (no video needed: training reads stored measures only), the
3.4 rating either truly depending on one measure or drawn independently of every measure."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from core import clinic_models as cm
from core.store import close_store, open_store, repository, transaction
from core.store.errors import PermissionDenied, ValidationError
from core.store.models import Assessment, AuditEvent, ClinicModelVersion, MeasureValue, Recording


def _add_tapping_visit(s, admin, patient_id: int, day: int, rate: float, other: float, rating: float | None,
                       severity: float | None = None) -> int:
    visit = repository.create_visit(s, admin, patient_id, visit_date=date(2024, 1, 1) + timedelta(days=day),
                                    medication_state="on")
    recording = Recording(visit_id=visit.id, task="finger_tapping", side="left",
                          stored_path=f"synthetic/{visit.id}.mp4", sha256=f"{visit.id:064x}", duration_s=10.0,
                          format="mp4", source="import", original_name="", quality_ok=True, status="analysed",
                          counts=True)
    s.add(recording)
    s.flush()
    assessment = Assessment(visit_id=visit.id, recording_id=recording.id, model_name="finger_tapping",
                            model_version="synthetic", severity=severity, inputs_sha256="")
    s.add(assessment)
    s.flush()
    s.add_all([MeasureValue(assessment_id=assessment.id, name="tap_rate_hz", value=rate, unit="Hz"),
               MeasureValue(assessment_id=assessment.id, name="amplitude_cv", value=other, unit="")])
    if rating is not None:
        repository.set_rating(s, admin, visit.id, "3.4", "left", rating)
    return visit.id


def synthetic_rated_clinic(sessions, admin_id: int, patients: int, depends: bool, visits: int = 4,
                           seed: int = 7, severity: bool = False) -> list[int]:
    """A synthetic clinic: `patients` patients with `visits` rated finger-tapping visits each.
    depends=True: the 3.4 (left) rating is a rounded, noisy decreasing function of the tapping rate;
    False: the rating is drawn at random, whatever the measures. Returns the visit ids."""
    rng = np.random.default_rng(seed)
    ids = []
    with transaction(sessions) as s:
        admin = s.get(repository.Clinician, admin_id)
        for p in range(patients):
            patient = repository.create_patient(s, admin, mrn=f"SYN-CM-{p:03d}",
                                                name=f"Synthetic Patient {p:02d} (synthetic clinic)",
                                                birth_date=date(1950, 1, 1), sex="unknown", diagnosis="pd",
                                                more_affected_side="left")
            base = rng.uniform(1.5, 4.5)
            for v in range(visits):
                rate = base - 0.3 * v + rng.normal(0, 0.25)
                other = rng.normal(0.3, 0.1)
                if depends:
                    rating = float(np.clip(np.round(5.0 - 1.2 * rate + rng.normal(0, 0.3)), 0, 4))
                else:
                    rating = float(rng.integers(0, 5))
                ids.append(_add_tapping_visit(s, admin, patient.id, 30 * v, rate, other, rating,
                                              severity=2.0 if severity else None))
    return ids


@pytest.fixture
def clinic_store(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")  # test speed only
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    sessions = open_store(url)
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                            password="correct-horse-battery", role="admin")
        clinician = repository.create_clinician(s, admin, username="clin", display_name="Synthetic Clinician",
                                                password="correct-horse-battery", role="clinician")
        ids = admin.id, clinician.id
    yield url, sessions, *ids
    close_store(url)


def _audits(sessions, action: str) -> list[AuditEvent]:
    with transaction(sessions) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _current_estimates(sessions, model_name: str) -> list[Assessment]:
    with transaction(sessions) as s:
        return list(s.scalars(select(Assessment).where(Assessment.model_name == model_name,
                                                       Assessment.superseded_at.is_(None))))


# ---------------------------------------------------------------- grouping


def test_folds_never_put_a_patient_on_both_sides():
    groups = np.repeat(np.arange(23), np.random.default_rng(0).integers(1, 9, size=23))
    folds = cm.grouped_folds(groups, 5, seed=3)
    assert len(folds) == 5
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested.tolist()) == list(range(len(groups)))  # every row tested exactly once
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    # the check itself catches a split that shares a patient
    broken = [(np.array([0, 1]), np.array([2]))]
    with pytest.raises(RuntimeError, match="patient-grouped CV broken"):
        cm.check_grouping(broken, np.array([5, 6, 6]))


def test_targets_map_items_to_their_tasks():
    assert cm.target_spec("3.4", "left").sources == (("finger_tapping", "left"),)
    assert cm.target_spec("3.17", "rue").sources == (("tremor", "right"),)
    assert cm.target_spec("3.10").sources == (("gait", None),)
    assert "vowel" in cm.target_spec("updrs_motor_total").tasks
    assert set(cm.target_spec("mds_updrs_part3_total").tasks) >= {"vowel", "finger_tapping", "tremor", "gait"}
    with pytest.raises(ValidationError, match="per location"):
        cm.target_spec("3.4")
    with pytest.raises(ValidationError, match="no task"):
        cm.target_spec("3.2")


# ---------------------------------------------------------------- minimum data


def test_too_few_rated_patients_says_what_is_missing_and_trains_nothing(clinic_store):
    _, sessions, admin_id, _ = clinic_store
    synthetic_rated_clinic(sessions, admin_id, patients=8, depends=True)
    with transaction(sessions) as s:
        status = cm.data_status(s, "3.4", "left")
    assert not status.enough
    assert (status.usable_patients, status.usable_visits) == (8, 32)
    minimum = cm.minimum_patients()
    assert f"Rate {minimum - 8} more patients" in status.message
    with pytest.raises(cm.NotEnoughData, match="at least"):
        cm.train(sessions, admin_id, "3.4", "left")
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(ClinicModelVersion)) == 0


def test_minimum_is_a_setting(monkeypatch):
    from core.config import settings

    monkeypatch.setenv("PDLENS_CLINIC_MODEL_MIN_PATIENTS", "12")
    settings.cache_clear()
    try:
        assert cm.minimum_patients() == 12
        monkeypatch.setenv("PDLENS_CLINIC_MODEL_MIN_PATIENTS", "3")
        settings.cache_clear()
        with pytest.raises(ValueError, match="at least 5"):
            settings()
    finally:
        monkeypatch.delenv("PDLENS_CLINIC_MODEL_MIN_PATIENTS")
        settings.cache_clear()


# ---------------------------------------------------------------- a synthetic clinic that depends on a measure


def test_a_real_dependence_is_learned_activated_scored_and_rolled_back(clinic_store):
    url, sessions, admin_id, clinician_id = clinic_store
    visit_ids = synthetic_rated_clinic(sessions, admin_id, patients=24, depends=True)
    with pytest.raises(PermissionDenied):
        cm.train(sessions, clinician_id, "3.4", "left")
    result = cm.train(sessions, admin_id, "3.4", "left")
    assert (result.n_patients, result.n_visits) == (24, 96)
    assert result.beats_baseline, result.refusal
    assert result.cv["value"] < result.baseline["value"]
    assert result.baseline["difference_ci95"][1] < 0
    assert result.within_patient["change_correlation"] > 0.3
    intercept = result.within_patient["patient_intercept_model"]
    assert intercept["available"] and intercept["within_patient_correlation_ci95"][0] > 0
    assert not result.activated  # training never activates by itself
    assert "Decision support, not a diagnosis" in _card(sessions, result.version_id)
    with pytest.raises(PermissionDenied):
        cm.activate(sessions, clinician_id, result.version_id)

    done = cm.activate(sessions, admin_id, result.version_id)
    assert done["estimates"] == len(visit_ids)
    estimates = _current_estimates(sessions, "clinic:3.4:left")
    assert len(estimates) == len(visit_ids)
    assert {a.model_version for a in estimates} == {result.version_label}
    assert all(a.interval_low <= a.severity <= a.interval_high for a in estimates)
    activation = _audits(sessions, "activate_clinic_model")
    assert len(activation) == 1 and activation[0].clinician_id == admin_id
    assert f"version={result.version_id}" in activation[0].detail
    assert _audits(sessions, "clinic_model_estimates")  # per patient: who got estimates

    # a new visit scored by the ordinary service gets the active version's estimate
    from core.visits import score_visit

    with transaction(sessions) as s:
        admin = s.get(repository.Clinician, admin_id)
        patient_id = s.scalar(select(repository.Patient.id).where(repository.Patient.mrn == "SYN-CM-000"))
        new_visit = _add_tapping_visit(s, admin, patient_id, 400, rate=1.0, other=0.3, rating=None)
    score_visit(sessions, admin_id, new_visit)
    with transaction(sessions) as s:
        fresh = cm.visit_estimates(s, new_visit)
        assert len(fresh) == 1 and fresh[0].model_version == result.version_label
        assert result.version_label in cm.estimate_text(fresh[0])
        assert fresh[0].severity > 2.5  # slow tapping: a high rating, as in this clinic

    # a second version replaces the first; the first's estimates stay as history
    second = cm.train(sessions, admin_id, "3.4", "left", activate_if_better=True)
    assert second.activated and second.version_label.endswith("-v2")
    with transaction(sessions) as s:
        first = s.get(ClinicModelVersion, result.version_id)
        assert first.deactivated_at is not None and not first.active
        assert s.get(ClinicModelVersion, second.version_id).active
    assert {a.model_version for a in _current_estimates(sessions, "clinic:3.4:left")} == {second.version_label}

    rolled = cm.rollback(sessions, admin_id, "3.4", "left")
    assert rolled["estimates_superseded"] == len(visit_ids) + 1
    assert _current_estimates(sessions, "clinic:3.4:left") == []
    with transaction(sessions) as s:
        kept = s.scalar(select(func.count()).select_from(Assessment)
                        .where(Assessment.model_name == "clinic:3.4:left"))
        assert kept >= 2 * len(visit_ids)  # history kept, superseded
        assert cm.active_version(s, "3.4:left") is None
    assert len(_audits(sessions, "rollback_clinic_model")) == 1
    with pytest.raises(ValidationError, match="nothing to roll back"):
        cm.rollback(sessions, admin_id, "3.4", "left")
    with pytest.raises(ValidationError, match="rolled back"):
        cm.activate(sessions, admin_id, second.version_id)


def _card(sessions, version_id: int) -> str:
    with transaction(sessions) as s:
        return s.get(ClinicModelVersion, version_id).card


def test_export_and_report_name_the_version(clinic_store, tmp_path):
    from core.export import run_export

    _, sessions, admin_id, _ = clinic_store
    synthetic_rated_clinic(sessions, admin_id, patients=24, depends=True, visits=3)
    result = cm.train(sessions, admin_id, "3.4", "left", activate_if_better=True, n_boot=200)
    assert result.activated
    out = tmp_path / "export.csv"
    run_export(sessions, "csv", out)
    import pandas as pd

    frame = pd.read_csv(out)
    rows = frame[frame["kind"] == "estimate"]
    assert len(rows) == 72
    assert set(rows["model_version"]) == {result.version_label}
    assert set(rows["name_or_item"].astype(str)) == {"3.4"} and set(rows["side"]) == {"left"}
    assert rows["label"].str.startswith("Clinic model estimate of 3.4").all()
    from core.reports import patient_pdf

    with transaction(sessions) as s:  # the PDF's latest-visit section reads the estimate (its own line)
        patient_id = s.scalar(select(repository.Patient.id).where(repository.Patient.mrn == "SYN-CM-000"))
        report = patient_pdf(s, patient_id)
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(report.data)).pages)
    assert result.version_label in " ".join(text.split())
    # the one-visit summary (visit_snapshot: Summary and Compare pages, the visit PDF) names it too
    from core.compare import visit_snapshot
    from core.reports import visit_summary_pdf

    with transaction(sessions) as s:
        visit_id = s.scalar(select(repository.Visit.id).where(repository.Visit.patient_id == patient_id)
                            .order_by(repository.Visit.visit_date.desc()).limit(1))
        snap = visit_snapshot(s, visit_id)
        summary = visit_summary_pdf(s, visit_id)
    clinic = [e for e in snap.estimates if e.model == "clinic:3.4:left"]
    assert len(clinic) == 1 and result.version_label in clinic[0].estimate and clinic[0].rating is not None
    assert snap.model_versions["clinic:3.4:left"] == result.version_label
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(summary)).pages)
    assert result.version_label in " ".join(text.split())
    from core.reports import fhir_bundle

    with transaction(sessions) as s:
        bundle = fhir_bundle(s, patient_id, include_identity=False)
    estimates = [e["resource"] for e in bundle["entry"] if e["resource"]["id"].startswith("pdlens-estimate-")]
    assert len(estimates) == 3 and all(result.version_label in o["method"]["text"] for o in estimates)


# ---------------------------------------------------------------- a synthetic clinic where nothing depends


def test_no_dependence_is_refused(clinic_store):
    url, sessions, admin_id, _ = clinic_store
    synthetic_rated_clinic(sessions, admin_id, patients=24, depends=False)
    result = cm.train(sessions, admin_id, "3.4", "left", activate_if_better=True)
    assert not result.beats_baseline and not result.activated
    intercept = result.within_patient["patient_intercept_model"]
    assert intercept["within_patient_correlation_ci95"][0] < 0.3  # nothing to follow within patients either
    assert result.refusal
    with pytest.raises(ValidationError, match="cannot be activated"):
        cm.activate(sessions, admin_id, result.version_id)
    assert _current_estimates(sessions, "clinic:3.4:left") == []
    assert _audits(sessions, "activate_clinic_model") == []
    # the command line refuses the same way, exit 2 with the reason on stderr and no patient data
    err = io.StringIO()
    code = cm.main(["activate", str(result.version_id), "--database-url", url], stdout=io.StringIO(), stderr=err)
    assert code == 2 and "cannot be activated" in err.getvalue()
    assert "Synthetic Patient" not in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    code = cm.main(["train", "--target", "3.4", "--side", "left", "--activate", "--json", "--database-url", url],
                   stdout=out, stderr=err)
    assert code == 2 and "not activated" in err.getvalue()
    assert json.loads(out.getvalue())["activated"] is False
    err = io.StringIO()
    assert cm.main(["train", "--target", "3.2", "--database-url", url], stdout=io.StringIO(), stderr=err) == 2
    assert "no task" in err.getvalue()


def test_shipped_estimate_is_a_baseline_where_stored(clinic_store):
    _, sessions, admin_id, _ = clinic_store
    synthetic_rated_clinic(sessions, admin_id, patients=20, depends=True, visits=2, severity=True)
    result = cm.train(sessions, admin_id, "3.4", "left", n_boot=200)
    assert set(result.baseline["models"]) == {"training_fold_mean", "shipped_model"}


# ---------------------------------------------------------------- the demo database


@pytest.mark.slow
def test_demo_updrs_motor_total_from_the_command_line(tmp_path):
    from core.demo import build_demo_database

    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    build_demo_database(url, clips=False)
    run = subprocess.run([sys.executable, "-m", "core.cli", "clinic-model", "train", "--target", "updrs_motor_total",
                          "--database-url", url, "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["n_patients"] == 34
    assert out["n_visits"] > 34
    assert out["cv"]["metric"] == "mae" and len(out["cv"]["ci95"]) == 2
    assert out["baseline"]["best"] == "training_fold_mean" and len(out["baseline"]["ci95"]) == 2
    assert "No shipped pdlens model" in out["baseline"]["shipped_model_note"]
    assert "change_correlation" in out["within_patient_change"]
    assert "interpolated" in out["data"]["ratings_note"]
    assert out["activated"] is False  # train never activates without --activate
    assert out["beats_baseline"] == (out["cv"]["value"] < out["baseline"]["value"]
                                     and out["baseline"]["difference_ci95"][1] < 0)
    assert "Demo patient" not in run.stdout + run.stderr
    close_store(url)


def test_a_binary_target_is_scored_by_auc():
    """A 0/1 rating: the metric is the AUC (higher is better) and the rule flips accordingly."""
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(30), 4)
    x = rng.normal(size=(120, 2))
    y = (x[:, 0] + rng.normal(0, 0.5, size=120) > 0).astype(float)
    target = cm.TargetSpec("3.10", None, (("gait", None),), "synthetic")
    table = cm.TrainingTable(target, x, y, groups, np.tile(np.arange(4), 30), np.arange(120), ["a", "b"], 30, 120, 0)
    result = cm.evaluate(table, n_boot=200)
    assert result.metric == "auc" and result.binary
    assert result.cv["value"] > 0.8 and result.baseline["value"] == pytest.approx(0.5)
    assert result.beats_baseline and result.baseline["difference_ci95"][0] > 0
    unrelated = rng.integers(0, 2, size=120).astype(float)  # drawn apart from every measure
    null = cm.TrainingTable(target, x, unrelated, groups, table.dates, table.visit_ids, ["a", "b"], 30, 120, 0)
    assert not cm.evaluate(null, n_boot=200).beats_baseline
