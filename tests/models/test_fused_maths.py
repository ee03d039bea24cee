"""The fusion rule itself, on hand-set parameters (the shipped parameters are tested in
test_fused_shipped.py)."""
import math

import pytest
import torch

from core.pipeline import ModelScore
from models.fused import (BRANCH_KEYS, BranchInput, FusionHead, FusionParameters, fuse, logit, sigmoid)

PARAMS = FusionParameters(
    prior={"voice": 0.75, "finger_tapping_left": 0.68, "finger_tapping_right": 0.68, "gait": 0.6},
    auc={"voice": 0.80, "finger_tapping_left": 0.75, "finger_tapping_right": 0.75, "gait": 0.9},
    hand_correlation=0.6,
)


def score(model, p, lo=None, hi=None):
    return ModelScore(model, f"{model}-test", p, interval=(lo, hi) if lo is not None else None)


def test_one_branch_equals_its_calibrated_score_exactly():
    voice = score("voice", 0.83, 0.7, 0.9)
    r = fuse([BranchInput("voice", voice)], PARAMS)
    assert r.score.probability == 0.83
    assert r.score.interval == (0.7, 0.9)
    assert r.contributions["voice"] == pytest.approx(logit(0.83) - logit(0.75), abs=1e-12)
    # the formula itself (not only the shortcut) gives the same number
    head = FusionHead(PARAMS)
    x = torch.zeros(1, len(BRANCH_KEYS), dtype=torch.float64)
    m = torch.zeros_like(x)
    for k, p in (("gait", 0.31),):
        x[0, BRANCH_KEYS.index(k)], m[0, BRANCH_KEYS.index(k)] = logit(p), 1
    fused, _, prior = head(x, m)
    assert sigmoid(float(fused[0])) == pytest.approx(0.31, abs=1e-12)
    assert sigmoid(float(prior[0])) == pytest.approx(0.6, abs=1e-12)


@pytest.mark.parametrize("gait_p, direction", [(0.95, +1), (0.2, -1)])
def test_adding_a_branch_moves_the_score_in_the_direction_of_its_evidence(gait_p, direction):
    voice_only = fuse([BranchInput("voice", score("voice", 0.8))], PARAMS).score.probability
    both = fuse([BranchInput("voice", score("voice", 0.8)), BranchInput("gait", score("gait", gait_p))], PARAMS)
    assert direction * (both.score.probability - voice_only) > 0.01
    assert direction * both.contributions["gait"] > 0
    # contributions add up to the fused log-odds
    total = logit(both.prior_probability) + sum(both.contributions.values())
    assert sigmoid(total) == pytest.approx(both.score.probability, abs=1e-9)


def test_weaker_branch_is_weighted_relative_to_the_strongest_present():
    r = fuse([BranchInput("voice", score("voice", 0.8)), BranchInput("gait", score("gait", 0.8))], PARAMS)
    assert r.weights["gait"] == pytest.approx(1.0)
    assert r.weights["voice"] == pytest.approx((2 * 0.8 - 1) / (2 * 0.9 - 1))


def test_both_hands_are_discounted_for_correlation():
    left = BranchInput("finger_tapping_left", score("finger_tapping", 0.9))
    right = BranchInput("finger_tapping_right", score("finger_tapping", 0.9))
    one = fuse([left], PARAMS)
    two = fuse([left, right], PARAMS)
    e = logit(0.9) - logit(0.68)
    assert two.contributions["finger_tapping_left"] == pytest.approx(e / 1.6)
    assert sum(two.contributions.values()) == pytest.approx(2 * e / 1.6)
    assert one.score.probability < two.score.probability < sigmoid(logit(0.68) + 2 * e)


def test_interval_contains_the_score_and_widens_with_spread():
    narrow = fuse([BranchInput("voice", score("voice", 0.8, 0.78, 0.82)),
                   BranchInput("gait", score("gait", 0.7, 0.68, 0.72))], PARAMS).score
    wide = fuse([BranchInput("voice", score("voice", 0.8, 0.6, 0.9)),
                 BranchInput("gait", score("gait", 0.7, 0.5, 0.85))], PARAMS).score
    for s in (narrow, wide):
        assert s.interval[0] < s.probability < s.interval[1]
    assert wide.interval[1] - wide.interval[0] > 2 * (narrow.interval[1] - narrow.interval[0])


def test_failed_quality_is_excluded_and_alone_abstains():
    bad = BranchInput("gait", score("gait", 0.9), quality_ok=False)
    alone = fuse([bad], PARAMS)
    assert alone.score.probability is None and "quality" in alone.score.abstained
    with_voice = fuse([bad, BranchInput("voice", score("voice", 0.6))], PARAMS)
    assert with_voice.score.probability == 0.6
    assert "gait" in with_voice.excluded and "gait" not in with_voice.contributions


def test_all_branches_abstaining_abstains_with_their_reasons():
    r = fuse([BranchInput("voice", ModelScore("voice", "v", None, abstained="Input far outside the training data"))],
             PARAMS)
    assert r.score.probability is None
    assert "far outside the training data" in r.score.abstained
    assert fuse([], PARAMS).score.abstained
