"""Settings from the environment (and, for the dashboard, .streamlit/secrets.toml mirrored into
the environment). Read once per process through `settings()`."""
from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
MEDIAPIPE_DIR = MODELS_DIR / "mediapipe"
DATASETS_DIR = MODELS_DIR / "datasets"


@dataclass(frozen=True)
class Settings:
    data_dir: Path  # recordings, landmark caches, the SQLite files; never served
    database_url: str  # the clinic's database
    demo_database_url: str  # the demo database built from public data, separate from the clinic's
    demo_data_dir: Path  # the demo patients' clips (python -m core.demo), apart from the clinic's recordings
    rtc_configuration: dict  # WebRTC ICE servers; empty for a clinic LAN
    session_idle_minutes: float = 30.0  # a sign-in ends after this long without a click
    session_max_hours: float = 12.0  # and in any case this long after it started
    lockout_attempts: int = 5  # failed sign-ins in a row (per username) before the lockout
    lockout_minutes: float = 15.0  # how long a username stays locked out
    dask_scheduler: str | None = None  # an existing Dask cluster for batch analysis (tcp://HOST:8786)
    upload_workers: int = 0  # worker processes of the dashboard's upload cluster; 0: the number of cores
    # Rated patients a clinic model needs before it is trained (core.clinic_models): 5-fold
    # patient-grouped CV then holds at least 4 patients per test fold, and the patient bootstrap
    # of the MAE resamples at least 20 patients; with fewer, one patient's ratings decide a
    # fold's MAE and the confidence interval is too wide to say anything.
    clinic_model_min_patients: int = 20

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret_key"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"


def _positive_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of minutes or hours (got {value!r}).") from None
    if not number > 0:
        raise ValueError(f"{name} must be positive (got {value!r}).")
    return number


def _workers(name: str) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return 0
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of worker processes (got {value!r}).") from None
    if number < 0:
        raise ValueError(f"{name} must be 0 (the number of cores) or more (got {value!r}).")
    return number


def _min_patients(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of rated patients (got {value!r}).") from None
    if number < 5:  # the 5 folds of the patient-grouped cross-validation need a patient each
        raise ValueError(f"{name} must be at least 5, one patient per cross-validation fold (got {value!r}).")
    return number


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    data_dir = Path(os.environ.get("PDLENS_DATA_DIR", PROJECT_ROOT / "var")).expanduser().resolve()
    return Settings(
        data_dir=data_dir,
        database_url=os.environ.get("DATABASE_URL") or _sqlite_url(data_dir / "pdlens.sqlite"),
        demo_database_url=os.environ.get("PDLENS_DEMO_DATABASE_URL")
        or _sqlite_url(data_dir / "demo.sqlite"),
        demo_data_dir=Path(os.environ.get("PDLENS_DEMO_DATA_DIR") or data_dir / "demo").expanduser().resolve(),
        rtc_configuration=json.loads(os.environ.get("PDLENS_RTC_CONFIGURATION", '{"iceServers": []}')),
        session_idle_minutes=_positive_number("PDLENS_SESSION_IDLE_MINUTES", 30.0),
        session_max_hours=_positive_number("PDLENS_SESSION_MAX_HOURS", 12.0),
        lockout_attempts=int(_positive_number("PDLENS_LOCKOUT_ATTEMPTS", 5)),
        lockout_minutes=_positive_number("PDLENS_LOCKOUT_MINUTES", 15.0),
        dask_scheduler=os.environ.get("PDLENS_DASK_SCHEDULER", "").strip() or None,
        upload_workers=_workers("PDLENS_UPLOAD_WORKERS"),
        clinic_model_min_patients=_min_patients("PDLENS_CLINIC_MODEL_MIN_PATIENTS", 20),
    )


def secret_key() -> str:
    """The key that signs the sign-in cookie: PDLENS_SECRET_KEY, or a random key created once in
    the data dir (readable by the server's user only) so that sign-ins survive a restart."""
    value = os.environ.get("PDLENS_SECRET_KEY")
    if value:
        return value
    path = settings().secret_key_file
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    except OSError:  # unreadable: the same as unwritable below
        return _process_secret_key()
    key = secrets.token_urlsafe(48)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    except OSError:  # a full or read-only data dir: the app keeps serving
        return _process_secret_key()
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
    except OSError:  # the disk filled up while writing: never leave an empty key behind
        path.unlink(missing_ok=True)
        return _process_secret_key()
    return key


@lru_cache(maxsize=1)
def _process_secret_key() -> str:
    """A key for this process only, when the data dir cannot hold one: sign-ins then last until
    the app restarts (set PDLENS_SECRET_KEY to keep them)."""
    logging.getLogger(__name__).warning("the data dir cannot hold the sign-in key: sign-ins end when the app "
                                        "restarts (set PDLENS_SECRET_KEY)")
    return secrets.token_urlsafe(48)
