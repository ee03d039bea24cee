"""Measure attributions are faithful to the shipped models, on real rows of the public data:
IntegratedGradients completeness, and the top-attributed measure matters more than a random one."""
import numpy as np
import pytest
import torch

from core.explain import measure_attributions
from models import data as D
from models.registry import load_model

N_ROWS = 24


def _gait_rows(n_per_group: int = 4) -> np.ndarray:
    """Stride measures of a few real gaitpdb walks (whole table is slow to build)."""
    model = load_model("gait", allow_withheld=True)
    files = D.walk_files(D.GAITPDB_DIR)
    pd_files = [f for f in files if "Pt" in f.name][:n_per_group]
    co_files = [f for f in files if "Co" in f.name][:n_per_group]
    rows = []
    for f in pd_files + co_files:
        x = model.vector(D.gait_walk_features(f))
        if np.all(np.isfinite(x)):
            rows.append(x)
    return np.array(rows)


@pytest.fixture(scope="module", params=["voice", "finger_tapping", "gait"])
def model_rows(request):
    model = load_model(request.param, allow_withheld=True)
    if request.param == "gait":
        X = _gait_rows()
    else:
        table = D.load_uci_voice() if request.param == "voice" else D.load_finger_tapping()
        table = table.complete(model.feature_names)
        rng = np.random.default_rng(0)
        idx = rng.choice(len(table.y), size=min(N_ROWS, len(table.y)), replace=False)
        X = table.features(model.feature_names)[idx]
    assert len(X) >= 6
    return model, X


def _logit(model, x: np.ndarray) -> float:
    with torch.no_grad():
        return float(model.torch_logit(torch.as_tensor(x[None, :], dtype=torch.float64))[0])


def test_integrated_gradients_completeness(model_rows):
    model, X = model_rows
    for x in X:
        a = measure_attributions(model, x)
        diff = a["logit"] - a["reference_logit"]
        assert abs(a["completeness_gap"]) <= 0.01 + 0.01 * abs(diff), (a["completeness_gap"], diff)
        assert sum(a["attributions"]) == pytest.approx(diff, abs=0.01 + 0.01 * abs(diff))
        assert a["names"] == model.feature_names


def test_removing_the_top_measure_moves_the_score_more_than_a_random_one(model_rows):
    model, X = model_rows
    rng = np.random.default_rng(1)
    top_moves, random_moves = [], []
    for x in X:
        a = np.array(measure_attributions(model, x)["attributions"], dtype=float)
        base = _logit(model, x)
        top = int(np.argmax(np.abs(a)))
        others = [j for j in range(len(x)) if j != top]
        rand = int(rng.choice(others))
        for j, bucket in ((top, top_moves), (rand, random_moves)):
            x2 = x.copy()
            x2[j] = model.reference[j]
            bucket.append(abs(base - _logit(model, x2)))
    assert np.mean(top_moves) > np.mean(random_moves)
