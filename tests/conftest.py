"""Fixtures shared across test packages."""
from __future__ import annotations

import sys

import pytest

_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's script runner (AppTest) installs the page script as sys.modules["__main__"]
    and leaves it there; multiprocessing's "spawn" then runs that script in every child, and a
    generated AppTest script fails outside its run: later process pools died and restarted
    forever (the test hung). Each test starts and ends with the real __main__."""
    sys.modules["__main__"] = _MAIN
    yield
    sys.modules["__main__"] = _MAIN


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory):
    """The whole demo database (UCI telemonitoring + the demo patients with analysed clips), built
    once per test session (about 1-2 minutes on 2 cores) by core.demo into a temporary folder:
    (SQLite URL, demo data dir, DemoSummary). Tests that change it must work on a copy
    (copy_built_demo)."""
    import os

    from core.demo import build_demo_database

    folder = tmp_path_factory.mktemp("built_demo")
    url = f"sqlite:///{folder / 'demo.sqlite'}"
    previous = os.environ.get("PDLENS_BCRYPT_ROUNDS")
    os.environ["PDLENS_BCRYPT_ROUNDS"] = "4"  # test speed only
    try:
        summary = build_demo_database(url, data_dir=folder / "demo")
    finally:
        if previous is None:
            os.environ.pop("PDLENS_BCRYPT_ROUNDS", None)
        else:
            os.environ["PDLENS_BCRYPT_ROUNDS"] = previous
    return url, folder / "demo", summary


def copy_built_demo(built_demo, folder) -> tuple[str, object]:
    """Copy the session's built demo (database file and data dir) into `folder` as demo.sqlite and
    demo/ (where PDLENS_DATA_DIR=folder puts them); returns (URL, data dir)."""
    import shutil
    from pathlib import Path

    from sqlalchemy.engine import make_url

    url, data_dir, _ = built_demo
    folder = Path(folder)
    shutil.copy(make_url(url).database, folder / "demo.sqlite")
    shutil.copytree(data_dir, folder / "demo", dirs_exist_ok=True)
    return f"sqlite:///{folder / 'demo.sqlite'}", folder / "demo"
