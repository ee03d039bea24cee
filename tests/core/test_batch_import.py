"""Batch import (core.batch.main, the `python -m core.cli batch` command) on a real SQLite store
with real public vowel recordings and generated bad files: imports, skips on re-run, failures
with reasons, visits created on demand, nothing half-written. No patient data."""
from __future__ import annotations

import io
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from core import batch
from core.config import settings
from core.store import AuditEvent, Clinician, Recording, Visit, close_store, open_store, repository, transaction
from tests.fixtures.movement.clips import write_video

VOICE = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
PD_VOWEL = next(VOICE.glob("PD_sample__AH_545692309*.wav"))  # public recordings (Iyer 2023)
HC_VOWEL = next(VOICE.glob("HC_sample__AH_322A*.wav"))


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    monkeypatch.setenv("PDLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    settings.cache_clear()
    sessions = open_store(url)
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                            password="correct-horse-battery", role="admin")
        repository.create_clinician(s, admin, username="therapist", display_name="Synthetic Therapist",
                                    password="correct-horse-battery", role="clinician")
        for mrn in ("SYN-B1", "SYN-B2"):
            repository.create_patient(s, admin, mrn=mrn, name=f"Synthetic {mrn}", birth_date=date(1950, 1, 1),
                                      sex="unknown", diagnosis="unknown", more_affected_side="unknown")
    yield sessions, tmp_path
    close_store(url)
    settings.cache_clear()


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = batch.main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def counts(sessions) -> dict[str, int]:
    with transaction(sessions) as s:
        return {"recordings": s.scalar(select(func.count()).select_from(Recording)),
                "visits": s.scalar(select(func.count()).select_from(Visit))}


def stored_clips(data_dir: Path) -> list[Path]:
    root = data_dir / "recordings"
    return sorted(p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts
                  and ".landmarks" not in p.name and ".keyframe" not in p.name) if root.exists() else []


@pytest.mark.slow
def test_folder_import_then_rerun_imports_nothing_new_and_bad_files_are_reported(clinic):
    sessions, tmp = clinic
    folder = tmp / "archive"
    folder.mkdir()
    shutil.copy(PD_VOWEL, folder / "vowel.wav")
    shutil.copy(HC_VOWEL, folder / "Vowel 2.WAV")
    (folder / "tap_L.mp4").write_bytes(b"exported from the wrong program " * 40)  # not a video
    write_video(folder / "tremor_R.mp4", (np.full((96, 128, 3), i, np.uint8) for i in range(36)), fps=30)  # 1.2 s
    shutil.copy(PD_VOWEL, folder / "IMG_0001.wav")  # the name says no task
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: ignored

    code, out, err = run([str(folder), "--patient", "SYN-B1", "--date", "2024-02-03", "--clinician", "therapist"])
    assert code == batch.EXIT_FAILED, out
    assert out.splitlines()[0] == "Imported 2, skipped 0 (already imported), failed 3; 1 visit created."
    assert "tap_L.mp4: Supported formats" not in out and "tap_L.mp4: tap_L.mp4 is not a supported audio or video" in out
    assert "tremor_R.mp4: The clip is 1.2 s; rest tremor needs at least 5 s" in out
    assert "IMG_0001.wav: the file name does not say which task" in out
    assert "[" in err and "5/5" in err  # progress bar on stderr
    assert counts(sessions) == {"recordings": 2, "visits": 1}
    assert len(stored_clips(settings().data_dir)) == 2  # nothing stored for the failures
    with transaction(sessions) as s:
        recs = s.scalars(select(Recording).order_by(Recording.id)).all()
        assert {(r.task, r.side, r.source, r.original_name) for r in recs} == {
            ("vowel", None, "import", "vowel.wav"), ("vowel", None, "import", "Vowel 2.WAV")}
        therapist = s.scalar(select(Clinician).where(Clinician.username == "therapist"))
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.clinician_id == therapist.id)).all()
        assert actions.count("add_recording") == 2 and "create_visit" in actions

    # a re-run (another day's default date too) adds nothing: same content, same patient
    code, out, _ = run([str(folder), "--patient", "SYN-B1", "--clinician", "therapist"])
    assert code == batch.EXIT_FAILED
    assert out.splitlines()[0] == "Imported 0, skipped 2 (already imported), failed 3; 0 visits created."
    assert "vowel.wav: already imported for this patient (visit of 2024-02-03)" in out
    assert counts(sessions) == {"recordings": 2, "visits": 1}

    # only good files: exit 0
    good = tmp / "good"
    good.mkdir()
    shutil.copy(HC_VOWEL, good / "ah.wav")
    code, out, _ = run([str(good), "--patient", "SYN-B2", "--date", "2024-02-04", "--clinician", "therapist"])
    assert code == 0, out
    assert out.startswith("Imported 1, skipped 0 (already imported), failed 0; 1 visit created.")


@pytest.mark.slow
def test_manifest_import_creates_one_visit_per_patient_and_date(clinic):
    sessions, tmp = clinic
    clips = tmp / "export" / "clips"
    clips.mkdir(parents=True)
    shutil.copy(PD_VOWEL, clips / "a.wav")
    shutil.copy(HC_VOWEL, clips / "b.wav")
    manifest = tmp / "export" / "manifest.csv"
    manifest.write_text(
        "patient_mrn,visit_date,task,side,file\n"
        "SYN-B1,2024-03-01,vowel,,clips/a.wav\n"
        "SYN-B2,2024-03-01,vowel,,clips/b.wav\n"
        "SYN-B2,2024-03-01,finger_tapping,,clips/b.wav\n"  # sided task without a side
        "SYN-NOPE,2024-03-01,vowel,,clips/a.wav\n"  # unknown patient
        "SYN-B1,01/03/2024,vowel,,clips/a.wav\n"  # not an ISO date
        "SYN-B1,2024-03-02,vowel,,clips/missing.wav\n"
    )
    code, out, _ = run(["--manifest", str(manifest), "--clinician", "admin"])
    assert code == batch.EXIT_FAILED
    assert out.splitlines()[0] == "Imported 2, skipped 0 (already imported), failed 4; 2 visits created."
    assert "line 4: Finger tapping (3.4) needs the side (left or right)" in out
    assert "no patient with MRN SYN-NOPE" in out
    assert "line 6: '01/03/2024' is not a date" in out
    assert "clips/missing.wav: file not found." in out
    assert counts(sessions) == {"recordings": 2, "visits": 2}
    with transaction(sessions) as s:
        visits = s.scalars(select(Visit)).all()
        assert {v.visit_date for v in visits} == {date(2024, 3, 1)}
        assert all(v.medication_state == "unknown" for v in visits)

    code, out, _ = run(["--manifest", str(manifest), "--clinician", "admin"])
    assert out.splitlines()[0] == "Imported 0, skipped 2 (already imported), failed 4; 0 visits created."
    assert counts(sessions) == {"recordings": 2, "visits": 2}


def test_usage_errors_exit_2_and_import_nothing(clinic):
    sessions, tmp = clinic
    folder = tmp / "one"
    folder.mkdir()
    shutil.copy(PD_VOWEL, folder / "vowel.wav")
    code, _, err = run([str(folder), "--patient", "SYN-B1", "--clinician", "nobody"])
    assert code == batch.EXIT_USAGE and "No active clinician 'nobody'" in err
    code, _, err = run([str(folder), "--clinician", "admin"])
    assert code == batch.EXIT_USAGE and "--patient" in err
    bad = tmp / "bad.csv"
    bad.write_text("mrn,date,file\nSYN-B1,2024-01-01,x.wav\n")
    code, _, err = run(["--manifest", str(bad), "--clinician", "admin"])
    assert code == batch.EXIT_USAGE and "lacks the column(s) patient_mrn, visit_date, task, side" in err
    with pytest.raises(SystemExit):  # --clinician is required
        run([str(folder), "--patient", "SYN-B1"])
    assert counts(sessions) == {"recordings": 0, "visits": 0}


def test_the_import_first_sweeps_files_an_interrupted_analysis_left_without_rows(clinic, monkeypatch):
    """As the app at start (core/store/orphans.py): an old unreferenced clip and its cache go, a
    young one (another process may be analysing it) stays, the imported clip is kept. The upload
    copies of killed processes are looked for in a private temporary folder, never the shared /tmp."""
    import os
    import tempfile
    import time

    from core.store.files import store_recording_file

    sessions, tmp = clinic
    private_tmp = tmp / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    data_dir = tmp / "data"
    old_orphan, _ = store_recording_file(data_dir, b"a clip whose analysis was killed", ".wav")
    (data_dir / (old_orphan + ".landmarks.npz")).write_bytes(b"its cache")
    young_orphan, _ = store_recording_file(data_dir, b"a clip being analysed right now", ".wav")
    stale_upload = private_tmp / "pdlens-clip-killed"
    stale_upload.mkdir()
    (stale_upload / "upload.wav").write_bytes(b"an upload copy of a killed process")
    hours_ago = time.time() - 2 * 3600
    for path in (data_dir / old_orphan, data_dir / (old_orphan + ".landmarks.npz"), stale_upload):
        os.utime(path, (hours_ago, hours_ago))
    folder = tmp / "archive"
    folder.mkdir()
    shutil.copy(PD_VOWEL, folder / "vowel.wav")

    code, out, err = run([str(folder), "--patient", "SYN-B1", "--clinician", "therapist", "--workers", "0"])
    assert code == 0, out
    assert "Removed 3 files left without a database row by an interrupted analysis." in err
    assert not (data_dir / old_orphan).exists() and not (data_dir / (old_orphan + ".landmarks.npz")).exists()
    assert not stale_upload.exists()
    assert (data_dir / young_orphan).is_file()
    with transaction(sessions) as s:
        [stored] = s.scalars(select(Recording.stored_path)).all()
    assert (data_dir / stored).is_file()
    assert "vowel.wav" not in err  # counts only
