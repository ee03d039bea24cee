"""Withheld models: a model that has not earned its numbers on real recordings ships its weights
for the record, but gives no score; its task is measures-only and every page says why."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.analysis import analyze_recording
from core.config import MODELS_DIR
from core.pipeline import ModelScore
from models.fused import BranchInput, fuse
from models.registry import (MODEL_NAMES, ModelWithheld, load_model, load_model_from, model_status,
                             shipped_model_score, status_of)

ORIGINALS = MODELS_DIR / "datasets" / "voice" / "iyer2023_vowels_originals"


def _copy_model(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(MODELS_DIR / name, target, ignore=shutil.ignore_patterns("status.json", "__pycache__"))
    return target


def test_a_model_without_status_file_is_shipped(tmp_path):
    directory = _copy_model(tmp_path, "gait")
    assert status_of(directory).status == "shipped" and not status_of(directory).withheld


def test_a_withheld_status_carries_its_reason_and_still_loads_for_evaluation(tmp_path):
    directory = _copy_model(tmp_path, "gait")
    (directory / "status.json").write_text(json.dumps({"status": "withheld", "reason": "Not validated on video."}))
    status = status_of(directory)
    assert status.withheld and status.reason == "Not validated on video."
    assert load_model_from(directory).feature_names  # the weights are kept for the record


@pytest.mark.parametrize("text", ["{not json", json.dumps({"reason": "no status key"}),
                                  json.dumps({"status": "maybe", "reason": "x"})])
def test_an_unreadable_or_unknown_status_withholds_rather_than_scores(tmp_path, text):
    directory = _copy_model(tmp_path, "gait")
    (directory / "status.json").write_text(text)
    status = status_of(directory)
    assert status.withheld and status.reason


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_load_model_and_shipped_score_follow_the_shipped_status(name):
    status = model_status(name)
    model = load_model(name, allow_withheld=True)
    typical = dict(zip(model.feature_names, model.reference))
    score = shipped_model_score(name, typical)
    if status.withheld:
        with pytest.raises(ModelWithheld) as info:
            load_model(name)
        assert str(info.value) == status.reason
        assert score.probability is None and score.abstained == status.reason
    else:
        assert load_model(name) is not None
        assert score.abstained is None or "withheld" not in score.abstained.lower()


def test_fused_score_leaves_a_withheld_branch_out_and_says_why(tmp_path):
    directory = _copy_model(tmp_path, "voice")
    (directory / "status.json").write_text(json.dumps({"status": "withheld", "reason": "No voice score."}))
    withheld = ModelScore("voice", "withheld", None, abstained=status_of(directory).reason)
    gait_model = load_model("gait", allow_withheld=True)
    gait = gait_model.score(dict(zip(gait_model.feature_names, gait_model.reference)))
    fused = fuse([BranchInput("voice", withheld), BranchInput("gait", gait)])
    assert fused.excluded["voice"] == "Voice (sustained vowel): measures only - No voice score."
    assert "voice" not in fused.contributions


@pytest.mark.slow
def test_a_real_phone_vowel_follows_the_voice_status():
    """End to end on a real recording: measures always, a score only when the voice model is shipped."""
    clip = sorted((ORIGINALS / "PD_AH").glob("*.wav"))[0]
    result = analyze_recording(clip, "vowel")
    assert result.measures
    status = model_status("voice")
    if status.withheld and result.quality.ok:
        assert result.score is not None and result.score.probability is None
        assert result.score.abstained == status.reason
