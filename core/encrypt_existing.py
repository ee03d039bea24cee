"""Encrypt the recording files stored before the clinic set an encryption key:

    python -m core.cli encrypt-existing [--database-url URL] [--data-dir DIR] [--dry-run]

Once PDLENS_ENCRYPTION_KEY (or PDLENS_ENCRYPTION_KEY_FILE) is set, new clips and side files are
stored encrypted (core.store.files), but those stored earlier stay plaintext. This command
encrypts each of them in place with the same key (AES-256-GCM, core.store.files
.encrypt_file_in_place): one file at a time, through a temporary file in the same folder that is
renamed over the plaintext, so a crash or SIGKILL leaves every file either as it was or
encrypted, and running the command again finishes the job (a file already encrypted is skipped).
File names and the recordings' sha256 are those of the plaintext and do not change, so the
database is not touched, except for one audit row per run with counts only.

Set the key for the app first (it reads plaintext and encrypted files alike), then run this.
Backups made before stay plaintext: make a new one and destroy the old ones.

Exit status: 0 when every file is encrypted, 1 when some file could not be (the summary counts
them; the log says why, never a file name), 2 without a key or with a malformed one.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from core.store.files import KEY_ENV, KEY_FILE_ENV, encrypt_file_in_place, encryption_key, is_encrypted, stored_files
from core.words import plural

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_USAGE = 2


@dataclass
class EncryptReport:
    encrypted: int = 0  # (or would be, in a dry run)
    skipped: int = 0  # already encrypted
    failed: int = 0
    bytes: int = 0  # plaintext bytes encrypted (or to encrypt)
    dry_run: bool = False

    def summary(self) -> str:
        verb = "Would encrypt" if self.dry_run else "Encrypted"
        text = (f"{verb} {plural(self.encrypted, 'file')} ({self.bytes / 1e6:.1f} MB); "
                f"{plural(self.skipped, 'file')} already encrypted, skipped.")
        if self.failed:
            text += f" {plural(self.failed, 'file')} could not be encrypted (see the log); run again."
        return text


def encrypt_existing(sessions, data_dir: str | Path, key: bytes, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> EncryptReport:
    """Encrypt every plaintext file under data_dir/recordings in place (see the module
    docstring). A real run adds one audit row (action encrypt_existing, counts only)."""
    from core.store import transaction
    from core.store.models import AuditEvent

    report = EncryptReport(dry_run=dry_run)
    files = stored_files(data_dir)
    for done, path in enumerate(files, start=1):
        try:
            if dry_run:
                if is_encrypted(path):
                    report.skipped += 1
                else:
                    report.encrypted += 1
                    report.bytes += path.stat().st_size
            else:
                size = path.stat().st_size
                if encrypt_file_in_place(path, key):
                    report.encrypted += 1
                    report.bytes += size
                else:
                    report.skipped += 1
        except (OSError, ValueError) as exc:  # read-only, vanished, changed meanwhile: left as it was
            report.failed += 1
            log.warning("a recording file could not be encrypted: %s", type(exc).__name__)
        if progress:
            progress(done, len(files))
    if not dry_run:
        with transaction(sessions) as s:
            s.add(AuditEvent(clinician_id=None, action="encrypt_existing",
                             detail=f"encrypted={report.encrypted} skipped={report.skipped} failed={report.failed}"))
    return report


def _progress(out: TextIO) -> Callable[[int, int], None]:
    """Counts only (file names are content hashes, but logs stay free of them)."""
    tty = out.isatty()

    def show(done: int, total: int) -> None:
        line = f"{done}/{total} files"
        out.write(("\r" + line + ("\n" if done == total else "")) if tty else line + "\n")
        out.flush()

    return show


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    from core.config import settings
    from core.store import open_store

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m core.cli encrypt-existing",
                                     description="encrypt recording files stored before the encryption key was set")
    parser.add_argument("--database-url", help="the clinic's database, for the audit row (default: DATABASE_URL)")
    parser.add_argument("--data-dir", help="the data dir (default: PDLENS_DATA_DIR)")
    parser.add_argument("--dry-run", action="store_true", help="count what would be encrypted, change nothing")
    args = parser.parse_args(argv)
    try:
        key = encryption_key()
    except ValueError as exc:
        print(f"error: {exc}", file=stderr)
        return EXIT_USAGE
    if key is None:
        print(f"error: no encryption key: set {KEY_ENV} or {KEY_FILE_ENV} (the same key the app uses) first.",
              file=stderr)
        return EXIT_USAGE
    data_dir = Path(args.data_dir) if args.data_dir else settings().data_dir
    sessions = open_store(args.database_url or settings().database_url)
    report = encrypt_existing(sessions, data_dir, key, dry_run=args.dry_run, progress=_progress(stderr))
    print(report.summary(), file=stdout)
    return EXIT_FAILED if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
