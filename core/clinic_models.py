"""Models tailored by each clinic: learn the clinic's own ratings from the measures pdlens
stored for its own recordings, evaluate them honestly, and use one only when it measurably beats
the plain baseline on the clinic's own patients (issue 15). No Streamlit here; the Models page
and `python -m core.cli clinic-model ...` are thin callers.

Targets and their inputs (`target_spec`): a rating item (and its side) names the task(s) whose
stored measures are the model's inputs, from core.ratings (RatingItem.task) and core.tasks:

- 3.1 speech: the voice tasks (sustained vowel, reading passage);
- 3.4 finger tapping, per side: the finger-tapping clip of THAT side;
- 3.17 rest tremor, upper extremity right (rue) / left (lue): the rest-tremor clip of that hand;
- 3.10 gait: the gait clip;
- the outcome-test stopwatch values: the video of the same test (TUG, 5xSTS, gait speed);
- the MDS-UPDRS part III total and Hoehn & Yahr stage: every part III task present;
- the UPDRS motor / total scores of the public telemonitoring data (the demo database): the
  voice tasks, and the voice measures imported per visit without a clip (the demo's import).

The measures of a visit are those of the record (core.store.repository.counted_assessment): the
current assessment of each clip that counts, and visit-level imported measures; a task with
several counting clips (two sides for the part III total) gives one input per side. Inputs
present on fewer than FEATURE_COVERAGE of the rated visits are left out; a rated visit lacking
any kept input is left out (counted in the data summary).

The model: ridge regression on standardised measures (z-scores, clipped at +-CLIP_Z so that one
wild measurement cannot dominate), its strength chosen by an inner patient-grouped CV inside each
training fold (nested); closed-form, deterministic; the parameters are plain JSON numbers.

Evaluation (`train`): K = 5 patient-grouped folds (patients shuffled with a fixed seed, dealt
round-robin: no patient on both sides, checked); on the same folds the baselines: the training
folds' mean rating, and the shipped model's estimate of the same rating where one is stored for
every visit (the finger-tapping model's 0-4 severity for 3.4; none exists for the UPDRS totals:
the shipped voice model gives a probability of Parkinson's, not a UPDRS value). MAE (AUC for a
binary 0/1 target) of the out-of-fold predictions, with a patient bootstrap 95% CI for the
model, each baseline and the paired difference. BEATS_BASELINE_RULE decides activation and is
the same for every clinic and dataset. Within-patient change is reported separately: how the
out-of-fold estimate's visit-to-visit changes follow the rating's, and a patient-intercept model
(learning only each patient's deviations from their own mean). For a 0/1 target the scores are
ranked within their fold before the pooled AUC (a synthetic check with labels unrelated to the
measures still passed the rule in 5 of 60 draws, above the nominal 2.5%: the binary path is
less conservative than the MAE one, which passed 0 of 40 such draws; no pdlens item is binary).

Minimum data: PDLENS_CLINIC_MODEL_MIN_PATIENTS (core.config, default 20): 5 folds of at least 4
test patients each and a bootstrap over at least 20 patients; below it nothing is trained and
DataStatus.message says how many more rated patients are needed.

Versions (core.store.models.ClinicModelVersion) keep the data summary (counts), metrics, JSON
parameters and the generated card. `activate` refuses a version that does not beat the baseline,
deactivates the target's previous version and writes every visit's estimate (visit-level
Assessment "clinic:<target>", model_version the version's label, severity the estimated rating,
the interval from the out-of-fold errors); core.visits.score_visit keeps them current;
`rollback` supersedes them. All audited (ids and codes only).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.plain_json import json_safe
from core.ratings import PART3_TOTAL_ITEM, RATING_ITEMS, legacy_location, rating_item, rating_label
from core.store.errors import NotFound, PermissionDenied, ValidationError
from core.tasks import TASKS

N_FOLDS = 5
INNER_FOLDS = 4
SEED = 20260415
N_BOOT = 1000
CLIP_Z = 4.0
ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))  # ridge strength per standardised input
FEATURE_COVERAGE = 0.8
INTERVAL_LEVEL = 0.9  # the stored estimate's interval: 90% of out-of-fold errors were within it
CALIBRATION_BINS = 5
MODEL_PREFIX = "clinic:"
ESTIMATE_KIND = "clinic_estimate"
NOT_A_DIAGNOSIS = "Decision support, not a diagnosis."
BEATS_BASELINE_RULE = (
    "A clinic model may be activated only when its out-of-fold MAE is lower than the best baseline's "
    "(for a 0/1 target: its AUC higher) AND the 95% patient-bootstrap confidence interval of the paired "
    "difference (model minus best baseline, same resampled patients) excludes 0. The rule is fixed in the "
    "code (core.clinic_models.BEATS_BASELINE_RULE), the same for every clinic and dataset."
)
VOICE_TASKS = ("vowel", "reading")
PART3_TASKS = tuple(k for k, t in TASKS.items() if t.battery == "mds_updrs")
# Visit-level measures imported without a clip: the importing model's name -> the task they measure.
IMPORTED_TASKS = {"uci_telemonitoring_import": "vowel"}
INTERPOLATED_ITEMS = ("updrs_motor_total", "updrs_total")  # the demo's telemonitoring ratings


class NotEnoughData(ValidationError):
    """Too few rated patients (or visits with the needed measures) to train; says what is missing."""


# ---------------------------------------------------------------- targets


@dataclass(frozen=True)
class TargetSpec:
    item: str
    side: str | None
    sources: tuple[tuple[str, str | None], ...]  # (task, side or None for any side) whose measures are inputs
    why: str  # how the tasks were chosen, for the card

    @property
    def key(self) -> str:
        return self.item if self.side is None else f"{self.item}:{self.side}"

    @property
    def model_name(self) -> str:
        return MODEL_PREFIX + self.key

    @property
    def label(self) -> str:
        return rating_label(self.item, self.side)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for t, _ in self.sources))


_TREMOR_HANDS = {"rue": "right", "lue": "left"}


def target_spec(item: str, side: str | None = None) -> TargetSpec:
    """Which stored measures are the inputs for a rating item (and side); ValidationError with a
    one-line reason for an item pdlens records no task for."""
    spec = rating_item(item)
    side = legacy_location(spec.key, side) if side else None
    if spec.sided and side not in spec.locations:
        raise ValidationError(f"{spec.label} is rated per location: give --side, one of {', '.join(spec.locations)}.")
    if not spec.sided and side is not None:
        raise ValidationError(f"{spec.label} is not rated per side: leave the side out.")
    if spec.key in INTERPOLATED_ITEMS:
        return TargetSpec(spec.key, None, tuple((t, None) for t in (*VOICE_TASKS, *IMPORTED_TASKS)),
                          "the UPDRS summary scores of the telemonitoring data come with voice recordings only: "
                          "the voice measures (sustained vowel, reading passage, imported voice measures)")
    if spec.key in (PART3_TOTAL_ITEM, "hoehn_yahr"):
        return TargetSpec(spec.key, None, tuple((t, None) for t in PART3_TASKS),
                          "a whole-examination rating: the measures of every part III task recorded "
                          "(each side of a sided task is its own input)")
    if spec.task is None:
        raise ValidationError(f"pdlens records no task for {spec.label}: there are no measures to learn it from.")
    if spec.task == "tremor":
        hand = _TREMOR_HANDS.get(side or "")
        if hand is None:
            raise ValidationError(f"pdlens films rest tremor of the hands only: choose rue or lue for {spec.label}.")
        return TargetSpec(spec.key, side, (("tremor", hand),), f"the rest-tremor clip of the {hand} hand")
    if spec.task == "vowel":
        return TargetSpec(spec.key, side, tuple((t, None) for t in (*VOICE_TASKS, *IMPORTED_TASKS)),
                          "the voice tasks (sustained vowel, reading passage)")
    task = TASKS[spec.task]
    if task.sided:
        return TargetSpec(spec.key, side, ((spec.task, side),), f"the {task.label} clip of the {side} side")
    return TargetSpec(spec.key, side, ((spec.task, None),), f"the {task.label} clip")


def _target_or_none(item: str, side: str | None) -> TargetSpec | None:
    try:
        return target_spec(item, side)
    except ValidationError:
        return None


def minimum_patients() -> int:
    from core.config import settings

    return settings().clinic_model_min_patients


# ---------------------------------------------------------------- the training table


def _measure_rows(s: Session, visit_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Every measure of the record: visit_id, patient_id, visit_date, task, side, name, value."""
    from core.store.models import Assessment, MeasureValue, Recording, Visit
    from core.store.repository import counted_assessment

    query = (select(Visit.id, Visit.patient_id, Visit.visit_date, Recording.task, Recording.side,
                    Assessment.model_name, MeasureValue.name, MeasureValue.value)
             .select_from(MeasureValue)
             .join(Assessment, MeasureValue.assessment_id == Assessment.id)
             .join(Visit, Assessment.visit_id == Visit.id)
             .outerjoin(Recording, Assessment.recording_id == Recording.id)
             .where(counted_assessment()))
    if visit_ids is not None:
        query = query.where(Visit.id.in_(list(visit_ids)))
    frame = pd.DataFrame(s.execute(query).all(),
                         columns=["visit_id", "patient_id", "visit_date", "task", "side", "model_name", "name", "value"])
    if frame.empty:
        return frame
    imported = frame["task"].isna()
    frame.loc[imported, "task"] = frame.loc[imported, "model_name"].map(IMPORTED_TASKS)
    return frame.dropna(subset=["task"])


def _ratings(s: Session, target: TargetSpec) -> pd.DataFrame:
    from core.store.models import ClinicianRating, Visit

    rows = s.execute(select(ClinicianRating.visit_id, Visit.patient_id, Visit.visit_date, ClinicianRating.side,
                            ClinicianRating.score)
                     .join(Visit, ClinicianRating.visit_id == Visit.id)
                     .where(ClinicianRating.item == target.item)).all()
    frame = pd.DataFrame(rows, columns=["visit_id", "patient_id", "visit_date", "side", "score"])
    if frame.empty:
        return frame
    sides = [legacy_location(target.item, x) if isinstance(x, str) else None for x in frame["side"]]
    keep = [x == target.side for x in sides]
    return frame[keep].drop(columns="side").drop_duplicates("visit_id")


def _shipped_estimates(s: Session, target: TargetSpec, visit_ids: Sequence[int]) -> pd.Series | None:
    """The shipped model's stored estimate of the same rating (the 0-4 severity of the clip that
    counts), when the target has one task of one side and a shipped model gives severities."""
    from core.store.models import Assessment, Recording
    from core.store.repository import counted_assessment

    if len(target.sources) != 1:
        return None
    task, side = target.sources[0]
    query = (select(Assessment.visit_id, func.avg(Assessment.severity))
             .join(Recording, Assessment.recording_id == Recording.id)
             .where(counted_assessment(), Recording.task == task, Assessment.severity.is_not(None),
                    Assessment.visit_id.in_(list(visit_ids)))
             .group_by(Assessment.visit_id))
    if side is not None:
        query = query.where(Recording.side == side)
    found = dict(s.execute(query).all())
    return pd.Series(found, dtype=float) if found else None


@dataclass
class TrainingTable:
    target: TargetSpec
    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray  # patient id per row
    dates: np.ndarray
    visit_ids: np.ndarray
    features: list[str]
    rated_patients: int
    rated_visits: int
    left_out_visits: int  # rated, but without every kept input
    shipped: np.ndarray | None = None  # the shipped model's estimate per row (all present), else None
    shipped_note: str = ""

    @property
    def n_patients(self) -> int:
        return int(len(np.unique(self.groups)))

    @property
    def n_visits(self) -> int:
        return int(len(self.y))


def _column_name(task: str, side: str | None, name: str, with_side: bool) -> str:
    return f"{task}{'.' + side if with_side and side else ''}:{name}"


def training_table(s: Session, target: TargetSpec) -> TrainingTable:
    """The rated visits of the target with the stored measures of its tasks (see module doc)."""
    ratings = _ratings(s, target)
    rated_patients = int(ratings["patient_id"].nunique()) if not ratings.empty else 0
    rated_visits = int(len(ratings))
    empty = TrainingTable(target, np.zeros((0, 0)), np.zeros(0), np.zeros(0, dtype=int), np.zeros(0),
                          np.zeros(0, dtype=int), [], rated_patients, rated_visits, rated_visits)
    if ratings.empty:
        return empty
    features = visit_features(s, target, ratings["visit_id"].tolist())
    if features.empty:
        return empty
    merged = ratings.set_index("visit_id").join(features, how="left")
    columns = [c for c in features.columns if merged[c].notna().mean() >= FEATURE_COVERAGE]
    merged = merged.dropna(subset=columns) if columns else merged.iloc[0:0]
    if columns:
        spread = merged[columns].std(ddof=0)
        columns = [c for c in columns if spread[c] > 0]
    if not columns or merged.empty:
        return empty
    merged = merged.sort_values(["patient_id", "visit_date"])
    table = TrainingTable(target, merged[columns].to_numpy(float), merged["score"].to_numpy(float),
                          merged["patient_id"].to_numpy(int), merged["visit_date"].to_numpy(),
                          merged.index.to_numpy(int), list(columns), rated_patients, rated_visits,
                          rated_visits - len(merged))
    shipped = _shipped_estimates(s, target, table.visit_ids.tolist())
    if shipped is None:
        table.shipped_note = (f"No shipped pdlens model estimates {target.label}"
                              + (" (the shipped voice model gives a probability of Parkinson's, not a UPDRS value)."
                                 if target.item in INTERPOLATED_ITEMS or target.item == PART3_TOTAL_ITEM else "."))
    else:
        values = shipped.reindex(table.visit_ids)
        if values.notna().all():
            table.shipped = values.to_numpy(float)
            table.shipped_note = "The shipped model's stored 0-4 severity of the same clip."
        else:
            table.shipped_note = (f"The shipped model's estimate is stored for {int(values.notna().sum())} of "
                                  f"{len(values)} visits only: not compared.")
    return table


def visit_features(s: Session, target: TargetSpec, visit_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Per visit (index), the target's inputs as columns named 'task[.side]:measure'."""
    rows = _measure_rows(s, visit_ids)
    if rows.empty:
        return pd.DataFrame()
    keep = np.zeros(len(rows), dtype=bool)
    for task, side in target.sources:
        sel = rows["task"].to_numpy() == task
        if side is not None:
            sel &= (rows["side"] == side).to_numpy()
        keep |= sel
    rows = rows[keep]
    if rows.empty:
        return pd.DataFrame()
    # a source of any side (the part III total) keeps each side apart; a source of one side names none
    any_side = {task for task, side in target.sources if side is None}
    names = [_column_name(t, sd if isinstance(sd, str) else None, n, t in any_side)
             for t, sd, n in zip(rows["task"], rows["side"], rows["name"])]
    return rows.assign(column=names).pivot_table(index="visit_id", columns="column", values="value", aggfunc="mean")


# ---------------------------------------------------------------- data status (minimum data)


@dataclass(frozen=True)
class DataStatus:
    target_key: str
    label: str
    rated_patients: int
    rated_visits: int
    usable_patients: int
    usable_visits: int
    minimum_patients: int

    @property
    def enough(self) -> bool:
        return self.usable_patients >= self.minimum_patients

    @property
    def message(self) -> str:
        """What is missing, in one or two sentences (or that training can start)."""
        if self.enough:
            return (f"{self.usable_patients} rated patients ({self.usable_visits} visits) have the measures "
                    f"needed: enough to train (minimum {self.minimum_patients}).")
        more = self.minimum_patients - self.usable_patients
        text = (f"Not enough data to train a clinic model for {self.label}: {self.usable_patients} rated patients "
                f"({self.usable_visits} visits) have the measures it needs, and at least {self.minimum_patients} "
                f"are needed (PDLENS_CLINIC_MODEL_MIN_PATIENTS). Rate {more} more patient"
                f"{'' if more == 1 else 's'} at a visit with the recordings this item is learned from.")
        if self.rated_patients > self.usable_patients:
            gap = self.rated_patients - self.usable_patients
            text += (f" {gap} rated patient{' has' if gap == 1 else 's have'} no visit with those measures: "
                     "record the task at the rated visit.")
        return text


def data_status(s: Session, item: str, side: str | None = None) -> DataStatus:
    target = target_spec(item, side)
    table = training_table(s, target)
    return DataStatus(target.key, target.label, table.rated_patients, table.rated_visits, table.n_patients,
                      table.n_visits, minimum_patients())


def rated_targets(s: Session) -> list[dict[str, Any]]:
    """Items rated in this database that a clinic model can learn: item, side, label, patients, visits
    (older 3.17 rows stored "left"/"right": counted with "lue"/"rue")."""
    from core.store.models import ClinicianRating, Visit

    rows = s.execute(select(ClinicianRating.item, ClinicianRating.side, Visit.patient_id, func.count(ClinicianRating.id))
                     .join(Visit, ClinicianRating.visit_id == Visit.id)
                     .group_by(ClinicianRating.item, ClinicianRating.side, Visit.patient_id)).all()
    found: dict[str, dict[str, Any]] = {}
    for item, side, patient_id, visits in rows:
        side = legacy_location(item, side) if side else None
        target = _target_or_none(item, side)
        if target is None:
            continue
        entry = found.setdefault(target.key, {"item": item, "side": side, "key": target.key, "label": target.label,
                                              "patients": set(), "visits": 0})
        entry["patients"].add(patient_id)
        entry["visits"] += int(visits)
    out = [{**e, "patients": len(e["patients"])} for e in found.values()]
    order = {k: n for n, k in enumerate(RATING_ITEMS)}
    return sorted(out, key=lambda r: (order.get(r["item"], 999), r["side"] or ""))


# ---------------------------------------------------------------- the model


def _standardise(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip((X - mean) / scale, -CLIP_Z, CLIP_Z)


def fit_ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> dict[str, Any]:
    """Ridge regression on clipped z-scores: (Z'Z/n + alpha I) b = Z'(y - mean y)/n."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Z = _standardise(X, mean, scale)
    zm = Z.mean(axis=0)
    Zc = Z - zm
    n, p = Zc.shape
    coef = np.linalg.solve(Zc.T @ Zc / n + alpha * np.eye(p), Zc.T @ (y - y.mean()) / n)
    return {"mean": mean, "scale": scale, "coef": coef, "intercept": float(y.mean() - zm @ coef), "alpha": alpha}


def predict_ridge(params: dict[str, Any], X: np.ndarray) -> np.ndarray:
    Z = _standardise(X, np.asarray(params["mean"], float), np.asarray(params["scale"], float))
    return params["intercept"] + Z @ np.asarray(params["coef"], float)


def grouped_folds(groups: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Patient-grouped folds: patients shuffled with `seed` and dealt round-robin, so every row of
    a patient is in one test fold. Checked: no patient is on both sides of any split."""
    patients = np.unique(groups)
    if len(patients) < n_splits:
        raise NotEnoughData(f"{len(patients)} patients cannot fill {n_splits} cross-validation folds.")
    order = np.random.default_rng(seed).permutation(patients)
    fold_of = {int(p): k % n_splits for k, p in enumerate(order)}
    fold = np.array([fold_of[int(g)] for g in groups])
    folds = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_splits)]
    check_grouping(folds, groups)
    return folds


def check_grouping(folds: Iterable[tuple[np.ndarray, np.ndarray]], groups: np.ndarray) -> None:
    """Raise RuntimeError if any patient has rows in both the training and the test part of a fold."""
    for train, test in folds:
        shared = set(np.unique(groups[train]).tolist()) & set(np.unique(groups[test]).tolist())
        if shared:
            raise RuntimeError(f"patient-grouped CV broken: {len(shared)} patients in both training and test rows")


def choose_alpha(X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> float:
    """The ridge strength of lowest patient-grouped CV MAE (inner folds), the strongest on ties."""
    n_inner = min(INNER_FOLDS, len(np.unique(groups)))
    if n_inner < 2:
        return ALPHAS[-1]
    folds = grouped_folds(groups, n_inner, seed)
    best, best_mae = ALPHAS[-1], math.inf
    for alpha in reversed(ALPHAS):
        errors = np.concatenate([np.abs(predict_ridge(fit_ridge(X[tr], y[tr], alpha), X[te]) - y[te])
                                 for tr, te in folds])
        mae = float(errors.mean())
        if mae < best_mae - 1e-12:
            best, best_mae = alpha, mae
    return best


# ---------------------------------------------------------------- metrics


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def _mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(y - p)))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _ci(values: list[float]) -> list[float] | None:
    values = [v for v in values if math.isfinite(v)]
    if len(values) < 10:
        return None
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def _patient_index(groups: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    patients = np.unique(groups)
    return patients, {int(p): np.flatnonzero(groups == p) for p in patients}


def paired_bootstrap(metric, y: np.ndarray, predictions: dict[str, np.ndarray], groups: np.ndarray,
                     reference: str, n_boot: int = N_BOOT, seed: int = SEED) -> dict[str, Any]:
    """Metric with a 95% CI for each prediction, and for each difference `reference` minus it, by
    resampling patients (all visits of a patient together; the same resample for every prediction)."""
    rng = np.random.default_rng(seed)
    patients, index = _patient_index(groups)
    draws: dict[str, list[float]] = {k: [] for k in predictions}
    diffs: dict[str, list[float]] = {k: [] for k in predictions if k != reference}
    for _ in range(n_boot):
        rows = np.concatenate([index[int(p)] for p in rng.choice(patients, size=len(patients), replace=True)])
        values = {k: metric(y[rows], p[rows]) for k, p in predictions.items()}
        for k, v in values.items():
            draws[k].append(v)
        for k in diffs:
            diffs[k].append(values[reference] - values[k])
    return {"value": {k: metric(y, p) for k, p in predictions.items()},
            "ci95": {k: _ci(v) for k, v in draws.items()},
            "difference_ci95": {k: _ci(v) for k, v in diffs.items()}}


def calibration_bins(y: np.ndarray, pred: np.ndarray, n_bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
    """Predicted vs rated: visits in bins of equal count by predicted value, mean of each."""
    order = np.argsort(pred, kind="stable")
    out = []
    for part in np.array_split(order, min(n_bins, max(1, len(order)))):
        if len(part):
            out.append({"n": int(len(part)), "lo": float(pred[part].min()), "hi": float(pred[part].max()),
                        "mean_predicted": float(pred[part].mean()), "mean_rated": float(y[part].mean())})
    return out


def within_patient_change(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, dates: np.ndarray,
                          n_boot: int = N_BOOT, seed: int = SEED) -> dict[str, Any]:
    """How the out-of-fold predictions follow each patient's own rating over time, two ways:
    the correlation of visit-to-visit changes (consecutive visits of one patient), and the
    correlation within patients (each patient's mean removed: a patient-intercept view). 95% CIs
    by patient bootstrap."""
    patients, index = _patient_index(groups)
    changes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    centred: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for p, rows in index.items():
        rows = rows[np.argsort(dates[rows], kind="stable")]
        if len(rows) >= 2:
            changes[p] = (np.diff(pred[rows]), np.diff(y[rows]))
            centred[p] = (pred[rows] - pred[rows].mean(), y[rows] - y[rows].mean())

    def pooled(parts: dict, chosen: Iterable[int]) -> float:
        chosen = [c for c in chosen if c in parts]
        if not chosen:
            return float("nan")
        a = np.concatenate([parts[c][0] for c in chosen])
        b = np.concatenate([parts[c][1] for c in chosen])
        return _pearson(a, b)

    rng = np.random.default_rng(seed)
    eligible = np.array(sorted(changes))
    boot_change, boot_centred = [], []
    if len(eligible) >= 3:
        for _ in range(n_boot):
            draw = [int(p) for p in rng.choice(eligible, size=len(eligible), replace=True)]
            # a patient drawn twice counts twice: repeat their rows
            boot_change.append(_pearson(np.concatenate([changes[p][0] for p in draw]),
                                        np.concatenate([changes[p][1] for p in draw])))
            boot_centred.append(_pearson(np.concatenate([centred[p][0] for p in draw]),
                                         np.concatenate([centred[p][1] for p in draw])))
    n_changes = int(sum(len(v[0]) for v in changes.values()))
    return {
        "patients_with_two_visits": int(len(changes)),
        "visit_to_visit_changes": n_changes,
        "change_correlation": pooled(changes, changes),
        "change_correlation_ci95": _ci(boot_change),
        "within_patient_correlation": pooled(centred, centred),
        "within_patient_correlation_ci95": _ci(boot_centred),
        "definition": ("change_correlation: Pearson r of the out-of-fold estimate's change vs the rating's change "
                       "between consecutive visits of one patient, pooled over patients; within_patient_correlation: "
                       "Pearson r after removing each patient's mean estimate and mean rating (a patient-intercept "
                       "view). 95% CIs by resampling patients."),
    }


def _demean(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row minus its patient's mean (per column for a 2-D array)."""
    out = np.array(values, dtype=float, copy=True)
    for p in np.unique(groups):
        rows = groups == p
        out[rows] = out[rows] - out[rows].mean(axis=0)
    return out


def patient_intercept_model(X: np.ndarray, y: np.ndarray, groups: np.ndarray, dates: np.ndarray,
                            folds: list[tuple[np.ndarray, np.ndarray]], seed: int = SEED,
                            n_boot: int = N_BOOT) -> dict[str, Any]:
    """Do the measures follow a patient's OWN rating? A model with a patient intercept: ridge on
    each patient's deviations from their own mean measures (fitted on the training patients),
    predicting each test patient's deviation from their own mean rating. Same patient-grouped
    folds; a test patient's own mean measures use no rating. Reported as within-patient and
    visit-to-visit change correlations with patient-bootstrap 95% CIs."""
    Xd, yd = _demean(X, groups), _demean(y, groups)
    deviation = np.zeros(len(y))
    for k, (train, test) in enumerate(folds):
        multi = np.isin(groups[train], [p for p in np.unique(groups[train]) if (groups[train] == p).sum() >= 2])
        tr = train[multi]
        if len(np.unique(groups[tr])) < 2:
            return {"available": False, "reason": "fewer than two training patients with two or more visits"}
        alpha = choose_alpha(Xd[tr], yd[tr], groups[tr], seed + 100 + k)
        deviation[test] = predict_ridge(fit_ridge(Xd[tr], yd[tr], alpha), Xd[test])
        deviation[test] = _demean(deviation[test], groups[test])
    out = within_patient_change(y, deviation, groups, dates, n_boot, seed)
    out["available"] = True
    out["definition"] = ("patient-intercept model: ridge on each patient's deviations from their own mean measures, "
                         "out-of-fold (the same patient-grouped folds); correlations as above.")
    return out


# ---------------------------------------------------------------- training


@dataclass
class TrainResult:
    target: TargetSpec
    n_patients: int
    n_visits: int
    binary: bool
    metric: str  # "mae" or "auc"
    cv: dict[str, Any]
    baseline: dict[str, Any]
    beats_baseline: bool
    refusal: str | None  # why it may not be activated (None when it beats the baseline)
    calibration: list[dict[str, Any]]
    within_patient: dict[str, Any]
    parameters: dict[str, Any]
    data_summary: dict[str, Any]
    folds_checked: bool = True
    oof: np.ndarray | None = field(default=None, repr=False)
    version_id: int | None = None
    version_label: str | None = None
    activated: bool = False

    def metrics_json(self) -> dict[str, Any]:
        return _json({"metric": self.metric, "binary": self.binary, "cv": self.cv, "baseline": self.baseline,
                      "beats_baseline": self.beats_baseline, "refusal": self.refusal, "rule": BEATS_BASELINE_RULE,
                      "calibration": self.calibration, "within_patient": self.within_patient,
                      "n_patients": self.n_patients, "n_visits": self.n_visits,
                      "grouping_checked": self.folds_checked})

    def as_json(self) -> dict[str, Any]:
        """The CLI's JSON: counts and metrics only, no patient data."""
        return _json({"target": self.target.item, "side": self.target.side, "target_key": self.target.key,
                      "version_id": self.version_id, "version": self.version_label,
                      "n_patients": self.n_patients, "n_visits": self.n_visits, "metric": self.metric,
                      "cv": self.cv, "baseline": self.baseline, "beats_baseline": self.beats_baseline,
                      "refusal": self.refusal, "rule": BEATS_BASELINE_RULE, "calibration": self.calibration,
                      "within_patient_change": self.within_patient, "data": self.data_summary,
                      "activated": self.activated})


def _json(obj: Any) -> Any:
    """Plain JSON with floats to 6 decimals (metrics, parameters and summaries stay compact)."""
    return json_safe(obj, digits=6)


def evaluate(table: TrainingTable, n_boot: int = N_BOOT, seed: int = SEED) -> TrainResult:
    """Nested patient-grouped CV of the ridge model beside the baselines (see module doc)."""
    X, y, groups = table.X, table.y, table.groups
    spec = RATING_ITEMS[table.target.item]
    binary = bool(set(np.unique(y).tolist()) <= {0.0, 1.0}) and len(np.unique(y)) == 2
    folds = grouped_folds(groups, N_FOLDS, seed)
    oof = np.zeros(len(y))
    mean_baseline = np.zeros(len(y))
    alphas = []
    for k, (train, test) in enumerate(folds):
        alpha = choose_alpha(X[train], y[train], groups[train], seed + k + 1)
        alphas.append(alpha)
        oof[test] = predict_ridge(fit_ridge(X[train], y[train], alpha), X[test])
        mean_baseline[test] = y[train].mean()
    low, high = (0.0, 1.0) if binary else (spec.low, spec.high)
    oof = np.clip(oof, low, high)
    if binary:
        # AUC of pooled out-of-fold scores would also rank the folds' intercepts against each other
        # (an artefact of the folds, not of the patients): the scores are ranked within their fold.
        from scipy.stats import rankdata

        for _, test in folds:
            oof[test] = (rankdata(oof[test]) - 0.5) / len(test)
    # For a 0/1 target the mean rating is a constant: AUC 0.5 (pooling per-fold constants would
    # rank the folds against each other, an artefact, so one constant stands for all folds).
    predictions = ({"model": oof, "constant_rate": np.full(len(y), 0.5)} if binary
                   else {"model": oof, "training_fold_mean": mean_baseline})
    if table.shipped is not None:
        predictions["shipped_model"] = table.shipped
    metric_name = "auc" if binary else "mae"
    metric = _auc if binary else _mae
    boot = paired_bootstrap(metric, y, predictions, groups, "model", n_boot, seed)
    values, cis, diff_cis = boot["value"], boot["ci95"], boot["difference_ci95"]
    baseline_names = [k for k in predictions if k != "model"]
    better = (lambda a, b: a > b) if binary else (lambda a, b: a < b)
    best = baseline_names[0]
    for name in baseline_names[1:]:
        if better(values[name], values[best]):
            best = name
    diff_ci = diff_cis.get(best)
    beats = bool(better(values["model"], values[best]) and diff_ci is not None
                 and ((diff_ci[0] > 0) if binary else (diff_ci[1] < 0)))
    if beats:
        refusal = None
    elif not better(values["model"], values[best]):
        refusal = (f"The clinic model does not beat the baseline: its {metric_name.upper()} {values['model']:.3g} is "
                   f"not {'higher' if binary else 'lower'} than the {best.replace('_', ' ')}'s {values[best]:.3g}.")
    else:
        refusal = (f"The clinic model's {metric_name.upper()} ({values['model']:.3g}) is "
                   f"{'higher' if binary else 'lower'} than the {best.replace('_', ' ')}'s ({values[best]:.3g}), "
                   "but the 95% CI of the difference includes 0: not measurably better.")
    residual = np.abs(oof - y)
    halfwidth = float(np.quantile(residual, INTERVAL_LEVEL))
    alpha_all = choose_alpha(X, y, groups, seed)
    final = fit_ridge(X, y, alpha_all)
    parameters = {"kind": "ridge_standardised", "features": table.features, "mean": final["mean"],
                  "scale": final["scale"], "coef": final["coef"], "intercept": final["intercept"],
                  "alpha": final["alpha"], "clip_z": CLIP_Z, "low": low, "high": high, "binary": binary,
                  "interval_level": INTERVAL_LEVEL, "interval_halfwidth": halfwidth,
                  "cv_alphas": alphas}
    cv = {"metric": metric_name, "value": values["model"], "ci95": cis["model"], "folds": N_FOLDS,
          "split": (f"{N_FOLDS}-fold patient-grouped cross-validation (patients shuffled with seed {seed}, dealt "
                    "round-robin; no patient in both training and test rows, checked); ridge strength chosen by "
                    f"{INNER_FOLDS}-fold patient-grouped CV inside each training fold"),
          "per_fold": [metric(y[te], oof[te]) for _, te in folds],
          "interval_halfwidth": halfwidth, "interval_level": INTERVAL_LEVEL}
    baseline = {"best": best, "metric": metric_name,
                "models": {name: {"value": values[name], "ci95": cis[name],
                                  "difference_model_minus_this": values["model"] - values[name],
                                  "difference_ci95": diff_cis[name],  # model minus this baseline
                                  } for name in baseline_names},
                "value": values[best], "ci95": cis[best],
                "difference_model_minus_best": values["model"] - values[best],
                "difference_ci95": diff_ci,
                "shipped_model_note": table.shipped_note}
    return TrainResult(
        table.target, table.n_patients, table.n_visits, binary, metric_name, cv, baseline, beats, refusal,
        calibration_bins(y, oof),
        {**within_patient_change(y, oof, groups, table.dates, n_boot, seed),
         "patient_intercept_model": patient_intercept_model(X, y, groups, table.dates, folds, seed, n_boot)},
        _json(parameters), {}, True, oof)


def _data_summary(table: TrainingTable) -> dict[str, Any]:
    counts = pd.Series(table.groups).value_counts()
    summary = {
        "target": table.target.item, "side": table.target.side, "label": table.target.label,
        "inputs_from": table.target.why, "tasks": list(table.target.tasks), "features": table.features,
        "n_features": len(table.features), "n_patients": table.n_patients, "n_visits": table.n_visits,
        "rated_patients": table.rated_patients, "rated_visits": table.rated_visits,
        "rated_visits_left_out": table.left_out_visits,
        "visits_per_patient_median": float(counts.median()) if len(counts) else 0.0,
        "rating_mean": float(table.y.mean()) if len(table.y) else None,
        "rating_sd": float(table.y.std()) if len(table.y) else None,
    }
    if table.target.item in INTERPOLATED_ITEMS:
        from core.demo import TELEMONITORING_RATINGS_NOTE

        summary["ratings_note"] = (TELEMONITORING_RATINGS_NOTE + " Visit-to-visit changes of such ratings are "
                                   "straight-line steps between the real ratings, not observed changes.")
    return summary


def train_model(s: Session, target: TargetSpec, n_boot: int = N_BOOT) -> TrainResult:
    """Build the table, check the minimum data (NotEnoughData says what is missing), evaluate."""
    table = training_table(s, target)
    status = DataStatus(target.key, target.label, table.rated_patients, table.rated_visits, table.n_patients,
                        table.n_visits, minimum_patients())
    if not status.enough:
        raise NotEnoughData(status.message)
    result = evaluate(table, n_boot=n_boot)
    result.data_summary = _json(_data_summary(table))
    return result


# ---------------------------------------------------------------- model card


def _fmt(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci_text(ci: Sequence[float] | None, digits: int = 2) -> str:
    return "n/a" if not ci else f"{ci[0]:.{digits}f} to {ci[1]:.{digits}f}"


def _intercept_lines(pim: dict[str, Any]) -> list[str]:
    if not pim.get("available"):
        return [f"- Patient-intercept model: not available ({pim.get('reason', 'too few repeated visits')})."]
    return [f"- Patient-intercept model (learns each patient's deviations from their own mean): within-patient "
            f"correlation {_fmt(pim['within_patient_correlation'])} ({_ci_text(pim['within_patient_correlation_ci95'])}), "
            f"change correlation {_fmt(pim['change_correlation'])} ({_ci_text(pim['change_correlation_ci95'])})."]


def model_card(result: TrainResult, label: str) -> str:
    """The generated card of one version (markdown of our own text: no user text in it)."""
    d, cv, base, wp = result.data_summary, result.cv, result.baseline, result.within_patient
    m = result.metric.upper()
    lines = [
        f"# Clinic model {label}: {d['label']}",
        "",
        f"**{NOT_A_DIAGNOSIS}** This model was trained on this clinic's own ratings and pdlens's measures of its "
        "own recordings. It estimates the rating a clinician of this clinic would give; it does not replace the "
        "examination.",
        "",
        "## Data",
        f"- Target: {d['label']} (rating item `{d['target']}`{', side ' + d['side'] if d.get('side') else ''}).",
        f"- Inputs: {d['n_features']} stored measures from {d['inputs_from']}.",
        f"- {d['n_patients']} patients, {d['n_visits']} rated visits with every input "
        f"({d['rated_visits_left_out']} rated visits left out for missing measures; median "
        f"{_fmt(d['visits_per_patient_median'], 0)} visits per patient).",
    ]
    if d.get("ratings_note"):
        lines.append(f"- Ratings: {d['ratings_note']}")
    lines += [
        "",
        "## Model and split",
        f"- Ridge regression on standardised measures (z-scores clipped at +-{CLIP_Z:g}); strength "
        f"{result.parameters['alpha']:.3g} chosen by patient-grouped CV.",
        f"- {cv['split']}.",
        "",
        "## Metrics (out-of-fold, 95% CI by patient bootstrap)",
        f"- Clinic model: {m} {_fmt(cv['value'])} ({_ci_text(cv['ci95'])}).",
    ]
    for name, b in base["models"].items():
        lines.append(f"- Baseline, {name.replace('_', ' ')}: {m} {_fmt(b['value'])} ({_ci_text(b['ci95'])}).")
    lines += [
        f"- Clinic model minus best baseline ({base['best'].replace('_', ' ')}): "
        f"{_fmt(base['difference_model_minus_best'])} ({_ci_text(base['difference_ci95'])}).",
        f"- {base['shipped_model_note']}",
        f"- Beats the baseline: **{'yes' if result.beats_baseline else 'no'}**. Rule: {BEATS_BASELINE_RULE}",
        f"- Estimates are shown with +-{_fmt(cv['interval_halfwidth'])} points: {INTERVAL_LEVEL:.0%} of the "
        "out-of-fold errors were within it.",
        "",
        "## Within-patient change (stated separately)",
        f"- {wp['patients_with_two_visits']} patients with two or more visits, {wp['visit_to_visit_changes']} "
        "visit-to-visit changes.",
        f"- Correlation of the estimate's change with the rating's change: {_fmt(wp['change_correlation'])} "
        f"({_ci_text(wp['change_correlation_ci95'])}).",
        f"- Correlation within patients (patient means removed): {_fmt(wp['within_patient_correlation'])} "
        f"({_ci_text(wp['within_patient_correlation_ci95'])}).",
        *_intercept_lines(wp.get("patient_intercept_model") or {}),
        "",
        "## Limits",
        "- Learned from one clinic's patients, microphones, cameras, rooms and raters: it does not transfer to "
        "another clinic, and it inherits this clinic's raters' habits.",
        "- Cross-validated on the same patients' data that trained it (grouped by patient); no external test set.",
        "- A linear model of the measures: it cannot see what the measures miss.",
        "- Across patients, voice measures predict UPDRS scores weakly; a low MAE gap or a CI near 0 means the "
        "estimate adds little over the clinic's mean rating.",
        f"- {NOT_A_DIAGNOSIS}",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- versions, activation, rollback


def _actor(s: Session, actor: Any, action: str):
    """The active Clinician allowed `action`, or None for the command line without --clinician."""
    from core.store.repository import _may

    if actor is None:
        return None
    from core.store.models import Clinician

    who = actor if isinstance(actor, Clinician) else s.get(Clinician, actor if isinstance(actor, int) else actor.id)
    return _may(s, who, action)


def _audit(s: Session, who, action: str, detail: str, patient_id: int | None = None) -> None:
    from core.store.repository import _audit as audit

    audit(s, who, action, patient_id, detail + ("" if who is not None else " via=cli"))


def train(sessions: sessionmaker[Session], actor: Any, item: str, side: str | None = None, *,
          activate_if_better: bool = False, n_boot: int = N_BOOT) -> TrainResult:
    """Train, evaluate and store a new version (never active by itself; with
    `activate_if_better` it is activated when it beats the baseline). Raises NotEnoughData,
    ValidationError or PermissionDenied with one line; nothing is written then."""
    from core.store import transaction
    from core.store.models import ClinicModelVersion

    target = target_spec(item, side)
    with transaction(sessions) as s:
        who = _actor(s, actor, "train_clinic_model")
        result = train_model(s, target, n_boot=n_boot)
        number = (s.scalar(select(func.max(ClinicModelVersion.version))
                           .where(ClinicModelVersion.target_key == target.key)) or 0) + 1
        version = ClinicModelVersion(target_key=target.key, target_item=target.item, target_side=target.side,
                                     version=number, created_by=who.id if who else None,
                                     data_summary=result.data_summary, metrics=result.metrics_json(),
                                     parameters=result.parameters, card="", beats_baseline=result.beats_baseline)
        version.card = model_card(result, version.label)
        s.add(version)
        s.flush()
        result.version_id, result.version_label = version.id, version.label
        _audit(s, who, "train_clinic_model",
               f"version={version.id} target={target.key} patients={result.n_patients} visits={result.n_visits} "
               f"beats_baseline={'yes' if result.beats_baseline else 'no'}")
    if activate_if_better and result.beats_baseline:
        activate(sessions, actor, result.version_id)
        result.activated = True
    return result


def list_versions(s: Session, target_key: str | None = None) -> list:
    from core.store.models import ClinicModelVersion

    query = select(ClinicModelVersion).order_by(ClinicModelVersion.target_key, ClinicModelVersion.version.desc())
    if target_key:
        query = query.where(ClinicModelVersion.target_key == target_key)
    return list(s.scalars(query))


def active_version(s: Session, target_key: str):
    from core.store.models import ClinicModelVersion

    return s.scalar(select(ClinicModelVersion).where(ClinicModelVersion.target_key == target_key,
                                                     ClinicModelVersion.activated_at.is_not(None),
                                                     ClinicModelVersion.deactivated_at.is_(None)))


def active_versions(s: Session) -> list:
    from core.store.models import ClinicModelVersion

    return list(s.scalars(select(ClinicModelVersion).where(ClinicModelVersion.activated_at.is_not(None),
                                                           ClinicModelVersion.deactivated_at.is_(None))
                          .order_by(ClinicModelVersion.id)))


def activation_refusal(version) -> str | None:
    """Why this version may not be activated (None when it may)."""
    if version.active:
        return f"{version.label} is already active."
    if version.deactivated_at is not None:
        return f"{version.label} was rolled back; train a new version to use it again."
    if not version.beats_baseline:
        refusal = (version.metrics or {}).get("refusal") or "it does not beat the baseline."
        return f"{version.label} cannot be activated: {refusal}"
    return None


def _version_by_ref(s: Session, ref: int | str):
    """A version by id (7) or label ('clinic-3.4-left-v2')."""
    from core.store.models import ClinicModelVersion

    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        version = s.get(ClinicModelVersion, int(ref))
    else:
        version = next((v for v in list_versions(s) if v.label == str(ref).strip()), None)
    if version is None:
        raise NotFound(f"No clinic model version {ref}: see `python -m core.cli clinic-model list`.")
    return version


def _supersede_estimates(s: Session, model_name: str, visit_ids: Iterable[int] | None = None) -> int:
    from core.store.models import Assessment

    query = select(Assessment).where(Assessment.model_name == model_name, Assessment.recording_id.is_(None),
                                     Assessment.superseded_at.is_(None))
    if visit_ids is not None:
        query = query.where(Assessment.visit_id.in_(list(visit_ids)))
    now = datetime.now(timezone.utc)
    count = 0
    for older in s.scalars(query):
        older.superseded_at = now
        count += 1
    return count


def _inputs_sha256(version, row: np.ndarray) -> str:
    payload = json.dumps([version.id, [round(float(v), 9) for v in row]])
    return hashlib.sha256(payload.encode()).hexdigest()


def _write_estimates(s: Session, version, visit_ids: Sequence[int] | None = None) -> dict[int, int]:
    """The version's estimate for every visit (of `visit_ids`, or all) that has all its inputs:
    a visit-level Assessment superseding the previous estimate of the same target. Visits that
    lost an input lose their estimate (superseded). Returns {patient_id: estimates written}."""
    from core.store.models import Assessment, Visit

    params = version.parameters
    target = target_spec(version.target_item, version.target_side)
    features = visit_features(s, target, visit_ids)
    columns = params["features"]
    if features.empty or not set(columns) <= set(features.columns):
        usable = pd.DataFrame(columns=columns)
    else:
        usable = features[columns].dropna()
    model_name = target.model_name
    current = {a.visit_id: a for a in s.scalars(
        select(Assessment).where(Assessment.model_name == model_name, Assessment.recording_id.is_(None),
                                 Assessment.superseded_at.is_(None),
                                 *([Assessment.visit_id.in_(list(visit_ids))] if visit_ids is not None else [])))}
    stale = [v for v in current if v not in usable.index]
    if stale:  # the visit lost an input: its estimate no longer holds
        _supersede_estimates(s, model_name, stale)
    if usable.empty:
        return {}
    X = usable.to_numpy(float)
    estimates = np.clip(predict_ridge(params, X), params["low"], params["high"])
    half = float(params["interval_halfwidth"])
    patient_of = dict(s.execute(select(Visit.id, Visit.patient_id).where(Visit.id.in_(usable.index.tolist()))).all())
    written: dict[int, int] = {}
    now = datetime.now(timezone.utc)
    cv_value = (version.metrics or {}).get("cv", {}).get("value")
    for visit_id, row, estimate in zip(usable.index.tolist(), X, estimates):
        digest = _inputs_sha256(version, row)
        old = current.get(visit_id)
        if old is not None and old.inputs_sha256 == digest and old.model_version == version.label:
            continue
        if old is not None:
            old.superseded_at = now
        s.add(Assessment(
            visit_id=visit_id, recording_id=None, model_name=model_name, model_version=version.label,
            probability=None, severity=float(estimate),
            interval_low=float(max(params["low"], estimate - half)),
            interval_high=float(min(params["high"], estimate + half)),
            abstained_reason=None, inputs_sha256=digest,
            explanation_json={"kind": ESTIMATE_KIND, "target": version.target_item, "side": version.target_side,
                              "label": target.label, "version_id": version.id, "version": version.label,
                              "interval_level": params["interval_level"], "cv_mae": cv_value,
                              "inputs": len(columns), "note": NOT_A_DIAGNOSIS}))
        written[patient_of[visit_id]] = written.get(patient_of[visit_id], 0) + 1
    s.flush()
    return written


def activate(sessions: sessionmaker[Session], actor: Any, ref: int | str) -> dict[str, Any]:
    """Activate a version that beats its baseline (else ValidationError saying why): the
    previous active version of the same target is deactivated, the estimates of every visit
    with the needed measures are written (superseding the previous version's), all audited."""
    from core.store import transaction

    with transaction(sessions) as s:
        who = _actor(s, actor, "activate_clinic_model")
        version = _version_by_ref(s, ref)
        refusal = activation_refusal(version)
        if refusal:
            raise ValidationError(refusal)
        now = datetime.now(timezone.utc)
        previous = active_version(s, version.target_key)
        if previous is not None:
            previous.deactivated_at, previous.deactivated_by = now, who.id if who else None
            s.flush()  # before the activation: the one-active index is checked per statement
        version.activated_at, version.activated_by = now, who.id if who else None
        try:
            s.flush()
        except IntegrityError:  # another administrator activated a version of this target just now
            raise ValidationError("Another version of this model was activated at the same moment: reload the "
                                  "page and check which one is active.") from None
        written = _write_estimates(s, version)
        for patient_id, n in sorted(written.items()):
            _audit(s, who, "clinic_model_estimates", f"version={version.id} estimates={n}", patient_id)
        _audit(s, who, "activate_clinic_model",
               f"version={version.id} target={version.target_key} "
               f"previous={previous.id if previous else 'none'} estimates={sum(written.values())}")
        return {"version_id": version.id, "version": version.label, "target_key": version.target_key,
                "previous": previous.label if previous else None, "estimates": sum(written.values()),
                "patients": len(written)}


def rollback(sessions: sessionmaker[Session], actor: Any, item: str, side: str | None = None) -> dict[str, Any]:
    """Deactivate the active version of a target: back to the shipped model (or measures only).
    Its estimates are superseded (kept as history). Audited. ValidationError when none is active."""
    from core.store import transaction

    target = target_spec(item, side)
    with transaction(sessions) as s:
        who = _actor(s, actor, "activate_clinic_model")
        version = active_version(s, target.key)
        if version is None:
            raise ValidationError(f"No clinic model is active for {target.label}: nothing to roll back.")
        version.deactivated_at, version.deactivated_by = datetime.now(timezone.utc), who.id if who else None
        superseded = _supersede_estimates(s, target.model_name)
        _audit(s, who, "rollback_clinic_model",
               f"version={version.id} target={target.key} estimates_superseded={superseded}")
        return {"version_id": version.id, "version": version.label, "target_key": target.key,
                "estimates_superseded": superseded}


def refresh_visit_estimates(s: Session, who: Any, visit_id: int) -> int:
    """Called when a visit is scored (core.visits.score_visit), in its transaction: the estimate
    of every active clinic model for this visit, written or refreshed (or superseded when the
    visit no longer has the inputs). Returns the estimates written."""
    from core.store.models import Visit

    versions = active_versions(s)
    if not versions:
        return 0
    total = 0
    for version in versions:
        written = _write_estimates(s, version, [visit_id])
        total += sum(written.values())
    if total:
        patient_id = s.scalar(select(Visit.patient_id).where(Visit.id == visit_id))
        _audit(s, who, "clinic_model_estimates", f"visit={visit_id} estimates={total}", patient_id)
    return total


# ---------------------------------------------------------------- reads for pages and exports


def is_estimate(assessment: Any) -> bool:
    return bool(getattr(assessment, "model_name", "") or "").startswith(MODEL_PREFIX) and \
        getattr(assessment, "recording_id", None) is None


def estimate_text(assessment: Any) -> str:
    """'Clinic model estimate of UPDRS motor (part III) total: 23.4 (90% interval 15.0-31.8), version
    clinic-updrs_motor_total-v1. Decision support, not a diagnosis.'"""
    expl = assessment.explanation_json or {}
    label = expl.get("label") or assessment.model_name[len(MODEL_PREFIX):]
    interval = ""
    if assessment.interval_low is not None and assessment.interval_high is not None:
        interval = (f" ({float(expl.get('interval_level', INTERVAL_LEVEL)):.0%} interval "
                    f"{assessment.interval_low:.1f}-{assessment.interval_high:.1f})")
    return (f"Clinic model estimate of {label}: {assessment.severity:.1f}{interval}, version "
            f"{assessment.model_version}. {NOT_A_DIAGNOSIS}")


def visit_estimates(s: Session, visit_id: int) -> list:
    """The visit's current clinic-model estimates (one per active target)."""
    from core.store.models import Assessment

    return list(s.scalars(select(Assessment).where(Assessment.visit_id == visit_id,
                                                   Assessment.recording_id.is_(None),
                                                   Assessment.model_name.startswith(MODEL_PREFIX),
                                                   Assessment.superseded_at.is_(None))
                          .order_by(Assessment.model_name)))


# ---------------------------------------------------------------- command line

EXIT_REFUSED = 2  # bad input, too little data, not allowed, or activation refused (reason on stderr)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.cli clinic-model",
                                description="Train, list, activate and roll back models tailored by this clinic.")
    sub = p.add_subparsers(dest="action", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--database-url", metavar="URL", help="default: the clinic database of the settings")
        q.add_argument("--clinician", metavar="USER", help="an administrator's username (audited as this user; "
                                                           "default: audited as the command line)")
        q.add_argument("--json", action="store_true", help="print JSON")

    t = sub.add_parser("train", help="train and evaluate a new version (activates nothing unless --activate)")
    t.add_argument("--target", required=True, metavar="ITEM", help="rating item: 3.4, 3.10, updrs_motor_total, ...")
    t.add_argument("--side", metavar="S", help="side or location of a sided item (right, left, rue, lue)")
    t.add_argument("--activate", action="store_true", help="activate the new version if it beats the baseline")
    common(t)
    ls = sub.add_parser("list", help="list the trained versions")
    ls.add_argument("--target", metavar="ITEM")
    ls.add_argument("--side", metavar="S")
    common(ls)
    a = sub.add_parser("activate", help="activate a version (refused unless it beats the baseline)")
    a.add_argument("version", metavar="VERSION", help="version id or label")
    common(a)
    r = sub.add_parser("rollback", help="deactivate the active version of a target (back to the shipped model)")
    r.add_argument("--target", required=True, metavar="ITEM")
    r.add_argument("--side", metavar="S")
    common(r)
    return p


def _clinician_id(sessions, username: str | None) -> int | None:
    from core.store import transaction
    from core.store.models import Clinician

    if not username:
        return None
    with transaction(sessions) as s:
        who = s.scalar(select(Clinician).where(Clinician.username == username.strip().lower()))
        if who is None or not who.active:
            raise ValidationError(f"No active clinician '{username}'.")
        return who.id


def version_row(v) -> dict[str, Any]:
    cv = (v.metrics or {}).get("cv", {})
    base = (v.metrics or {}).get("baseline", {})
    return {"version_id": v.id, "version": v.label, "target_key": v.target_key,
            "n_patients": (v.data_summary or {}).get("n_patients"), "n_visits": (v.data_summary or {}).get("n_visits"),
            "metric": cv.get("metric"), "cv": cv.get("value"), "cv_ci95": cv.get("ci95"),
            "baseline": base.get("value"), "baseline_ci95": base.get("ci95"),
            "beats_baseline": bool(v.beats_baseline), "active": v.active,
            "created_at": v.created_at.isoformat() if v.created_at else None,
            "activated_at": v.activated_at.isoformat() if v.activated_at else None,
            "deactivated_at": v.deactivated_at.isoformat() if v.deactivated_at else None}


def _print_train(result: TrainResult, out) -> None:
    m = result.metric.upper()
    cv, base, wp = result.cv, result.baseline, result.within_patient
    print(f"{result.version_label}: {result.target.label}, {result.n_patients} patients, {result.n_visits} visits",
          file=out)
    print(f"  clinic model {m} {_fmt(cv['value'])} (95% CI {_ci_text(cv['ci95'])})", file=out)
    for name, b in base["models"].items():
        print(f"  baseline {name.replace('_', ' ')} {m} {_fmt(b['value'])} (95% CI {_ci_text(b['ci95'])})", file=out)
    print(f"  model minus best baseline {_fmt(base['difference_model_minus_best'])} "
          f"(95% CI {_ci_text(base['difference_ci95'])}); beats the baseline: "
          f"{'yes' if result.beats_baseline else 'no'}", file=out)
    print(f"  within-patient change: r {_fmt(wp['change_correlation'])} "
          f"(95% CI {_ci_text(wp['change_correlation_ci95'])}) over {wp['visit_to_visit_changes']} changes; "
          f"within-patient r {_fmt(wp['within_patient_correlation'])} "
          f"(95% CI {_ci_text(wp['within_patient_correlation_ci95'])})", file=out)
    for line in _intercept_lines(wp.get("patient_intercept_model") or {}):
        print("  " + line[2:], file=out)
    print(f"  activated: {'yes' if result.activated else 'no'}", file=out)


def main(argv: list[str], stdout=None, stderr=None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    from core.config import settings
    from core.store import close_store, open_store, transaction

    url = args.database_url or settings().database_url
    try:
        sessions = open_store(url)
    except Exception as exc:  # a URL that cannot be opened: one line, no traceback
        print(f"clinic-model: cannot open the database: {type(exc).__name__}", file=stderr)
        return EXIT_REFUSED
    try:
        actor = _clinician_id(sessions, args.clinician)
        if args.action == "train":
            result = train(sessions, actor, args.target, args.side, activate_if_better=args.activate)
            if args.json:
                print(json.dumps(result.as_json(), indent=2), file=stdout)
            else:
                _print_train(result, stdout)
            if args.activate and not result.beats_baseline:  # trained and stored, but the activation is refused
                print(f"clinic-model train: stored as {result.version_label}, not activated: {result.refusal}",
                      file=stderr)
                return EXIT_REFUSED
            return 0
        if args.action == "list":
            with transaction(sessions) as s:
                key = target_spec(args.target, args.side).key if args.target else None
                rows = [version_row(v) for v in list_versions(s, key)]
            if args.json:
                print(json.dumps(rows, indent=2), file=stdout)
            else:
                for r in rows:
                    print(f"{r['version_id']:>4} {r['version']:<40} {r['n_patients']} patients "
                          f"{(r['metric'] or '').upper()} {_fmt(r['cv'])} vs baseline {_fmt(r['baseline'])} "
                          f"beats={'yes' if r['beats_baseline'] else 'no'}{' ACTIVE' if r['active'] else ''}",
                          file=stdout)
                if not rows:
                    print("No clinic model trained yet.", file=stdout)
            return 0
        if args.action == "activate":
            done = activate(sessions, actor, args.version)
        else:
            done = rollback(sessions, actor, args.target, args.side)
        if args.json:
            print(json.dumps(done, indent=2), file=stdout)
        elif args.action == "activate":
            print(f"Activated {done['version']}: {done['estimates']} visit estimates written"
                  + (f"; {done['previous']} deactivated." if done["previous"] else "."), file=stdout)
        else:
            print(f"Rolled back {done['version']}: {done['estimates_superseded']} estimates superseded; "
                  "the shipped model (or measures only) again.", file=stdout)
        return 0
    except (ValidationError, NotFound, PermissionDenied) as exc:
        print(f"clinic-model {args.action}: {exc}", file=stderr)
        return EXIT_REFUSED
    finally:
        close_store(url)


def patient_estimates(s: Session, patient_id: int) -> pd.DataFrame:
    """A patient's current clinic-model estimates over time: visit_id, visit_date,
    medication_state, target (label), estimate, interval_low, interval_high, version."""
    from core.store.models import Assessment, Visit

    rows = s.execute(select(Visit.id, Visit.visit_date, Visit.medication_state, Assessment.model_name,
                            Assessment.severity, Assessment.interval_low, Assessment.interval_high,
                            Assessment.model_version, Assessment.explanation_json)
                     .join(Visit, Assessment.visit_id == Visit.id)
                     .where(Visit.patient_id == patient_id, Assessment.recording_id.is_(None),
                            Assessment.model_name.startswith(MODEL_PREFIX), Assessment.superseded_at.is_(None),
                            Assessment.severity.is_not(None))
                     .order_by(Visit.visit_date, Visit.id)).all()
    return pd.DataFrame([(v, d, m, (e or {}).get("label") or name[len(MODEL_PREFIX):], sev, lo, hi, ver)
                         for v, d, m, name, sev, lo, hi, ver, e in rows],
                        columns=["visit_id", "visit_date", "medication_state", "target", "estimate", "interval_low",
                                 "interval_high", "version"])
