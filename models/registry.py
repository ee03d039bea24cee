"""Load the shipped models: `load_model("voice" | "finger_tapping" | "gait") -> ShippedModel`.

A shipped model lives in models/<name>/: model.pt (weights and metadata, loaded with
weights_only=True), metrics.json (cross-validated metrics for the Model page), MODEL_CARD.md.

Every model maps RAW measures (the dataset's column names, in `feature_names` order) to a
calibrated probability of a PD-like pattern; the finger-tapping model also predicts the 0-4
MDS-UPDRS 3.4 severity. `torch_logit` is the differentiable path used for attributions.
"""
from __future__ import annotations

import contextvars
import hashlib
import json
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from core.config import MODELS_DIR
from core.pipeline import ModelScore
from models.tabular import DTYPE, Ensemble, FeatureTransform, MemberStack

MODEL_NAMES = ("voice", "finger_tapping", "gait")
WEIGHTS_FILE = "model.pt"
METRICS_FILE = "metrics.json"
CARD_FILE = "MODEL_CARD.md"
STATUS_FILE = "status.json"


class ModelUnavailable(FileNotFoundError):
    """The weights of a model are not shipped (or unreadable). One line, says how to fix it."""


def _ensemble_from_state(state: dict[str, torch.Tensor], info: dict[str, Any]) -> Ensemble:
    d = len(info["log_mask"])
    transform = FeatureTransform(np.array(info["log_mask"], dtype=bool), np.zeros(d), np.ones(d))
    members = MemberStack(d, info["hidden"], info["n_members"])
    ens = Ensemble(transform, members, info["kind"], tuple(info.get("calibration", (1.0, 0.0))))
    ens.load_state_dict(state)
    ens.eval()
    for p in ens.parameters():
        p.requires_grad_(False)
    return ens


def weights_hash(states: list[dict[str, torch.Tensor]]) -> str:
    """Short hash of the weight values (not of the file bytes, which depend on torch's zip writer)."""
    h = hashlib.sha256()
    for state in states:
        for key in sorted(state):
            h.update(key.encode())
            h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:8]


class ShippedModel:
    """A trained, calibrated model ready to score measures. Built by `load_model`."""

    def __init__(self, directory: Path, payload: dict[str, Any]):
        meta = payload["meta"]
        self.directory = directory
        self.name: str = meta["name"]
        self.feature_names: list[str] = list(meta["feature_names"])
        self.reference = np.asarray(meta["reference"], dtype=np.float64)  # healthy-control median
        self.training_ranges: dict[str, tuple[float, float]] = {
            k: (float(lo), float(hi)) for k, (lo, hi) in meta["training_ranges"].items()}
        # beyond these the model abstains (training range widened by half its span, in model space)
        self.abstain_ranges: dict[str, tuple[float, float]] = {
            k: (float(lo), float(hi)) for k, (lo, hi) in meta["abstain_ranges"].items()}
        self.threshold: float = float(meta["threshold"])
        self.interval_percentiles: tuple[float, float] = tuple(meta.get("interval_percentiles", (10.0, 90.0)))
        self._classifier = _ensemble_from_state(payload["classifier"], meta["classifier"])
        self._severity = (_ensemble_from_state(payload["severity"], meta["severity"])
                          if payload.get("severity") is not None else None)
        states = [payload["classifier"]] + ([payload["severity"]] if payload.get("severity") is not None else [])
        self.version: str = f"{self.name}-{meta['version']}+{weights_hash(states)}"
        self.meta = meta

    # ------------------------------------------------------------ batch API
    @property
    def has_severity(self) -> bool:
        return self._severity is not None

    def _as_tensor(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = X.to(DTYPE) if isinstance(X, torch.Tensor) else torch.as_tensor(np.array(X, dtype=np.float64))
        if x.ndim == 1:
            x = x.unsqueeze(0)
        if x.shape[-1] != len(self.feature_names):
            raise ValueError(f"{self.name} model expects {len(self.feature_names)} features "
                             f"({', '.join(self.feature_names)}), got {x.shape[-1]}")
        return x

    def torch_logit(self, x: torch.Tensor) -> torch.Tensor:
        """Raw feature rows (n, d) -> calibrated log-odds (n,). Differentiable (float64)."""
        return self._classifier.calibrated_logit(self._as_tensor(x) if x.dtype != DTYPE else x)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated P(PD-like pattern) for raw feature rows (n, d)."""
        with torch.no_grad():
            return torch.sigmoid(self.torch_logit(self._as_tensor(X))).numpy()

    def member_proba(self, X: np.ndarray) -> np.ndarray:
        """Each ensemble member's calibrated probability, (n, members): the spread is the interval."""
        a, b = self._classifier.calibration
        with torch.no_grad():
            return torch.sigmoid(a * self._classifier.member_outputs(self._as_tensor(X)) + b).numpy()

    def predict_severity(self, X: np.ndarray, continuous: bool = False) -> np.ndarray | None:
        """Predicted 0-4 rating, or None for models without a severity output. By default the
        validated output (the whole item score when training chose rounding: see metrics.json
        "severity"); `continuous=True` gives the unrounded rating, e.g. for trend lines."""
        if self._severity is None:
            return None
        with torch.no_grad():
            rating = np.clip(self._severity(self._as_tensor(X)).numpy(), 0.0, 4.0)
        if not continuous and self.meta.get("severity_output") == "rounded":
            return np.round(rating)
        return rating

    def torch_severity(self, x: torch.Tensor) -> torch.Tensor:
        """Raw feature rows -> predicted rating (unclipped), differentiable; finger tapping only."""
        if self._severity is None:
            raise ValueError(f"The {self.name} model has no severity output.")
        return self._severity(self._as_tensor(x) if x.dtype != DTYPE else x)

    # ------------------------------------------------------------ one recording
    def vector(self, features: Mapping[str, float]) -> np.ndarray:
        """Feature mapping -> vector in `feature_names` order (NaN where missing)."""
        return np.array([_to_float(features.get(n)) for n in self.feature_names], dtype=np.float64)

    # ------------------------------------------------------------ abstention
    @property
    def _ood(self) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(mean, precision, threshold) of the multivariate check, or None for older weights."""
        cached = self.__dict__.get("_ood_arrays", False)
        if cached is False:
            ood = self.meta.get("ood")
            cached = None
            if ood and ood.get("method") == "mahalanobis_ledoit_wolf":
                cached = (np.asarray(ood["mean"], dtype=np.float64), np.asarray(ood["precision"], dtype=np.float64),
                          float(ood["threshold"]))
            self.__dict__["_ood_arrays"] = cached
        return cached

    def _model_space(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self._classifier.transform(self._as_tensor(X)).numpy()

    def ood_distance(self, X: np.ndarray) -> np.ndarray | None:
        """Squared Mahalanobis distance of raw rows from the training data, in the model's input
        space; None when the weights carry no multivariate check."""
        if self._ood is None:
            return None
        mean, precision, _ = self._ood
        d = self._model_space(X) - mean
        return np.einsum("ni,ij,nj->n", d, precision, d)

    def outside_training(self, X: np.ndarray) -> np.ndarray:
        """Which complete raw rows the model abstains on: a measure far outside its training range,
        or the measures taken together unlike the training data."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        lo = np.array([self.abstain_ranges[n][0] for n in self.feature_names])
        hi = np.array([self.abstain_ranges[n][1] for n in self.feature_names])
        out = ((X < lo) | (X > hi)).any(axis=1)
        d2 = self.ood_distance(X) if len(X) else None
        if d2 is not None:
            out |= d2 > self._ood[2]
        return out

    def _most_unusual(self, x: np.ndarray, k: int = 3) -> list[str]:
        """Labels of the (at most k) measures contributing most to the distance of one row."""
        mean, precision, _ = self._ood
        d = self._model_space(x[None, :])[0] - mean
        share = d * (precision @ d)  # sums to the squared distance
        labels: list[str] = []
        for j in np.argsort(-share):
            label = feature_label(self.feature_names[j])
            if share[j] > 0 and label not in labels:  # two columns may be one measure
                labels.append(label)
        return labels[:k]

    def abstain_reason(self, features: Mapping[str, float]) -> str | None:
        """Why the model gives no score on these measures, in plain words; None when it scores them."""
        missing = [n for n in self.feature_names if not math.isfinite(_to_float(features.get(n)))]
        if missing:
            return (f"Some measures the model needs could not be computed ({_join(map(feature_label, missing[:3]))}"
                    f"{' and others' if len(missing) > 3 else ''}), so it gives no score; the other measures are "
                    "shown. Record the task again if this persists.")
        x = self.vector(features)
        far = []
        for j, n in enumerate(self.feature_names):
            lo, hi = self.abstain_ranges[n]
            if not lo <= x[j] <= hi:
                tlo, thi = self.training_ranges[n]
                far.append(f"{feature_label(n)} {x[j]:.3g} (training recordings {tlo:.3g} to {thi:.3g})")
        if far:
            return ("Some measures lie far outside the training data ("
                    + "; ".join(far[:3]) + "), so the model gives no score; the measures are shown. "
                    "Check the recording, and record the task again if it was not done as instructed.")
        d2 = self.ood_distance(x[None, :])
        if d2 is not None and d2[0] > self._ood[2]:
            return ("These measures, taken together, are unlike any recording the model was trained on, so it "
                    "gives no score; the measures are shown. Most unusual in combination: "
                    f"{_join(self._most_unusual(x))}.")
        return None

    def score(self, features: Mapping[str, float]) -> ModelScore:
        """Calibrated probability with an ensemble interval (and severity where the model has one);
        abstains with a plain reason on missing input, a measure far out of range, or measures that
        taken together lie outside the training data (`abstain_reason`)."""
        reason = self.abstain_reason(features)
        if reason:
            return ModelScore(model=self.name, model_version=self.version, probability=None, abstained=reason)
        x = self.vector(features)[None, :]
        p = float(self.predict_proba(x)[0])
        lo, hi = np.percentile(self.member_proba(x)[0], self.interval_percentiles)
        severity = self.predict_severity(x)
        return ModelScore(model=self.name, model_version=self.version, probability=p,
                          interval=(float(min(lo, p)), float(max(hi, p))),
                          severity=None if severity is None else float(severity[0]))

    # ------------------------------------------------------------ documents
    @property
    def metrics(self) -> dict[str, Any]:
        path = self.directory / METRICS_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def card_path(self) -> Path:
        return self.directory / CARD_FILE

    def __repr__(self) -> str:
        return f"ShippedModel({self.version}, {len(self.feature_names)} features)"


def feature_label(name: str) -> str:
    """What a clinician reads for a model input: the pipeline measure's label where the input is
    one (UCI voice columns map to the vowel measures; tapping table columns to the tapping
    measures), otherwise the column name made readable."""
    from core import vocabulary

    if vocabulary.measure_info(name) is not None:
        return vocabulary.label(name)
    try:
        from core.voice.vowel import UCI_COLUMNS

        for measure, column in UCI_COLUMNS.items():
            if column == name and vocabulary.measure_info(measure) is not None:
                return vocabulary.label(measure)
    except ImportError:  # pragma: no cover - the voice stack is optional for this lookup
        pass
    from core.movement.finger_tapping import REFERENCE_FEATURES

    for measure, column in REFERENCE_FEATURES.items():
        if column == name:
            return vocabulary.label(measure)
    text = vocabulary.readable(re.sub(r"(?<=[a-z])([A-Z])", lambda m: "_" + m.group(1).lower(), name))
    return text.replace(" (denoised)", "").replace(" (trimmed)", " (middle taps)")


def _join(labels) -> str:
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _to_float(v: Any) -> float:
    try:
        return float(v) if v is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def model_dir(name: str, root: Path | None = None) -> Path:
    return (root or MODELS_DIR) / name


def load_model_from(directory: Path) -> ShippedModel:
    path = directory / WEIGHTS_FILE
    if not path.is_file():
        raise ModelUnavailable(f"Model weights missing: {path}. Retrain with `python -m models.train {directory.name}`.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file
        raise ModelUnavailable(f"Model weights unreadable: {path} ({exc.__class__.__name__}). "
                               f"Retrain with `python -m models.train {directory.name}`.") from exc
    return ShippedModel(directory, payload)


@dataclass(frozen=True)
class ModelStatus:
    """Whether a shipped model may show scores to clinicians. "withheld": its weights ship for the
    record and for evaluation, but it has not earned its numbers on real recordings like the
    clinic's (models/<name>/status.json says why, in words for a therapist); the task is then
    measures-only."""

    status: str  # "shipped" or "withheld"
    reason: str = ""

    @property
    def withheld(self) -> bool:
        return self.status == "withheld"


class ModelWithheld(ModelUnavailable):
    """The model is withheld (measures only). str(exc) is the plain reason for the clinician."""


def status_of(directory: Path) -> ModelStatus:
    path = directory / STATUS_FILE
    if not path.is_file():
        return ModelStatus("shipped")
    try:
        data = json.loads(path.read_text())
        status, reason = str(data["status"]), str(data.get("reason", ""))
    except (ValueError, KeyError, TypeError) as exc:  # an unreadable decision withholds rather than scores
        return ModelStatus("withheld", f"The {directory.name.replace('_', ' ')} model's status file is unreadable "
                                       f"({exc.__class__.__name__}), so it gives no score.")
    if status not in ("shipped", "withheld"):
        return ModelStatus("withheld", f"Unknown model status '{status}': no score is given.")
    return ModelStatus(status, reason)


def model_status(name: str) -> ModelStatus:
    """The shipped model `name`'s status (models/<name>/status.json; absent means shipped)."""
    return status_of(model_dir(name))


@lru_cache(maxsize=None)
def load_model(name: str, allow_withheld: bool = False) -> ShippedModel:
    """The shipped model `name` ("voice", "finger_tapping", "gait"), loaded once per process.
    Raises ModelWithheld for a withheld model unless `allow_withheld` (evaluation, the Models page)."""
    if name not in MODEL_NAMES:
        raise ValueError(f"Unknown model '{name}'. Choose one of: {', '.join(MODEL_NAMES)}.")
    status = model_status(name)
    if status.withheld and not allow_withheld:
        raise ModelWithheld(status.reason or f"The {name.replace('_', ' ')} model is withheld: measures only.")
    return load_model_from(model_dir(name))


_SCORE_WITHHELD = contextvars.ContextVar("score_withheld_models", default=False)


@contextmanager
def scoring_withheld_models():
    """Within this block the task pipelines score with withheld models too: for
    `python -m models.evaluate recordings --include-withheld`, so the decision to withhold a model
    can be checked end to end. Never used by the app."""
    token = _SCORE_WITHHELD.set(True)
    try:
        yield
    finally:
        _SCORE_WITHHELD.reset(token)


def shipped_model_score(model_name: str, features: dict[str, float]) -> ModelScore:
    """The shipped model's score for these inputs, or an abstention saying why there is none
    (model withheld, weights missing). Called by the task pipelines."""
    try:
        model = load_model(model_name, allow_withheld=_SCORE_WITHHELD.get())
    except ModelWithheld as exc:
        return ModelScore(model_name, "withheld", None, abstained=str(exc))
    except ModelUnavailable as exc:
        return ModelScore(model_name, "unavailable", None, abstained=f"The {model_name.replace('_', ' ')} "
                          f"model is unavailable: {exc}")
    return model.score(features)
