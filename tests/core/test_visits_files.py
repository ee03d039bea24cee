"""core.visits.analyze_files: the whole visit from files, no database (what the CLI prints)."""
import json
from pathlib import Path

import pytest

from core.pipeline import UnusableInput
from core.visits import analyze_files
from models.registry import model_status

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("HC_sample__AH_322A*.wav"))


def test_vowel_visit_is_measured_and_says_why_there_is_no_voice_score():
    out = analyze_files([(VOWEL, "vowel", None)])
    json.dumps(out, allow_nan=False)  # plain JSON
    rec = out["recordings"][0]
    assert rec["task"] == "vowel" and rec["quality"]["ok"]
    assert rec["measures"] and rec["timings_s"]["analysis"] > 0
    assert rec["score"]["probability"] is None and rec["score"]["abstained"] == model_status("voice").reason
    fused = out["fused"]
    assert fused["probability"] is None and "measures only" in fused["abstained"]


def test_unusable_file_names_the_task(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF0000WAVEfmt garbage" * 10)
    with pytest.raises(UnusableInput, match="Sustained vowel"):
        analyze_files([(bad, "vowel", None)])
