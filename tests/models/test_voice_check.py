"""The voice score's go/no-go on real phone recordings (models/voice_check.py): the committed
decision follows the written rule from its own evidence, and a rerun reaches the same decision."""
from __future__ import annotations

import json

import pytest

from models import voice_check
from models.registry import model_status


def _decision(status: dict) -> str:
    shipped = status["evidence"]["shipped_uci_voice"]["passes"]
    return "shipped" if shipped else "withheld"


def test_committed_status_follows_the_rule_from_its_own_evidence():
    status = json.loads(voice_check.STATUS_PATH.read_text())
    assert status["decided_by"] == "python -m models.voice_check" and status["rule"] == voice_check.SHIPPING_RULE
    for name, e in status["evidence"].items():
        assert e["passes"] == voice_check.passes(e["real"]), name
        assert e["real"]["scored"] <= status["real_recordings"]["n"] == 40
    assert status["status"] == _decision(status) == model_status("voice").status
    if status["status"] == "withheld":
        assert status["reason"] and model_status("voice").reason == status["reason"]
    assert status["real_recordings"]["measured"] >= 38


def test_the_rule_needs_both_band_separation_and_specificity():
    good = {"n_healthy": 19, "specificity": 0.6, "age_band": {"auc_ci95": [0.55, 0.9]}}
    assert voice_check.passes(good)
    assert not voice_check.passes({**good, "specificity": 0.4})
    assert not voice_check.passes({**good, "age_band": {"auc_ci95": [0.45, 0.9]}})
    assert not voice_check.passes({**good, "age_band": {"auc_ci95": None}})


@pytest.mark.slow
def test_a_rerun_reaches_the_committed_decision():
    committed = json.loads(voice_check.STATUS_PATH.read_text())
    rerun = voice_check._clean(voice_check.run())
    assert rerun["status"] == committed["status"]
    assert rerun["real_recordings"] == committed["real_recordings"]
    for name, e in rerun["evidence"].items():
        assert e["passes"] == committed["evidence"][name]["passes"]
        assert e["real"]["auc"] == pytest.approx(committed["evidence"][name]["real"]["auc"], abs=1e-3)
