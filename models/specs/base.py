"""What a model's training declares: its data, its candidates (feature set x network) and how it
is split. The procedure that cross-validates, selects and ships them is models.train."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from models import data as D
from models import tabular as T


@dataclass(frozen=True)
class Candidate:
    name: str
    features: tuple[str, ...]
    net: T.NetConfig
    why: str = ""
    # "label": a classifier fitted to the binary label; "severity": the rating regression, whose
    # predicted rating is Platt-calibrated into the probability (finger tapping)
    fit_target: str = "label"
    # non-empty: why this candidate may not be shipped. It is still cross-validated on the same
    # folds and reported in the card for the record, but never selected.
    not_eligible: str = ""


@dataclass
class ModelSpec:
    name: str
    version: str
    load: Callable[[], D.Table]
    log_features: frozenset[str]
    candidates: list[Candidate]
    data_note: str
    split_note: str
    n_splits: int = 5
    repeats: int = 5
    subject_level: bool = False  # True: the headline AUC is on per-subject mean probabilities
    severity_candidates: list[Candidate] = field(default_factory=list)
