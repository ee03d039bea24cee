"""Faults (issue 14): the app keeps serving when the data dir is full or read-only, and says why.

The tests may run as root, where chmod stops no write, and no loop-mounted or tmpfs filesystem
can be made. So a data dir that cannot be written is simulated in two ways that fail for root
too: PDLENS_DATA_DIR pointing at a regular file (every write under it fails with ENOTDIR, as it
would with EROFS on a read-only mount), and, for "disk full", a child process whose file-size
limit (RLIMIT_FSIZE) is below the clip's size (its writes fail with EFBIG, as with ENOSPC). The
database lives elsewhere (PostgreSQL, or an SQLite file on another disk), as it must to keep
showing patients. All data is synthetic or the public vowel recording."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.config import settings
from core.store import Recording, close_store, open_store, repository, transaction
from core.store.datadir import write_problem
from tests.dashboard.conftest import ADMIN, APP, open_page, sign_in, texts

ROOT = Path(__file__).resolve().parents[2]
VOWEL = next((ROOT / "tests" / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


@pytest.fixture
def unwritable_clinic(tmp_path, monkeypatch):
    data_dir = tmp_path / "data-dir-that-is-a-file"
    data_dir.write_text("not a folder")
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'clinic.sqlite'}"
    monkeypatch.setenv("PDLENS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PDLENS_DEMO_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere' / 'demo.sqlite'}")
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    monkeypatch.delenv("PDLENS_SECRET_KEY", raising=False)
    settings.cache_clear()
    sessions = open_store(url)
    with transaction(sessions) as s:
        admin = repository.create_clinician(s, None, role="admin", **ADMIN)
        patient = repository.create_patient(s, admin, mrn="SYN-RO1", name="Synthetic Readonly", sex="unknown",
                                            birth_date=date(1950, 1, 1), diagnosis="unknown",
                                            more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 1, 5), medication_state="on")
        ids = patient.id, visit.id
    yield url, data_dir, ids
    close_store(url)
    settings.cache_clear()


def test_write_problem_says_why_a_data_dir_cannot_take_a_clip(tmp_path):
    assert write_problem(tmp_path / "fine") is None
    assert not list((tmp_path / "fine" / "recordings" / "tmp").iterdir())  # the probe leaves nothing
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert write_problem(blocked).startswith("the data dir cannot be written")
    assert write_problem("/proc/pdlens-no-such-data-dir").startswith("the data dir cannot be written")


def test_pages_keep_serving_and_an_upload_says_the_data_dir_cannot_be_written(unwritable_clinic):
    url, data_dir, (patient_id, visit_id) = unwritable_clinic
    at = sign_in(AppTest.from_file(str(APP), default_timeout=90))  # the sign-in key cannot be kept there either
    assert not at.exception, [e.value for e in at.exception]
    assert "Synthetic Readonly" in list(at.dataframe[0].value["Name"])
    for page, query in (("views/patient.py", {"patient": patient_id}), ("views/visit.py", {"visit": visit_id}),
                        ("views/results.py", {"visit": visit_id}), ("views/trends.py", {"patient": patient_id})):
        open_page(at, page, **query)
        assert not at.exception, (page, [e.value for e in at.exception])
    open_page(at, "views/capture.py", visit=visit_id)
    assert not at.exception
    assert any("Clips cannot be saved now" in e.value and "data dir cannot be written" in e.value for e in at.error)
    at.file_uploader[0].set_value([("vowel.wav", VOWEL.read_bytes(), "audio/wav")])
    at.run()
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("upload-go-"))).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at) + " ".join(" ".join(map(str, d.value["Details"])) for d in at.dataframe if "Details" in d.value)
    assert "data dir cannot be written" in shown.replace("\\", "")
    assert "unexpectedly" not in shown
    with transaction(open_store(url)) as s:
        assert s.scalar(select(func.count()).select_from(Recording)) == 0


DISK_FULL_CHILD = textwrap.dedent("""
    import os, resource, signal, sys
    from pathlib import Path
    from core.capture import add_clip
    from core.store import open_store
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    clip = Path(sys.argv[1])
    out = add_clip(open_store(os.environ["URL"]), 1, 1, clip.read_bytes(), "vowel.wav", "vowel", None, "upload",
                   os.environ["DATA_DIR"], rescore=False)
    print(out.status)
    print(out.message)
""")


def test_a_full_disk_fails_the_clip_with_a_reason_and_leaves_no_row_and_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PDLENS_BCRYPT_ROUNDS", "4")
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    sessions = open_store(url)
    try:
        with transaction(sessions) as s:
            admin = repository.create_clinician(s, None, role="admin", **ADMIN)
            patient = repository.create_patient(s, admin, mrn="SYN-F1", name="Synthetic Full", sex="unknown",
                                                birth_date=date(1950, 1, 1), diagnosis="unknown",
                                                more_affected_side="unknown")
            repository.create_visit(s, admin, patient.id, visit_date=date(2024, 1, 5), medication_state="on")
        data_dir = tmp_path / "data"
        limit = VOWEL.stat().st_size // 2  # the database's few pages fit, the clip does not
        env = {**os.environ, "URL": url, "DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", DISK_FULL_CHILD, str(VOWEL), str(limit)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        status, message = done.stdout.strip().splitlines()[-2:]
        assert status == "failed"
        assert message.startswith("vowel.wav: the data dir is full (no space left on its disk): nothing was stored.")
        with transaction(sessions) as s:
            assert s.scalar(select(func.count()).select_from(Recording)) == 0
        left = [p for p in (data_dir / "recordings").rglob("*") if p.is_file()] if data_dir.exists() else []
        assert left == []
    finally:
        close_store(url)
