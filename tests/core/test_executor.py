"""Batch analysis on a real dask.distributed LocalCluster with 2 worker processes (core.executor,
`python -m core.cli batch --workers N`): the same measures and scores as the serial run, a
restart after a killed run skips the clips already imported, a bad clip among good ones fails
alone with its reason, a worker that dies fails only the clip it was analysing, and the progress
on stderr never names a file. Real SQLite files, real MediaPipe, real public vowel recordings
(Iyer 2023) and a synthetic tapping clip built from the real hand photo; no patient data."""
from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from core import batch
from core.config import PROJECT_ROOT, settings
from core.store import Assessment, Clinician, Patient, Recording, Visit, close_store, open_store, repository, transaction
from tests.fixtures.movement.clips import frames_only, tapping_frames, write_video
from tests.fixtures.voice.synth import synthetic_vowel, write_audio

VOICE = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
VOWELS = sorted(VOICE.glob("*.wav"))  # 4 public recordings
# one of the published 8 kHz originals: its D2 measure came out in another 6th digit in a worker
# process (one BLAS thread) than in this one, until every analysis ran BLAS on one thread
ORIGINAL = next((PROJECT_ROOT / "models" / "datasets" / "voice" / "iyer2023_vowels_originals" / "HC_AH").glob("AH_121A_*.wav"))
N_GOOD = len(VOWELS) + 2  # the vowels, the original and the tapping clip


def _clinic(folder: Path) -> tuple[str, object]:
    url = f"sqlite:///{folder / 'clinic.sqlite'}"
    sessions = open_store(url)
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, username="admin", display_name="Synthetic Admin",
                                            password="correct-horse-battery", role="admin")
        repository.create_clinician(s, admin, username="therapist", display_name="Synthetic Therapist",
                                    password="correct-horse-battery", role="clinician")
        repository.create_patient(s, admin, mrn="SYN-X1", name="Synthetic X1", birth_date=date(1950, 1, 1),
                                  sex="unknown", diagnosis="unknown", more_affected_side="unknown")
    return url, sessions


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    monkeypatch.delenv("PDLENS_DASK_SCHEDULER", raising=False)
    settings.cache_clear()
    yield tmp_path
    settings.cache_clear()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """4 real vowels, a 6 s synthetic tapping clip, and a FLAC vowel cut off mid-file (its header
    declares 5 s: it passes the checks made before analysis and fails in the worker)."""
    folder = tmp_path_factory.mktemp("archive")
    for i, wav in enumerate(VOWELS + [ORIGINAL]):
        shutil.copy(wav, folder / f"vowel {i + 1}.wav")
    write_video(folder / "tap_L.mp4", frames_only(tapping_frames(6.0, seed=2)), fps=30)
    full = write_audio(tmp_path_factory.mktemp("src") / "v.flac", synthetic_vowel(seconds=5.0), 16000, kind="flac")
    data = full.read_bytes()
    (folder / "vowel cut.flac").write_bytes(data[:int(len(data) * 0.3)])
    return folder


def run_batch(url: str, folder: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = batch.main([str(folder), "--patient", "SYN-X1", "--date", "2024-05-06", "--clinician", "therapist",
                       "--database-url", url, *extra], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def stored_results(sessions) -> dict[str, tuple]:
    """original name -> (quality ok, probability, severity, abstention, {measure: value})."""
    with transaction(sessions) as s:
        out = {}
        for r in s.scalars(select(Recording)).all():
            [a] = s.scalars(select(Assessment).where(Assessment.recording_id == r.id)).all()
            out[r.original_name] = (r.quality_ok, a.probability, a.severity, a.abstained_reason,
                                    {m.name: m.value for m in a.measures})
        return out


@pytest.mark.slow
def test_two_workers_give_the_serial_results_and_a_bad_clip_fails_alone(env, archive):
    serial_url, serial = _clinic(env / "serial")
    parallel_url, parallel = _clinic(env / "parallel")
    (env / "serial").mkdir(exist_ok=True)
    try:
        code, out, err = run_batch(serial_url, archive, "--workers", "0")
        assert code == batch.EXIT_FAILED, out
        assert out.splitlines()[0] == f"Imported {N_GOOD}, skipped 0 (already imported), failed 1; 1 visit created."
        code, out, err = run_batch(parallel_url, archive, "--workers", "2")
        assert code == batch.EXIT_FAILED, out
        assert out.splitlines()[0] == f"Imported {N_GOOD}, skipped 0 (already imported), failed 1; 1 visit created."
        # the bad clip fails alone, with the pipeline's reason from the worker
        assert "FAILED        vowel cut.flac: The file is damaged and could not be decoded" in out
        assert f"{N_GOOD + 1}/{N_GOOD + 1}" in err
        for name in os.listdir(archive):  # counts only on stderr
            assert Path(name).stem not in err
        a, b = stored_results(serial), stored_results(parallel)
        assert set(a) == {f"vowel {i + 1}.wav" for i in range(len(VOWELS) + 1)} | {"tap_L.mp4"}
        assert a == b  # measures, scores, abstentions: identical
        assert len(a["tap_L.mp4"][4]) >= 5 and a["tap_L.mp4"][0]  # the tapping clip was measured
        # the side files came back from the workers: landmark cache and (when explained) the key frame
        with transaction(parallel) as s:
            tap = s.scalar(select(Recording).where(Recording.original_name == "tap_L.mp4"))
            stored = settings().data_dir / tap.stored_path
        assert Path(str(stored) + ".landmarks.npz").is_file()
    finally:
        close_store(serial_url)
        close_store(parallel_url)


@pytest.mark.slow
def test_a_killed_run_is_restarted_and_skips_the_clips_already_imported(env, archive):
    url, sessions = _clinic(env)
    names = [p.name for p in archive.iterdir()]
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "batch", str(archive), "--patient", "SYN-X1", "--date", "2024-05-06",
         "--clinician", "therapist", "--database-url", url, "--workers", "2"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PDLENS_DATA_DIR": str(env / "data")})
    err_lines = []
    deadline = time.monotonic() + 120
    try:
        for line in proc.stderr:  # "[###...] k/7": kill once 3 clips are done (the bad one among them or not)
            err_lines.append(line)
            if line.startswith("[") and int(line.split()[-1].split("/")[0]) >= 3:
                break
            assert time.monotonic() < deadline, "the batch made no progress"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the client and its cluster's worker processes
        proc.wait(timeout=30)
    stderr = "".join(err_lines)
    assert not any(Path(n).stem in stderr for n in names)  # no file name in the progress or the logs
    with transaction(sessions) as s:
        first = set(s.scalars(select(Recording.original_name)).all())
    assert 1 <= len(first) < N_GOOD  # killed part-way: some clips written, each in full

    code, out, _ = run_batch(url, archive, "--workers", "2")
    assert code == batch.EXIT_FAILED
    head = out.splitlines()[0]
    assert head == (f"Imported {N_GOOD - len(first)}, skipped {len(first)} (already imported), failed 1; "
                    "0 visits created.")
    with transaction(sessions) as s:
        names_now = s.scalars(select(Recording.original_name)).all()
    assert sorted(names_now) == sorted(set(names_now)) and len(names_now) == N_GOOD  # each clip once
    close_store(url)


@pytest.mark.slow
def test_a_worker_that_dies_fails_only_its_clip(tmp_path):
    """A worker process killed while it analyses a clip: that clip fails with its reason, the
    cluster's other worker (and the restarted one) analyse the rest."""
    from core.executor import WORKER_LOST_MESSAGE, ClipJob, DaskExecutor

    tap = write_video(tmp_path / "tap.mp4", frames_only(tapping_frames(8.0)), fps=30)
    jobs = [ClipJob("tap", "finger_tapping", "left", path=str(tap))] + [
        ClipJob(f"vowel{i}", "vowel", None, path=str(p)) for i, p in enumerate(VOWELS)]
    with DaskExecutor(workers=2, allowed_failures=0) as ex:
        ex.client.wait_for_workers(2, timeout=60)
        pids = ex.client.run(os.getpid)
        results = {}
        stream = ex.map_unordered(jobs)
        first = next(stream)  # submits everything; the first vowel is done while the tapping clip runs
        results[first.key] = first
        deadline = time.monotonic() + 60
        victim = None
        while victim is None:  # the worker that runs the tapping clip (the long one)
            key = ex.task_keys.get("tap")
            for address, keys in ex.client.processing().items():
                if key is not None and key in keys:
                    victim = address
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        os.kill(pids[victim], signal.SIGKILL)
        for analysis in stream:
            results[analysis.key] = analysis
    assert set(results) == {j.key for j in jobs}
    assert not results["tap"].ok and results["tap"].error == WORKER_LOST_MESSAGE
    assert all(results[f"vowel{i}"].ok for i in range(len(VOWELS))), {k: (r.ok, r.error) for k, r in results.items()}


@pytest.mark.slow
def test_an_upload_of_several_files_is_analysed_in_parallel_and_written_clip_by_clip(store, tmp_path):
    """core.capture.add_clips (the dashboard's multi-file upload) on a 2-worker LocalCluster: the
    same stored results as one file at a time through add_clip, a duplicate and a bad file refused
    with their reasons, the visit scored once."""
    from core.capture import ClipRequest, add_clip, add_clips
    from core.executor import DaskExecutor

    sessions, admin_id, visit_id, data_dir = store
    flac = write_audio(tmp_path / "v.flac", synthetic_vowel(seconds=5.0), 16000, kind="flac").read_bytes()
    requests = [ClipRequest(i, p.read_bytes(), f"vowel {i}.wav", "vowel", None) for i, p in enumerate(VOWELS[:3])]
    requests += [ClipRequest("again", VOWELS[0].read_bytes(), "vowel again.wav", "vowel", None),
                 ClipRequest("cut", flac[:len(flac) // 3], "cut.flac", "vowel", None),
                 ClipRequest("notask", b"RIFF", "x.wav", None, None)]
    with DaskExecutor(workers=2) as ex:
        outcomes = dict(add_clips(sessions, admin_id, visit_id, requests, "upload", data_dir, executor=ex))
    assert {k: o.status for k, o in outcomes.items()} == {0: "stored", 1: "stored", 2: "stored", "again": "duplicate",
                                                          "cut": "failed", "notask": "failed"}
    assert "could not be decoded" in outcomes["cut"].message and outcomes["cut"].message.startswith("cut.flac: ")
    with transaction(sessions) as s:
        fused = s.scalars(select(Assessment).where(Assessment.visit_id == visit_id,
                                                   Assessment.recording_id.is_(None))).all()
    assert len(fused) == 1  # scored once, at the end
    parallel = stored_results(sessions)

    # the same clips one by one, in this process, on another visit of the same store
    with transaction(sessions) as s:
        patient_id = s.get(Visit, visit_id).patient_id
        other = repository.create_visit(s, s.get(Clinician, admin_id), patient_id, visit_date=date(2024, 1, 6),
                                        medication_state="on").id
    for i, p in enumerate(VOWELS[:3]):
        assert add_clip(sessions, admin_id, other, p, f"vowel {i}.wav", "vowel", None, "upload", data_dir).status == "stored"
    with transaction(sessions) as s:
        serial = {}
        for r in s.scalars(select(Recording).where(Recording.visit_id == other)).all():
            [a] = s.scalars(select(Assessment).where(Assessment.recording_id == r.id)).all()
            serial[r.original_name] = (r.quality_ok, a.probability, a.severity, a.abstained_reason,
                                       {m.name: m.value for m in a.measures})
    assert serial == {n: v for n, v in parallel.items() if n in serial} and len(serial) == 3


@pytest.mark.slow
def test_an_existing_cluster_gets_the_clips_as_bytes_and_returns_the_side_files(env, archive, tmp_path):
    """`--scheduler URL` (an existing cluster, here one started on loopback): no shared filesystem
    is assumed, the clips travel as bytes and the landmark cache comes back as bytes."""
    from distributed import LocalCluster

    from core.executor import ClipJob, DaskExecutor

    url, sessions = _clinic(env)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster:
        with DaskExecutor(scheduler=cluster.scheduler_address) as ex:
            assert not ex.shared_filesystem
            tap = ClipJob("tap", "finger_tapping", "left", path=str(archive / "tap_L.mp4"))
            assert ex._portable(tap).data == (archive / "tap_L.mp4").read_bytes() and ex._portable(tap).path is None
        code, out, err = run_batch(url, archive, "--scheduler", cluster.scheduler_address)
    assert code == batch.EXIT_FAILED, out
    assert out.splitlines()[0] == f"Imported {N_GOOD}, skipped 0 (already imported), failed 1; 1 visit created."
    with transaction(sessions) as s:
        tap_rec = s.scalar(select(Recording).where(Recording.original_name == "tap_L.mp4"))
        stored = settings().data_dir / tap_rec.stored_path
    assert Path(str(stored) + ".landmarks.npz").stat().st_size > 1000  # the worker's cache, sent back
    close_store(url)


def test_a_role_that_may_not_record_imports_nothing_and_no_clip_is_analysed(env, tmp_path):
    """A reviewer (core.permissions) is refused before any file is read or sent to a worker."""
    from core.capture import ClipRequest, add_clips

    url, sessions = _clinic(env)
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        reviewer = repository.create_clinician(s, admin, username="reviewer", display_name="Synthetic Reviewer",
                                               password="correct-horse-battery", role="reviewer")
        reviewer_id = reviewer.id
        patient = s.scalar(select(Patient).where(Patient.mrn == "SYN-X1"))
        visit_id = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 5, 6), medication_state="on").id
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(VOWELS[0], folder / "vowel.wav")
    out, err = io.StringIO(), io.StringIO()
    code = batch.main([str(folder), "--patient", "SYN-X1", "--clinician", "reviewer", "--database-url", url,
                       "--workers", "0"], stdout=out, stderr=err)
    assert code == batch.EXIT_USAGE and "'reviewer' may not import recordings" in err.getvalue()

    class NoExecutor:  # nothing may reach an executor
        def map_unordered(self, jobs):
            raise AssertionError("a clip was sent for analysis")

    outcomes = dict(add_clips(sessions, reviewer_id, visit_id, [ClipRequest(1, VOWELS[0].read_bytes(), "v.wav", "vowel", None)],
                              "upload", env / "data", executor=NoExecutor()))
    assert outcomes[1].status == "failed" and outcomes[1].message.startswith("v.wav: ")
    with transaction(sessions) as s:
        assert s.scalars(select(Recording)).all() == []
    close_store(url)
