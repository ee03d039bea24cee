"""Files under data_dir/recordings that no database row refers to, removed at the next start.

A clip is stored (content-hash name, core.store.files) before it is analysed, and its rows
(recording, assessment, measures) are written in one transaction after the analysis. A process
killed in between (SIGKILL, power loss, a full disk) therefore leaves a consistent database (the
transaction is all or nothing) but may leave files without rows: the stored clip, its landmark
cache and key frame, a half-copied ``recordings/tmp/*.part`` or a ``.*.part`` cache being
written. They are not harmless: they hold a patient's voice or body and no patient deletion or
retention rule could ever find them. `sweep_orphan_files` removes them; the app calls it when it
opens a database (dashboard/state.py), the batch import before it imports (core/batch.py), and
`python -m core.store.orphans` does it by hand. The same sweep removes the temporary copies of
clips (upload copies, an analysis worker's bytes, decrypted clips) that killed processes left.

Files younger than `grace_s` are left alone: another process (a second app, a batch import) may
be analysing that clip right now and write its rows in a moment.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from core.store.files import RECORDINGS_FOLDER

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 3600.0  # far longer than any clip's analysis


@dataclass
class Sweep:
    removed: list[str] = field(default_factory=list)  # relative to the data dir
    kept_young: int = 0  # unreferenced but younger than the grace period


def _referenced_names(sessions) -> set[str]:
    from core.store import transaction
    from core.store.models import Recording

    with transaction(sessions) as s:
        return {Path(p).name for p in s.scalars(select(Recording.stored_path))}


def _belongs_to(name: str, referenced: set[str]) -> bool:
    """True when `name` is a referenced clip or one of its side files ("<clip>.landmarks.npz",
    "<clip>.keyframe.jpg", any "<clip>.<more>")."""
    if name in referenced:
        return True
    dot = name.find(".")
    while dot != -1:
        if name[:dot] in referenced:
            return True
        dot = name.find(".", dot + 1)
    return False


def sweep_orphan_files(sessions, data_dir: str | Path, grace_s: float = DEFAULT_GRACE_S,
                       now: float | None = None, upload_temp_grace_s: float = DEFAULT_GRACE_S) -> Sweep:
    """Remove files under data_dir/recordings that no recording row refers to and that are
    older than grace_s seconds, and the temporary copies of clips (TEMP_PREFIXES in
    temp_roots()) that killed processes left, older than upload_temp_grace_s (those folders are
    shared by every pdlens process of the machine, whatever its database: hence a grace of its
    own; inf leaves them alone). Nothing else is touched; a file that cannot be removed
    (read-only data dir) is logged and left."""
    root = Path(data_dir).resolve() / RECORDINGS_FOLDER
    result = Sweep()
    now = time.time() if now is None else now
    if not root.is_dir():
        _sweep_upload_temp_dirs(now, upload_temp_grace_s, result)
        return result
    referenced = _referenced_names(sessions)
    for path in sorted(root.rglob("*")):
        try:
            if not path.is_file() or path.is_symlink():
                continue
            in_staging = path.parent == root / "tmp"
            if not in_staging and _belongs_to(path.name, referenced):
                continue
            if now - path.stat().st_mtime < grace_s:
                result.kept_young += 1
                continue
            path.unlink()
            result.removed.append(path.relative_to(root.parent).as_posix())
        except OSError as exc:  # read-only or vanished: the app keeps serving
            log.warning("could not remove an unreferenced recording file: %s", type(exc).__name__)
    _sweep_upload_temp_dirs(now, upload_temp_grace_s, result)
    if result.removed:  # counts only: file names are content hashes, but keep logs free of them
        log.info("removed %d recording files without a database row", len(result.removed))
    return result


# The temporary folders pdlens processes make for a patient's clip, always removed unless the
# process is killed: core.capture.add_clip's upload copy (pdlens-clip-), a multi-file upload's
# copies (pdlens-clips-), an analysis worker's clip bytes (pdlens-analysis-, core.executor), and
# an encrypted clip decrypted for analysis or playback (pdlens-clip-, core.store.files.open_recording,
# in memory under /dev/shm when it exists).
TEMP_PREFIXES = ("pdlens-clip-", "pdlens-clips-", "pdlens-analysis-")


def temp_roots() -> list[Path]:
    """Where those folders are made: the system temporary folder and open_recording's private one."""
    import tempfile

    from core.store.files import _private_tmp_root

    roots = [Path(tempfile.gettempdir())]
    private = _private_tmp_root()
    if private is not None and Path(private).resolve() != roots[0].resolve():
        roots.append(Path(private))
    return roots


def _sweep_upload_temp_dirs(now: float, grace_s: float, result: Sweep) -> None:
    """Remove the TEMP_PREFIXES folders of dead processes (older than grace_s) in temp_roots().
    A symlink is never followed, and nothing else in those folders is touched."""
    import shutil

    if grace_s == float("inf"):
        return
    for root in temp_roots():
        for prefix in TEMP_PREFIXES:
            for folder in root.glob(prefix + "*"):
                try:
                    if folder.is_dir() and not folder.is_symlink() and now - folder.stat().st_mtime >= grace_s:
                        shutil.rmtree(folder)
                        result.removed.append(folder.as_posix())
                except OSError:
                    continue


def main(argv: list[str] | None = None) -> int:
    import argparse

    from core.config import settings
    from core.store import open_store

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--grace-s", type=float, default=DEFAULT_GRACE_S)
    args = parser.parse_args(argv)
    config = settings()
    sweep = sweep_orphan_files(open_store(args.database_url or config.database_url),
                               args.data_dir or config.data_dir, args.grace_s)
    print(f"Removed {len(sweep.removed)} files without a database row; "
          f"{sweep.kept_young} recent ones kept (they may still be in analysis).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
