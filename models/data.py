"""Readers for the public training sets (and for files in the same formats given to
`models.evaluate`): each returns a table with the features, the labels and the subject group,
so that no split can put one subject's rows on both sides."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import DATASETS_DIR

UCI_VOICE_PATH = DATASETS_DIR / "voice" / "uci_parkinsons" / "parkinsons.data"
FINGER_TAPPING_PATH = DATASETS_DIR / "movement" / "roc_hci_finger_tapping" / "finger_tapping_features.csv"
GAITPDB_DIR = DATASETS_DIR / "movement" / "gaitpdb_forces"


@dataclass
class Table:
    """Rows for one model: `frame` holds the feature columns (and anything else), `y` the binary
    label (1 = PD), `groups` the subject id of each row, `severity` a 0-4 rating where known."""

    frame: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    severity: np.ndarray | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count of rows/files left out

    def features(self, names: list[str]) -> np.ndarray:
        return self.frame[names].to_numpy(dtype=np.float64)

    def complete(self, names: list[str]) -> "Table":
        """Only the rows where every feature in `names` is a finite number."""
        ok = np.isfinite(self.frame[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)).all(axis=1)
        skipped = dict(self.skipped)
        if (~ok).sum():
            skipped["rows_with_missing_features"] = skipped.get("rows_with_missing_features", 0) + int((~ok).sum())
        return Table(self.frame[ok].reset_index(drop=True), self.y[ok], self.groups[ok],
                     None if self.severity is None else self.severity[ok], skipped)


# ---------------------------------------------------------------- UCI Parkinsons voice

def voice_subject(name: str) -> str:
    """phon_R01_S01_1 -> S01 (all takes of one subject share it)."""
    m = re.search(r"_(S\d+)_\d+$", str(name))
    return m.group(1) if m else str(name)


def load_uci_voice(path: Path = UCI_VOICE_PATH) -> Table:
    df = pd.read_csv(path)
    if "status" not in df.columns or "name" not in df.columns:
        raise ValueError(f"{Path(path).name}: not in the UCI parkinsons.data format (needs 'name' and 'status' columns).")
    df = df.dropna(subset=["status"]).reset_index(drop=True)
    return Table(df, df["status"].to_numpy(dtype=int), df["name"].map(voice_subject).to_numpy())


# ---------------------------------------------------------------- finger tapping (Islam et al. 2023)

def tapping_session(filename: str) -> str:
    """The recording session: the file name without its -left/-right suffix and extension."""
    return re.sub(r"-*(left|right)(\.\w+)?$", "", str(filename), flags=re.IGNORECASE)


def tapping_subject(filename: str) -> str:
    """The session, or the participant where the file name carries one (the NIH... prefix is a
    participant code that recurs across sessions); the stricter grouping of the two."""
    session = tapping_session(filename)
    m = re.match(r"(NIH[A-Z0-9]+)-", session)
    return m.group(1) if m else session


def load_finger_tapping(path: Path = FINGER_TAPPING_PATH) -> Table:
    df = pd.read_csv(path)
    needed = {"filename", "diagnosed", "Rating"}
    if not needed <= set(df.columns):
        raise ValueError(f"{Path(path).name}: not in the finger-tapping table format (needs {sorted(needed)}).")
    diagnosed = df["diagnosed"].astype(str).str.strip().str.lower().map({"yes": 1, "no": 0, "1": 1, "0": 0})
    keep = diagnosed.notna()
    df, diagnosed = df[keep].reset_index(drop=True), diagnosed[keep].to_numpy(dtype=int)
    rating = pd.to_numeric(df["Rating"], errors="coerce").to_numpy(dtype=float)
    skipped = {"rows_without_diagnosis": int((~keep).sum())} if (~keep).sum() else {}
    return Table(df, diagnosed, df["filename"].map(tapping_subject).to_numpy(), rating, skipped)


# ---------------------------------------------------------------- gaitpdb forces

GAIT_PROTOCOLS = {
    "Ga": "overground, usual pace (Yogev et al. 2005); _02 and later walks dual-task or repeated",
    "Ju": "overground, usual pace (Hausdorff et al. 2007); later walks repeated/after intervention",
    "Si": "treadmill (Frenkel-Toledo et al. 2005): excluded, a treadmill paces the stride",
}
OVERGROUND_STUDIES = ("Ga", "Ju")


def walk_files(directory: Path) -> list[Path]:
    """Walk recordings of a gaitpdb-style directory: <Study><Co|Pt><nn>_<walk>.txt."""
    return sorted(p for p in Path(directory).glob("*.txt") if re.match(r"^[A-Za-z]{2}(Co|Pt)\d+_\d+\.txt$", p.name))


def read_demographics(directory: Path) -> pd.DataFrame:
    path = Path(directory) / "demographics.txt"
    if not path.is_file():
        raise ValueError(f"{directory}: no demographics.txt (the gaitpdb layout needs it for the labels).")
    demo = pd.read_csv(path, sep="\t")
    demo = demo.dropna(subset=["ID"])
    demo["ID"] = demo["ID"].astype(str).str.strip()
    return demo.set_index("ID")


def read_walk(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """time_s, left total force, right total force. Accepts the 3-column copy (with a header) and
    the original 19-column PhysioNet files (time, 16 sensors, left total, right total)."""
    arr = np.genfromtxt(path, comments="#", invalid_raise=False)
    if arr.ndim != 2 or arr.shape[0] < 100:
        raise ValueError(f"{Path(path).name}: not a force recording")
    arr = arr[np.isfinite(arr).all(axis=1)]
    if arr.shape[1] == 3:
        return arr[:, 0], arr[:, 1], arr[:, 2]
    if arr.shape[1] == 19:
        return arr[:, 0], arr[:, 17], arr[:, 18]
    raise ValueError(f"{Path(path).name}: expected 3 or 19 columns, found {arr.shape[1]}")


def gait_walk_features(path: Path) -> dict[str, float]:
    """Stride measures of one walk with the same code the video pipeline uses (core.movement.gait)."""
    from core.movement.gait import events_from_force, stride_measures

    t, left, right = read_walk(path)
    events = events_from_force(t, left, right)
    return dict(stride_measures(events, float(t[-1] - t[0])))


def load_gaitpdb(directory: Path = GAITPDB_DIR, studies: tuple[str, ...] | None = OVERGROUND_STUDIES) -> Table:
    """One row per walk with its stride measures; `studies=None` keeps every protocol. Walks that
    fail to parse, or whose subject is not in demographics.txt, are skipped and counted."""
    directory = Path(directory)
    demo = read_demographics(directory)
    rows, skipped = [], {"files_unparsed": 0, "subjects_not_in_demographics": 0, "other_protocol": 0}
    for path in walk_files(directory):
        subject, walk = path.stem.split("_")
        study = subject[:2]
        if studies is not None and study not in studies:
            skipped["other_protocol"] += 1
            continue
        if subject not in demo.index or pd.isna(demo.loc[subject, "Group"]):
            skipped["subjects_not_in_demographics"] += 1
            continue
        try:
            feats = gait_walk_features(path)
        except Exception:  # an unreadable or too short walk: counted, never fatal
            skipped["files_unparsed"] += 1
            continue
        rows.append({"file": path.name, "subject": subject, "study": study, "walk": walk,
                     "group": int(demo.loc[subject, "Group"]), **feats})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return Table(frame, np.zeros(0, dtype=int), np.zeros(0, dtype=object), None,
                     {k: v for k, v in skipped.items() if v})
    return Table(frame, (frame["group"] == 1).to_numpy(dtype=int), frame["subject"].to_numpy(), None,
                 {k: v for k, v in skipped.items() if v})
