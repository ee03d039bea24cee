"""The fused visit score: one calibrated probability from whichever recordings a visit has.

No open dataset records the same people on every task, so the fusion cannot be trained on joint
data. It is an explicit, stated combination instead (models/fused/MODEL_CARD.md):

* Each branch (voice, finger tapping left, finger tapping right, gait) is a shipped, calibrated
  model. Its evidence is its calibrated log-odds minus the log-odds of its own training prior:
  a log likelihood ratio under that model's calibration.
* Evidence is added across branches under a conditional-independence assumption (naive Bayes),
  each branch weighted by its reliability relative to the most reliable branch present, where
  reliability is 2*AUC - 1 from the model's own subject-grouped cross-validation (metrics.json).
* Evidence of branches known to be correlated (the two hands) is discounted by 1 / (1 + rho).
* The reference prior is the reliability-weighted mean of the present branches' training priors
  (in log-odds). With one branch present, the fused score therefore equals that branch's
  calibrated score exactly, and its interval equals that branch's interval.
* The interval propagates each branch's ensemble interval (in log-odds, lower and upper sides
  separately) through the same weights, with the same correlation.

Tremor is measured and reported, never scored (no labelled data exists).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

import torch
from torch import nn

from core.config import MODELS_DIR
from core.pipeline import ModelScore

FUSED_NAME = "fused"
FUSED_VERSION = "fused-1.0.0"
WITHHELD_VERSION = "withheld"  # model_version of a withheld model's abstention (models.registry)
FUSED_DIR = MODELS_DIR / "fused"
PARAMETERS_FILE = FUSED_DIR / "parameters.json"
DTYPE = torch.float64
PROB_EPS = 1e-9  # probabilities are clipped to [eps, 1 - eps] before taking log-odds
MIN_RELIABILITY = 0.02  # a branch whose CV AUC is at or below chance still gets a token weight


@dataclass(frozen=True)
class Branch:
    key: str
    model: str  # shipped model name (models.registry)
    task: str  # core.tasks key
    side: str | None
    label: str


BRANCHES: tuple[Branch, ...] = (
    Branch("voice", "voice", "vowel", None, "Voice (sustained vowel)"),
    Branch("finger_tapping_left", "finger_tapping", "finger_tapping", "left", "Finger tapping, left hand"),
    Branch("finger_tapping_right", "finger_tapping", "finger_tapping", "right", "Finger tapping, right hand"),
    Branch("gait", "gait", "gait", None, "Gait"),
)
BRANCH_KEYS = tuple(b.key for b in BRANCHES)
BRANCH_BY_KEY = {b.key: b for b in BRANCHES}


def branch_for(task: str, side: str | None) -> Branch | None:
    """The branch a recording of `task` (and `side`) feeds, or None (tremor, reading)."""
    for b in BRANCHES:
        if b.task == task and (b.side is None or b.side == side):
            return b
    return None


def logit(p: float) -> float:
    p = min(max(float(p), PROB_EPS), 1.0 - PROB_EPS)
    return math.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


# ---------------------------------------------------------------- parameters

@dataclass(frozen=True)
class FusionParameters:
    """What the fusion needs from each branch model, read from the shipped models' metrics.json
    (see `derive_parameters`) and written to models/fused/parameters.json."""

    prior: dict[str, float]  # training prevalence of the PD label each branch was calibrated on
    auc: dict[str, float]  # subject-grouped CV AUC (mean over repeats)
    hand_correlation: float  # rho between the two hands' evidence
    hand_correlation_source: str = ""
    component_versions: dict[str, str] = field(default_factory=dict)

    @property
    def reliability(self) -> dict[str, float]:
        return {k: max(2.0 * a - 1.0, MIN_RELIABILITY) for k, a in self.auc.items()}

    def as_dict(self) -> dict[str, Any]:
        return {"version": FUSED_VERSION, "prior": self.prior, "auc": self.auc,
                "reliability": self.reliability, "hand_correlation": self.hand_correlation,
                "hand_correlation_source": self.hand_correlation_source,
                "component_versions": self.component_versions}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FusionParameters":
        return cls(prior=dict(d["prior"]), auc=dict(d["auc"]), hand_correlation=float(d["hand_correlation"]),
                   hand_correlation_source=d.get("hand_correlation_source", ""),
                   component_versions=dict(d.get("component_versions", {})))


@lru_cache(maxsize=1)
def load_parameters() -> FusionParameters:
    if not PARAMETERS_FILE.is_file():
        raise FileNotFoundError(f"Fusion parameters missing: {PARAMETERS_FILE}. "
                                "Rebuild them with `python -m models.fused`.")
    return FusionParameters.from_dict(json.loads(PARAMETERS_FILE.read_text()))


# ---------------------------------------------------------------- the network

class FusionHead(nn.Module):
    """Branch log-odds (n, B) and a presence mask (n, B) -> fused log-odds (n,), per-branch
    contributions (n, B) and the reference prior (n,). Differentiable in the branch log-odds, so
    attributions can flow from the visit score back to each model's measures."""

    def __init__(self, params: FusionParameters, branches: Iterable[str] = BRANCH_KEYS):
        super().__init__()
        self.branches = tuple(branches)
        rel = params.reliability
        self.register_buffer("prior_logit", torch.tensor([logit(params.prior[k]) for k in self.branches], dtype=DTYPE))
        self.register_buffer("reliability", torch.tensor([rel[k] for k in self.branches], dtype=DTYPE))
        corr = torch.eye(len(self.branches), dtype=DTYPE)
        if "finger_tapping_left" in self.branches and "finger_tapping_right" in self.branches:
            i, j = self.branches.index("finger_tapping_left"), self.branches.index("finger_tapping_right")
            corr[i, j] = corr[j, i] = params.hand_correlation
        self.register_buffer("correlation", corr)

    def weights(self, mask: torch.Tensor) -> torch.Tensor:
        """Per-branch weight: relative reliability times the correlated-evidence discount; 0 where absent."""
        m = mask.to(DTYPE)
        r = self.reliability * m
        relative = r / r.max(dim=-1, keepdim=True).values.clamp_min(1e-300)
        # 1 / (1 + sum of correlations with the other present branches)
        shared = (m @ (self.correlation - torch.eye(len(self.branches), dtype=DTYPE)))
        return relative / (1.0 + shared * m)

    def forward(self, branch_logit: torch.Tensor, mask: torch.Tensor):
        m = mask.to(DTYPE)
        w = self.weights(m)
        rel = self.reliability * m
        prior = (rel * self.prior_logit).sum(-1) / rel.sum(-1).clamp_min(1e-300)
        evidence = torch.where(m > 0, branch_logit - self.prior_logit, torch.zeros_like(branch_logit))
        contributions = w * evidence
        return prior + contributions.sum(-1), contributions, prior

    def spread(self, deltas: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Propagate per-branch log-odds half-widths (n, B) through the weights and correlation."""
        wd = self.weights(mask) * deltas
        return torch.sqrt(torch.einsum("ni,ij,nj->n", wd, self.correlation, wd).clamp_min(0.0))


# ---------------------------------------------------------------- one visit

@dataclass(frozen=True)
class BranchInput:
    """One recording's contribution to a visit: its model score and whether its clip passed quality."""

    branch: str  # a key of BRANCHES
    score: ModelScore | None
    quality_ok: bool = True
    recording_id: int | None = None


@dataclass
class FusedResult:
    score: ModelScore  # model "fused"; probability None when abstained
    prior_probability: float | None
    contributions: dict[str, float]  # branch -> log-odds added to the prior (included branches only)
    weights: dict[str, float]
    branch_probabilities: dict[str, float]
    excluded: dict[str, str]  # branch -> why it was not used
    component_versions: dict[str, str] = field(default_factory=dict)  # branch -> model version used
    branch_intervals: dict[str, list[float] | None] = field(default_factory=dict)
    assumptions: str = ("Branches combined as independent evidence (log-likelihood ratios against each "
                        "model's training prior), weighted by cross-validated reliability; both hands "
                        "discounted for correlation. The combination itself has not been validated on "
                        "people recorded on every task.")

    def as_dict(self) -> dict[str, Any]:
        s = self.score
        return {"model": s.model, "model_version": s.model_version, "probability": s.probability,
                "interval": list(s.interval) if s.interval else None, "abstained": s.abstained,
                "prior_probability": self.prior_probability, "contributions_logodds": self.contributions,
                "weights": self.weights, "branch_probabilities": self.branch_probabilities,
                "branch_intervals": self.branch_intervals,
                "excluded": self.excluded, "component_versions": self.component_versions,
                "assumptions": self.assumptions}


def fuse(inputs: Iterable[BranchInput], params: FusionParameters | None = None) -> FusedResult:
    """Fuse a visit's branch scores. A branch is excluded (with a reason) when its clip failed
    quality or its model abstained; the visit abstains when no branch remains. When a branch has
    several recordings, the latest given wins (callers pass the latest assessment per branch)."""
    params = params or load_parameters()
    chosen: dict[str, BranchInput] = {}
    excluded: dict[str, str] = {}
    for bi in inputs:
        if bi.branch not in BRANCH_BY_KEY:
            raise ValueError(f"Unknown branch '{bi.branch}'. Choose one of: {', '.join(BRANCH_KEYS)}.")
        label = BRANCH_BY_KEY[bi.branch].label
        if not bi.quality_ok:
            excluded[bi.branch] = f"{label}: the clip failed its quality check, so it is not scored."
            chosen.pop(bi.branch, None)
        elif bi.score is not None and bi.score.model_version == WITHHELD_VERSION:
            # the model is withheld (models/<name>/status.json): the task is measures-only
            excluded[bi.branch] = f"{label}: measures only - {bi.score.abstained or 'the model is withheld.'}"
            chosen.pop(bi.branch, None)
        elif bi.score is None or bi.score.probability is None:
            why = bi.score.abstained if bi.score and bi.score.abstained else "no model score"
            excluded[bi.branch] = f"{label}: not scored ({why})"
            chosen.pop(bi.branch, None)
        else:
            chosen[bi.branch] = bi
            excluded.pop(bi.branch, None)

    versions = {k: bi.score.model_version for k, bi in chosen.items()}
    version = FUSED_VERSION
    if not chosen:
        reason = ("No recording of this visit could be scored. " + " ".join(excluded.values())
                  if excluded else "No scorable recording (voice, finger tapping or gait) in this visit.")
        return FusedResult(ModelScore(FUSED_NAME, version, None, abstained=reason), None, {}, {}, {}, excluded)


    head = FusionHead(params)
    n = len(BRANCH_KEYS)
    lo_delta, hi_delta = torch.zeros(1, n, dtype=DTYPE), torch.zeros(1, n, dtype=DTYPE)
    branch_logit, mask = torch.zeros(1, n, dtype=DTYPE), torch.zeros(1, n, dtype=DTYPE)
    for k, bi in chosen.items():
        i = BRANCH_KEYS.index(k)
        p = bi.score.probability
        branch_logit[0, i], mask[0, i] = logit(p), 1.0
        if bi.score.interval:
            lo, hi = bi.score.interval
            lo_delta[0, i] = max(logit(p) - logit(lo), 0.0)
            hi_delta[0, i] = max(logit(hi) - logit(p), 0.0)
    with torch.no_grad():
        fused, contrib, prior = head(branch_logit, mask)
        w = head.weights(mask)
        down, up = head.spread(lo_delta, mask), head.spread(hi_delta, mask)
    f = float(fused[0])
    probability = sigmoid(f)
    interval = (sigmoid(f - float(down[0])), sigmoid(f + float(up[0])))
    if len(chosen) == 1:  # exactly the branch's calibrated score (no float round trip)
        only = next(iter(chosen.values())).score
        probability = only.probability
        interval = tuple(only.interval) if only.interval else (probability, probability)
    score = ModelScore(FUSED_NAME, version, probability, interval=interval)
    return FusedResult(
        score=score,
        prior_probability=sigmoid(float(prior[0])),
        contributions={k: float(contrib[0, BRANCH_KEYS.index(k)]) for k in chosen},
        weights={k: float(w[0, BRANCH_KEYS.index(k)]) for k in chosen},
        branch_probabilities={k: float(bi.score.probability) for k, bi in chosen.items()},
        excluded=excluded,
        component_versions=versions,
        branch_intervals={k: list(bi.score.interval) if bi.score.interval else None for k, bi in chosen.items()},
    )


# ---------------------------------------------------------------- building the parameters

def _hand_correlation(model) -> tuple[float, str]:
    """Correlation of the finger-tapping model's evidence between the two hands of one session in
    the public table (sessions with both hands). In-sample (the model saw these rows), which if
    anything overstates the correlation and so discounts two hands more, not less."""
    import numpy as np
    import pandas as pd

    from models import data as D

    table = D.load_finger_tapping()
    frame = table.frame
    hand = frame["filename"].str.extract(r"(left|right)", flags=re.IGNORECASE, expand=False).str.lower()
    X = frame[model.feature_names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(X).all(axis=1) & hand.notna().to_numpy()
    with torch.no_grad():
        lo = model.torch_logit(torch.as_tensor(X[ok], dtype=DTYPE)).numpy()
    sessions = frame["filename"].map(D.tapping_session)[ok].to_numpy()
    per_hand = pd.DataFrame({"session": sessions, "hand": hand[ok].to_numpy(), "logit": lo})
    pairs = per_hand.pivot_table(index="session", columns="hand", values="logit", aggfunc="mean").dropna()
    rho = float(np.corrcoef(pairs["left"], pairs["right"])[0, 1])
    return max(0.0, min(rho, 0.99)), (f"Pearson correlation of the finger-tapping model's log-odds between the "
                                      f"left and right hand of {len(pairs)} sessions of the Islam et al. 2023 "
                                      f"table (in-sample)")


def derive_parameters() -> FusionParameters:
    """Read each shipped model's metrics.json (row prevalence it was calibrated on, subject-
    grouped CV AUC) and compute the hand correlation."""
    from models.registry import load_model

    prior, auc, versions = {}, {}, {}
    for b in BRANCHES:  # a withheld branch keeps its figures here; its clips never reach fuse()
        model = load_model(b.model, allow_withheld=True)
        m = model.metrics
        prior[b.key] = m["data"]["pd_rows"] / m["data"]["rows"]
        auc[b.key] = float(m["cv"]["auc_over_repeats"]["mean"])
        versions[b.key] = model.version
    rho, source = _hand_correlation(load_model("finger_tapping", allow_withheld=True))
    return FusionParameters(prior=prior, auc=auc, hand_correlation=rho, hand_correlation_source=source,
                            component_versions=versions)


def main() -> int:
    params = derive_parameters()
    FUSED_DIR.mkdir(parents=True, exist_ok=True)
    PARAMETERS_FILE.write_text(json.dumps(params.as_dict(), indent=2) + "\n")
    print(f"wrote {PARAMETERS_FILE}: " + json.dumps(params.as_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
