"""The demo patients with analysed clips in the built demo database (core.demo): fictional people,
synthetic movement clips (core/synthetic), parts of real public vowels (Iyer et al. 2023), all
analysed through the real service, and every one of them labelled. The telemonitoring patients
beside them are unchanged."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.demo import (
    CLIP_PATIENTS,
    SYNTHETIC_NOTE,
    TELEMONITORING_NOTE,
    VOWELS_DIR,
    NotADemoDatabase,
    build_demo_database,
    load_visits,
    patient_note,
    prepare_demo_data_dir,
)
from core.store import Assessment, ClinicianRating, MeasureValue, Patient, Recording, Visit, open_store, transaction
from core.store.files import resolve_recording_path
from core.trends import load_patient_series
from core.visits import current_visit_score

pytestmark = pytest.mark.slow  # the session's demo build analyses 16 clips (about 1-2 minutes)


@pytest.fixture(scope="module")
def demo(built_demo):
    url, data_dir, summary = built_demo
    return open_store(url), data_dir, summary


def clip_patients(s) -> list[Patient]:
    return list(s.scalars(select(Patient).where(Patient.mrn.in_([p.mrn for p in CLIP_PATIENTS]))
                         .order_by(Patient.mrn)))


def test_summary_counts_the_clip_patients_beside_the_telemonitoring_ones(demo):
    _, _, summary = demo
    visits = load_visits()
    assert summary.built and summary.clip_patients == len(CLIP_PATIENTS) == 3
    assert summary.patients == 34 + 3
    assert summary.visits == len(visits) + sum(len(p.visits) for p in CLIP_PATIENTS)
    assert summary.recordings == sum(1 + bool(v.tapping_left) + bool(v.tremor_left)
                                     for p in CLIP_PATIENTS for v in p.visits)
    assert 0 < summary.clip_seconds <= summary.seconds


def test_telemonitoring_patients_are_unchanged(demo):
    sessions, _, _ = demo
    visits = load_visits()
    with transaction(sessions) as s:
        tele = s.scalars(select(Patient).where(Patient.name.like("%(UCI telemonitoring)"))).all()
        assert len(tele) == 34 and all(p.mrn.startswith("DEMO-") and p.diagnosis == "pd" for p in tele)
        ids = [p.id for p in tele]
        n_visits = s.scalar(select(func.count(Visit.id)).where(Visit.patient_id.in_(ids)))
        n_measures = s.scalar(select(func.count(MeasureValue.id)).join(Assessment).join(Visit)
                              .where(Visit.patient_id.in_(ids)))
        n_ratings = s.scalar(select(func.count(ClinicianRating.id)).join(Visit).where(Visit.patient_id.in_(ids)))
        n_recordings = s.scalar(select(func.count(Recording.id)).join(Visit).where(Visit.patient_id.in_(ids)))
    assert (n_visits, n_measures, n_ratings, n_recordings) == (len(visits), 16 * len(visits), 2 * len(visits), 0)


def test_every_clip_patient_is_fictional_and_labelled_synthetic(demo):
    sessions, _, _ = demo
    with transaction(sessions) as s:
        patients = clip_patients(s)
        assert [p.name for p in patients] == [f"Demo patient {k} (synthetic movement clips)" for k in "ABC"]
        for patient in patients:
            assert patient_note(patient.mrn) == SYNTHETIC_NOTE
            visits = s.scalars(select(Visit).where(Visit.patient_id == patient.id)).all()
            assert len(visits) >= 2  # trends need at least two visits
            for visit in visits:
                assert "synthetic" in visit.notes and "fictional" in visit.notes
                assert "Iyer et al., Sci Rep 2023" in visit.notes and "nobody was filmed" in visit.notes
            for recording in s.scalars(select(Recording).join(Visit).where(Visit.patient_id == patient.id)):
                if recording.task == "vowel":
                    assert recording.original_name.startswith("public_vowel_iyer2023_part")
                else:
                    assert recording.original_name.startswith("synthetic_"), recording.original_name
    assert "synthetic" in SYNTHETIC_NOTE and "Iyer et al., Sci Rep 2023" in SYNTHETIC_NOTE
    assert "linearly interpolated" in TELEMONITORING_NOTE and "Tsanas" in TELEMONITORING_NOTE
    assert patient_note("DEMO-01") == TELEMONITORING_NOTE and patient_note("MRN-1") is None


def test_the_real_vowels_file_names_are_never_stored(demo):
    sessions, _, _ = demo
    with open(VOWELS_DIR / "labels.csv", newline="") as fh:
        originals = [Path(row["file"]).stem for row in csv.DictReader(fh)]
    with transaction(sessions) as s:
        stored = [r.original_name + " " + r.stored_path for r in s.scalars(select(Recording))]
        stored += [v.notes for v in s.scalars(select(Visit))]
        stored += [json.dumps(a.explanation_json) for a in s.scalars(select(Assessment))
                   if a.recording_id is not None or a.model_name == "fused"]
    everything = "\n".join(stored)
    assert not [name for name in originals if name in everything]
    assert "AH_" not in everything


def test_every_visit_has_one_current_fused_score_and_every_clip_measures_and_explanations(demo):
    sessions, data_dir, _ = demo
    with transaction(sessions) as s:
        for patient in clip_patients(s):
            visits = s.scalars(select(Visit).where(Visit.patient_id == patient.id).order_by(Visit.visit_date)).all()
            for visit in visits:
                fused = s.scalars(select(Assessment).where(Assessment.visit_id == visit.id,
                                                           Assessment.recording_id.is_(None),
                                                           Assessment.model_name == "fused")).all()
                assert len(fused) == 1  # one visit score, computed once all the visit's clips were in
                current = current_visit_score(s, visit.id)
                assert current.id == fused[0].id and current.superseded_at is None
                assert current.probability is not None
                assert 0 < current.probability < 1 and current.interval_low <= current.probability <= current.interval_high
                assert current.explanation_json["summary"]  # the plain-language visit summary
                assert "finger_tapping_left" in current.explanation_json["branches"]
                recordings = s.scalars(select(Recording).where(Recording.visit_id == visit.id)).all()
                assert {r.task for r in recordings} >= {"vowel", "finger_tapping"}
                for recording in recordings:
                    assert recording.quality_ok and recording.status == "analysed", recording.task
                    assert recording.counts  # one clip per task and side: it is the clip that counts
                    assert resolve_recording_path(data_dir, recording.stored_path).is_file()
                    (assessment,) = s.scalars(select(Assessment).where(Assessment.recording_id == recording.id)).all()
                    explanation = assessment.explanation_json
                    assert len(assessment.measures) >= 5 and len(explanation["measures"]) >= 5
                    if recording.task == "finger_tapping":  # scored, explained, with its key frame
                        assert assessment.probability is not None and assessment.severity is not None
                        assert explanation["measure_attributions"]["names"] and explanation["sentences"]
                        assert resolve_recording_path(data_dir, explanation["key_frame"]["file"]).is_file()
                    elif recording.task == "vowel":  # voice is measures-only: the reason is stored
                        assert assessment.probability is None and assessment.abstained_reason
                    else:  # rest tremor: measures against published ranges, no classifier
                        assert recording.task == "tremor" and assessment.probability is None
            series = load_patient_series(s, patient.id)
            fused_points = series.scores[series.scores["model"] == "fused"]
            assert len(fused_points) == len(visits)  # one point per visit on the trends page
            jitter = series.measures[series.measures["name"] == "jitter_local_pct"]
            assert len(jitter) == len(visits) and jitter["value"].nunique() == len(visits)


def test_if_missing_keeps_a_current_demo(built_demo, tmp_path):
    from tests.conftest import copy_built_demo

    url, data_dir = copy_built_demo(built_demo, tmp_path)
    kept = build_demo_database(url, if_missing=True, data_dir=data_dir)
    assert not kept.built and kept.patients == 37


def test_the_demo_data_dir_is_emptied_only_when_it_is_the_demos(tmp_path):
    foreign = tmp_path / "clinic-data"
    (foreign / "recordings").mkdir(parents=True)
    (foreign / "recordings" / "keep.wav").write_bytes(b"clinic")
    with pytest.raises(NotADemoDatabase, match="refusing to empty it"):
        prepare_demo_data_dir(foreign)
    assert (foreign / "recordings" / "keep.wav").exists()
    fresh = tmp_path / "demo"
    prepare_demo_data_dir(fresh)  # new: created and marked
    (fresh / "recordings").mkdir()
    (fresh / "recordings" / "old.mp4").write_bytes(b"old demo clip")
    prepare_demo_data_dir(fresh)  # marked by a demo build: emptied
    assert not (fresh / "recordings").exists() and fresh.is_dir()


def test_the_pdf_of_a_demo_patient_carries_its_note(demo):
    import io

    from pypdf import PdfReader

    from core.reports import patient_pdf, visit_summary_pdf

    def pdf_words(data: bytes) -> str:
        return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())

    sessions, _, _ = demo
    with transaction(sessions) as s:
        patient = clip_patients(s)[0]
        synthetic = pdf_words(patient_pdf(s, patient.id, note=patient_note(patient.mrn)).data)
        tele = s.scalar(select(Patient).where(Patient.mrn == "DEMO-01"))
        interpolated = pdf_words(patient_pdf(s, tele.id, note=patient_note(tele.mrn)).data)
        visit_id = s.scalar(select(Visit.id).where(Visit.patient_id == tele.id).order_by(Visit.visit_date).limit(1))
        summary = visit_summary_pdf(s, visit_id, note=patient_note(tele.mrn))
        synthetic_visit = s.scalar(select(Visit.id).where(Visit.patient_id == patient.id).limit(1))
        synthetic_summary = visit_summary_pdf(s, synthetic_visit, note=patient_note(patient.mrn))
    assert "synthetic movement clips" in synthetic and "nobody was filmed" in synthetic
    assert "linearly interpolated" in interpolated
    assert "linearly interpolated" in pdf_words(summary) and len(PdfReader(io.BytesIO(summary)).pages) == 1
    assert "nobody was filmed" in pdf_words(synthetic_summary)
    assert len(PdfReader(io.BytesIO(synthetic_summary)).pages) == 1


def test_demo_patients_carry_invented_outcome_values_that_trend_in_their_own_direction(demo):
    """Patient A's (invented) Berg total falls and stopwatch TUG rises at the third visit: with a
    two-visit baseline both are flagged worse, by their published minimal detectable changes."""
    from core.trends import analyse_patient

    sessions, _, _ = demo
    with transaction(sessions) as s:
        patient_a = clip_patients(s)[0]
        items = set(s.scalars(select(ClinicianRating.item).join(Visit).where(Visit.patient_id == patient_a.id)))
        assert {"tug_stopwatch_s", "berg_balance", "mini_bestest", "gait_speed_stopwatch_m_s"} <= items
        series = load_patient_series(s, patient_a.id)
    found = {a.key: a for a in analyse_patient(series, baseline_visits=2)}
    for key in ("rating:berg_balance", "rating:tug_stopwatch_s"):
        event = found[key].latest_event
        assert event is not None and event.direction == "worse", key
        assert event.method.startswith("MDC")
    assert found["rating:berg_balance"].latest_event.change < 0 < found["rating:tug_stopwatch_s"].latest_event.change
