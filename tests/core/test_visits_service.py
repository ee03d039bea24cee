"""The visit analysis service on a real SQLite store in tmp_path, with real recordings: one
transaction per clip, nothing left behind on failure, no duplicates, the fused visit score."""
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from core.pipeline import UnusableInput
from core.store import Assessment, MeasureValue, Recording, ValidationError, repository, transaction
from core.visits import add_recording_and_analyze, score_visit
from tests.fixtures.voice.synth import write_audio
from models.registry import model_status

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
PD_VOWEL = next(FIXTURES.glob("PD_sample__AH_545692309*.wav"))  # real public recording (Iyer 2023)


def _counts(sessions):
    with transaction(sessions) as s:
        return (s.scalar(select(func.count()).select_from(Recording)),
                s.scalar(select(func.count()).select_from(Assessment)),
                s.scalar(select(func.count()).select_from(MeasureValue)))


def _stored_files(data_dir: Path) -> list[Path]:
    root = data_dir / "recordings"
    return [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "tmp"] if root.exists() else []


def test_real_vowel_is_stored_measured_and_left_out_of_the_visit_score(store):
    """Voice is measures-only (models/voice/status.json): the clip and its measures are stored, its
    assessment says why there is no score, and the visit score leaves voice out saying so."""
    sessions, admin_id, visit_id, data_dir = store
    outcome = add_recording_and_analyze(sessions, admin_id, visit_id, PD_VOWEL.read_bytes(), "vowel.wav",
                                        "vowel", None, "upload", data_dir)
    reason = model_status("voice").reason
    assert model_status("voice").withheld and reason
    assert outcome.quality_ok and outcome.score.probability is None and outcome.score.abstained == reason
    with transaction(sessions) as s:
        rec = s.get(Recording, outcome.recording_id)
        a = s.get(Assessment, outcome.assessment_id)
        assert rec.status == "analysed" and rec.quality_ok and rec.original_name == "vowel.wav"
        assert (data_dir / rec.stored_path).is_file() and rec.stored_path.endswith(rec.sha256 + ".wav")
        assert a.recording_id == rec.id and a.model_name == "voice" and a.inputs_sha256 == rec.sha256
        assert a.probability is None and a.abstained_reason == reason
        names = {m.name for m in a.measures}
        assert {"jitter_local_pct", "shimmer_local", "hnr_db"} <= names
        fused = repository.list_assessments(s, visit_id)[-1]
        assert fused.recording_id is None and fused.model_name == "fused"
        assert fused.probability is None and "measures only" in fused.abstained_reason


def test_unusable_file_leaves_no_row_and_no_file(store):
    sessions, admin_id, visit_id, data_dir = store
    with pytest.raises(UnusableInput):
        add_recording_and_analyze(sessions, admin_id, visit_id, b"this is not audio at all" * 50, "notes.wav",
                                  "vowel", None, "upload", data_dir)
    assert _counts(sessions) == (0, 0, 0)
    assert _stored_files(data_dir) == []


def test_same_file_twice_is_refused(store):
    sessions, admin_id, visit_id, data_dir = store
    tone = data_dir.parent / "synthetic_short.wav"
    t = np.arange(int(1.0 * 16000)) / 16000
    write_audio(tone, 0.3 * np.sin(2 * np.pi * 150 * t), 16000, channels=1)  # synthetic, too short
    first = add_recording_and_analyze(sessions, admin_id, visit_id, tone, "a.wav", "vowel", None, "upload", data_dir)
    before = _counts(sessions)
    with pytest.raises(ValidationError, match="already added"):
        add_recording_and_analyze(sessions, admin_id, visit_id, tone, "a-again.wav", "vowel", None, "browser", data_dir)
    assert _counts(sessions) == before
    assert (data_dir / "recordings").exists() and len(_stored_files(data_dir)) == 1
    # the short synthetic clip failed quality: stored for the record, not scored, visit abstains
    assert not first.quality_ok and first.score is None
    assert first.fused["probability"] is None and "quality" in first.fused["abstained"]


def test_score_visit_without_recordings_abstains(store):
    sessions, admin_id, visit_id, _ = store
    out = score_visit(sessions, admin_id, visit_id)
    assert out["probability"] is None and out["abstained"]
