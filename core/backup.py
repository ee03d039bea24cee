"""Backup and restore of the clinic: the database and the recordings folder, in one folder.

    python -m core.cli backup  [--database-url URL] [--data-dir DIR] DEST
    python -m core.cli restore [--database-url URL] [--data-dir DIR] SRC [--force]

DEST holds:
- database.sqlite (SQLite: the online backup API, a consistent copy while the app runs and
  writes) or database.pgdump (PostgreSQL: pg_dump custom format, one snapshot);
- recordings/: the stored clips and side files, copied as they are (still encrypted when
  encryption at rest is on: keep the key apart from the backup, it is not in it);
- manifest.json: format, pdlens schema revision, backend, time, row counts per table, and the
  size and sha256 of every file, which restore checks before it changes anything.

Restore refuses a clinic database that already has clinicians or patients unless --force, and
then replaces it (and removes recording files that are not in the backup). Exit 0 on success,
2 with a one-line reason on stderr otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from core.store.files import file_sha256

FORMAT = "pdlens-backup-1"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
RECORDINGS = "recordings"
EXIT_FAILED = 2


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with a one-line reason."""


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(parsed.database).expanduser()


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password (kept out of the process list: PGPASSWORD instead)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise BackupError(f"Unsupported database backend {parsed.get_backend_name()!r}: SQLite or PostgreSQL.")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client); it is needed for PostgreSQL.")
    return found


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{Path(args[0]).name} failed: {last}")


def table_counts(url: str) -> dict[str, int]:
    from core.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            tables = sorted(t for t in inspect(c).get_table_names() if t != "alembic_version")
            return {t: int(c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()) for t in tables}
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    from core.store.db import current_revision, make_engine

    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _pg_dump(database_url: str, out: Path) -> tuple[dict[str, int], str | None]:
    """pg_dump of one snapshot, and the row counts and schema revision of that same snapshot:
    a REPEATABLE READ transaction exports its snapshot and pg_dump --snapshot reads it."""
    from core.store.db import make_engine

    uri, env = _libpq(database_url)
    tool = _tool("pg_dump")
    engine = make_engine(database_url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as c, c.begin():
            snapshot = c.execute(text("SELECT pg_export_snapshot()")).scalar()
            tables = sorted(t for t in inspect(c).get_table_names() if t != "alembic_version")
            counts = {t: int(c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()) for t in tables}
            revision = c.execute(text("SELECT version_num FROM alembic_version")).scalar()
            _run([tool, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--file={out}", f"--dbname={uri}"], env)
        return counts, revision
    finally:
        engine.dispose()


def _copy_recordings(source: Path, dest: Path) -> dict[str, dict]:
    files: dict[str, dict] = {}
    if not source.is_dir():
        return files
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if not path.is_file() or path.is_symlink() or rel.parts[0] == "tmp" or path.name.endswith(".part"):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(path, target)
        except FileNotFoundError:  # removed meanwhile (retention, a failed analysis)
            continue
        files[rel.as_posix()] = {"size": target.stat().st_size, "sha256": file_sha256(target)}
    return files


def backup(database_url: str, data_dir: str | Path, dest: str | Path) -> dict:
    """Write a backup folder at `dest` (which must not exist or be empty). Returns the manifest."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty folder: choose a new destination.")
    work = Path(tempfile.mkdtemp(prefix=".pdlens-backup-", dir=dest.parent if dest.parent.exists() else None))
    try:
        sqlite = _sqlite_path(database_url)
        if sqlite is not None:
            if not sqlite.is_file():
                raise BackupError(f"No database file at {sqlite}.")
            src = sqlite3.connect(f"file:{sqlite}?mode=ro", uri=True)
            dst = sqlite3.connect(work / SQLITE_FILE)
            try:
                with dst:
                    src.backup(dst)  # online backup: a consistent snapshot while others write
            finally:
                src.close()
                dst.close()
            database_file = SQLITE_FILE
            counts = table_counts(f"sqlite:///{work / SQLITE_FILE}")
            revision = _revision(f"sqlite:///{work / SQLITE_FILE}")
        else:
            counts, revision = _pg_dump(database_url, work / PG_FILE)
            database_file = PG_FILE
        files = _copy_recordings(Path(data_dir) / RECORDINGS, work / RECORDINGS)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "pdlens_version": _pdlens_version(),
            "versions": _versions(database_url, sqlite is not None),
            "schema_revision": revision,
            "backend": "sqlite" if sqlite is not None else "postgresql",
            "database_file": database_file,
            "database_sha256": file_sha256(work / database_file),
            "row_counts": counts,
            "recording_files": files,
            "encrypted_files": sum(1 for rel in files if _is_encrypted(work / RECORDINGS / rel)),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
        return manifest
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _is_encrypted(path: Path) -> bool:
    from core.store.files import is_encrypted

    return is_encrypted(path)


def _pdlens_version() -> str:
    try:
        from importlib.metadata import version

        return version("pdlens")
    except Exception:
        import core

        return str(getattr(core, "__version__", "unknown"))


def _versions(database_url: str, sqlite: bool) -> dict[str, str]:
    import platform

    import sqlalchemy

    found = {"python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__}
    if sqlite:
        found["sqlite"] = sqlite3.sqlite_version
    else:
        from core.store.db import make_engine

        engine = make_engine(database_url)
        try:
            with engine.connect() as c:
                found["postgresql"] = str(c.execute(text("SHOW server_version")).scalar())
        finally:
            engine.dispose()
        found["pg_dump"] = subprocess.run([_tool("pg_dump"), "--version"], capture_output=True,
                                          text=True).stdout.strip()
    return found


def read_manifest(src: str | Path) -> dict:
    src = Path(src)
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError):
        raise BackupError(f"{src} is not a pdlens backup (no readable {MANIFEST}).") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src} is a backup of another format ({manifest.get('format')!r}).")
    return manifest


def verify(src: str | Path) -> dict:
    """The manifest, after checking the database file and every recording file against it."""
    src = Path(src)
    manifest = read_manifest(src)
    db = src / manifest["database_file"]
    if not db.is_file() or file_sha256(db) != manifest["database_sha256"]:
        raise BackupError("The backup's database file is missing or damaged (sha256 differs from the manifest).")
    for rel, info in manifest["recording_files"].items():
        path = src / RECORDINGS / rel
        if not path.is_file() or file_sha256(path) != info["sha256"]:
            raise BackupError(f"A recording file of the backup is missing or damaged ({Path(rel).name}).")
    return manifest


def clinic_has_data(database_url: str) -> bool:
    """True when the database has clinicians or patients (a clinic in use)."""
    sqlite = _sqlite_path(database_url)
    if sqlite is not None and not sqlite.exists():
        return False
    from core.store.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            tables = set(inspect(c).get_table_names())
            return any(c.execute(text(f'SELECT 1 FROM "{t}" LIMIT 1')).first() is not None
                       for t in ("clinicians", "patients") if t in tables)
    finally:
        engine.dispose()


def restore(database_url: str, data_dir: str | Path, src: str | Path, force: bool = False) -> dict:
    """Restore a backup folder into the database and data dir. Returns the manifest."""
    from core.store.db import close_store

    manifest = verify(src)
    src = Path(src)
    sqlite = _sqlite_path(database_url)
    backend = "sqlite" if sqlite is not None else "postgresql"
    if backend != manifest["backend"]:
        raise BackupError(f"This backup is of a {manifest['backend']} database; the target is {backend}.")
    if clinic_has_data(database_url) and not force:
        raise BackupError("The target clinic database already has clinicians or patients: restore refuses to "
                          "overwrite it (pass --force to replace it with the backup).")
    close_store(database_url)
    if sqlite is not None:
        sqlite.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{src / SQLITE_FILE}?mode=ro", uri=True)
        target = sqlite3.connect(sqlite)
        try:
            with target:
                source.backup(target)  # replaces every page of the target, in one step
        finally:
            source.close()
            target.close()
    else:
        uri, env = _libpq(database_url)
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
              "--single-transaction", "--exit-on-error", f"--dbname={uri}", str(src / PG_FILE)], env)
    recordings = Path(data_dir) / RECORDINGS
    wanted = set(manifest["recording_files"])
    for rel in sorted(wanted):
        target = recordings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name("." + target.name + ".part")
        shutil.copy2(src / RECORDINGS / rel, tmp)
        os.replace(tmp, target)
    if recordings.is_dir():  # files of the replaced clinic that the backup does not have
        for path in recordings.rglob("*"):
            rel = path.relative_to(recordings).as_posix()
            if path.is_file() and rel not in wanted and not rel.startswith("tmp/"):
                path.unlink()
    counts = table_counts(database_url)
    if counts.get("patients") != manifest["row_counts"].get("patients") or \
            counts.get("recordings") != manifest["row_counts"].get("recordings"):
        raise BackupError("The restored database does not hold the backup's rows: check the target and retry.")
    return manifest


def main(argv: list[str] | None = None, command: str = "backup") -> int:
    from core.config import settings

    parser = argparse.ArgumentParser(prog=f"python -m core.cli {command}")
    parser.add_argument("--database-url", help="the clinic's database (default: DATABASE_URL or the data dir's SQLite)")
    parser.add_argument("--data-dir", help="the data dir whose recordings/ is copied (default: PDLENS_DATA_DIR)")
    if command == "backup":
        parser.add_argument("dest", help="a new (or empty) folder for the backup")
    else:
        parser.add_argument("src", help="a backup folder made by `backup`")
        parser.add_argument("--force", action="store_true", help="replace a clinic database that has data")
    args = parser.parse_args(argv)
    url = args.database_url or settings().database_url
    data_dir = Path(args.data_dir) if args.data_dir else settings().data_dir
    try:
        if command == "backup":
            m = backup(url, data_dir, args.dest)
            print(f"Backup written to {args.dest}: {m['row_counts'].get('patients', 0)} patients, "
                  f"{m['row_counts'].get('recordings', 0)} recordings, {len(m['recording_files'])} files.")
        else:
            m = restore(url, data_dir, args.src, force=args.force)
            print(f"Restored {args.src} (made {m['created_at']}): {m['row_counts'].get('patients', 0)} patients, "
                  f"{len(m['recording_files'])} files.")
    except (BackupError, OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0
