"""Whether the data dir can take a recording, and what to tell the clinician when it cannot.

The app keeps serving when the data dir is full or read-only: patients, results and trends come
from the database. Only storing a clip needs the data dir; `write_problem(data_dir)` tries a tiny
write there (the capture page shows its answer above the recorder and the upload), and
`unwritable_message(exc)` turns the OSError of a failed store into one plain sentence (what
core.capture.add_clip returns for the file)."""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from core.store.files import RECORDINGS_FOLDER

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
_MISSING = {errno.ENOENT, errno.ENOTDIR, errno.EEXIST, errno.EISDIR}


def unwritable_message(exc: OSError) -> str:
    if exc.errno in _FULL:
        return ("the data dir is full (no space left on its disk): nothing was stored. "
                "Ask the administrator to free space, then add the clip again.")
    if exc.errno in _READ_ONLY:
        return ("the data dir cannot be written (it is read-only or the app may not write there): nothing was "
                "stored. Ask the administrator, then add the clip again.")
    if exc.errno in _MISSING:
        return ("the data dir cannot be written (its recordings folder is missing or is not a folder): nothing "
                "was stored. Ask the administrator to check PDLENS_DATA_DIR.")
    return (f"the recording could not be written to the data dir ({exc.strerror or 'input/output error'}): "
            "nothing was stored. Ask the administrator.")


def write_problem(data_dir: str | Path) -> str | None:
    """None when a small file can be written, synced and removed in data_dir/recordings/tmp (where
    every clip is staged), else why not (a sentence starting with "the data dir")."""
    staging = Path(data_dir) / RECORDINGS_FOLDER / "tmp"
    try:
        staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=staging, prefix=".probe-", suffix=".part")
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        return unwritable_message(exc)
    return None
