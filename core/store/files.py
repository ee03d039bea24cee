"""Recording files under the data dir: data_dir/recordings/<aa>/<sha256><suffix>.

Content-hash names make a re-upload of the same file land on the same path (no duplicates, no
patient data in file names). Writes go to a temporary file in the same folder and are renamed
into place, so a crash never leaves a half-written recording under its final name.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from core.pipeline import UnusableInput

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
    key = encryption_key()
    if key is not None:  # encrypted whole in memory (AES-GCM); the hash is the plaintext's
        data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
        digest.update(data)
        source = encrypt_bytes(data, key)
        del data
    fd, tmp_name = tempfile.mkstemp(dir=staging, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(source, (bytes, bytearray, memoryview)):
                if key is None:
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



# ---------------------------------------------------------------- encryption at rest (optional)
#
# When a key is set (PDLENS_ENCRYPTION_KEY: base64 of 32 bytes, or PDLENS_ENCRYPTION_KEY_FILE: a
# file holding that), every stored clip and side file (landmark cache, key frame) is AES-256-GCM
# encrypted: MAGIC + 12-byte nonce + ciphertext and tag, MAGIC as associated data. File names
# and the recording's sha256 stay those of the plaintext, so a re-upload still lands on the same
# path. Plaintext exists only in memory (read_recording_bytes) or, for the pipelines that take a
# path (ffmpeg, MediaPipe, librosa), in a private temporary folder that `open_recording` always
# removes (under /dev/shm when it exists, so it is memory, not disk).

MAGIC = b"PDLENS-AESGCM1\n"
NONCE_BYTES = 12
KEY_ENV = "PDLENS_ENCRYPTION_KEY"
KEY_FILE_ENV = "PDLENS_ENCRYPTION_KEY_FILE"


class RecordingLocked(UnusableInput):
    """A stored file is encrypted and no key, or the wrong key, was given. An UnusableInput, so
    every caller that shows an analysis's one-line refusal shows this one too."""


def _decode_key(text: str | bytes, where: str) -> bytes:
    import base64
    import binascii

    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ValueError(f"{where} must hold a base64-encoded 32-byte key "
                         "(make one with: python -c \"import os,base64;print(base64.b64encode(os.urandom(32)).decode())\").")
    return key


def encryption_key() -> bytes | None:
    """The clinic's key from PDLENS_ENCRYPTION_KEY or PDLENS_ENCRYPTION_KEY_FILE; None when
    neither is set (files are then stored as they are). A malformed key raises ValueError."""
    value = os.environ.get(KEY_ENV)
    if value:
        return _decode_key(value, KEY_ENV)
    key_file = os.environ.get(KEY_FILE_ENV)
    if key_file:
        try:
            return _decode_key(Path(key_file).expanduser().read_bytes(), f"{KEY_FILE_ENV} ({Path(key_file).name})")
        except OSError as exc:
            raise ValueError(f"{KEY_FILE_ENV} cannot be read: {exc.strerror or exc}.") from None
    return None


def generate_key() -> str:
    import base64

    return base64.b64encode(os.urandom(32)).decode("ascii")


def encrypt_bytes(data: bytes, key: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, bytes(data), MAGIC)


def is_encrypted_bytes(blob: bytes) -> bool:
    return bytes(blob[:len(MAGIC)]) == MAGIC


def is_encrypted(path: str | Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def decrypt_bytes(blob: bytes, key: bytes | None) -> bytes:
    """Plaintext of a stored file's bytes (returned unchanged when they are not encrypted).
    RecordingLocked (one line) without the key or with the wrong one."""
    if not is_encrypted_bytes(blob):
        return bytes(blob)
    if key is None:
        raise RecordingLocked(f"This recording is encrypted at rest: set {KEY_ENV} or {KEY_FILE_ENV} "
                              "to the clinic's key to analyse or show it.")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = blob[len(MAGIC):len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, bytes(blob[len(MAGIC) + NONCE_BYTES:]), MAGIC)
    except InvalidTag:
        raise RecordingLocked("This recording cannot be decrypted with the key given "
                              "(wrong key, or the file is damaged).") from None


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes as they lie on disk, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes, before_replace: Callable[[], None] | None = None) -> None:
    """Write `data` to a hidden temporary file next to `path`, fsync it, then rename it over
    `path`: a crash leaves the old file or the new one, whole. `before_replace` runs between the
    two and may raise to leave `path` untouched."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: some filesystems refuse a folder fsync)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def stored_files(data_dir: str | Path) -> list[Path]:
    """Every stored clip and side file under data_dir/recordings (not the staging folder of
    half-copied uploads, not the hidden `.part` files of writes in progress, no symlinks)."""
    root = Path(data_dir).resolve() / RECORDINGS_FOLDER
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                  and p.parent != root / "tmp" and not p.name.endswith(".part"))


def encrypt_file_in_place(path: str | Path, key: bytes) -> bool:
    """Encrypt a stored plaintext file where it lies: the ciphertext is written to a temporary
    file in the same folder, fsynced, checked to decrypt to the same bytes, then renamed over the
    plaintext (atomic), so a crash at any moment leaves either the old file or the new one, whole.
    False (nothing written) when the file is already encrypted. The file is left as it is when
    it changes while being encrypted (another process rewrote it): ValueError, run again."""
    path = Path(path)
    before = path.stat()
    data = path.read_bytes()
    if is_encrypted_bytes(data):
        return False
    blob = encrypt_bytes(data, key)
    if decrypt_bytes(blob, key) != data:  # never replace a file by something that does not read back
        raise ValueError("the encrypted copy did not read back")
    del data

    def unchanged() -> None:
        now = path.stat()
        if (now.st_mtime_ns, now.st_size, now.st_ino) != (before.st_mtime_ns, before.st_size, before.st_ino):
            raise ValueError("the file changed while it was being encrypted")

    _atomic_write(path, blob, before_replace=unchanged)
    _fsync_folder(path.parent)
    return True


def write_stored_file(path: str | Path, data: bytes, key: bytes | None = None) -> None:
    """Write a file under the recordings folder, encrypted when a key is set (atomic rename)."""
    key = encryption_key() if key is None else key
    _atomic_write(Path(path), encrypt_bytes(data, key) if key else bytes(data))


def read_stored_file(path: str | Path, key: bytes | None = None) -> bytes:
    """Plaintext bytes of a file under the recordings folder (clip or side file), in memory."""
    blob = Path(path).read_bytes()
    return decrypt_bytes(blob, encryption_key() if key is None and is_encrypted_bytes(blob) else key)


def read_recording_bytes(data_dir: str | Path, relative_path: str | Path) -> bytes:
    """Plaintext bytes of a stored recording or side file (relative to the data dir), in memory."""
    return read_stored_file(resolve_recording_path(data_dir, relative_path))


def side_files(clip: Path) -> list[Path]:
    """Files the pipelines write next to a clip (landmark cache, key frame): <clip>.*"""
    return sorted(p for p in clip.parent.glob(clip.name + ".*") if p != clip and not p.name.endswith(".part"))


def _private_tmp_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextlib.contextmanager
def open_recording(data_dir: str | Path, relative_path: str | Path) -> Iterator[Path]:
    """A path the pipelines can read for a stored clip.

    Not encrypted: the stored path itself. Encrypted: the clip and its side files decrypted into
    a private temporary folder (mode 0700, in memory under /dev/shm when available); side files
    the block writes or changes there (a new landmark cache, key frame) are encrypted back next
    to the stored clip when the block ends without error. The folder is always removed.
    RecordingLocked when the clip is encrypted and no key or the wrong key is set."""
    stored = resolve_recording_path(data_dir, relative_path)
    if not is_encrypted(stored):
        yield stored
        return
    key = encryption_key()
    plain = decrypt_bytes(stored.read_bytes(), key)
    work = Path(tempfile.mkdtemp(prefix="pdlens-clip-", dir=_private_tmp_root()))
    try:
        os.chmod(work, 0o700)
        clip = work / stored.name
        clip.write_bytes(plain)
        del plain
        before: dict[str, bytes] = {}
        for side in side_files(stored):
            try:
                data = read_stored_file(side, key)
            except RecordingLocked:
                continue  # a damaged side file: the pipeline makes it again
            (work / side.name).write_bytes(data)
            before[side.name] = hashlib.sha256(data).digest()
        yield clip
        for side in side_files(clip):
            data = side.read_bytes()
            if before.get(side.name) != hashlib.sha256(data).digest():
                write_stored_file(stored.with_name(side.name), data, key)
    finally:
        shutil.rmtree(work, ignore_errors=True)
