"""core.visits.analyze_files: the whole visit from files, no database (what the CLI prints)."""
import json
from pathlib import Path

import pytest

from core.pipeline import UnusableInput
from core.visits import analyze_files

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("HC_sample__AH_322A*.wav"))


def test_vowel_visit_has_fused_score_explanation_and_summary():
    out = analyze_files([(VOWEL, "vowel", None)])
    json.dumps(out, allow_nan=False)  # plain JSON
    rec = out["recordings"][0]
    assert rec["task"] == "vowel" and rec["quality"]["ok"]
    assert rec["explanation"]["measure_attributions"]["names"]
    assert abs(rec["explanation"]["measure_attributions"]["completeness_gap"]) < 1e-3
    assert rec["summary"] and rec["timings_s"]["analysis"] > 0
    fused = out["fused"]
    assert fused["probability"] == pytest.approx(rec["score"]["probability"], abs=1e-12)
    assert any("not a diagnosis" in line for line in fused["summary"])


def test_unusable_file_names_the_task(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF0000WAVEfmt garbage" * 10)
    with pytest.raises(UnusableInput, match="Sustained vowel"):
        analyze_files([(bad, "vowel", None)])
