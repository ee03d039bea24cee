"""No patient data in logs or side files: the real dashboard (a whole AppTest session in its
own process, every logger at DEBUG), the analysis CLI and the batch import run with a synthetic
patient named SECRET_NAME whose clips carry that name in their file names; nothing they print
to stdout/stderr, and no file in the data dir other than the database, contains the name.
Synthetic patient; the clip is a public recording (Iyer 2023)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from core.store import open_store, repository, transaction
from tests.security.conftest import ADMIN, SECRET_NAME, VOWEL

ROOT = Path(__file__).resolve().parents[2]
SECRETS = (SECRET_NAME, "Zyxw", "ZYXW-SECRET")
DATABASE_FILES = ("clinic.sqlite", "clinic.sqlite-wal", "clinic.sqlite-shm", "clinic.sqlite-journal")

pytestmark = pytest.mark.slow  # real analysis in subprocesses


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "PDLENS_DATA_DIR": str(data_dir), "DATABASE_URL": f"sqlite:///{data_dir / 'clinic.sqlite'}",
            "PDLENS_BCRYPT_ROUNDS": "4", "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", "/tmp/numba_cache"),
            "PYTHONPATH": str(ROOT)}


def _assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), f"{where} contains patient data ({secret!r}):\n" + "\n".join(
            line for line in text.splitlines() if secret.lower() in line.lower())[:2000]


def _assert_data_dir_clean(data_dir: Path) -> None:
    """Outside the database: no file named after the patient, no file containing the name."""
    for path in data_dir.rglob("*"):
        _assert_no_secret(str(path.relative_to(data_dir)), "a data dir file name")
        if path.is_file() and path.name not in DATABASE_FILES:
            raw = path.read_bytes()
            for secret in SECRETS:
                for encoded in (secret.encode(), secret.encode("utf-16-le")):
                    assert encoded not in raw, f"{path} contains patient data"


def _named_clips(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "clips"
    folder.mkdir()
    good = folder / f"{SECRET_NAME} vowel.wav"
    shutil.copy(VOWEL, good)
    bad = folder / f"{SECRET_NAME} tap_L.mp4"
    bad.write_bytes(b"synthetic text renamed to mp4 " * 20)
    return good, bad


def test_dashboard_session_logs_no_patient_data(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    good, bad = _named_clips(tmp_path)
    run = subprocess.run([sys.executable, "-m", "tests.security.app_session", str(data_dir), str(good), str(bad)],
                         cwd=ROOT, env=_env(data_dir), capture_output=True, text=True, timeout=900)
    assert run.returncode == 0 and "SESSION-OK" in run.stdout, run.stderr[-3000:]
    assert "DEBUG" in run.stderr  # the loggers really were listening
    _assert_no_secret(run.stdout, "dashboard stdout")
    _assert_no_secret(run.stderr, "dashboard stderr / log")
    _assert_data_dir_clean(data_dir)


def test_cli_analyze_and_batch_print_no_patient_data(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    good, _bad = _named_clips(tmp_path)
    analyze = subprocess.run([sys.executable, "-m", "core.cli", "analyze", "--voice", str(good), "--json"],
                             cwd=ROOT, env=_env(data_dir), capture_output=True, text=True, timeout=600)
    assert analyze.returncode in (0, 3), analyze.stderr[-2000:]
    _assert_no_secret(analyze.stdout + analyze.stderr, "core.cli analyze output")

    with transaction(open_store(f"sqlite:///{data_dir / 'clinic.sqlite'}")) as s:
        admin = repository.create_clinician(s, None, role="admin", **ADMIN)
        repository.create_patient(s, admin, mrn="SYN-LOG-1", name=SECRET_NAME, birth_date=date(1950, 5, 6),
                                  sex="male", diagnosis="pd", more_affected_side="right")
    batch = subprocess.run([sys.executable, "-m", "core.cli", "batch", str(good.parent), "--patient", "SYN-LOG-1",
                            "--date", "2025-01-02", "--clinician", ADMIN["username"]],
                           cwd=ROOT, env=_env(data_dir), capture_output=True, text=True, timeout=600)
    assert "Imported 1" in batch.stdout, batch.stdout + batch.stderr[-2000:]
    # The summary names a file that FAILED (the clinician must find it); nothing else is named.
    failed_lines = [line for line in batch.stdout.splitlines() if "FAILED" in line]
    assert len(failed_lines) == 1 and "tap_L.mp4" in failed_lines[0]
    other = "\n".join(line for line in batch.stdout.splitlines() if "FAILED" not in line)
    _assert_no_secret(other, "batch summary")
    _assert_no_secret(batch.stderr, "batch progress / log")
    _assert_data_dir_clean(data_dir)
