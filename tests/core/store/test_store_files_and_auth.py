"""Recording files under the data dir, and password hashing."""
from __future__ import annotations

import hashlib
import os

import pytest

from core.auth import hash_password, password_problem, verify_password
from core.store.files import delete_recording_file, resolve_recording_path, store_recording_file

SYNTHETIC_BYTES = b"RIFF synthetic test payload, not a real recording" * 100


def test_store_bytes_under_content_hash_name(tmp_path):
    relative, sha256 = store_recording_file(tmp_path, SYNTHETIC_BYTES, ".WAV")
    assert sha256 == hashlib.sha256(SYNTHETIC_BYTES).hexdigest()
    assert relative == f"recordings/{sha256[:2]}/{sha256}.wav"
    assert (tmp_path / relative).read_bytes() == SYNTHETIC_BYTES
    assert os.listdir(tmp_path / "recordings" / "tmp") == []  # no temp file left behind


def test_store_from_path_is_idempotent(tmp_path):
    source = tmp_path / "upload.mp4"
    source.write_bytes(SYNTHETIC_BYTES + b"video")
    first = store_recording_file(tmp_path / "data", source, "mp4")
    second = store_recording_file(tmp_path / "data", source, ".mp4")
    assert first == second
    assert len(list((tmp_path / "data" / "recordings").rglob("*.mp4"))) == 1


def test_bad_suffix_and_paths_outside_are_refused(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        store_recording_file(tmp_path, b"x", "../../evil")
    (tmp_path / "secret.txt").write_text("keep me")
    with pytest.raises(ValueError, match="outside"):
        delete_recording_file(tmp_path, "recordings/../secret.txt")
    with pytest.raises(ValueError, match="outside"):
        resolve_recording_path(tmp_path, "/etc/passwd")
    assert (tmp_path / "secret.txt").exists()


def test_delete_recording_file(tmp_path):
    relative, _ = store_recording_file(tmp_path, SYNTHETIC_BYTES, ".wav")
    assert delete_recording_file(tmp_path, relative) is True
    assert not (tmp_path / relative).exists()
    assert delete_recording_file(tmp_path, relative) is False


def test_password_hash_round_trip_and_salt():
    first, second = hash_password("correct horse", rounds=4), hash_password("correct horse", rounds=4)
    assert first != second and first.startswith("$2b$04$")
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsE", first)
    assert not verify_password("correct horse", "not-a-bcrypt-hash")


def test_passwords_longer_than_72_bytes_count_in_full():
    base = "p" * 80
    stored = hash_password(base + "A", rounds=4)
    assert verify_password(base + "A", stored)
    assert not verify_password(base + "B", stored)  # plain bcrypt would accept this
    assert verify_password("ünïcödé-pässwörd" * 10, hash_password("ünïcödé-pässwörd" * 10, rounds=4))


def test_password_rules():
    assert "at least 8" in password_problem("1234567")
    assert password_problem("17-lamp-7") is None
    assert "most common" in password_problem("12345678")  # (tests/security/test_accounts.py: the list)
    assert "at most" in password_problem("x" * 2000)
