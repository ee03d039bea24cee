"""Shared tabular modelling for the voice, finger-tapping and gait models.

One place for: the feature transform (optional log, standardisation) and the small network,
bagged ensembles, subject-grouped cross-validation, Platt calibration, metrics with fold spread
and subject-level bootstrap confidence intervals, and the baselines measured on the same folds.

Everything runs in float64 on CPU with fixed seeds so that retraining reproduces the shipped
weights' metrics exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

LOG_EPS = 1e-6  # added before log so that a zero measure stays finite
DTYPE = torch.float64


# ---------------------------------------------------------------- network and transform

class FeatureTransform(nn.Module):
    """Raw features -> log (selected columns) -> standardised. Differentiable, so attributions
    can be computed on raw features."""

    def __init__(self, log_mask: np.ndarray, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.register_buffer("log_mask", torch.as_tensor(np.asarray(log_mask, dtype=bool)))
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, dtype=np.float64)))
        self.register_buffer("std", torch.as_tensor(np.asarray(std, dtype=np.float64)))

    @staticmethod
    def logged(x: np.ndarray | torch.Tensor, log_mask: np.ndarray) -> np.ndarray:
        """The log step alone (numpy), used for fitting the standardisation and range checks."""
        x = np.array(x, dtype=np.float64, copy=True)
        x[:, log_mask] = np.log(np.clip(x[:, log_mask], 0.0, None) + LOG_EPS)
        return x

    @classmethod
    def fit(cls, X: np.ndarray, log_mask: np.ndarray) -> "FeatureTransform":
        Z = cls.logged(X, log_mask)
        std = Z.std(axis=0)
        return cls(log_mask, Z.mean(axis=0), np.where(std > 1e-12, std, 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logged = torch.log(torch.clamp(x, min=0.0) + LOG_EPS)
        x = torch.where(self.log_mask, logged, x)
        return (x - self.mean) / self.std


class TabularNet(nn.Module):
    """hidden == 0: a logistic/linear model; otherwise one small tanh hidden layer."""

    def __init__(self, n_features: int, hidden: int = 0):
        super().__init__()
        if hidden:
            self.body = nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        else:
            self.body = nn.Linear(n_features, 1)
        self.to(DTYPE)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z).squeeze(-1)

    def weight_penalty(self) -> torch.Tensor:
        return sum((p**2).sum() for n, p in self.named_parameters() if n.endswith("weight"))


@dataclass(frozen=True)
class NetConfig:
    hidden: int = 0
    weight_decay: float = 1e-2  # coefficient of the L2 penalty on weights (not biases), added to the mean loss
    n_members: int = 8  # bagged ensemble size
    epochs: int = 300
    lr: float = 0.05

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Ensemble(nn.Module):
    """Bagged members sharing one feature transform. `.member_outputs` gives each member's raw
    output (logit for classification, rating for regression); `calibration` (a, b) maps the mean
    logit to calibrated log-odds: a * mean + b."""

    def __init__(self, transform: FeatureTransform, members: list[TabularNet], kind: str,
                 calibration: tuple[float, float] = (1.0, 0.0)):
        super().__init__()
        self.transform = transform
        self.members = nn.ModuleList(members)
        self.kind = kind  # "binary" or "regression"
        self.calibration = calibration

    def member_outputs(self, x: torch.Tensor) -> torch.Tensor:  # (n, members)
        z = self.transform(x)
        return torch.stack([m(z) for m in self.members], dim=-1)

    def calibrated_logit(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.calibration
        return a * self.member_outputs(x).mean(dim=-1) + b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "binary":
            return self.calibrated_logit(x)
        return self.member_outputs(x).mean(dim=-1)

    def raw_mean(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.member_outputs(torch.as_tensor(X, dtype=DTYPE)).mean(dim=-1).numpy()


def _train_member(Z: torch.Tensor, y: torch.Tensor, kind: str, cfg: NetConfig, seed: int) -> TabularNet:
    torch.manual_seed(seed)
    net = TabularNet(Z.shape[1], cfg.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loss_fn = nn.BCEWithLogitsLoss() if kind == "binary" else nn.MSELoss()
    for _ in range(cfg.epochs):
        opt.zero_grad()
        loss = loss_fn(net(Z), y) + cfg.weight_decay * net.weight_penalty()
        loss.backward()
        opt.step()
    return net


def _bootstrap_rows(groups: np.ndarray, strata: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Resample whole subjects with replacement (within each stratum, so both classes stay)."""
    uniq = np.unique(groups)
    group_stratum = {g: (strata[groups == g][0] if strata is not None else 0) for g in uniq}
    chosen: list[Any] = []
    for s in sorted(set(group_stratum.values())):
        members = [g for g in uniq if group_stratum[g] == s]
        chosen.extend(rng.choice(members, size=len(members), replace=True))
    return np.concatenate([np.flatnonzero(groups == g) for g in chosen])


def train_ensemble(X: np.ndarray, y: np.ndarray, groups: np.ndarray, log_mask: np.ndarray,
                   kind: str, cfg: NetConfig, seed: int) -> Ensemble:
    """Fit the transform on X, then `cfg.n_members` members on subject-bootstrap samples."""
    torch.set_num_threads(1)  # determinism and fairness on a shared 2-core machine
    transform = FeatureTransform.fit(X, log_mask)
    with torch.no_grad():
        Z = transform(torch.as_tensor(X, dtype=DTYPE))
    yt = torch.as_tensor(y, dtype=DTYPE)
    rng = np.random.default_rng(seed)
    strata = (y > 0.5).astype(int) if kind == "binary" else None
    members = []
    for k in range(cfg.n_members):
        rows = _bootstrap_rows(groups, strata, rng) if cfg.n_members > 1 else np.arange(len(y))
        members.append(_train_member(Z[rows], yt[rows], kind, cfg, seed * 1000 + k))
    return Ensemble(transform, members, kind)


# ---------------------------------------------------------------- calibration

def fit_platt(logits: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> tuple[float, float]:
    """Platt scaling p = sigmoid(a * logit + b), fitted by Newton steps (small ridge for stability)."""
    a, b = 1.0, 0.0
    X = np.column_stack([logits, np.ones_like(logits)])
    w = np.array([a, b])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(X @ w)))
        grad = X.T @ (p - y) + l2 * w
        H = (X.T * (p * (1 - p))) @ X + l2 * np.eye(2)
        step = np.linalg.solve(H, grad)
        w = w - step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------- splitting

def grouped_folds(groups: np.ndarray, y: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Subject-grouped, label-stratified folds: no subject is ever in two folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    strat = np.asarray(y)
    if strat.dtype.kind == "f":
        strat = np.round(strat).astype(int)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(groups)), strat, groups)]


# ---------------------------------------------------------------- metrics

def auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, p)
    i = int(np.argmax(tpr - fpr))
    return float(min(max(thr[i], 0.0), 1.0))


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(y).astype(int)
    pred = p >= threshold
    pos, neg = y == 1, y == 0
    return {
        "auc": auc(y, p),
        "sensitivity": float(pred[pos].mean()) if pos.any() else float("nan"),
        "specificity": float((~pred[neg]).mean()) if neg.any() else float("nan"),
        "brier": float(np.mean((p - y) ** 2)),
    }


def reliability_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 5) -> list[dict[str, float]]:
    edges = np.linspace(0, 1, n_bins + 1)
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        bins.append({"lo": float(lo), "hi": float(hi), "n": int(sel.sum()),
                     "mean_predicted": float(p[sel].mean()) if sel.any() else None,
                     "observed_rate": float(np.mean(y[sel])) if sel.any() else None})
    return bins


def group_bootstrap_ci(metric: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, p: np.ndarray,
                       groups: np.ndarray, n_boot: int = 1000, seed: int = 0) -> list[float]:
    """95% CI by resampling subjects (all rows of a subject together)."""
    rng = np.random.default_rng(seed)
    uniq = np.unique(groups)
    index = {g: np.flatnonzero(groups == g) for g in uniq}
    values = []
    for _ in range(n_boot):
        rows = np.concatenate([index[g] for g in rng.choice(uniq, size=len(uniq), replace=True)])
        v = metric(y[rows], p[rows])
        if np.isfinite(v):
            values.append(v)
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def mean_sd(values: list[float]) -> dict[str, float]:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max())}


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y, dtype=float) - np.asarray(pred, dtype=float))))


def subject_means(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `values` per subject, in sorted subject order, with the subject ids."""
    uniq = np.unique(groups)
    return np.array([values[groups == g].mean() for g in uniq]), uniq


# ---------------------------------------------------------------- cross-validation

@dataclass
class CVResult:
    """Out-of-fold predictions of repeated grouped CV. `oof[r]` holds repeat r's predictions
    (calibrated probabilities, or ratings for regression); `folds[r]` the (train, test) splits."""

    oof: list[np.ndarray] = field(default_factory=list)
    folds: list[list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=list)


def cross_validate(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray,
                   groups: np.ndarray, n_splits: int, repeats: int, seed: int,
                   calibrate: bool = False) -> CVResult:
    """Run `fit_predict(train_idx, test_idx) -> test predictions` over repeated grouped folds.
    With `calibrate`, predictions are logits and each fold is Platt-calibrated on the other folds'
    out-of-fold logits (cross-fitted), so the reported probabilities never saw their own fold."""
    result = CVResult()
    for r in range(repeats):
        folds = grouped_folds(groups, y, n_splits, seed + r)
        raw = np.full(len(y), np.nan)
        for k, (tr, te) in enumerate(folds):
            raw[te] = fit_predict(tr, te)
        if calibrate:
            out = np.full(len(y), np.nan)
            for tr, te in folds:
                a, b = fit_platt(raw[tr], y[tr])
                out[te] = sigmoid(a * raw[te] + b)
        else:
            out = raw
        result.oof.append(out)
        result.folds.append(folds)
    return result


def summarise_binary(cv: CVResult, y: np.ndarray, groups: np.ndarray, threshold: float,
                     subject_level: bool = False) -> dict[str, Any]:
    """Pooled metrics of repeat 0 with subject bootstrap CI, and per-fold spread over all repeats.
    With `subject_level`, metrics are computed on per-subject mean probabilities."""
    def level(p: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not subject_level:
            return y[rows], p[rows], groups[rows]
        pm, g = subject_means(p[rows], groups[rows])
        ym, _ = subject_means(y[rows].astype(float), groups[rows])
        return ym, pm, g

    fold_metrics: dict[str, list[float]] = {"auc": [], "sensitivity": [], "specificity": [], "brier": []}
    for p, folds in zip(cv.oof, cv.folds):
        for _, te in folds:
            yy, pp, _ = level(p, te)
            for k, v in binary_metrics(yy, pp, threshold).items():
                fold_metrics[k].append(v)
    repeat_auc = [auc(*level(p, np.arange(len(y)))[:2]) for p in cv.oof]
    yy, pp, gg = level(cv.oof[0], np.arange(len(y)))
    pooled = binary_metrics(yy, pp, threshold)
    return {
        "pooled_repeat0": pooled,
        "auc_ci95_subject_bootstrap": group_bootstrap_ci(auc, yy, pp, gg),
        "auc_over_repeats": mean_sd(repeat_auc),
        "per_fold": {k: mean_sd(v) for k, v in fold_metrics.items()},
        "reliability_bins": reliability_bins(yy.astype(float), pp),
    }


def summarise_regression(cv: CVResult, y: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    fold_mae = [mae(y[te], p[te]) for p, folds in zip(cv.oof, cv.folds) for _, te in folds]
    p0 = cv.oof[0]
    return {
        "pooled_repeat0_mae": mae(y, p0),
        "mae_ci95_subject_bootstrap": group_bootstrap_ci(mae, y, p0, groups),
        "mae_over_repeats": mean_sd([mae(y, p) for p in cv.oof]),
        "per_fold_mae": mean_sd(fold_mae),
        "pooled_repeat0_mae_rounded": mae(y, np.round(p0)),
    }


# ---------------------------------------------------------------- baselines (same folds)

def baseline_models(kind: str, seed: int) -> dict[str, Callable[[], Any]]:
    """sklearn baselines: majority/mean, (logistic|ridge) regression, random forest, gradient boosting."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "binary":
        return {
            "majority_class": lambda: DummyClassifier(strategy="prior"),
            "logistic_regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            "random_forest": lambda: RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1),
            "gradient_boosting": lambda: GradientBoostingClassifier(random_state=seed),
        }
    return {
        "mean_rating": lambda: DummyRegressor(strategy="mean"),
        "ridge_regression": lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
        "random_forest": lambda: RandomForestRegressor(n_estimators=300, random_state=seed, n_jobs=1),
        "gradient_boosting": lambda: GradientBoostingRegressor(random_state=seed),
    }


def evaluate_baselines(kind: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray, cv: CVResult,
                       seed: int, subject_level: bool = False) -> dict[str, Any]:
    """Each baseline on exactly the folds `cv` used; same summaries as the shipped model.
    Classifier thresholds: 0.5 on their own probabilities (they are not recalibrated)."""
    out = {}
    for name, make in baseline_models(kind, seed).items():
        b = CVResult(folds=cv.folds)
        for folds in cv.folds:
            pred = np.full(len(y), np.nan)
            for tr, te in folds:
                model = make().fit(X[tr], y[tr])
                pred[te] = model.predict_proba(X[te])[:, 1] if kind == "binary" else model.predict(X[te])
            b.oof.append(pred)
        out[name] = (summarise_binary(b, y, groups, 0.5, subject_level) if kind == "binary"
                     else summarise_regression(b, y, groups))
    return out
