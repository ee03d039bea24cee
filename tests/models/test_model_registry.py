"""The shipped models: subject-grouped splits on the real data, loading, scoring real rows,
the differentiable path used for explanations, and abstention."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from models import data as D
from models import tabular as T
from models.registry import MODEL_NAMES, ModelUnavailable, feature_label, load_model, load_model_from


def _assert_disjoint(groups: np.ndarray, y: np.ndarray) -> None:
    folds = T.grouped_folds(groups, y, n_splits=5, seed=1)
    seen: dict[str, int] = {}
    for k, (tr, te) in enumerate(folds):
        assert not set(groups[tr]) & set(groups[te])
        for g in set(groups[te]):
            assert g not in seen, f"subject {g} in folds {seen[g]} and {k}"
            seen[g] = k
    assert set(seen) == set(groups)  # every subject is tested exactly once


def test_voice_folds_keep_each_subject_in_one_fold():
    t = D.load_uci_voice()
    assert len(np.unique(t.groups)) == 25 and len(t.y) == 153
    _assert_disjoint(t.groups, t.y)


def test_finger_tapping_folds_keep_both_hands_of_a_session_together():
    t = D.load_finger_tapping()
    sessions = t.frame["filename"].map(D.tapping_session).to_numpy()
    # both hands of a session map to one group, and a group never spans two sessions' subjects wrongly
    for s in np.unique(sessions):
        assert len(set(t.groups[sessions == s])) == 1
    assert D.tapping_session("2019-05-03T17-09-33-963Z100-task2-right.webm") == "2019-05-03T17-09-33-963Z100-task2"
    assert D.tapping_subject("NIHXU164EVFHK-task2-2019-12-02T14-13-50-404Z--left.webm") == "NIHXU164EVFHK"
    _assert_disjoint(t.groups, t.y)


def test_gait_folds_keep_all_walks_of_a_subject_together():
    files = D.walk_files(D.GAITPDB_DIR)
    demo = D.read_demographics(D.GAITPDB_DIR)
    groups = np.array([p.stem.split("_")[0] for p in files])
    y = np.array([int(demo.loc[g, "Group"] == 1) for g in groups])
    assert len(groups) > len(np.unique(groups))  # several walks per subject exist
    _assert_disjoint(groups, y)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shipped_model_loads_with_metadata(name):
    model = load_model(name, allow_withheld=True)
    assert load_model(name, allow_withheld=True) is model  # cached
    assert re.fullmatch(rf"{name}-\d+\.\d+\.\d+\+[0-9a-f]{{8}}", model.version)
    d = len(model.feature_names)
    assert d >= 3 and model.reference.shape == (d,)
    assert set(model.training_ranges) == set(model.feature_names)
    for n in model.feature_names:
        lo, hi = model.training_ranges[n]
        alo, ahi = model.abstain_ranges[n]
        assert alo <= lo < hi <= ahi
    assert 0.0 < model.threshold < 1.0
    assert model.metrics["model"] == name and model.card_path.is_file()


def _real_rows(name: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    model = load_model(name, allow_withheld=True)
    if name == "voice":
        t = D.load_uci_voice()
    elif name == "finger_tapping":
        t = D.load_finger_tapping()
    else:
        import pandas as pd

        rows = [{**D.gait_walk_features(D.GAITPDB_DIR / f), "y": y}
                for f, y in (("GaPt03_01.txt", 1), ("GaPt04_01.txt", 1), ("GaCo01_01.txt", 0), ("GaCo02_01.txt", 0))]
        frame = pd.DataFrame(rows)
        t = D.Table(frame, frame["y"].to_numpy(), np.arange(len(rows)))
    t = t.complete(model.feature_names)
    X = t.features(model.feature_names)
    return X, t.y, [dict(zip(model.feature_names, x)) for x in X]


def _first_scored(model, rows: list[dict]) -> int:
    """The first real row the model scores (some real walks are refused as atypical as a whole)."""
    scored = [i for i, r in enumerate(rows) if model.abstain_reason(r) is None]
    assert scored, "the model refuses every real row"
    return scored[0]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_scores_real_rows_plausibly(name):
    model = load_model(name, allow_withheld=True)
    X, y, rows = _real_rows(name)
    p = model.predict_proba(X)
    assert p.shape == (len(y),) and np.all((p > 0) & (p < 1))
    if name == "voice":  # tapping diagnosis is weak (card); four gait walks are too few for a
        assert p[y == 1].mean() > p[y == 0].mean()  # stride-interval model (CV AUC 0.74)
    i = _first_scored(model, rows)
    score = model.score(rows[i])
    assert score.abstained is None and score.model == name and score.model_version == model.version
    assert math.isclose(score.probability, p[i], abs_tol=1e-9)
    lo, hi = score.interval
    assert 0 <= lo <= score.probability <= hi <= 1
    if name == "finger_tapping":
        assert 0.0 <= score.severity <= 4.0
        sev = model.predict_severity(X)
        rating = D.load_finger_tapping().complete(model.feature_names).severity
        assert np.corrcoef(sev, rating)[0, 1] > 0.3  # in-sample: tracks the expert rating
    else:
        assert score.severity is None


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_torch_logit_matches_predict_proba_and_has_gradients(name):
    model = load_model(name, allow_withheld=True)
    X, _, _ = _real_rows(name)
    x = torch.tensor(np.array(X[:4]), dtype=torch.float64, requires_grad=True)
    logit = model.torch_logit(x)
    assert np.allclose(torch.sigmoid(logit).detach().numpy(), model.predict_proba(X[:4]), atol=1e-5)
    logit.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # float32 input (as captum may pass) goes through the same path
    assert np.allclose(torch.sigmoid(model.torch_logit(x.detach().float())).numpy(),
                       model.predict_proba(X[:4]), atol=1e-5)


def test_integrated_gradients_against_reference_are_complete():
    from captum.attr import IntegratedGradients

    model = load_model("voice", allow_withheld=True)
    X, _, _ = _real_rows("voice")
    x = torch.as_tensor(X[:1])
    ref = torch.as_tensor(model.reference[None, :])
    attr, delta = IntegratedGradients(model.torch_logit).attribute(x, ref, n_steps=64, return_convergence_delta=True)
    gap = float(model.torch_logit(x)[0] - model.torch_logit(ref)[0])
    assert abs(float(attr.sum()) - gap) < 0.02 * max(1.0, abs(gap))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_abstains_on_missing_nan_and_far_out_of_range(name):
    model = load_model(name, allow_withheld=True)
    _, _, all_rows = _real_rows(name)
    rows = [all_rows[_first_scored(model, all_rows)]]
    first = model.feature_names[0]
    missing = {k: v for k, v in rows[0].items() if k != first}
    label = feature_label(first)  # messages name measures as a clinician reads them
    s = model.score(missing)
    assert s.probability is None and label in s.abstained and first not in s.abstained
    s = model.score({**rows[0], first: float("nan")})
    assert s.probability is None and label in s.abstained
    lo, hi = model.training_ranges[first]
    s = model.score({**rows[0], first: hi + 10 * (hi - lo) + 10 * abs(hi)})
    assert s.probability is None and "outside the training data" in s.abstained
    assert model.score(rows[0]).probability is not None


def test_missing_weights_raise_a_clear_error(tmp_path):
    (tmp_path / "voice").mkdir()
    with pytest.raises(ModelUnavailable, match="python -m models.train voice"):
        load_model_from(tmp_path / "voice")
    (tmp_path / "voice" / "model.pt").write_text("not weights")
    with pytest.raises(ModelUnavailable, match="unreadable"):
        load_model_from(tmp_path / "voice")
    with pytest.raises(ValueError, match="Unknown model"):
        load_model("tremor")
