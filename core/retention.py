"""What the clinic keeps and for how long.

- Retention (`apply_retention`, `python -m core.cli retention [--dry-run]`): with
  PDLENS_RETENTION_DAYS=N set, raw clips (and their side files: landmark cache, key frame)
  older than N days are deleted; the recording row stays, with `clip_removed_at` set, and so do
  its measures, scores and explanation. Pages then say "clip removed by the retention policy".
  A file shared by identical uploads (content-hash names) goes only when every row using it is
  due. Unset: everything is kept.
- Deleting a patient (`delete_patient`, administrators only): the patient's visits, recordings,
  assessments, measures and ratings and the recording files, leaving one audit row that holds
  the patient's id and counts only.

The database changes are committed before files are removed, and a later run removes the files
of rows already marked (so a crash between the two never leaves a clip the record calls gone).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.store import ValidationError, transaction
from core.store.files import delete_recording_file, resolve_recording_path, side_files
from core.store.models import (
    Assessment, AuditEvent, ClinicianRating, MeasureValue, Patient, Recording, Visit,
)

log = logging.getLogger(__name__)
RETENTION_ENV = "PDLENS_RETENTION_DAYS"


def retention_days() -> float | None:
    """PDLENS_RETENTION_DAYS as a number of days, None when unset (keep everything)."""
    value = os.environ.get(RETENTION_ENV, "").strip()
    if not value:
        return None
    try:
        days = float(value)
    except ValueError:
        raise ValueError(f"{RETENTION_ENV} must be a number of days (got {value!r}).") from None
    if not days > 0:
        raise ValueError(f"{RETENTION_ENV} must be a positive number of days (got {value!r}).")
    return days


@dataclass
class RetentionReport:
    days: float | None
    cutoff: datetime | None
    dry_run: bool
    recording_ids: list[int] = field(default_factory=list)  # rows marked (or, dry run, to mark)
    files: list[str] = field(default_factory=list)  # relative paths removed (or to remove)
    bytes: int = 0

    def summary(self) -> str:
        if self.days is None:
            return f"{RETENTION_ENV} is not set: every clip is kept."
        verb = "would remove" if self.dry_run else "removed"
        return (f"Retention {self.days:g} days (clips before {self.cutoff:%Y-%m-%d %H:%M} UTC): {verb} "
                f"{len(self.files)} files ({self.bytes / 1e6:.1f} MB) of {len(self.recording_ids)} recordings; "
                "measures, scores and explanations are kept.")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _files_of(data_dir: Path, relative: str) -> list[Path]:
    try:
        clip = resolve_recording_path(data_dir, relative)
    except ValueError:
        return []
    return ([clip] if clip.exists() else []) + side_files(clip)


def _remove_files(data_dir: Path, relatives: set[str]) -> None:
    for relative in sorted(relatives):
        for path in _files_of(data_dir, relative):
            try:
                if path.name == Path(relative).name:
                    delete_recording_file(data_dir, relative)
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                log.exception("a recording file could not be removed")


def apply_retention(sessions: sessionmaker[Session], data_dir: str | Path, days: float | None = None,
                    dry_run: bool = False, now: datetime | None = None) -> RetentionReport:
    """Delete raw clips recorded more than `days` (default: PDLENS_RETENTION_DAYS) ago. Dry run:
    report what would go, change nothing."""
    days = retention_days() if days is None else days
    if days is not None and not days > 0:
        raise ValueError("The retention period must be a positive number of days.")
    report = RetentionReport(days=days, cutoff=None, dry_run=dry_run)
    if days is None:
        return report
    data_dir = Path(data_dir)
    now = now or datetime.now(timezone.utc)
    report.cutoff = cutoff = now - timedelta(days=days)
    with transaction(sessions) as s:
        rows = s.execute(select(Recording.id, Recording.stored_path, Recording.created_at, Recording.clip_removed_at,
                                Visit.patient_id).join(Visit, Visit.id == Recording.visit_id)).all()
        by_path: dict[str, list] = {}
        for row in rows:
            by_path.setdefault(row.stored_path, []).append(row)
        due_rows, files = [], set()
        for relative, users in by_path.items():
            if all(r.clip_removed_at is not None or _aware(r.created_at) < cutoff for r in users):
                due_rows += [r for r in users if r.clip_removed_at is None]
                if _files_of(data_dir, relative):
                    files.add(relative)  # also a file left by an interrupted earlier run
        report.recording_ids = sorted(r.id for r in due_rows)
        report.files = sorted(files)
        report.bytes = sum(p.stat().st_size for rel in files for p in _files_of(data_dir, rel))
        if dry_run:
            s.rollback()
            return report
        for r in due_rows:
            s.get(Recording, r.id).clip_removed_at = now
            s.add(AuditEvent(clinician_id=None, action="clip_removed_retention", patient_id=r.patient_id,
                             detail=f"recording={r.id} days={days:g}"))
    _remove_files(data_dir, files)
    return report


def patient_id_for_mrn(sessions: sessionmaker[Session], mrn: str) -> int:
    """The id of the patient with this MRN (exact), or ValidationError."""
    with transaction(sessions) as s:
        patient_id = s.scalar(select(Patient.id).where(Patient.mrn == (mrn or "").strip()))
    if patient_id is None:
        raise ValidationError("No patient has this MRN: nothing was deleted.")
    return patient_id


def delete_patient(sessions: sessionmaker[Session], actor: Any, patient_id: int, data_dir: str | Path,
                   confirm_mrn: str | None = None) -> dict[str, int]:
    """Remove a patient and everything recorded of them (administrators only). `confirm_mrn`,
    when given, must be the patient's MRN (the page's confirmation). Returns the counts removed.
    One audit row stays: action patient_deleted, the patient's id and counts, no name or MRN."""
    from core.store.repository import _may

    data_dir = Path(data_dir)
    with transaction(sessions) as s:
        actor_id = actor if isinstance(actor, int) else getattr(actor, "id", None)
        from core.store.models import Clinician

        who = _may(s, s.get(Clinician, actor_id) if actor_id is not None else None, "delete_patient")
        patient = s.get(Patient, patient_id)
        if patient is None:
            raise ValidationError(f"No patient with id {patient_id}.")
        if confirm_mrn is not None and confirm_mrn.strip() != patient.mrn:
            raise ValidationError("The MRN typed does not match this patient's: nothing was deleted.")
        visit_ids = list(s.scalars(select(Visit.id).where(Visit.patient_id == patient_id)))
        recordings = s.execute(select(Recording.id, Recording.stored_path)
                               .where(Recording.visit_id.in_(visit_ids))).all()
        assessment_ids = list(s.scalars(select(Assessment.id).where(Assessment.visit_id.in_(visit_ids))))
        counts = {
            "visits": len(visit_ids), "recordings": len(recordings), "assessments": len(assessment_ids),
            "measures": s.scalar(select(func.count()).select_from(MeasureValue)
                                 .where(MeasureValue.assessment_id.in_(assessment_ids))) or 0,
            "ratings": s.scalar(select(func.count()).select_from(ClinicianRating)
                                .where(ClinicianRating.visit_id.in_(visit_ids))) or 0,
        }
        s.execute(delete(MeasureValue).where(MeasureValue.assessment_id.in_(assessment_ids)))
        s.execute(delete(Assessment).where(Assessment.id.in_(assessment_ids)))
        s.execute(delete(ClinicianRating).where(ClinicianRating.visit_id.in_(visit_ids)))
        s.execute(delete(Recording).where(Recording.visit_id.in_(visit_ids)))
        s.execute(delete(Visit).where(Visit.id.in_(visit_ids)))
        s.execute(delete(Patient).where(Patient.id == patient_id))
        paths = {r.stored_path for r in recordings}
        still_used = set(s.scalars(select(Recording.stored_path).where(Recording.stored_path.in_(paths)))) if paths else set()
        s.add(AuditEvent(clinician_id=who.id, action="patient_deleted", patient_id=patient_id,
                         detail=" ".join(f"{k}={v}" for k, v in counts.items())))
    _remove_files(data_dir, paths - still_used)  # identical content of another patient stays
    counts["files"] = len(paths - still_used)
    return counts


def main(argv: list[str] | None = None) -> int:
    """`python -m core.cli retention [--dry-run] [--days N]`: exit 0, or 2 with a reason."""
    import argparse
    import sys

    from core.config import settings
    from core.store import open_store

    parser = argparse.ArgumentParser(prog="python -m core.cli retention",
                                     description=f"delete raw clips older than {RETENTION_ENV} days")
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed, change nothing")
    parser.add_argument("--days", type=float, help=f"override {RETENTION_ENV}")
    parser.add_argument("--database-url", help="the clinic's database (default: DATABASE_URL)")
    parser.add_argument("--data-dir", help="the data dir (default: PDLENS_DATA_DIR)")
    args = parser.parse_args(argv)
    try:
        sessions = open_store(args.database_url or settings().database_url)
        report = apply_retention(sessions, Path(args.data_dir) if args.data_dir else settings().data_dir,
                                 days=args.days, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0
