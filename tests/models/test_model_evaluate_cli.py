"""`python -m models.evaluate ...` as the product owner runs it: on subject-disjoint slices of the
shipped data (written to temp files), with bad rows and bad files mixed in."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.config import PROJECT_ROOT
from models import data as D


def run_evaluate(*args: str) -> tuple[int, dict | None, str]:
    proc = subprocess.run([sys.executable, "-m", "models.evaluate", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    out = json.loads(proc.stdout) if proc.returncode == 0 else None
    return proc.returncode, out, proc.stderr


def test_uci_voice_on_a_subject_slice_with_a_missing_value(tmp_path):
    df = pd.read_csv(D.UCI_VOICE_PATH)
    subjects = df["name"].map(D.voice_subject)
    by_label = df.groupby(subjects)["status"].first()
    chosen = list(by_label[by_label == 0].index[:2]) + list(by_label[by_label == 1].index[:3])
    part = df[subjects.isin(chosen)].copy()
    part.iloc[0, part.columns.get_loc("HNR")] = np.nan  # one row with a missing measure
    path = tmp_path / "slice.data"
    part.to_csv(path, index=False)
    code, out, err = run_evaluate("uci_voice", str(path))
    assert code == 0, err
    for key in ("auc", "n", "n_subjects", "subject_auc", "sensitivity", "specificity", "model_version"):
        assert key in out
    assert out["n"] == len(part) - 1 and out["n_subjects"] == 5
    assert out["skipped"] == {"rows_with_missing_features": 1}
    assert 0.0 <= out["auc"] <= 1.0 and 0.0 <= out["subject_auc"] <= 1.0
    assert out["model_status"]["status"] in ("shipped", "withheld")  # a withheld model is still checked


def test_finger_tapping_on_a_session_slice(tmp_path):
    df = pd.read_csv(D.FINGER_TAPPING_PATH)
    groups = df["filename"].map(D.tapping_subject)
    part = df[groups.isin(groups.unique()[:30])].copy()
    part.iloc[0, part.columns.get_loc("speed_max_denoised")] = np.nan
    path = tmp_path / "slice.csv"
    part.to_csv(path, index=False)
    code, out, err = run_evaluate("finger_tapping", str(path))
    assert code == 0, err
    assert {"auc", "mae", "n", "n_sessions"} <= set(out)
    assert out["n"] == len(part) - 1 and out["skipped"]["rows_with_missing_features"] == 1
    assert 0.0 <= out["mae"] <= 4.0 and 0.0 <= out["auc"] <= 1.0


def test_gaitpdb_directory_with_bad_files_and_unknown_subjects(tmp_path):
    src = D.GAITPDB_DIR
    for name in ("GaPt03_01.txt", "GaPt04_01.txt", "GaCo01_01.txt", "GaCo02_01.txt", "GaCo02_02.txt",
                 "SiCo01_01.txt", "SiPt02_01.txt"):
        shutil.copy(src / name, tmp_path / name)
    # demographics for only some subjects: GaPt04 is left out
    demo = (src / "demographics.txt").read_text().splitlines()
    (tmp_path / "demographics.txt").write_text("\n".join(l for l in demo if not l.startswith("GaPt04")) + "\n")
    (tmp_path / "GaPt03_02.txt").write_text("this is not a force recording\n")  # fails to parse
    shutil.copy(src / "format_of_original_19_columns.txt", tmp_path)  # not a walk: ignored
    code, out, err = run_evaluate("gaitpdb", str(tmp_path))
    assert code == 0, err
    assert {"auc", "n", "walk_auc", "n_walks", "auc_definition"} <= set(out)
    assert out["n"] == 3  # GaPt03, GaCo01, GaCo02 (overground); Si reported separately
    assert out["n_walks"] == 4
    assert out["n_subjects_all_protocols"] == 5
    assert out["skipped"] == {"files_unparsed": 1, "subjects_not_in_demographics": 1}
    assert out["auc"] is None or 0.0 <= out["auc"] <= 1.0


@pytest.mark.parametrize("dataset", ["uci_voice", "finger_tapping", "gaitpdb"])
def test_unreadable_input_exits_2_with_one_line(tmp_path, dataset):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = run_evaluate(dataset, str(bad) if dataset != "gaitpdb" else str(tmp_path))
    assert code == 2 and err.strip().startswith("error:") and len(err.strip().splitlines()) == 1
