"""Settings from the environment (and, for the dashboard, .streamlit/secrets.toml mirrored into
the environment). Read once per process through `settings()`."""
from __future__ import annotations

import json
import os
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

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"


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
    )
