"""Command-line export for research and scheduled jobs: the same content as the Reports page
(current scores and the clips that count only), as CSV, Parquet or FHIR R4.

    python -m core.cli export --format csv|parquet|fhir [--patient MRN] [--deidentified]
                              [--database-url URL] [--clinician USERNAME] OUT

FHIR: with --patient, OUT is one Bundle (JSON); for the whole clinic, OUT is NDJSON with one
Bundle per patient per line (the FHIR bulk-data layout). --deidentified writes pseudonyms
(stable across exports when PDLENS_PSEUDONYM_SALT is set), ages and visit numbers, no MRN,
name or dates of birth. Every export is audited (kind and scope, no names), as the clinician
given or as "command line". OUT is written to a temporary file next to it and renamed at the
end, so a failed export never leaves half a file. Exit status 0, or 2 with a one-line reason.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.cli export", description=__doc__.split("\n\n")[0])
    p.add_argument("--format", required=True, choices=["csv", "parquet", "fhir"])
    p.add_argument("--patient", metavar="MRN", help="one patient (default: the whole clinic)")
    p.add_argument("--deidentified", action="store_true", help="pseudonyms instead of MRN, name and birth date")
    p.add_argument("--database-url", metavar="URL", help="default: the clinic database of the settings")
    p.add_argument("--clinician", metavar="USERNAME", help="audit the export as this clinician")
    p.add_argument("out", metavar="OUT", help="file to write")
    return p


def run_export(sessions, fmt: str, out: Path, *, patient_mrn: str | None = None, deidentified: bool = False,
               clinician_username: str | None = None) -> int:
    """Write the export; returns the rows (CSV/Parquet) or bundles (FHIR) written. Raises
    ValueError with a one-line reason (unknown patient or clinician)."""
    from sqlalchemy import select

    from core.reports import audit_export, export_chunks, export_salt, fhir_bundle, fhir_json, write_csv, write_parquet
    from core.store import transaction
    from core.store.models import Clinician, Patient

    out = Path(out)
    if not out.parent.exists():
        raise ValueError(f"The folder {out.parent} does not exist.")
    with transaction(sessions) as s:
        actor = None
        if clinician_username:
            actor = s.scalar(select(Clinician).where(Clinician.username == clinician_username.strip().lower()))
            if actor is None or not actor.active:
                raise ValueError(f"No active clinician '{clinician_username}'.")
            from core.reports import check_export
            from core.store import PermissionDenied

            try:
                check_export(s, actor, identified=not deidentified)
            except PermissionDenied as refused:
                raise ValueError(str(refused)) from None
        ids = None
        if patient_mrn is not None:
            patient_id = s.scalar(select(Patient.id).where(Patient.mrn_lower == patient_mrn.strip().lower()))
            if patient_id is None:
                raise ValueError("No patient with this MRN.")
            ids = [patient_id]
        fd, tmp = tempfile.mkstemp(prefix=".export-", dir=out.parent)
        os.close(fd)
        try:
            if fmt == "csv":
                with open(tmp, "w", encoding="utf-8", newline="") as fh:
                    count = write_csv(export_chunks(s, ids, deidentified=deidentified,
                                                    salt=export_salt() if deidentified else None), fh, deidentified)
            elif fmt == "parquet":
                count = write_parquet(export_chunks(s, ids, deidentified=deidentified,
                                                    salt=export_salt() if deidentified else None), tmp, deidentified)
            else:
                count = _write_fhir(s, ids, tmp, deidentified, fhir_bundle, fhir_json)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        scope = "patient" if ids else "clinic"
        audit_export(s, actor, fmt, ids[0] if ids else None,
                     f"scope={scope} deidentified={'yes' if deidentified else 'no'} via=cli")
    return count


def _write_fhir(s, ids: list[int] | None, path: str, deidentified: bool, fhir_bundle, fhir_json) -> int:
    from sqlalchemy import select

    from core.store.models import Patient

    with open(path, "w", encoding="utf-8") as fh:
        if ids:
            fh.write(fhir_json(s, ids[0], include_identity=not deidentified))
            return 1
        count = 0
        for patient_id in s.scalars(select(Patient.id).order_by(Patient.id)):
            fh.write(json.dumps(fhir_bundle(s, patient_id, include_identity=not deidentified),
                                separators=(",", ":")) + "\n")
            count += 1
        return count


def main(argv: list[str], stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    from core.config import settings
    from core.store import close_store, open_store

    url = args.database_url or settings().database_url
    sessions = open_store(url)
    try:
        count = run_export(sessions, args.format, Path(args.out), patient_mrn=args.patient,
                           deidentified=args.deidentified, clinician_username=args.clinician)
    except ValueError as exc:
        print(f"export failed: {exc}", file=stderr)
        return EXIT_USAGE
    finally:
        close_store(url)
    what = "bundle" if args.format == "fhir" else "row"
    print(f"Wrote {count} {what}{'' if count == 1 else 's'} ({args.format}).", file=stdout)
    return 0
