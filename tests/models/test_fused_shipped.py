"""The fusion with the shipped models and parameters: real scores, real abstentions."""
import json

import numpy as np
import pytest

from models import data as D
from models.fused import BranchInput, derive_parameters, fuse, load_parameters
from models.registry import load_model


def test_shipped_parameters_match_the_shipped_models():
    """models/fused/parameters.json was rebuilt after the branch models last changed."""
    shipped, fresh = load_parameters(), derive_parameters()
    assert shipped.component_versions == fresh.component_versions
    assert shipped.prior == pytest.approx(fresh.prior) and shipped.auc == pytest.approx(fresh.auc)
    assert shipped.hand_correlation == pytest.approx(fresh.hand_correlation, abs=1e-6)


def _voice_row(i: int) -> dict:
    model = load_model("voice", allow_withheld=True)
    table = D.load_uci_voice().complete(model.feature_names)
    return dict(zip(model.feature_names, table.features(model.feature_names)[i]))


def test_voice_only_visit_equals_the_calibrated_voice_score():
    model = load_model("voice", allow_withheld=True)
    score = model.score(_voice_row(0))
    fused = fuse([BranchInput("voice", score)])
    assert score.probability is not None
    assert fused.score.probability == score.probability and fused.score.interval == score.interval


def test_out_of_range_input_abstains_and_is_left_out():
    model = load_model("voice", allow_withheld=True)
    row = _voice_row(1)
    far = dict(row)
    name = model.feature_names[0]
    lo, hi = model.training_ranges[name]
    far[name] = hi + 50 * (hi - lo)
    out_of_range = model.score(far)
    assert out_of_range.probability is None and "far outside the training data" in out_of_range.abstained
    alone = fuse([BranchInput("voice", out_of_range)])
    assert alone.score.probability is None and "far outside the training data" in alone.score.abstained
    gait = load_model("gait", allow_withheld=True)
    g = gait.score(dict(zip(gait.feature_names, gait.reference)))
    with_gait = fuse([BranchInput("voice", out_of_range), BranchInput("gait", g)])
    assert with_gait.score.probability == g.probability and "voice" in with_gait.excluded


def test_fused_result_is_storable_json():
    model = load_model("voice", allow_withheld=True)
    gait = load_model("gait", allow_withheld=True)
    r = fuse([BranchInput("voice", model.score(_voice_row(2))),
              BranchInput("gait", gait.score(dict(zip(gait.feature_names, gait.reference))))])
    text = json.dumps(r.as_dict(), allow_nan=False)
    assert "contributions_logodds" in text and 0 < r.score.probability < 1
    lo, hi = r.score.interval
    assert lo <= r.score.probability <= hi and np.isfinite([lo, hi]).all()
