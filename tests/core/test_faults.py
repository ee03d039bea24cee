"""Faults (issue 14): an analysis killed at any moment, processes starting and writing at once.

Every test runs real processes on a real SQLite file (and on PostgreSQL when DATABASE_URL_PG is
set: the `postgres` ones); the killed analysis is a real add_clip of a real movement clip
(MediaPipe on the hand photo of tests/fixtures), killed with SIGKILL."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.store import Assessment, Recording, close_store, open_store, repository, transaction
from core.store.models import MeasureValue as Measure
from core.store.orphans import sweep_orphan_files
from tests.core.conftest import synthetic_clinic

ROOT = Path(__file__).resolve().parents[2]
# These tests check the data dir's files. The sweep of upload copies in the shared temporary folder
# is left out: other runs on the same machine (these tests' own killed children, an hour ago) leave
# pdlens-clip-* folders there, which made the assertions depend on the machine.
DATA_DIR_ONLY = {"upload_temp_grace_s": float("inf")}
PG_URL = os.environ.get("DATABASE_URL_PG")

# The child: one add_clip of a movement clip. KILL_AT=flush makes it stop (sleep) with its rows
# flushed inside the open transaction, KILL_AT=commit just after the commit, so that the parent
# kills it exactly there; the other points are found by the parent from the files it writes.
CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from core.capture import add_clip
    from core.store import open_store
    from core.store.models import Assessment

    kill_at, marker = os.environ["KILL_AT"], Path(os.environ["MARKER"])

    def stop(what):
        marker.write_text(what)
        time.sleep(600)

    @event.listens_for(Session, "after_flush")
    def _after_flush(session, _context):
        if any(isinstance(o, Assessment) for o in session.new):
            session.info["assessed"] = True
            if kill_at == "flush":
                stop("flush")

    @event.listens_for(Session, "after_commit")
    def _after_commit(session):
        if kill_at == "commit" and session.info.get("assessed"):
            stop("commit")
    out = add_clip(open_store(os.environ["URL"]), int(os.environ["ACTOR"]), int(os.environ["VISIT"]),
                   Path(os.environ["CLIP"]), "tap_L.mp4", "finger_tapping", "left", "upload",
                   os.environ["DATA_DIR"], rescore=False)
    print(out.status, out.message)
""")


def _recording_files(data_dir: Path) -> list[Path]:
    root = data_dir / "recordings"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _assert_consistent(sessions, url: str) -> tuple[int, int]:
    """No recording without its assessment, no assessment or measure without its parent, the
    SQLite file intact. Returns (recordings, assessments)."""
    with transaction(sessions) as s:
        lonely = s.scalar(select(func.count()).select_from(Recording).outerjoin(
            Assessment, Assessment.recording_id == Recording.id).where(Assessment.id.is_(None)))
        orphan_assessments = s.scalar(select(func.count()).select_from(Assessment).outerjoin(
            Recording, Assessment.recording_id == Recording.id).where(
            Assessment.recording_id.is_not(None), Recording.id.is_(None)))
        orphan_measures = s.scalar(select(func.count()).select_from(Measure).outerjoin(
            Assessment, Measure.assessment_id == Assessment.id).where(Assessment.id.is_(None)))
        if url.startswith("sqlite"):
            assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert s.execute(text("PRAGMA foreign_key_check")).fetchall() == []
        counts = (s.scalar(select(func.count()).select_from(Recording)),
                  s.scalar(select(func.count()).select_from(Assessment)))
    assert (lonely, orphan_assessments, orphan_measures) == (0, 0, 0)
    return counts


def _kill_child(env: dict, kill_at: str, data_dir: Path, marker: Path, timeout_s: float = 240) -> None:
    """Start the child and SIGKILL it at `kill_at`: "analysis" (its clip is stored and MediaPipe
    runs), "cache" (the landmark cache is written: explanation and key frame are next),
    "flush" (rows sent, transaction open) or "commit" (just committed)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env={**env, "KILL_AT": kill_at},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            files = [p.name for p in _recording_files(data_dir) if p.parent.name != "tmp"]
            if kill_at == "analysis" and any(n.endswith(".mp4") for n in files):
                break
            if kill_at == "cache" and any(n.endswith(".landmarks.npz") for n in files):
                break
            if kill_at in ("flush", "commit") and marker.exists() and marker.read_text() == kill_at:
                break
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the child ended before {kill_at}: {out.decode()} {err.decode()[-2000:]}")
            time.sleep(0.02)
        else:
            pytest.fail(f"the child never reached {kill_at}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        marker.unlink(missing_ok=True)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_an_analysis_killed_at_any_moment_leaves_a_consistent_database_and_the_clip_can_be_added_again(
        tmp_path, monkeypatch):
    from core.capture import add_clip
    from core.synthetic.hand import frames_only, tapping_frames
    from core.synthetic.video import write_video

    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    data_dir = tmp_path / "data"
    sessions = open_store(url)
    actor, visit = synthetic_clinic(sessions)
    clip = write_video(tmp_path / "tap_L.mp4", frames_only(tapping_frames(seconds=4.5, rate_hz=2.7, start_closed=True)),
                       fps=30)
    marker = tmp_path / "marker"
    env = {**os.environ, "URL": url, "ACTOR": str(actor), "VISIT": str(visit), "CLIP": str(clip),
           "DATA_DIR": str(data_dir), "MARKER": str(marker), "PYTHONPATH": str(ROOT),
           "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba_cache"))}
    try:
        for kill_at in ("analysis", "cache", "flush"):
            _kill_child(env, kill_at, data_dir, marker)
            assert _assert_consistent(sessions, url) == (0, 0), kill_at  # all or nothing: nothing
        left = _recording_files(data_dir)
        assert any(p.name.endswith(".mp4") for p in left)  # the killed runs' clip, without a row
        # the next start: young files may belong to an analysis still running elsewhere
        assert sweep_orphan_files(sessions, data_dir, **DATA_DIR_ONLY).removed == []
        swept = sweep_orphan_files(sessions, data_dir, grace_s=0, **DATA_DIR_ONLY)
        assert sorted(swept.removed) == sorted(p.relative_to(data_dir).as_posix() for p in left)
        assert _recording_files(data_dir) == []

        out = add_clip(sessions, actor, visit, clip, "tap_L.mp4", "finger_tapping", "left", "upload", data_dir,
                       rescore=False)
        assert out.status == "stored", out.message
        assert _assert_consistent(sessions, url) == (1, 1)
        kept = _recording_files(data_dir)
        assert sweep_orphan_files(sessions, data_dir, grace_s=0, **DATA_DIR_ONLY).removed == []  # referenced: kept
        assert _recording_files(data_dir) == kept

        # killed just after its commit (another visit): the clip is there in full, nothing to sweep
        with transaction(sessions) as s:
            from core.store.models import Clinician, Visit

            other = repository.create_visit(s, s.get(Clinician, actor), s.get(Visit, visit).patient_id,
                                            visit_date=date(2024, 2, 5), medication_state="off").id
        _kill_child({**env, "VISIT": str(other)}, "commit", data_dir, marker)
        assert _assert_consistent(sessions, url) == (2, 2)
        assert sweep_orphan_files(sessions, data_dir, grace_s=0, **DATA_DIR_ONLY).removed == []
        again = add_clip(sessions, actor, other, clip, "tap_L.mp4", "finger_tapping", "left", "upload", data_dir,
                         rescore=False)
        assert again.status == "duplicate"
    finally:
        close_store(url)


def test_the_sweep_removes_only_unreferenced_files_inside_the_recordings_folder(store, tmp_path):
    sessions, admin_id, visit_id, data_dir = store
    from core.store.files import store_recording_file

    kept, _ = store_recording_file(data_dir, b"a clip with a row", ".wav")
    with transaction(sessions) as s:
        from core.store.models import Clinician

        repository.add_recording(s, s.get(Clinician, admin_id), visit_id, task="vowel", side=None, stored_path=kept, sha256="a" * 64,
                                 duration_s=3.0, format="wav", source="upload", original_name="v.wav",
                                 quality_ok=True, quality_json={}, status="analysed")
    side_file = data_dir / (kept + ".landmarks.npz")
    side_file.write_bytes(b"cache")
    orphan, _ = store_recording_file(data_dir, b"a clip without a row", ".mp4")
    orphan_cache = data_dir / (orphan + ".landmarks.npz")
    orphan_cache.write_bytes(b"cache")
    partial = data_dir / "recordings" / "tmp" / "x.part"
    partial.write_bytes(b"half")
    outside = data_dir / "secret_key"
    outside.write_text("not a recording")
    swept = sweep_orphan_files(sessions, data_dir, grace_s=0, **DATA_DIR_ONLY)
    assert sorted(swept.removed) == sorted([orphan, orphan + ".landmarks.npz", "recordings/tmp/x.part"])
    assert (data_dir / kept).is_file() and side_file.is_file() and outside.is_file()
    assert not (data_dir / orphan).exists() and not orphan_cache.exists() and not partial.exists()


def test_the_sweep_removes_temporary_clip_copies_of_dead_processes_only(store, tmp_path, monkeypatch):
    """The upload copies, analysis workers' clip bytes and decrypted clips (core/store/orphans.py
    TEMP_PREFIXES) that a killed process left, older than the grace period, in both places they are
    made. Both are private folders here (tempfile.tempdir, TMPDIR, open_recording's /dev/shm root),
    so the test never touches other runs' folders in the shared /tmp or /dev/shm."""
    import os
    import tempfile
    import time

    from core.store import files, orphans

    sessions, _, _, data_dir = store
    system_tmp, memory_tmp, elsewhere = tmp_path / "tmp", tmp_path / "shm", tmp_path / "elsewhere"
    for folder in (system_tmp, memory_tmp, elsewhere):
        folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    monkeypatch.setattr(files, "_private_tmp_root", lambda: str(memory_tmp))
    assert orphans.temp_roots() == [system_tmp, memory_tmp]
    hours_ago = time.time() - 2 * 3600

    def folder(root, name, old=True):
        path = root / name
        path.mkdir()
        (path / "clip.mp4").write_bytes(b"a patient's clip")
        if old:
            os.utime(path, (hours_ago, hours_ago))
        return path

    dead = [folder(system_tmp, "pdlens-clip-a1"), folder(system_tmp, "pdlens-clips-b2"),
            folder(system_tmp, "pdlens-analysis-c3"), folder(memory_tmp, "pdlens-clip-d4")]
    alive = [folder(system_tmp, "pdlens-clip-young", old=False), folder(memory_tmp, "pdlens-analysis-young", old=False)]
    others = [folder(system_tmp, "pdlens-demo-x"), folder(system_tmp, "someone-elses"), folder(memory_tmp, "pdlens-clipx")]
    target = folder(elsewhere, "not-ours")
    (system_tmp / "pdlens-clip-link").symlink_to(target, target_is_directory=True)
    os.utime(system_tmp / "pdlens-clip-link", (hours_ago, hours_ago), follow_symlinks=False)
    stray_file = system_tmp / "pdlens-clip-file"
    stray_file.write_bytes(b"not a folder")
    os.utime(stray_file, (hours_ago, hours_ago))

    assert sweep_orphan_files(sessions, data_dir, **DATA_DIR_ONLY).removed == []  # inf: left alone
    assert all(p.is_dir() for p in dead)
    swept = sweep_orphan_files(sessions, data_dir)
    assert sorted(swept.removed) == sorted(p.as_posix() for p in dead)
    assert not any(p.exists() for p in dead)
    assert all((p / "clip.mp4").is_file() for p in alive + others + [target])
    assert (system_tmp / "pdlens-clip-link").is_symlink() and stray_file.is_file()
    assert sweep_orphan_files(sessions, data_dir, now=time.time() + 2 * 3600).removed  # young ones, once old
    assert not any(p.exists() for p in alive) and (target / "clip.mp4").is_file()


def test_a_landmark_cache_is_never_left_half_written(tmp_path):
    """The cache is written beside its name and renamed: the final name holds a whole file or
    nothing, and no temporary file stays."""
    import numpy as np

    from core.movement.landmarks import HandSeries, load_series

    n = 5
    series = HandSeries(times=np.arange(n) / 30.0, landmarks=np.zeros((n, 21, 3)), world=np.zeros((n, 21, 3)),
                        side_probability=np.ones(n), hands_in_view=np.ones(n), image_size=(64, 48))
    path = series.save_series(tmp_path / "clip.mp4.landmarks.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4.landmarks.npz"]
    assert np.array_equal(load_series(path).times, series.times)


# ---------------------------------------------------------------- processes at once


def _open_and_count(url: str) -> int:
    from core.store import Clinician

    sessions = open_store(url)
    with transaction(sessions) as s:
        return s.scalar(select(func.count()).select_from(Clinician))


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="DATABASE_URL_PG is not set: start one with scripts/pg-test-server.sh start")
def test_processes_starting_at_once_on_an_empty_postgres_database_migrate_it_once():
    """The advisory lock of core.store.db: several processes opening the same empty PostgreSQL
    database at the same moment; each waits for the first one's migration."""
    from core.store import downgrade, make_engine
    from core.store.db import current_revision, head_revision

    engine = make_engine(PG_URL)
    try:
        downgrade(engine, "base")
    finally:
        engine.dispose()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        counts = pool.map(_open_and_count, [PG_URL] * 8)
    assert counts == [0] * 8
    assert current_revision(PG_URL) == head_revision()


WRITERS = 8
VISITS_EACH = 15


def _write_visits(args: tuple[str, int, int, int]) -> list[int]:
    """One writer process: VISITS_EACH visits and their notes, one short transaction each, all
    processes released at the same moment."""
    url, actor, patient, writer = args
    os.environ["PDLENS_BCRYPT_ROUNDS"] = "4"
    sessions = open_store(url)
    ids = []
    for i in range(VISITS_EACH):
        with transaction(sessions) as s:
            from core.store.models import Clinician

            visit = repository.create_visit(s, s.get(Clinician, actor), patient, visit_date=date(2025, 1 + i % 12, 1 + writer),
                                            medication_state="on", notes=f"writer {writer} visit {i}")
            ids.append(visit.id)
    return ids


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_eight_writer_processes_at_once_lose_no_row(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    if backend == "postgres":
        if not PG_URL:
            pytest.skip("DATABASE_URL_PG is not set: start one with scripts/pg-test-server.sh start")
        from core.store import make_engine, migrate

        url = PG_URL
        engine = make_engine(url)
        migrate(engine)
        from tests.core.store.conftest import truncate_all_tables

        with engine.begin() as c:
            truncate_all_tables(c)
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path / 'busy.sqlite'}"
    sessions = open_store(url)
    try:
        with transaction(sessions) as s:
            admin = repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                                password="correct-horse-battery", role="admin")
            patient = repository.create_patient(s, admin, mrn="SYN-001", name="Synthetic Patient",
                                                birth_date=date(1950, 1, 1), sex="unknown", diagnosis="unknown",
                                                more_affected_side="unknown")
            actor, patient_id = admin.id, patient.id
        with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
            written = pool.map(_write_visits, [(url, actor, patient_id, w) for w in range(WRITERS)])
        ids = [i for chunk in written for i in chunk]
        assert len(ids) == len(set(ids)) == WRITERS * VISITS_EACH
        from core.store.models import Visit

        with transaction(sessions) as s:
            stored = set(s.scalars(select(Visit.id).where(Visit.patient_id == patient_id)))
            notes = set(s.scalars(select(Visit.notes).where(Visit.patient_id == patient_id)))
        assert stored == set(ids)
        assert notes == {f"writer {w} visit {i}" for w in range(WRITERS) for i in range(VISITS_EACH)}
    finally:
        close_store(url)
