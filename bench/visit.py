"""Benchmark: the standard visit uploaded at once, analysed (explanations included) on 2 local Dask
worker processes, against the same clips added one by one in this process, same run.

The visit (85 s of clips; movement clips 640x480, 30 fps H.264):
  vowel           5 s, the first 5 s of a real public sustained /a/ (Iyer et al. 2023, tests/fixtures/voice)
  reading         20 s synthetic speech-like signal with pauses (tests/fixtures/voice/synth.speech_like)
  finger tapping  two 10 s clips, left and right: the real hand photo with its thumb warped
                  (core.synthetic.hand.tapping_frames; the right hand is the mirrored picture)
  rest tremor     two 10 s clips, left and right (core.synthetic.hand.shaking_frames, 5 Hz)
  gait            20 s of the synthetic walker composite (tests/fixtures/movement/walkers.py:
                  skimage astronaut head on a drawn body walking across and back)
Measured, each on a fresh SQLite clinic:
  serial    core.capture.add_clip for each clip, one after the other, in this (warm) process:
            what a multi-file upload did before the executor; the baseline
  parallel  core.capture.add_clips on a DaskExecutor of 2 worker processes (started and warmed
            before the timing: the dashboard keeps one per server process), from the first byte
            to the last clip written; the time each clip's result was written is kept
Figure: parallel wall time / clips' total duration (target <= 0.5), beside the serial one.
Per-task analysis times (serial run) show where the time goes.

    .venv/bin/python bench/visit.py [--short]     # --short: vowel, reading, one tapping and one tremor clip
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import wave
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba_cache"))
os.environ.setdefault("PDLENS_BCRYPT_ROUNDS", "4")

from bench.common import Figure, add_short_flag, write_result  # noqa: E402

FPS = 30
SIZE = (640, 480)
VOWEL = next((ROOT / "tests" / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


def _first_seconds_wav(src: Path, out: Path, seconds: float) -> Path:
    with wave.open(str(src), "rb") as r:
        params = r.getparams()
        frames = r.readframes(int(seconds * r.getframerate()))
    with wave.open(str(out), "wb") as w:
        w.setparams(params)
        w.writeframes(frames)
    return out


def _fit(frames, n: int, mirror: bool = False):
    """Exactly n frames of 640x480 (resized if needed; mirrored for the right hand)."""
    import cv2
    import numpy as np

    for i, rgb in enumerate(frames):
        if i >= n:
            return
        if (rgb.shape[1], rgb.shape[0]) != SIZE:
            rgb = cv2.resize(rgb, SIZE, interpolation=cv2.INTER_AREA)
        yield np.ascontiguousarray(rgb[:, ::-1]) if mirror else rgb


def build_visit(folder: Path, short: bool) -> list[tuple[Path, str, str | None, float]]:
    """(clip, task, side, seconds) of the standard visit (or its short subset)."""
    from core.synthetic.hand import shaking_frames, tapping_frames
    from tests.fixtures.movement.clips import frames_only, write_video
    from tests.fixtures.movement.walkers import WalkerScript, walking_frames
    from tests.fixtures.voice.synth import speech_like, write_audio

    clips = [(_first_seconds_wav(VOWEL, folder / "vowel.wav", 5.0), "vowel", None, 5.0)]
    segments = []
    while sum(s for _, s in segments) < 20.0:
        segments += [("speech", 2.2), ("pause", 0.6)]
    audio = speech_like(segments)[: 20 * 16000]
    clips.append((write_audio(folder / "reading.wav", audio, 16000, channels=1), "reading", None, 20.0))
    sides = ("left",) if short else ("left", "right")
    for side in sides:
        clips.append((write_video(folder / f"tap_{side}.mp4", _fit(frames_only(tapping_frames(10.0, seed=1)), 10 * FPS,
                                                                   mirror=side == "right"), fps=FPS),
                      "finger_tapping", side, 10.0))
    for side in sides:
        clips.append((write_video(folder / f"tremor_{side}.mp4", _fit(frames_only(shaking_frames(10.0)), 10 * FPS,
                                                                      mirror=side == "right"), fps=FPS),
                      "tremor", side, 10.0))
    if not short:
        clips.append((write_video(folder / "gait.mp4", _fit(walking_frames(WalkerScript(passes=3)), 20 * FPS),
                                  fps=FPS), "gait", None, 20.0))
    return clips


def fresh_clinic(url: str):
    from core.store import open_store, repository, transaction

    sessions = open_store(url)
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, username="admin", display_name="Bench Admin",
                                            password="correct-horse-battery", role="admin")
        patient = repository.create_patient(s, admin, mrn="BENCH-1", name="Synthetic Bench", birth_date=date(1950, 1, 1),
                                            sex="unknown", diagnosis="unknown", more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 1, 5), medication_state="on")
        return sessions, admin.id, visit.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_short_flag(parser)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from bench.batch import cpu_ceiling
    from core.capture import ClipRequest, add_clip, add_clips
    from core.executor import DaskExecutor, warm_worker

    load_before = os.getloadavg()[0]
    ceiling_before = cpu_ceiling()
    with tempfile.TemporaryDirectory(prefix="pdlens-bench-visit-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        (tmp / "clips").mkdir()
        clips = build_visit(tmp / "clips", args.short)
        build_s = time.perf_counter() - t0
        total = sum(c[3] for c in clips)

        # serial baseline, in a warm process (models and MediaPipe loaded, as a running server)
        warm_worker()
        sessions, admin, visit = fresh_clinic(f"sqlite:///{tmp / 'serial.sqlite'}")
        per_clip = []
        t0 = time.perf_counter()
        for path, task, side, seconds in clips:
            t = time.perf_counter()
            outcome = add_clip(sessions, admin, visit, io.BytesIO(path.read_bytes()), path.name, task, side, "upload",
                               tmp / "serial-data", size=path.stat().st_size)
            per_clip.append({"task": task, "side": side, "clip_s": seconds, "status": outcome.status,
                             "quality_ok": outcome.quality_ok, "seconds": round(time.perf_counter() - t, 3)})
        serial_s = time.perf_counter() - t0

        # parallel: the upload path (core.capture.add_clips) on a warm local cluster
        t0 = time.perf_counter()
        executor = DaskExecutor(workers=args.workers)
        executor.client.wait_for_workers(args.workers, timeout=120)
        executor.client.run(warm_worker)  # the plugin warmed them already: returns at once
        startup_s = time.perf_counter() - t0
        try:
            sessions2, admin2, visit2 = fresh_clinic(f"sqlite:///{tmp / 'parallel.sqlite'}")
            requests = [ClipRequest(i, io.BytesIO(p.read_bytes()), p.name, task, side, p.stat().st_size)
                        for i, (p, task, side, _) in enumerate(clips)]
            done_at = {}
            t0 = time.perf_counter()
            statuses = {}
            for key, outcome in add_clips(sessions2, admin2, visit2, requests, "upload", tmp / "parallel-data",
                                          executor=executor):
                done_at[key] = round(time.perf_counter() - t0, 3)
                statuses[key] = outcome.status
            parallel_s = time.perf_counter() - t0
        finally:
            executor.close()

    ceiling_after = cpu_ceiling()
    stored = sum(s == "stored" for s in statuses.values())
    by_task: dict[str, float] = {}
    for c in per_clip:
        by_task[c["task"]] = round(by_task.get(c["task"], 0.0) + c["seconds"], 3)
    longest = max(per_clip, key=lambda c: c["seconds"])
    value, base = parallel_s / total, serial_s / total
    figure = Figure(f"standard visit{' (short subset)' if args.short else ''}: analysis on {args.workers} workers / "
                    "clips' duration", round(value, 3), "x", baseline="the same clips one by one in one process",
                    baseline_value=round(base, 3), target="<= 0.5", met=value <= 0.5)
    data = {
        "clips": [{"task": t, "side": s, "seconds": d} for _, t, s, d in clips],
        "clips_total_s": total,
        "build_clips_s": round(build_s, 2),
        "serial_s": round(serial_s, 2),
        "parallel_s": round(parallel_s, 2),
        "speed_up": round(serial_s / parallel_s, 2),
        "cluster_start_and_warm_s": round(startup_s, 2),
        "workers": args.workers,
        "serial_per_clip": per_clip,
        "serial_seconds_by_task": by_task,
        "parallel_result_written_at_s": {f"{clips[k][1]}{'_' + clips[k][2] if clips[k][2] else ''}": v
                                         for k, v in sorted(done_at.items(), key=lambda kv: kv[1])},
        "parallel_stored": stored,
        "note": ("With 2 workers the wall time cannot fall below the longest clip's analysis "
                 f"({longest['task']}, {longest['seconds']:.1f} s here) nor below half the serial sum."),
        "load_average_before": load_before,
        # the most 2 processes could gain on this machine during the run (pure CPU loop)
        "cpu_two_process_speed_up": {"before": ceiling_before, "after": ceiling_after},
    }
    path = write_result("visit", data, [figure], short=args.short)
    print(f"visit: {total:.0f} s of clips; serial {serial_s:.1f} s ({base:.2f}x duration), "
          f"{args.workers} workers {parallel_s:.1f} s ({value:.2f}x); by task {by_task}; CPU loop in 2 processes "
          f"{ceiling_before['two_process_speed_up']}x before, {ceiling_after['two_process_speed_up']}x after -> {path}")


if __name__ == "__main__":
    main()
