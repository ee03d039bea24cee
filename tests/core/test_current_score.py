"""One current score per visit and the clip that counts, on a real SQLite store with real public
vowel recordings (Iyer 2023) and synthetic bad clips. No patient data."""
from __future__ import annotations

import io
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text

from core import batch
from core.capture import checklist
from core.config import settings
from core.reports import export_chunks, write_csv
from core.store import (AuditEvent, Assessment, Recording, ValidationError, close_store, make_engine, migrate,
                        open_store, repository, transaction)
from core.trends import load_patient_series
from core.visits import (add_recording_and_analyze, automatic_clip, choose_clip, counting_clips,
                         current_visit_score, exclude_clip, include_clip, relabel_clip, score_visit)
from tests.fixtures.voice.synth import write_audio

VOICE = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
PD_VOWEL = next(VOICE.glob("PD_sample__AH_545692309*.wav"))
HC_VOWEL = next(VOICE.glob("HC_sample__AH_322A*.wav"))


def visit_scores(sessions, visit_id):
    with transaction(sessions) as s:
        rows = s.scalars(select(Assessment).where(Assessment.visit_id == visit_id, Assessment.recording_id.is_(None))
                         .order_by(Assessment.id)).all()
        return [(a.id, a.superseded_at is None) for a in rows]


def silent_vowel(folder: Path) -> Path:
    """A 4 s synthetic clip of near silence: it decodes but fails its quality check."""
    path = folder / "synthetic_silence.wav"
    write_audio(path, 1e-5 * np.random.default_rng(0).standard_normal(4 * 16000), 16000, channels=1)
    return path


@pytest.mark.slow
def test_two_batch_imports_into_one_visit_leave_one_current_score(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    monkeypatch.setenv("PDLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    settings.cache_clear()
    sessions = open_store(url)
    try:
        with transaction(sessions) as s:
            admin = repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                                password="correct-horse-battery", role="admin")
            patient = repository.create_patient(s, admin, mrn="SYN-C1", name="Synthetic C1",
                                                birth_date=date(1950, 1, 1), sex="unknown", diagnosis="unknown",
                                                more_affected_side="unknown")
            patient_id = patient.id
        for n, vowel in enumerate((PD_VOWEL, HC_VOWEL)):
            folder = tmp_path / f"import{n}"
            folder.mkdir()
            shutil.copy(vowel, folder / "vowel.wav")
            code = batch.main([str(folder), "--patient", "SYN-C1", "--date", "2024-02-03", "--clinician", "admin"],
                              stdout=io.StringIO(), stderr=io.StringIO())
            assert code == 0
        with transaction(sessions) as s:
            visit_id = repository.list_visits(s, patient_id)[0].id
        scores = visit_scores(sessions, visit_id)
        assert len(scores) >= 2, "each import scored the visit"
        assert [current for _, current in scores].count(True) == 1 and scores[-1][1]
        with transaction(sessions) as s:
            tasks = counting_clips(s, visit_id)
            assert [(t.task, t.state) for t in tasks] == [("vowel", "counts")]
            assert len(tasks[0].others) == 1 and tasks[0].counting.original_name == "vowel.wav"
            series = load_patient_series(s, patient_id)
            exported = io.StringIO()
            write_csv(export_chunks(s, [patient_id]), exported)
        fused_points = series.scores[series.scores["model"] == "fused"]
        assert len(fused_points) <= 1  # one point per visit (none when the visit abstains)
        # the measures of the one counting vowel, not of both
        hnr = series.measures[series.measures["name"] == "hnr_db"]
        assert len(hnr) == 1
        assert exported.getvalue().count("hnr_db") == 1
    finally:
        close_store(url)
        settings.cache_clear()


@pytest.mark.slow
def test_a_failed_retake_never_replaces_a_good_clip_unless_chosen(store):
    sessions, admin_id, visit_id, data_dir = store
    good = add_recording_and_analyze(sessions, admin_id, visit_id, PD_VOWEL, "a.wav", "vowel", None, "upload",
                                     data_dir)
    assert good.quality_ok
    retake = add_recording_and_analyze(sessions, admin_id, visit_id, silent_vowel(data_dir.parent), "b.wav",
                                       "vowel", None, "upload", data_dir)
    assert not retake.quality_ok

    def state():
        with transaction(sessions) as s:
            (vowel,) = [t for t in counting_clips(s, visit_id) if t.task == "vowel"]
            items = {i.slot.key: i for i in checklist(repository.list_recordings(s, visit_id))}
            return (vowel.counting.id if vowel.counting else None, vowel.state, vowel.chosen_by_clinician,
                    items["vowel"].status)

    assert state() == (good.recording_id, "counts", False, "analysed")
    choose_clip(sessions, admin_id, retake.recording_id)  # the clinician says so
    assert state() == (retake.recording_id, "counts", True, "analysed")
    automatic_clip(sessions, admin_id, retake.recording_id)
    assert state() == (good.recording_id, "counts", False, "analysed")

    with pytest.raises(ValidationError, match="reason"):
        exclude_clip(sessions, admin_id, good.recording_id, "   ")
    exclude_clip(sessions, admin_id, good.recording_id, "patient coughed <b>twice</b>")
    assert state() == (None, "needs_retake", False, "needs_retake")
    with transaction(sessions) as s:
        assert s.get(Recording, good.recording_id).excluded_reason == "patient coughed <b>twice</b>"
        details = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "exclude_recording")).all()
        assert details and all("coughed" not in d for d in details)  # the trail holds ids only
    include_clip(sessions, admin_id, good.recording_id)
    assert state() == (good.recording_id, "counts", False, "analysed")
    with transaction(sessions) as s:
        current = [a for a in repository.list_assessments(s, visit_id) if a.recording_id is None]
        everything = [a for a in repository.list_assessments(s, visit_id, include_superseded=True)
                      if a.recording_id is None]
        assert len(current) == 1 and current[0].id == current_visit_score(s, visit_id).id
        assert len(everything) > 1  # the history is kept


def test_scoring_again_with_unchanged_inputs_writes_nothing(store):
    sessions, admin_id, visit_id, _ = store
    first = score_visit(sessions, admin_id, visit_id)
    again = score_visit(sessions, admin_id, visit_id)
    assert again["assessment_id"] == first["assessment_id"]
    assert len(visit_scores(sessions, visit_id)) == 1


@pytest.mark.slow
def test_relabel_analyses_the_clip_again_and_keeps_the_old_result_as_history(store):
    sessions, admin_id, visit_id, data_dir = store
    added = add_recording_and_analyze(sessions, admin_id, visit_id, PD_VOWEL, "a.wav", "vowel", None, "upload",
                                      data_dir)
    with pytest.raises(ValidationError, match="which side"):
        relabel_clip(sessions, admin_id, added.recording_id, "finger_tapping", None, data_dir)
    outcome = relabel_clip(sessions, admin_id, added.recording_id, "reading", None, data_dir)
    assert outcome.task == "reading" and outcome.assessment_id != added.assessment_id
    with transaction(sessions) as s:
        recording = s.get(Recording, added.recording_id)
        assert (recording.task, recording.side) == ("reading", None)
        history = s.scalars(select(Assessment).where(Assessment.recording_id == recording.id)
                            .order_by(Assessment.id)).all()
        assert [a.superseded_at is None for a in history] == [False, True]
        assert [t.task for t in counting_clips(s, visit_id)] == ["reading"] or not recording.quality_ok
        actions = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "relabel_recording")).all()
        assert actions == [f"visit={visit_id} recording={recording.id} from=vowel/- to=reading/-"]


def test_migration_keeps_the_newest_score_current_on_a_database_with_duplicates(tmp_path):
    """A database written before supersession: one visit with three combined scores, imported
    measures, a clip analysed twice, a good clip and a failed retake of the vowel."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    try:
        migrate(engine, "0002")
        now = datetime(2024, 1, 1, tzinfo=timezone.utc)
        with engine.begin() as c:
            c.execute(text("INSERT INTO clinicians (id, username, display_name, password_hash, role, active, created_at) "
                           "VALUES (1, 'admin', 'Synthetic Admin', 'x', 'admin', 1, :t)"), {"t": now})
            c.execute(text("INSERT INTO patients (id, mrn, name, name_lower, mrn_lower, birth_date, sex, diagnosis, "
                           "more_affected_side, archived, created_at, updated_at) VALUES (1, 'SYN-M', 'Synthetic M', "
                           "'synthetic m', 'syn-m', '1950-01-01', 'unknown', 'unknown', 'unknown', 0, :t, :t)"),
                      {"t": now})
            c.execute(text("INSERT INTO visits (id, patient_id, visit_date, medication_state, notes, created_at) "
                           "VALUES (1, 1, '2024-01-05', 'on', '', :t)"), {"t": now})
            for rid, ok, status in ((1, 1, "analysed"), (2, 0, "needs_retake")):
                c.execute(text("INSERT INTO recordings (id, visit_id, task, side, stored_path, sha256, format, "
                               "source, original_name, quality_ok, status, created_at) VALUES (:id, 1, 'vowel', NULL, "
                               "'recordings/x.wav', :sha, 'wav', 'upload', '', :ok, :status, :t)"),
                          {"id": rid, "sha": str(rid) * 64, "ok": ok, "status": status, "t": now})
            rows = ((1, 1, "voice"), (2, None, "fused"), (3, 1, "voice"), (4, None, "fused"), (5, 2, "voice"),
                    (6, None, "fused"), (7, None, "uci_telemonitoring_import"))  # 7: imported measures
            for aid, rid, model in rows:
                c.execute(text("INSERT INTO assessments (id, visit_id, recording_id, model_name, model_version, "
                               "inputs_sha256, created_at) VALUES (:id, 1, :rid, :m, 'v', '', :t)"),
                          {"id": aid, "rid": rid, "m": model, "t": now})
        migrate(engine)
        with engine.connect() as c:
            current = c.execute(text("SELECT id FROM assessments WHERE superseded_at IS NULL ORDER BY id")).scalars().all()
            counting = c.execute(text("SELECT id FROM recordings WHERE counts")).scalars().all()
            total = c.execute(text("SELECT count(*) FROM assessments")).scalar()
        # newest of clip 1, the only one of clip 2, newest visit score, the imported measures
        assert current == [3, 5, 6, 7]
        assert counting == [1]  # the good clip, not the failed retake
        assert total == 7  # history kept
    finally:
        engine.dispose()
