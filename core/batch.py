"""Batch import of a clinic's archive of recordings:

    python -m core.cli batch DIR --patient MRN [--date YYYY-MM-DD] --clinician USERNAME [--workers N] [--scheduler URL]
    python -m core.cli batch --manifest CSV --clinician USERNAME [--workers N] [--scheduler URL]

DIR mode takes every file in DIR (not hidden, not in sub-folders) for one patient and one visit
date (default today), the task and side guessed from each file name ("tap_L.mp4", "vowel.m4a").
Manifest mode reads a CSV with the columns patient_mrn, visit_date, task, side, file (paths
relative to the manifest's folder).

Each file is checked here first (readable, a supported format by its first bytes, long enough
for its task). A file whose content is already on any visit of that patient is skipped by its
content hash before any analysis, so re-running an import (after it was interrupted, killed or
finished) adds nothing twice and analyses only what is missing. A visit is created on demand,
one per patient and date.

The analyses run on a `dask.distributed` cluster (core.executor): by default a LocalCluster of
one worker process per core (`--workers N`; `--workers 0` analyses in this process, one clip
after the other), or an existing cluster with `--scheduler tcp://HOST:8786` (or the setting
PDLENS_DASK_SCHEDULER; the clips' bytes are sent to its workers, no shared filesystem needed).
Workers only analyse and explain; this process stores each clip under its content hash and
writes it in one transaction as its analysis completes (so SQLite keeps a single writer), or
writes nothing for it. A clip that cannot be analysed, or whose worker crashed, fails alone with
its reason; the others go on. stderr shows a progress bar with counts only (never file names).

Before importing, files that an analysis killed earlier left without database rows are swept
(core/store/orphans.py), as the app does when it opens a database.

Everything is audited as the given clinician. Exit status: 0 when nothing failed, 1 when some
file failed (the summary says which and why), 2 for a usage error (bad arguments, unknown
clinician, unreadable manifest).
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO

from core.capture import HEAD_BYTES, ClipOutcome, check_clip, check_upload, guess_task_and_side
from core.pipeline import UnusableInput
from core.store.files import file_sha256
from core.tasks import SIDES, TASKS
from core.words import plural

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_USAGE = 2
MANIFEST_COLUMNS = ("patient_mrn", "visit_date", "task", "side", "file")


class UsageError(ValueError):
    """Bad arguments or manifest: nothing is imported."""


@dataclass
class Job:
    path: Path
    name: str  # as shown in the summary (relative to DIR or the manifest)
    patient_mrn: str
    visit_date: date | None
    task: str | None
    side: str | None
    problem: str = ""  # known before import (a bad manifest row, a name that says no task)


@dataclass
class Summary:
    imported: list[ClipOutcome] = field(default_factory=list)
    skipped: list[ClipOutcome] = field(default_factory=list)
    failed: list[ClipOutcome] = field(default_factory=list)
    visits_created: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. a visit score that could not be updated
    # where the time went, in this process: checks before analysis, waiting for the analyses,
    # writing the results, scoring the visits
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed else 0

    def text(self) -> str:
        lines = [f"Imported {len(self.imported)}, skipped {len(self.skipped)} (already imported), "
                 f"failed {len(self.failed)}; {plural(self.visits_created, 'visit')} created."]
        for o in self.imported:
            if o.quality_ok is False:
                lines.append(f"  needs retake  {o.message}")
        for o in self.skipped:
            lines.append(f"  skipped       {o.message}")
        for o in self.failed:
            lines.append(f"  FAILED        {o.message}")
        lines += [f"  note          {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------- jobs from a folder or a manifest

def _parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise UsageError(f"{what}: '{value}' is not a date: use YYYY-MM-DD.") from None


def jobs_from_folder(folder: Path, patient_mrn: str, visit_date: date) -> list[Job]:
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder.")
    jobs = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        task, side = guess_task_and_side(path.name)
        problem = ""
        if task is None:
            problem = ("the file name does not say which task it is: rename it (e.g. vowel.wav, tap_L.mp4, "
                       "gait.mov) or import it with --manifest")
        elif TASKS[task].sided and side is None:
            problem = (f"the file name does not say which hand ({TASKS[task].label}): add _L or _R to the name "
                       "or import it with --manifest")
        jobs.append(Job(path, path.name, patient_mrn, visit_date, task, side, problem))
    return jobs


def jobs_from_manifest(manifest: Path) -> list[Job]:
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UsageError(f"{manifest.name} lacks the column(s) {', '.join(missing)}: "
                                 f"the manifest needs {', '.join(MANIFEST_COLUMNS)}.")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"The manifest {manifest} cannot be read: {exc}") from None
    jobs = []
    for line, row in enumerate(rows, start=2):
        name = (row.get("file") or "").strip()
        task = (row.get("task") or "").strip().lower() or None
        side = (row.get("side") or "").strip().lower() or None
        side = {"l": "left", "r": "right"}.get(side, side)
        problem, visit_date = "", None
        try:
            visit_date = _parse_date(row.get("visit_date") or "", f"line {line}")
        except UsageError as exc:
            problem = str(exc)
        if not name:
            problem = f"line {line}: no file given"
        elif task not in TASKS:
            problem = f"line {line}: unknown task '{task or ''}' (use one of {', '.join(TASKS)})"
        elif TASKS[task].sided and side not in SIDES:
            problem = f"line {line}: {TASKS[task].label} needs the side (left or right)"
        elif not (row.get("patient_mrn") or "").strip():
            problem = f"line {line}: no patient_mrn"
        path = Path(name)
        if not path.is_absolute():
            path = manifest.parent / path
        jobs.append(Job(path, name or f"(line {line})", (row.get("patient_mrn") or "").strip(), visit_date,
                        task, side if task in TASKS and TASKS[task].sided else None, problem))
    return jobs


# ---------------------------------------------------------------- import

def _progress(out: TextIO) -> Callable[[int, int], None]:
    tty = out.isatty()

    def show(done: int, total: int) -> None:
        """Counts only: file names often carry the patient's name, and stderr ends up in logs
        (the summary names only the files that need the user's attention)."""
        width = 30
        filled = int(width * done / total) if total else width
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if tty:
            out.write("\r" + line.ljust(100) + ("\n" if done == total else ""))
        else:
            out.write(line + "\n")
        out.flush()

    return show


@dataclass
class _Ready:
    """A job checked and ready to analyse: where its analysis goes once it comes back."""

    job: Job
    visit_id: int
    patient_id: int
    stored_name: str


def run_import(sessions, clinician_username: str, jobs: list[Job], data_dir: Path,
               progress: Callable[[int, int], None] | None = None, executor=None,
               workers: int | None = None, scheduler: str | None = None) -> Summary:
    """Import the jobs (see the module docstring). Raises UsageError for an unknown clinician.

    Every job is checked here first (readable, a supported format, not already imported for the
    patient by content hash, long enough for its task); the others are analysed through
    `executor` (core.executor), or one made from `workers`/`scheduler` (core.executor.make_executor;
    a single clip to analyse stays in this process), and each is written in its own transaction
    as its analysis completes."""
    import re

    from sqlalchemy import select

    from core.executor import ClipJob, SerialExecutor, expected_cost, make_executor
    from core.store import ValidationError, transaction
    from core.store import repository as repo
    from core.store.models import Clinician, Patient, Recording, Visit
    from core.visits import add_analysed_recording, score_visit

    with transaction(sessions) as s:
        clinician = s.scalar(select(Clinician).where(Clinician.username == clinician_username))
        if clinician is None or not clinician.active:
            raise UsageError(f"No active clinician '{clinician_username}': an administrator can create one in "
                             "the app (Administration page).")
        actor_id = clinician.id
    from core.store import PermissionDenied
    from core.visits import require_role

    try:
        require_role(sessions, actor_id, "record")
    except PermissionDenied as exc:
        raise UsageError(f"'{clinician_username}' may not import recordings: {exc}") from None

    summary = Summary()
    touched_visits: set[int] = set()
    done = 0
    total = len(jobs)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    def fail(job: Job, message: str) -> None:
        summary.failed.append(ClipOutcome(job.name, job.task, job.side, "failed", f"{job.name}: {message}"))
        tick()

    if progress:
        progress(0, total)
    t_start = time.perf_counter()
    ready: dict[int, _Ready] = {}
    clip_jobs: list[ClipJob] = []
    this_run: dict[tuple[int, str], str] = {}  # (patient, sha256) -> the job name sent this run
    for i, job in enumerate(jobs):
        if job.problem:
            fail(job, job.problem)
            continue
        try:
            if not job.path.is_file():
                raise UnusableInput("file not found.")
            with open(job.path, "rb") as fh:
                fmt = check_upload(job.name, job.path.stat().st_size, fh.read(HEAD_BYTES))
            sha256 = file_sha256(job.path)
            with transaction(sessions) as s:
                patient = s.scalar(select(Patient).where(Patient.mrn == job.patient_mrn))
                if patient is None:
                    raise UnusableInput(f"no patient with MRN {job.patient_mrn}: create the patient in the app first.")
                if patient.archived:
                    raise UnusableInput(f"the patient with MRN {job.patient_mrn} is archived: restore them first.")
                patient_id, height_cm = patient.id, patient.height_cm
                already = s.execute(select(Recording.id, Visit.visit_date).join(Visit, Recording.visit_id == Visit.id)
                                    .where(Visit.patient_id == patient.id, Recording.sha256 == sha256)).first()
            if already is not None:
                summary.skipped.append(ClipOutcome(
                    job.name, job.task, job.side, "duplicate",
                    f"{job.name}: already imported for this patient (visit of {already.visit_date.isoformat()}).",
                    already.id))
                tick()
                continue
            if (patient_id, sha256) in this_run:
                summary.skipped.append(ClipOutcome(
                    job.name, job.task, job.side, "duplicate",
                    f"{job.name}: the same file as {this_run[(patient_id, sha256)]} in this import: not imported twice."))
                tick()
                continue
            duration = check_clip(job.path, job.task)  # before a visit is created for it
            with transaction(sessions) as s:
                actor = s.get(Clinician, actor_id)
                visit = s.scalar(select(Visit).where(Visit.patient_id == patient_id, Visit.visit_date == job.visit_date)
                                 .order_by(Visit.id).limit(1))
                if visit is None:
                    visit = repo.create_visit(s, actor, patient_id, visit_date=job.visit_date,
                                              medication_state="unknown", notes="Created by batch import.")
                    summary.visits_created += 1
                visit_id = visit.id
        except UnusableInput as exc:
            fail(job, str(exc))
            continue
        except Exception as exc:  # a store refusal (e.g. a future date) fails this file only
            fail(job, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        this_run[(patient_id, sha256)] = job.name
        shown = Path(job.name).name
        stored_name = shown if re.fullmatch(r"\.[a-z0-9]{1,8}", Path(shown).suffix.lower()) else f"{shown}.{fmt}"
        ready[i] = _Ready(job, visit_id, patient_id, stored_name)
        clip_jobs.append(ClipJob(i, job.task, job.side if TASKS[job.task].sided else None,
                                 suffix=Path(stored_name).suffix.lower(), path=str(job.path.resolve()),
                                 height_m=height_cm / 100.0 if height_cm else None,
                                 cost=expected_cost(job.task, duration)))

    summary.timings_s["checks"] = time.perf_counter() - t_start
    writes = worker_time = 0.0
    t_analysis = time.perf_counter()
    own = None
    if executor is None:
        if len(clip_jobs) <= 1 and not scheduler or workers == 0 and not scheduler:
            executor = SerialExecutor()
        else:
            executor = own = make_executor(workers, scheduler)
    try:
        for analysis in executor.map_unordered(clip_jobs):
            r = ready.pop(analysis.key)
            job = r.job
            worker_time += sum(analysis.timings_s.values())
            t_write = time.perf_counter()
            try:
                outcome = add_analysed_recording(sessions, actor_id, r.visit_id, job.path, r.stored_name, job.task,
                                                 job.side, "import", data_dir, analysis, rescore=False)
            except (UnusableInput, ValidationError) as exc:
                fail(job, str(exc))
                continue
            except Exception as exc:
                if not isinstance(exc, RuntimeError):
                    log.exception("writing an imported clip failed")
                fail(job, str(exc) if isinstance(exc, RuntimeError) else
                     "the analysis failed unexpectedly; nothing was stored. Try again or report it.")
                continue
            finally:
                writes += time.perf_counter() - t_write
            summary.imported.append(ClipOutcome(job.name, job.task, job.side, "stored", f"{job.name}: {outcome.message}",
                                                outcome.recording_id, outcome.quality_ok))
            touched_visits.add(r.visit_id)
            tick()
    finally:
        if own is not None:
            own.close()
    summary.timings_s["analyses_and_writes"] = time.perf_counter() - t_analysis
    summary.timings_s["writes"] = writes
    summary.timings_s["analysis_in_workers"] = worker_time  # summed over clips (the workers' busy time)
    t_score = time.perf_counter()
    for visit_id in sorted(touched_visits):
        try:  # the clips are safely stored; the visit score can be recomputed on the Results page
            score_visit(sessions, actor_id, visit_id)
        except Exception as exc:
            log.exception("visit score after import failed")
            summary.notes.append(f"the visit score of visit {visit_id} was not updated ({type(exc).__name__}): "
                                 "recompute it on the visit's Results page.")
    summary.timings_s["visit_scores"] = time.perf_counter() - t_score
    return summary


def _sweep_orphans(sessions, data_dir: Path, stderr: TextIO) -> None:
    """What the app does when it opens a database (core/store/orphans.py): remove the files an
    analysis killed earlier left without rows (older than the sweep's grace period, so a clip
    another process is analysing right now stays). Never stops the import; counts only."""
    from core.store.orphans import sweep_orphan_files

    try:
        removed = len(sweep_orphan_files(sessions, data_dir).removed)
    except Exception:
        log.exception("the sweep of unreferenced recording files failed")
        return
    if removed:
        print(f"Removed {plural(removed, 'file')} left without a database row by an interrupted analysis.",
              file=stderr)


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m core.cli batch",
                                     description="Import a folder or a manifest of recordings into the clinic database.")
    parser.add_argument("folder", nargs="?", type=Path, help="folder of recordings of one patient (with --patient)")
    parser.add_argument("--patient", metavar="MRN", help="the patient's MRN (folder mode)")
    parser.add_argument("--date", metavar="YYYY-MM-DD", help="visit date (folder mode; default today)")
    parser.add_argument("--manifest", metavar="CSV", type=Path,
                        help="CSV with columns patient_mrn, visit_date, task, side, file")
    parser.add_argument("--clinician", metavar="USERNAME", required=True,
                        help="the clinician the import is audited as")
    parser.add_argument("--database-url", help="database URL (default: DATABASE_URL or the data dir's SQLite)")
    parser.add_argument("--workers", type=int, metavar="N", default=None,
                        help="analyse on a local Dask cluster of N worker processes (default: the number of cores; "
                             "0: in this process, one clip after the other)")
    parser.add_argument("--scheduler", metavar="URL",
                        help="send the analyses to an existing Dask cluster, e.g. tcp://HOST:8786 "
                             "(default: the setting PDLENS_DASK_SCHEDULER)")
    args = parser.parse_args(argv)

    from core.config import settings
    from core.store import open_store

    # Dask's scheduler and worker logs (connections, addresses) would bury the progress bar; its
    # warnings and errors still show. Set before distributed is imported, so workers inherit it.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    try:
        if args.manifest is not None:
            if args.folder is not None or args.patient:
                raise UsageError("Give either a folder with --patient, or --manifest, not both.")
            jobs = jobs_from_manifest(args.manifest)
        else:
            if args.folder is None or not args.patient:
                raise UsageError("Give a folder and --patient MRN, or --manifest CSV.")
            visit_date = _parse_date(args.date, "--date") if args.date else date.today()
            jobs = jobs_from_folder(args.folder, args.patient.strip(), visit_date)
        if not jobs:
            raise UsageError("No files to import.")
        if args.workers is not None and args.workers < 0:
            raise UsageError("--workers must be 0 (in this process) or more.")
        sessions = open_store(args.database_url or settings().database_url)
        _sweep_orphans(sessions, settings().data_dir, stderr)
        summary = run_import(sessions, args.clinician, jobs, settings().data_dir, progress=_progress(stderr),
                             workers=args.workers, scheduler=args.scheduler or settings().dask_scheduler)
    except UsageError as exc:
        print(f"error: {exc}", file=stderr)
        return EXIT_USAGE
    print(summary.text(), file=stdout)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
