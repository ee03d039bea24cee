"""The multivariate abstention check on the real training tables: about 5% of training rows
refused out of fold, a jointly atypical row (every measure inside its own training range)
refused in plain words, typical rows scored, and older weights without the check still load."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from models import data as D
from models import tabular as T
from models.evaluate import _outside_training
from models.registry import ShippedModel, load_model, model_dir
from models.specs import SPECS
from models.train import SEED, _log_mask

# Tolerance on the refused share of training rows: the threshold is the 95% quantile of
# out-of-fold distances, and the cross-fitted estimate on 150-400 rows moves by a few points.
REFUSED_MIN, REFUSED_MAX = 0.02, 0.10


def _table(model: ShippedModel) -> D.Table:
    return SPECS[model.name]().load().complete(model.feature_names)


def _with_check(name: str) -> ShippedModel:
    model = load_model(name)
    if model.meta.get("ood") is None:
        pytest.skip(f"the shipped {name} weights predate the multivariate check; `make train` adds it")
    return model


def test_tapping_training_rows_refused_out_of_fold_about_five_percent():
    """Recomputed from the real table (not read back from the weights): honest, out-of-fold."""
    spec = SPECS["finger_tapping"]()
    model = load_model("finger_tapping")
    table = _table(model)
    names = tuple(model.feature_names)
    ood = T.fit_ood(table.features(list(names)), _log_mask(spec, names), table.y, table.groups,
                    spec.n_splits, SEED)
    assert REFUSED_MIN <= ood["training_refused_fraction"] <= REFUSED_MAX
    # in-sample distances are optimistic: fewer training rows look unusual than new rows would
    assert ood["training_refused_fraction_in_sample"] <= ood["training_refused_fraction"] + 0.02
    assert ood["threshold"] == pytest.approx(model.meta["ood"]["threshold"])


@pytest.mark.parametrize("name", ["voice", "finger_tapping", "gait"])
def test_shipped_check_refuses_about_five_percent_and_scores_typical_rows(name):
    model = _with_check(name)
    assert REFUSED_MIN <= model.meta["ood"]["training_refused_fraction"] <= REFUSED_MAX
    table = _table(model)
    X = table.features(model.feature_names)
    refused = model.outside_training(X)
    assert refused.mean() <= REFUSED_MAX  # training rows themselves are mostly scored
    # a typical row: the per-feature median of the training rows
    typical = dict(zip(model.feature_names, np.median(X, axis=0)))
    assert model.abstain_reason(typical) is None
    s = model.score(typical)
    assert s.abstained is None and 0.0 <= s.probability <= 1.0


def _jointly_atypical(model: ShippedModel, X: np.ndarray) -> tuple[dict[str, float], tuple[str, str]]:
    """A training-like row with its most strongly correlated pair of measures pushed apart: each
    stays inside its own training range (10th and 90th percentiles), the combination does not."""
    Z = np.asarray(model._model_space(X))
    corr = np.corrcoef(Z, rowvar=False)
    np.fill_diagonal(corr, 0.0)
    corr = np.nan_to_num(corr)
    i, j = np.unravel_index(np.argmax(np.abs(corr)), corr.shape)
    row = np.median(X, axis=0)
    hi_i, lo_j = np.percentile(X[:, i], 90), np.percentile(X[:, j], 10 if corr[i, j] > 0 else 90)
    row[i], row[j] = hi_i, lo_j
    return dict(zip(model.feature_names, row)), (model.feature_names[i], model.feature_names[j])


@pytest.mark.parametrize("name", ["voice", "finger_tapping", "gait"])
def test_jointly_atypical_row_is_refused_in_plain_words(name):
    model = _with_check(name)
    X = _table(model).features(model.feature_names)
    features, pair = _jointly_atypical(model, X)
    for n in model.feature_names:  # every measure inside its own training range...
        lo, hi = model.training_ranges[n]
        assert lo <= features[n] <= hi
    row = model.vector(features)[None, :]
    assert model.ood_distance(row)[0] > model.meta["ood"]["threshold"]
    reason = model.abstain_reason(features)  # ...yet the combination is refused
    assert reason is not None and reason.startswith("These measures, taken together, are unlike any recording")
    assert "the measures are shown" in reason
    named = reason.split("Most unusual in combination: ")[1].rstrip(".")
    assert 1 <= len(re.split(r", | and ", named)) <= 3
    from models.registry import feature_label

    assert any(feature_label(n) in named for n in pair)
    for n in model.feature_names:  # no internal keys in what the therapist reads
        if feature_label(n) != n:
            assert n not in reason
    assert not re.search(r"[a-z]_[a-z]|MDVP|denoised", reason)
    s = model.score(features)
    assert s.probability is None and s.abstained == reason
    assert _outside_training(model, row) == 1  # the evaluation counts it too


def test_tapping_swapped_pd_and_control_measures_are_refused():
    """Half the measures of a PD row with the other half from a control row: each measure is real,
    the mixture is not a recording anyone made."""
    model = _with_check("finger_tapping")
    table = _table(model)
    X = table.features(model.feature_names)
    pd_row, control_row = X[np.flatnonzero(table.y == 1)], X[np.flatnonzero(table.y == 0)]
    refused = 0
    for a, b in zip(pd_row[:20], control_row[:20]):
        mixed = np.where(np.arange(len(a)) % 2 == 0, a, b)
        refused += bool(model.outside_training(mixed[None, :])[0])
    assert refused >= 15  # of 20 mixtures


def test_weights_without_the_check_still_score(tmp_path):
    """Older model.pt files carry no meta["ood"]: they load, score, and keep the range guard."""
    directory = model_dir("finger_tapping")
    payload = torch.load(directory / "model.pt", map_location="cpu", weights_only=True)
    payload["meta"].pop("ood", None)
    old = ShippedModel(directory, payload)
    assert old.ood_distance(np.zeros((1, len(old.feature_names)))) is None
    X = _table(old).features(old.feature_names)
    typical = dict(zip(old.feature_names, np.median(X, axis=0)))
    assert old.score(typical).probability is not None
    far = dict(typical, **{old.feature_names[0]: old.abstain_ranges[old.feature_names[0]][1] * 10 + 10})
    reason = old.abstain_reason(far)
    assert reason is not None and "far outside" in reason and old.feature_names[0] not in reason
