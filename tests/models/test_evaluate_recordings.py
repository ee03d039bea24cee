"""`python -m models.evaluate recordings FOLDER --labels labels.csv`: the whole pipeline on real
phone vowels (the 40 Iyer 2023 originals), and on a folder of some of them converted to m4a (AAC)
and webm (Opus) with odd names, plus a corrupt file and a listed file that is absent."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pandas as pd
import pytest

from core.config import MODELS_DIR, PROJECT_ROOT
from models.evaluate import main, read_labels, LabelsError

ORIGINALS = MODELS_DIR / "datasets" / "voice" / "iyer2023_vowels_originals"


def run_recordings(folder: Path, labels: Path, *extra: str) -> tuple[int, dict | None, str]:
    proc = subprocess.run([sys.executable, "-m", "models.evaluate", "recordings", str(folder), "--labels", str(labels),
                           *extra], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    return proc.returncode, json.loads(proc.stdout) if proc.returncode == 0 else None, proc.stderr


def _unit_or_null(x) -> bool:
    return x is None or (isinstance(x, float) and 0.0 <= x <= 1.0)


def _ci_ok(ci) -> bool:
    return ci is None or (len(ci) == 2 and 0.0 <= ci[0] <= ci[1] <= 1.0)


def _assert_consistent(out: dict) -> None:
    assert out["measured"] + out["refused_total"] == out["n"]
    assert sum(out["refused"].values()) >= out["refused_total"]  # a clip may fail more than one check
    assert out["scored"] <= out["measured"]
    for key in ("auc", "sensitivity", "specificity", "age_only_auc", "age_only_auc_all_labelled"):
        assert _unit_or_null(out[key]), key
    assert _ci_ok(out["auc_ci95_subject_bootstrap"]) and _ci_ok(out["age_only_auc_ci95"])
    assert out["model_status"]["status"] in ("shipped", "withheld")
    band = out["age_band"]
    assert _unit_or_null(band["score_auc"]) and _unit_or_null(band["age_auc"])
    if band["n_pd"] == 0 or band["n_healthy"] == 0:
        assert band["score_auc"] is None and band["note"]


@pytest.mark.parametrize("label,expected", [("HC", 0), ("healthy", 0), (" Control ", 0), ("0", 0),
                                            ("PwPD", 1), ("pd", 1), ("1", 1), ("1.0", 1), ("Parkinson", 1)])
def test_accepted_labels(tmp_path, label, expected):
    (tmp_path / "labels.csv").write_text(f"file,label,age\na.wav,{label},61\n")
    frame = read_labels(tmp_path / "labels.csv")
    assert frame["y"].tolist() == [expected] and frame["age"].tolist() == [61.0]


def test_unknown_labels_exit_2_with_one_line(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("file,label\na.wav,HC\nb.wav,maybe\nc.wav,\n")
    assert main(["recordings", str(tmp_path), "--labels", str(tmp_path / "labels.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "maybe" in err and "accepted" in err and "b.wav" not in err


def test_labels_without_the_label_column_are_refused(tmp_path):
    (tmp_path / "labels.csv").write_text("file,diagnosis\na.wav,HC\n")
    with pytest.raises(LabelsError, match="label"):
        read_labels(tmp_path / "labels.csv")


def test_a_folder_with_only_missing_files_counts_them(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("file,label,age\nnot here.wav,HC,50\ngone.wav,PD,70\n")
    assert main(["recordings", str(tmp_path), "--labels", str(tmp_path / "labels.csv")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 2 and out["measured"] == 0 and out["refused"] == {"missing": 2}
    assert out["auc"] is None and out["age_only_auc_all_labelled"] == 1.0


@pytest.mark.slow
def test_the_40_real_phone_vowels_end_to_end():
    labels = ORIGINALS / "labels.csv"
    code, out, err = run_recordings(ORIGINALS, labels)
    assert code == 0, err
    assert out["n"] == 40 and out["n_pd"] == 20 and out["n_healthy"] == 20
    _assert_consistent(out)
    assert out["measured"] >= 1
    assert "missing" not in out["refused"] and "unreadable" not in out["refused"]
    ages = pd.read_csv(labels)
    # age alone is computed on all labelled rows, and here it separates the groups well (README: confound)
    assert out["age_only_auc_all_labelled"] > 0.7 and out["n_with_age"] == 40
    if out["auc"] is not None:  # both groups scored: a CI and the like-for-like age reference exist
        assert out["auc_ci95_subject_bootstrap"] is not None and out["age_only_auc"] is not None
    if out["model_status"]["status"] == "withheld":
        assert out["scored"] == 0 and out["auc"] is None and out["model_status"]["reason"]
    else:
        assert out["scored"] > 0 and isinstance(out["model_version"], str)
    for name in ages["file"]:  # no file name on stderr (clinic file names carry patients' names)
        assert Path(name).stem not in err
    assert all(line.startswith("clip ") for line in err.splitlines()), err


def _encode(src: Path, dst: Path, container: str, codec: str, rate: int) -> None:
    with av.open(str(src)) as inp:
        frames = [f for f in inp.decode(audio=0)]
    resampler = av.AudioResampler(format="fltp" if codec == "aac" else "s16", layout="mono", rate=rate)
    with av.open(str(dst), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        for frame in frames:
            frame.pts = None
            for r in resampler.resample(frame):
                for packet in stream.encode(r):
                    out.mux(packet)
        for r in resampler.resample(None):
            for packet in stream.encode(r):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.slow
def test_other_formats_odd_names_a_corrupt_and_a_missing_file(tmp_path):
    labels = pd.read_csv(ORIGINALS / "labels.csv")
    picks = pd.concat([labels[labels.label == "HC"].head(2), labels[labels.label == "PwPD"].head(2)])
    folder = tmp_path / "clinic export"
    (folder / "sub dir").mkdir(parents=True)
    rows = []
    for k, (_, r) in enumerate(picks.iterrows()):
        src = ORIGINALS / r["file"]
        if k % 2 == 0:
            name = f"sub dir/Ünïcode clip #{k}.m4a"
            _encode(src, folder / name, "mp4", "aac", 16000)
        else:
            name = f"voice, take {k}.webm"
            _encode(src, folder / name, "webm", "libopus", 48000)
        rows.append({"file": name, "label": {"HC": "healthy", "PwPD": "PD"}[r["label"]], "age": r["age"], "sex": r["sex"]})
    shutil.copy(ORIGINALS / picks.iloc[0]["file"], folder / "as is 8 kHz float.wav")
    rows.append({"file": "as is 8 kHz float.wav", "label": "hc", "age": picks.iloc[0]["age"], "sex": "F"})
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    rows.append({"file": "broken.wav", "label": "1", "age": 70, "sex": "M"})
    rows.append({"file": "never recorded.wav", "label": "0", "age": 40, "sex": "F"})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    for name in ("sub dir/Ünïcode clip #0.m4a", "voice, take 1.webm"):  # really the formats asked for
        with av.open(str(folder / name)) as c:
            assert c.streams.audio[0].codec_context.name in ("aac", "opus")

    code, out, err = run_recordings(folder, tmp_path / "labels.csv")
    assert code == 0, err
    assert out["n"] == 7
    assert out["refused"].get("unreadable") == 1 and out["refused"].get("missing") == 1
    _assert_consistent(out)
    assert out["measured"] + out["refused_total"] == 7 and out["refused_total"] >= 2
    assert out["n_with_age"] == 7 and _unit_or_null(out["age_only_auc_all_labelled"])
    assert out["age_only_auc_all_labelled"] is not None
    for needle in ("Ünïcode", "take", "broken", "never recorded", "as is"):
        assert needle not in err


@pytest.mark.slow
def test_a_withheld_model_reports_measures_only_and_is_checked_with_include_withheld(tmp_path, monkeypatch):
    """A temporary withheld copy of the voice model: no clip is scored by default; with
    --include-withheld the same clips are scored by the withheld model, so the decision can be checked."""
    from models import registry
    from models.evaluate import evaluate_recordings

    root = tmp_path / "models"
    shutil.copytree(MODELS_DIR / "voice", root / "voice", ignore=shutil.ignore_patterns("status.json"))
    (root / "voice" / "status.json").write_text(json.dumps({"status": "withheld", "reason": "Not earned yet."}))
    labels = pd.read_csv(ORIGINALS / "labels.csv")
    labels = pd.concat([labels[labels.label == "HC"].head(3), labels[labels.label == "PwPD"].head(3)])
    labels.to_csv(tmp_path / "labels.csv", index=False)
    monkeypatch.setattr(registry, "MODELS_DIR", root)
    registry.load_model.cache_clear()
    try:
        plain = evaluate_recordings(ORIGINALS, tmp_path / "labels.csv")
        checked = evaluate_recordings(ORIGINALS, tmp_path / "labels.csv", include_withheld=True)
    finally:
        registry.load_model.cache_clear()
    assert plain["model_status"] == {"status": "withheld", "reason": "Not earned yet."}
    assert plain["scored"] == 0 and plain["auc"] is None and plain["not_scored"].get("withheld") == plain["measured"]
    assert any("withheld" in n for n in plain["notes"])
    assert checked["measured"] == plain["measured"] and checked["scores_from_withheld_model"] is True
    assert checked["scored"] + sum(checked["not_scored"].values()) == checked["measured"]
    if checked["scored"]:
        assert checked["model_version"].startswith("voice-") and 0.0 < checked["threshold"] < 1.0
