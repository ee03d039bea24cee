"""Recording files under the data dir: data_dir/recordings/<aa>/<sha256><suffix>.

Content-hash names make a re-upload of the same file land on the same path (no duplicates, no
patient data in file names). Writes go to a temporary file in the same folder and are renamed
into place, so a crash never leaves a half-written recording under its final name.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

RECORDINGS_FOLDER = "recordings"
SUFFIX_PATTERN = re.compile(r"^(\.[a-z0-9]{1,8})?$")
_CHUNK = 1 << 20


def _clean_suffix(suffix: str) -> str:
    suffix = (suffix or "").lower()
    if suffix and not suffix.startswith("."):
        suffix = "." + suffix
    if not SUFFIX_PATTERN.match(suffix):
        raise ValueError(f"Unsupported file suffix {suffix!r}: use a short extension such as .wav or .mp4.")
    return suffix


def resolve_recording_path(data_dir: str | Path, relative_path: str | Path) -> Path:
    """The absolute path of a stored recording; refuses anything outside data_dir/recordings."""
    root = (Path(data_dir).resolve() / RECORDINGS_FOLDER)
    path = (Path(data_dir).resolve() / relative_path).resolve()
    if root not in path.parents:
        raise ValueError("That path is outside the recordings folder.")
    return path


def store_recording_file(data_dir: str | Path, source: str | Path | bytes, suffix: str) -> tuple[str, str]:
    """Copy a file (path) or bytes into the data dir. Returns (relative_path, sha256).
    Storing the same content again returns the same path and writes nothing new."""
    suffix = _clean_suffix(suffix)
    data_dir = Path(data_dir).resolve()
    staging = data_dir / RECORDINGS_FOLDER / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=staging, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(source, (bytes, bytearray, memoryview)):
                digest.update(source)
                out.write(source)
            else:
                with open(source, "rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha256 = digest.hexdigest()
        relative = f"{RECORDINGS_FOLDER}/{sha256[:2]}/{sha256}{suffix}"
        final = resolve_recording_path(data_dir, relative)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, final)
        return relative, sha256
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def delete_recording_file(data_dir: str | Path, relative_path: str | Path) -> bool:
    """Remove a stored recording. True if a file was removed. Never touches anything outside
    data_dir/recordings. Callers must check that no other Recording row uses the same path
    (content-hash names are shared by identical files)."""
    path = resolve_recording_path(data_dir, relative_path)
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False

