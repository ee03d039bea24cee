"""`python -m core.cli encrypt-existing` (issue 14): files stored before the clinic set its key are
encrypted in place, one atomic replace per file; already encrypted files are skipped; a SIGKILL
at any moment leaves every file either the old plaintext or the new ciphertext, and a second run
finishes. Real SQLite store, a real public voice recording analysed for real, real files."""
from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from core.cli import main
from core.store import AuditEvent, Recording, transaction
from core.store.files import (
    MAGIC, decrypt_bytes, is_encrypted, read_recording_bytes, store_recording_file, stored_files,
    write_stored_file,
)
from core.visits import add_recording_and_analyze
from core.words import plural

ROOT = Path(__file__).resolve().parents[2]
PD_VOWEL = next((ROOT / "tests" / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))  # public (Iyer 2023)


FILES = 80


def _new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def no_key(monkeypatch):
    monkeypatch.delenv("PDLENS_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("PDLENS_ENCRYPTION_KEY_FILE", raising=False)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_files_stored_before_the_key_are_encrypted_in_place_and_still_read(store, tmp_path, no_key, monkeypatch,
                                                                            capsys):
    sessions, admin_id, visit_id, data_dir = store
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"  # the store fixture's database
    added = add_recording_and_analyze(sessions, admin_id, visit_id, PD_VOWEL, "vowel.wav", "vowel", None,
                                      "upload", data_dir)
    with transaction(sessions) as s:
        relative = s.get(Recording, added.recording_id).stored_path
    side = data_dir / (relative + ".keyframe.jpg")
    write_stored_file(side, b"\xff\xd8 a plaintext side file \xff\xd9")
    before = {p: p.read_bytes() for p in stored_files(data_dir)}
    assert len(before) >= 2 and not any(is_encrypted(p) for p in before)
    plain = PD_VOWEL.read_bytes()

    assert _run(["encrypt-existing", "--database-url", url, "--data-dir", str(data_dir)], capsys)[0] == 2  # no key

    key = _new_key()
    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY", key)
    code, out, _ = _run(["encrypt-existing", "--database-url", url, "--data-dir", str(data_dir), "--dry-run"], capsys)
    assert code == 0 and out.startswith(f"Would encrypt {len(before)} files")
    assert {p: p.read_bytes() for p in stored_files(data_dir)} == before  # a dry run changes nothing

    code, out, err = _run(["encrypt-existing", "--database-url", url, "--data-dir", str(data_dir)], capsys)
    assert code == 0, err
    assert out.startswith(f"Encrypted {len(before)} files") and "0 files already encrypted" in out
    after = stored_files(data_dir)
    assert after == sorted(before)  # same names, no temporary file left
    for path in after:
        blob = path.read_bytes()
        assert blob.startswith(MAGIC) and blob != before[path]
        assert decrypt_bytes(blob, base64.b64decode(key)) == before[path]
    stored = (data_dir / relative).read_bytes()
    assert plain[:4096] not in stored and plain[-4096:] not in stored and b"RIFF" not in stored
    assert read_recording_bytes(data_dir, relative) == plain
    assert hashlib.sha256(read_recording_bytes(data_dir, relative)).hexdigest() == Path(relative).stem

    stamps = {p: p.stat().st_mtime_ns for p in after}
    code, out, _ = _run(["encrypt-existing", "--database-url", url, "--data-dir", str(data_dir)], capsys)
    assert code == 0 and out.startswith("Encrypted 0 files") and f"{len(before)} files already encrypted" in out
    assert {p: p.stat().st_mtime_ns for p in stored_files(data_dir)} == stamps  # skipped, not rewritten

    with transaction(sessions) as s:
        rows = s.execute(select(AuditEvent.clinician_id, AuditEvent.detail)
                         .where(AuditEvent.action == "encrypt_existing").order_by(AuditEvent.id)).all()
    assert rows == [(None, f"encrypted={len(before)} skipped=0 failed=0"),
                    (None, f"encrypted=0 skipped={len(before)} failed=0")]  # codes only, the dry run unaudited

    monkeypatch.setenv("PDLENS_ENCRYPTION_KEY", _new_key())  # another key cannot read them
    with pytest.raises(ValueError, match="cannot be decrypted"):
        read_recording_bytes(data_dir, relative)


@pytest.mark.slow
def test_a_run_killed_midway_leaves_each_file_old_or_new_and_a_second_run_finishes(tmp_path, no_key):
    data_dir = tmp_path / "data"
    originals = {}
    for i in range(FILES):  # distinct plaintext files stored before the key was set
        data = hashlib.sha256(str(i).encode()).digest() * (512 * 1024 // 32)
        relative, _ = store_recording_file(data_dir, data, ".wav")
        originals[(data_dir / relative).resolve()] = data
    key = _new_key()
    env = dict(os.environ, PDLENS_ENCRYPTION_KEY=key, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "core.cli", "encrypt-existing", "--data-dir", str(data_dir),
            "--database-url", f"sqlite:///{tmp_path / 'clinic.sqlite'}"]
    child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = [child.stderr.readline() for _ in range(FILES // 2)]  # "k/80 files": k files are done
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert lines[-1].startswith(f"{FILES // 2}/{FILES} files".encode()), lines[-1]

    raw_key = base64.b64decode(key)
    states = {}
    for path, data in originals.items():
        blob = path.read_bytes()
        if blob == data:
            states[path] = "old"
        else:
            assert decrypt_bytes(blob, raw_key) == data, "a file neither the old plaintext nor the new ciphertext"
            states[path] = "new"
    assert "new" in states.values()
    for leftover in (data_dir / "recordings").rglob("*.part"):  # an interrupted write: ciphertext only
        assert not any(data[:4096] in leftover.read_bytes() for data in originals.values())

    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = done.stdout.decode()
    remaining = list(states.values()).count("old")
    assert summary.startswith(f"Encrypted {plural(remaining, 'file')} (")
    assert f"{plural(FILES - remaining, 'file')} already encrypted" in summary
    for path, data in originals.items():
        assert is_encrypted(path) and decrypt_bytes(path.read_bytes(), raw_key) == data
    assert b"/recordings/" not in done.stderr and b".wav" not in done.stderr  # counts only
    print(f"killed after {FILES - remaining} of {FILES} files")  # (the kill lands wherever the run is)


def test_the_summary_reads_as_counts():
    from core.encrypt_existing import EncryptReport

    assert EncryptReport(encrypted=1, skipped=0, bytes=2_000_000).summary() == (
        "Encrypted 1 file (2.0 MB); 0 files already encrypted, skipped.")
    assert "2 files could not be encrypted" in EncryptReport(failed=2).summary()
