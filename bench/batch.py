"""Benchmark: a batch import of 100 clips (core.batch.run_import, what `python -m core.cli batch
--manifest` runs) on 2 local Dask worker processes, on 1, and in this process, same run.

The 100 clips (a manifest over 3 synthetic patients, so no clip is a duplicate of another for its
patient): 94 real sustained vowels (the 40 published Iyer et al. 2023 phone recordings, 8 kHz
float, and the 4 resampled ones of tests/fixtures/voice, cycled), and 6 synthetic 6 s finger-
tapping clips (the real hand photo with its thumb warped, 640x480, 30 fps, each with another seed).
Each mode imports into a fresh SQLite clinic; its executor is started and warmed before the
timing (time reported apart: a long-lived cluster, or `--scheduler`, pays it once).
  serial     SerialExecutor (`--workers 0`): one clip after the other in this process
  1 worker   DaskExecutor, LocalCluster of 1 worker process
  2 workers  DaskExecutor, LocalCluster of 2 worker processes (1 thread each)
Figures: import time 1 worker / 2 workers (the speed-up, target >= 1.8x), and serial / 2 workers.
The stored measures and scores of the three runs are compared (must be identical).

    .venv/bin/python bench/batch.py [--short]    # --short: 12 clips (10 vowels, 2 tapping clips)
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba_cache"))
os.environ.setdefault("PDLENS_BCRYPT_ROUNDS", "4")

from bench.common import Figure, add_short_flag, write_result  # noqa: E402

PATIENTS = ("BENCH-1", "BENCH-2", "BENCH-3")


def _spin(_=None) -> float:
    t = time.perf_counter()
    x = 0
    for i in range(8_000_000):
        x += i * i % 7
    return time.perf_counter() - t


def cpu_ceiling() -> dict:
    """What a second process can gain on this machine right now: a pure-Python CPU loop alone,
    then two copies at once in two processes. 2.0x with two free cores; less when the cores are
    shared with other work (or are not independent)."""
    import multiprocessing as mp

    alone = _spin()
    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [0, 0])  # start-up out of the timing
        both = pool.map(_spin, [0, 1])
    return {"one_process_s": round(alone, 3), "two_processes_s": [round(b, 3) for b in both],
            "two_process_speed_up": round(2 * alone / max(both), 2)}


def build_manifest(folder: Path, n_voice: int, n_movement: int) -> Path:
    import shutil

    from core.config import DATASETS_DIR
    from tests.fixtures.movement.clips import frames_only, tapping_frames, write_video

    vowels = sorted((DATASETS_DIR / "voice" / "iyer2023_vowels_originals").glob("*/*.wav"))
    vowels += sorted((ROOT / "tests" / "fixtures" / "voice").glob("*.wav"))
    rows = []
    for i in range(n_voice):  # file names say nothing: clip numbers only
        src = vowels[i % len(vowels)]
        dst = folder / f"v{i:03d}.wav"
        shutil.copy(src, dst)
        rows.append((PATIENTS[i // len(vowels)], "vowel", "", dst.name))
    for i in range(n_movement):
        dst = write_video(folder / f"m{i:03d}.mp4", frames_only(tapping_frames(6.0, seed=10 + i)), fps=30)
        rows.append((PATIENTS[i % len(PATIENTS)], "finger_tapping", "left", dst.name))
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["patient_mrn", "visit_date", "task", "side", "file"])
        for mrn, task, side, name in rows:
            w.writerow([mrn, "2024-02-01", task, side, name])
    return manifest


def fresh_clinic(url: str):
    from core.store import open_store, repository, transaction

    sessions = open_store(url)
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, username="admin", display_name="Bench Admin",
                                            password="correct-horse-battery", role="admin")
        for mrn in PATIENTS:
            repository.create_patient(s, admin, mrn=mrn, name=f"Synthetic {mrn}", birth_date=date(1950, 1, 1),
                                      sex="unknown", diagnosis="unknown", more_affected_side="unknown")
    return sessions


def stored(sessions) -> dict:
    from sqlalchemy import select

    from core.store import Assessment, Recording, transaction

    with transaction(sessions) as s:
        out = {}
        for r in s.scalars(select(Recording)).all():
            a = s.scalar(select(Assessment).where(Assessment.recording_id == r.id))
            out[(r.sha256, r.visit_id)] = (r.quality_ok, a.probability, a.severity,
                                           tuple(sorted((m.name, m.value) for m in a.measures)))
        return out


def run_mode(name: str, make, jobs, tmp: Path) -> dict:
    from core.batch import run_import

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    from core.executor import warm_worker

    executor = make()
    if hasattr(executor, "client"):
        executor.client.wait_for_workers(executor.cluster_workers, timeout=120)
        executor.client.run(warm_worker)  # the plugin warmed them: this only checks it is done
    startup = time.perf_counter() - t0
    try:
        sessions = fresh_clinic(f"sqlite:///{tmp / (name + '.sqlite')}")
        t0 = time.perf_counter()
        summary = run_import(sessions, "admin", jobs, tmp / f"{name}-data", executor=executor)
        elapsed = time.perf_counter() - t0
    finally:
        executor.close()
    return {"seconds": elapsed, "startup_s": startup, "load_average_before": load,
            "client_timings_s": {k: round(v, 2) for k, v in summary.timings_s.items()}, "imported": len(summary.imported),
            "failed": len(summary.failed), "skipped": len(summary.skipped), "results": stored(sessions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_short_flag(parser)
    args = parser.parse_args()
    n_voice, n_movement = (10, 2) if args.short else (94, 6)

    from core.batch import jobs_from_manifest
    from core.executor import DaskExecutor, SerialExecutor

    def dask(n):
        def make():
            ex = DaskExecutor(workers=n)
            ex.cluster_workers = n
            return ex
        return make

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pdlens-bench-batch-") as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        t0 = time.perf_counter()
        jobs = jobs_from_manifest(build_manifest(tmp / "clips", n_voice, n_movement))
        build_s = time.perf_counter() - t0
        # this process warm first (it is the serial executor, and the client of the others: it
        # checks, writes and scores the visits), then the modes one after the other
        from core.executor import warm_worker
        from models.fused import fuse  # noqa: F401

        warm_worker()
        ceiling_before = cpu_ceiling()
        runs = {"serial": run_mode("serial", SerialExecutor, jobs, tmp),
                "1 worker": run_mode("w1", dask(1), jobs, tmp),
                "2 workers": run_mode("w2", dask(2), jobs, tmp)}
        ceiling_after = cpu_ceiling()
    identical = runs["serial"]["results"] == runs["1 worker"]["results"] == runs["2 workers"]["results"]
    differences = []
    for mode in ("1 worker", "2 workers"):
        a, b = runs["serial"]["results"], runs[mode]["results"]
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                x, y = a.get(key), b.get(key)
                what = "missing" if x is None or y is None else [
                    n for n, u, v in zip(("quality_ok", "probability", "severity", "measures"), x, y) if u != v]
                if what != "missing" and "measures" in what:
                    what.append({m: (u, v) for (m, u), (_, v) in zip(x[3], y[3]) if u != v})
                differences.append({"mode": mode, "clip": key[0][:8], "differs": what})
    t2, t1, ts = (runs[k]["seconds"] for k in ("2 workers", "1 worker", "serial"))
    speed_up = t1 / t2
    label = f"batch of {len(jobs)} clips{' (short)' if args.short else ''}"
    figures = [
        # the baselines are wall times (s) and the figures speed-ups (x): the times go in the text
        Figure(f"{label}: speed-up on 2 local workers vs 1", round(speed_up, 2), "x",
               baseline=f"1 local worker, same clips, same run ({t1:.1f} s; 2 workers {t2:.1f} s)",
               ratio=round(speed_up, 2), target=">= 1.8x", met=speed_up >= 1.8),
        Figure(f"{label}: 2 local workers vs serial in-process", round(ts / t2, 2), "x",
               baseline=f"serial in-process, same clips, same run ({ts:.1f} s)", ratio=round(ts / t2, 2)),
    ]
    cores = os.cpu_count()
    data = {
        "clips": {"voice": n_voice, "movement": n_movement,
                  "voice_source": "real Iyer 2023 sustained vowels (40 originals + 4 resampled), cycled",
                  "movement_source": "synthetic 6 s finger tapping, real hand photo warped, 640x480 30 fps"},
        "build_clips_s": round(build_s, 2),
        "runs": {k: {kk: (round(vv, 2) if isinstance(vv, float) else vv) for kk, vv in v.items() if kk != "results"}
                 for k, v in runs.items()},
        "per_clip_s": {k: round(v["seconds"] / len(jobs), 3) for k, v in runs.items()},
        # the analyses' own time per clip (measured inside each worker): it grows when both workers
        # run if the cores are shared with other work; busy = that time / (wall time x workers)
        "analysis_per_clip_s": {k: round(v["client_timings_s"].get("analysis_in_workers", 0.0) / len(jobs), 3)
                                for k, v in runs.items()},
        "workers_busy_fraction": {k: round(v["client_timings_s"].get("analysis_in_workers", 0.0)
                                           / (v["seconds"] * n), 2)
                                  for k, n in (("serial", 1), ("1 worker", 1), ("2 workers", 2))
                                  for v in [runs[k]]},
        "results_identical": identical,
        # the most 2 processes could gain on this machine during the run (pure CPU loop)
        "cpu_two_process_speed_up": {"before": ceiling_before, "after": ceiling_after},
        "differences": differences[:10],
        "cores": cores,
        "why": (f"{cores} cores, shared with whatever else runs (load average before each run in runs): 2 workers "
                "can at best halve the time. When the workers are busy nearly all the wall time but each clip's "
                "analysis takes longer with two of them running, the cores were not free: the client's own work "
                "(checks, hashing, one transaction per clip), the scheduler and any other process share them."),
        "load_average_before": load_before,
    }
    path = write_result("batch", data, figures, short=args.short)
    print(f"batch {len(jobs)} clips: 2 workers {t2:.1f} s, 1 worker {t1:.1f} s, serial {ts:.1f} s; "
          f"speed-up 2 vs 1 {speed_up:.2f}x (a CPU loop in 2 processes: {ceiling_before['two_process_speed_up']}x "
          f"before, {ceiling_after['two_process_speed_up']}x after); identical {identical} -> {path}")


if __name__ == "__main__":
    main()
