"""Bad input through the path every upload, recording and import takes (core.capture.add_clip),
on a real SQLite clinic: odd file names store the clip under its content hash inside the data
dir (nothing written outside it); bad content gets a one-line reason and writes no row and no
file; the same file twice is refused once. Also a batch import of odd names. Real public vowel
recording (Iyer 2023) and generated bad files; synthetic patient."""
from __future__ import annotations

import io
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from core.capture import add_clip
from core.store import Patient, Recording, repository, transaction
from tests.fixtures.movement.clips import HAND_PHOTO, frames_only, tapping_frames, write_video
from tests.security.conftest import VOWEL, actor, row_counts

STORED = re.compile(r"^recordings/[0-9a-f]{2}/[0-9a-f]{64}(\.[a-z0-9]{1,8})?$")

ODD_NAMES = [  # valid content, names a browser or a clinic archive may send
    "../../x.wav",
    "..\\..\\evil vowel.wav",
    "/etc/passwd vowel.wav",
    "vo\x00wel\x1b[31m\r\n.wav",
    "Ünïcödé 声音 vowel " + "long " * 60 + ".wav",
    "vowel",  # no extension
    "vowel.mp4",  # wrong extension
]


def _files_outside(root: Path, before: set[Path]) -> set[Path]:
    return {p for p in root.rglob("*")} - before


def _bad_files(tmp: Path) -> dict[str, bytes]:
    video = write_video(tmp / "tap.mp4", frames_only(tapping_frames(seconds=2.0)))
    return {
        "empty vowel.wav": b"",
        "notes vowel.wav": b"synthetic text, not audio\n" * 50,
        "photo tap_L.mp4": HAND_PHOTO.read_bytes(),
        "truncated tap_L.mp4": video.read_bytes()[: video.stat().st_size // 3],
        "riff header only vowel.wav": VOWEL.read_bytes()[:44],
    }


@pytest.mark.slow  # analyses the real vowel once per odd name
def test_odd_names_are_stored_by_content_hash_inside_the_data_dir(clinic, tmp_path):
    outside_root = tmp_path.parent
    before = set(outside_root.rglob("*"))
    with transaction(clinic.sessions()) as s:
        admin_id = actor(s).id
    # one visit per name (the same content twice on one visit is a duplicate)
    visit_ids = []
    with transaction(clinic.sessions()) as s:
        for i, _ in enumerate(ODD_NAMES):
            visit_ids.append(repository.create_visit(s, actor(s), clinic.patient_id, visit_date=date(2024, 1, 1 + i),
                                                     medication_state="unknown").id)
    for name, visit_id in zip(ODD_NAMES, visit_ids):
        outcome = add_clip(clinic.sessions(), admin_id, visit_id, io.BytesIO(VOWEL.read_bytes()), name, "vowel", None,
                           "upload", clinic.data_dir, size=VOWEL.stat().st_size)
        assert outcome.status == "stored", (name, outcome.message)
    with transaction(clinic.sessions()) as s:
        paths = [r.stored_path for r in s.scalars(select(Recording))]
    assert len(paths) == len(ODD_NAMES)
    assert all(STORED.match(p) for p in paths), paths
    for path in paths:
        assert (clinic.data_dir / path).resolve().is_relative_to(clinic.data_dir.resolve())
    new = _files_outside(outside_root, before)
    assert all(p.resolve().is_relative_to(clinic.data_dir.resolve()) for p in new), \
        sorted(str(p) for p in new if not p.resolve().is_relative_to(clinic.data_dir.resolve()))
    assert not list((clinic.data_dir / "recordings" / "tmp").glob("*"))  # no half-written file left


def test_bad_content_is_refused_with_a_reason_and_writes_nothing(clinic, tmp_path):
    with transaction(clinic.sessions()) as s:
        admin_id = actor(s).id
    counts = row_counts(clinic.url)
    for name, data in _bad_files(tmp_path).items():
        task, side = ("finger_tapping", "left") if name.endswith(".mp4") else ("vowel", None)
        outcome = add_clip(clinic.sessions(), admin_id, clinic.visit_id, io.BytesIO(data), name, task, side,
                           "upload", clinic.data_dir, size=len(data))
        assert outcome.status == "failed", (name, outcome.message)
        message = outcome.message
        assert "\n" not in message and message.startswith(name) and len(message) < 300, message
        assert "Traceback" not in message and "unexpectedly" not in message, message
    huge = add_clip(clinic.sessions(), admin_id, clinic.visit_id, io.BytesIO(VOWEL.read_bytes()), "vowel.wav",
                    "vowel", None, "upload", clinic.data_dir, size=3 * 1024**3)
    assert huge.status == "failed" and "GB" in huge.message
    assert row_counts(clinic.url) == counts
    stored = clinic.data_dir / "recordings"
    assert not stored.exists() or not [p for p in stored.rglob("*") if p.is_file()]


@pytest.mark.slow  # analyses the real vowel
def test_the_same_file_twice_is_stored_once(clinic):
    with transaction(clinic.sessions()) as s:
        admin_id = actor(s).id
    first = add_clip(clinic.sessions(), admin_id, clinic.visit_id, VOWEL, "vowel.wav", "vowel", None, "upload",
                     clinic.data_dir)
    counts = row_counts(clinic.url)
    again = add_clip(clinic.sessions(), admin_id, clinic.visit_id, io.BytesIO(VOWEL.read_bytes()), "other name.wav",
                     "vowel", None, "upload", clinic.data_dir)
    assert (first.status, again.status) == ("stored", "duplicate")
    assert "already on this visit" in again.message
    assert row_counts(clinic.url) == counts


def test_batch_import_of_odd_and_bad_files_reports_each_and_writes_nothing(clinic, tmp_path):
    from core import batch

    folder = tmp_path / "archive"
    folder.mkdir()
    for name, data in _bad_files(tmp_path).items():
        (folder / name).write_bytes(data)
    (folder / "no task in this name.wav").write_bytes(b"synthetic")
    shutil.copy(VOWEL, folder / "vowel")  # no extension: the task is in the name, the content decides
    counts = row_counts(clinic.url)
    out, err = io.StringIO(), io.StringIO()
    with transaction(clinic.sessions()) as s:
        mrn = s.get(Patient, clinic.patient_id).mrn
    code = batch.main([str(folder), "--patient", mrn, "--date", "2024-02-03", "--clinician", "admin",
                       "--database-url", clinic.url], stdout=out, stderr=err)
    summary = out.getvalue()
    assert code == batch.EXIT_FAILED, summary + err.getvalue()
    assert summary.count("FAILED") == len(_bad_files(tmp_path)) + 1, summary
    assert "Traceback" not in summary + err.getvalue()
    after = row_counts(clinic.url)
    # only the valid clip (and its visit, assessment, measures, audit) was added
    assert after["recordings"] == counts["recordings"] + 1 and after["visits"] == counts["visits"] + 1
