"""Shared tabular modelling for the voice, finger-tapping and gait models.

One place for: the feature transform (optional log, standardisation) and the small network,
bagged ensembles, subject-grouped cross-validation, Platt calibration, metrics with fold spread
and subject-level bootstrap confidence intervals, and the baselines measured on the same folds.

Everything runs in float64 on CPU with fixed seeds so that retraining reproduces the shipped
weights' metrics exactly.
"""
from __future__ import annotations

import warnings
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


class MemberStack(nn.Module):
    """`n_members` independent small networks evaluated in one batched pass (fast training of
    bagged ensembles). hidden == 0: each member is a logistic/linear model; otherwise one tanh
    hidden layer of `hidden` units. forward: standardised (n, d) -> member outputs (n, members)."""

    def __init__(self, n_features: int, hidden: int, n_members: int, generator: torch.Generator | None = None):
        super().__init__()
        self.hidden = hidden

        def init(*shape: int, fan_in: int) -> nn.Parameter:
            bound = 1.0 / fan_in**0.5
            return nn.Parameter((torch.rand(*shape, generator=generator, dtype=DTYPE) * 2 - 1) * bound)

        if hidden:
            self.w1 = init(n_members, n_features, hidden, fan_in=n_features)
            self.b1 = init(n_members, hidden, fan_in=n_features)
            self.w2 = init(n_members, hidden, fan_in=hidden)
            self.b2 = init(n_members, fan_in=hidden)
        else:
            self.w = init(n_members, n_features, fan_in=n_features)
            self.b = nn.Parameter(torch.zeros(n_members, dtype=DTYPE))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.hidden:
            h = torch.tanh(torch.einsum("nd,mdh->nmh", z, self.w1) + self.b1)
            return torch.einsum("nmh,mh->nm", h, self.w2) + self.b2
        return z @ self.w.T + self.b

    def weight_penalty(self) -> torch.Tensor:
        """Sum over members of each member's squared weights (biases are not penalised)."""
        if self.hidden:
            return (self.w1**2).sum() + (self.w2**2).sum()
        return (self.w**2).sum()


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

    def __init__(self, transform: FeatureTransform, members: MemberStack, kind: str,
                 calibration: tuple[float, float] = (1.0, 0.0)):
        super().__init__()
        self.transform = transform
        self.members = members
        self.kind = kind  # "binary" or "regression"
        self.calibration = calibration

    def member_outputs(self, x: torch.Tensor) -> torch.Tensor:  # (n, members)
        return self.members(self.transform(x))

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


def _bootstrap_counts(groups: np.ndarray, strata: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """How often each row is drawn when whole subjects are resampled with replacement (within
    each stratum, so both classes stay)."""
    uniq, inverse = np.unique(groups, return_inverse=True)
    group_stratum = np.zeros(len(uniq), dtype=int)
    if strata is not None:
        group_stratum[inverse] = strata
    draws = np.zeros(len(uniq))
    for s in np.unique(group_stratum):
        members = np.flatnonzero(group_stratum == s)
        np.add.at(draws, rng.choice(members, size=len(members), replace=True), 1)
    return draws[inverse]


def train_ensemble(X: np.ndarray, y: np.ndarray, groups: np.ndarray, log_mask: np.ndarray,
                   kind: str, cfg: NetConfig, seed: int) -> Ensemble:
    """Fit the transform on X, then `cfg.n_members` members, each on a subject-bootstrap sample
    (expressed as row weights, so all members train together in one batched full-batch Adam)."""
    torch.set_num_threads(1)  # determinism and fairness on a shared 2-core machine
    X, y = np.array(X, dtype=np.float64), np.array(y, dtype=np.float64)  # writable copies for torch
    transform = FeatureTransform.fit(X, log_mask)
    with torch.no_grad():
        Z = transform(torch.as_tensor(X, dtype=DTYPE))
    yt = torch.as_tensor(y, dtype=DTYPE)
    rng = np.random.default_rng(seed)
    strata = (y > 0.5).astype(int) if kind == "binary" else None
    counts = np.stack([_bootstrap_counts(groups, strata, rng) if cfg.n_members > 1 else np.ones(len(y))
                       for _ in range(cfg.n_members)], axis=1)  # (n, members)
    weights = torch.as_tensor(counts / counts.sum(axis=0, keepdims=True), dtype=DTYPE)
    members = MemberStack(Z.shape[1], cfg.hidden, cfg.n_members, torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(members.parameters(), lr=cfg.lr)
    target = yt[:, None].expand(-1, cfg.n_members)
    for _ in range(cfg.epochs):
        opt.zero_grad()
        out = members(Z)
        if kind == "binary":
            per_row = nn.functional.binary_cross_entropy_with_logits(out, target, reduction="none")
        else:
            per_row = (out - target) ** 2
        loss = (weights * per_row).sum() + cfg.weight_decay * members.weight_penalty()
        loss.backward()
        opt.step()
    return Ensemble(transform, members, kind)


# ---------------------------------------------------------------- calibration

def fit_platt(logits: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple[float, float]:
    """Platt scaling p = sigmoid(a * logit + b), fitted by Newton steps (small ridge for stability)."""
    a, b = 1.0, 0.0
    X = np.column_stack([logits, np.ones_like(logits)])
    w = np.array([a, b])
    for _ in range(100):
        p = sigmoid(X @ w)
        grad = X.T @ (p - y) + l2 * w
        H = (X.T * (p * (1 - p))) @ X + l2 * np.eye(2)
        step = np.linalg.solve(H, grad)
        w = w - step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def sigmoid(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


# ---------------------------------------------------------------- splitting

def grouped_folds(groups: np.ndarray, y: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Subject-grouped, label-stratified folds: no subject is ever in two folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    strat = np.asarray(y)
    if strat.dtype.kind == "f":
        strat = np.round(strat).astype(int)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a rare class (rating 4) smaller than n_splits is expected
        warnings.filterwarnings("ignore", message="The least populated class")
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
    raw: list[np.ndarray] = field(default_factory=list)  # uncalibrated predictions (logits) per repeat
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
        result.raw.append(raw)
        result.folds.append(folds)
    return result


def summarise_binary(cv: CVResult, y: np.ndarray, groups: np.ndarray, threshold: float,
                     subject_level: bool = False) -> dict[str, Any]:
    """Pooled metrics of repeat 0 with a subject-bootstrap CI, the spread over repeats and over folds.

    AUC is computed on the uncalibrated out-of-fold scores (`cv.raw`): the shipped model is one
    model with one monotone calibration, so its ranking is that of its raw logit, whereas pooling
    fold-wise calibrated probabilities would mix five different calibrations. Sensitivity,
    specificity, Brier and reliability use the cross-fitted calibrated probabilities (`cv.oof`).
    With `subject_level`, everything is computed on per-subject means."""
    ranking = cv.raw if cv.raw else cv.oof

    def level(v: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not subject_level:
            return y[rows], v[rows], groups[rows]
        vm, g = subject_means(v[rows], groups[rows])
        ym, _ = subject_means(y[rows].astype(float), groups[rows])
        return ym, vm, g

    fold_metrics: dict[str, list[float]] = {"auc": [], "sensitivity": [], "specificity": [], "brier": []}
    for p, r, folds in zip(cv.oof, ranking, cv.folds):
        for _, te in folds:
            yy, pp, _ = level(p, te)
            for k, v in binary_metrics(yy, pp, threshold).items():
                fold_metrics[k].append(v)
            fold_metrics["auc"][-1] = auc(*level(r, te)[:2])
    all_rows = np.arange(len(y))
    repeat_auc = [auc(*level(r, all_rows)[:2]) for r in ranking]
    yy, pp, gg = level(cv.oof[0], all_rows)
    _, rr, _ = level(ranking[0], all_rows)
    pooled = binary_metrics(yy, pp, threshold)
    pooled["auc"] = auc(yy, rr)
    return {
        "pooled_repeat0": pooled,
        "auc_ci95_subject_bootstrap": group_bootstrap_ci(auc, yy, rr, gg),
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
        "pooled_repeat0_mae_rounded": mae(y, whole_score(p0)),
        "whole_score": whole_score_summary(cv, y, groups),
    }


def whole_score(rating: np.ndarray) -> np.ndarray:
    """The nearest whole item score, 0-4 (what an MDS-UPDRS item is)."""
    return np.clip(np.round(np.asarray(rating, dtype=float)), 0.0, 4.0)


def whole_score_summary(cv: CVResult, y: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """MAE of the rounded and clipped predictions: like for like with the integer ratings."""
    p0 = whole_score(cv.oof[0])
    return {
        "pooled_repeat0_mae": mae(y, p0),
        "mae_ci95_subject_bootstrap": group_bootstrap_ci(mae, y, p0, groups),
        "mae_over_repeats": mean_sd([mae(y, whole_score(p)) for p in cv.oof]),
        "per_fold_mae": mean_sd([mae(y[te], whole_score(p[te])) for p, folds in zip(cv.oof, cv.folds)
                                 for _, te in folds]),
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
            "random_forest": lambda: RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
            "gradient_boosting": lambda: GradientBoostingClassifier(random_state=seed),
        }
    return {
        "mean_rating": lambda: DummyRegressor(strategy="mean"),
        "ridge_regression": lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
        "random_forest": lambda: RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1),
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
                # ratings are clipped to the 0-4 item range, as the shipped model's are
                pred[te] = (model.predict_proba(X[te])[:, 1] if kind == "binary"
                            else np.clip(model.predict(X[te]), 0.0, 4.0))
            b.oof.append(pred)
        out[name] = (summarise_binary(b, y, groups, 0.5, subject_level) if kind == "binary"
                     else summarise_regression(b, y, groups))
    return out


# ---------------------------------------------------------------- out-of-distribution check

OOD_METHOD = "mahalanobis_ledoit_wolf"
OOD_QUANTILE = 0.95  # about 5% of training-like rows are refused


def standardised(X: np.ndarray, transform: FeatureTransform) -> np.ndarray:
    """Raw rows -> the model's input space (log where the model logs, then standardised)."""
    with torch.no_grad():
        return transform(torch.as_tensor(np.array(X, dtype=np.float64))).numpy()


def mahalanobis_fit(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and precision (inverse of the Ledoit-Wolf shrunk covariance) of rows Z; the
    shrinkage keeps the precision stable with many correlated features and few rows."""
    from sklearn.covariance import LedoitWolf

    lw = LedoitWolf().fit(Z)
    return lw.location_, lw.precision_


def mahalanobis_sq(Z: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    d = np.atleast_2d(Z) - mean
    return np.einsum("ni,ij,nj->n", d, precision, d)


def mahalanobis_contributions(z: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Per-feature share of one row's squared distance: d_j * (P d)_j (they sum to the distance)."""
    d = np.asarray(z, dtype=np.float64) - mean
    return d * (precision @ d)


def _heldout_distances(X: np.ndarray, log_mask: np.ndarray, tr: np.ndarray, te: np.ndarray) -> np.ndarray:
    """Squared distances of rows `te` from a transform and covariance fitted on rows `tr` only."""
    transform = FeatureTransform.fit(X[tr], log_mask)
    mean, precision = mahalanobis_fit(standardised(X[tr], transform))
    return mahalanobis_sq(standardised(X[te], transform), mean, precision)


def _oof_distances(X: np.ndarray, log_mask: np.ndarray, y: np.ndarray, groups: np.ndarray,
                   folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    out = np.full(len(X), np.nan)
    for tr, te in folds:
        out[te] = _heldout_distances(X, log_mask, tr, te)
    return out


def fit_ood(X: np.ndarray, log_mask: np.ndarray, y: np.ndarray, groups: np.ndarray, n_splits: int,
            seed: int, quantile: float = OOD_QUANTILE) -> dict[str, Any]:
    """The multivariate abstention check of a model, calibrated honestly.

    Mean and precision are fitted on all rows in the model's input space (the transform fitted on
    all rows, as the shipped model's). The threshold on the squared Mahalanobis distance is the
    `quantile` of subject-grouped out-of-fold distances (each row's distance from a fit that never
    saw its subject), so about 1 - quantile of new rows like the training data are refused, not
    fewer as in-sample distances would suggest. The refused fraction reported is cross-fitted:
    each outer fold's rows are judged against a threshold set from inner out-of-fold distances
    of the other folds alone."""
    X = np.array(X, dtype=np.float64)
    folds = grouped_folds(groups, y, n_splits, seed)
    oof = _oof_distances(X, log_mask, y, groups, folds)
    threshold = float(np.quantile(oof, quantile))
    refused = np.zeros(len(X), dtype=bool)
    for tr, te in folds:
        inner = [(tr[a], tr[b]) for a, b in grouped_folds(groups[tr], y[tr], n_splits, seed + 1)]
        inner_oof = _oof_distances(X, log_mask, y, groups, inner)[tr]
        refused[te] = oof[te] > float(np.quantile(inner_oof, quantile))
    transform = FeatureTransform.fit(X, log_mask)
    Z = standardised(X, transform)
    mean, precision = mahalanobis_fit(Z)
    in_sample = mahalanobis_sq(Z, mean, precision)
    refused_subjects = len(np.unique(groups[refused]))
    return {
        "method": OOD_METHOD,
        "space": "the model's input space (log where the model logs, then standardised)",
        "mean": [float(v) for v in mean],
        "precision": [[float(v) for v in row] for row in precision],
        "threshold": threshold,
        "quantile": quantile,
        "threshold_rule": f"{quantile:.0%} quantile of subject-grouped out-of-fold squared Mahalanobis "
                          f"distances ({n_splits} folds)",
        "training_refused_fraction": float(refused.mean()),
        "training_refused_rows": int(refused.sum()),
        "training_refused_subjects": int(refused_subjects),
        "training_refused_fraction_rule": "cross-fitted: each fold's rows against a threshold from the "
                                          "other folds' inner out-of-fold distances",
        "training_refused_fraction_in_sample": float(np.mean(in_sample > threshold)),
        "n_rows": int(len(X)),
    }
