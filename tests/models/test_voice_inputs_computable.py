"""The shipped voice model only takes measures pdlens computes as the training data defines them
(eligibility rule of models/voice/CARD_TEXT.md): never spread1, spread2 or DFA, and every input
inside its training range on the four real recordings of tests/fixtures/voice."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.analysis import analyze_recording
from core.config import MODELS_DIR
from core.voice import vowel
from models.registry import CARD_FILE, load_model
from models.specs.voice import VOICE_NOT_COMPUTABLE, voice_spec

REAL_VOWELS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("*_sample__AH_*.wav"))


def test_shipped_voice_model_takes_no_input_pdlens_cannot_compute_as_defined():
    model = load_model("voice", allow_withheld=True)
    assert model.feature_names and not set(model.feature_names) & VOICE_NOT_COMPUTABLE
    assert model.metrics["chosen"] in {c.name for c in voice_spec().candidates if not c.not_eligible}


def test_ineligible_candidates_are_reported_but_not_chosen():
    spec = voice_spec()
    ineligible = [c for c in spec.candidates if c.not_eligible]
    assert ineligible and all(set(c.features) & VOICE_NOT_COMPUTABLE for c in ineligible)
    assert all(not set(c.features) & VOICE_NOT_COMPUTABLE for c in spec.candidates if not c.not_eligible)
    metrics = load_model("voice", allow_withheld=True).metrics
    card = (MODELS_DIR / "voice" / CARD_FILE).read_text()
    for c in ineligible:
        assert metrics["candidates"][c.name]["not_eligible"].startswith("input not computable as defined")
        assert f"- {c.name}: " in card and "**not eligible**: input not computable as defined" in card


@pytest.mark.slow
def test_every_model_input_is_inside_its_training_range_on_the_real_recordings():
    model = load_model("voice", allow_withheld=True)
    assert len(REAL_VOWELS) == 4
    for path in REAL_VOWELS:
        features = vowel.uci_features(analyze_recording(path, "vowel").measures)
        for name in model.feature_names:
            lo, hi = model.training_ranges[name]
            assert lo <= features[name] <= hi, f"{path.name[:12]} {name}={features[name]:.4g} outside {lo:.4g}..{hi:.4g}"
