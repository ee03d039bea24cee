"""The finger-tapping model's declared candidates (MDS-UPDRS 3.4)."""
from __future__ import annotations

from models import data as D
from models import tabular as T
from models.specs.base import Candidate, ModelSpec

TAP_COMPACT = (
    "frequency_median_denoised", "frequency_stdev_denoised", "period_stdev_denoised",
    "amplitude_median_denoised", "amplitude_stdev_denoised",
    "amplitude_decrement_last_to_first_half_denoised",
    "speed_median_denoised", "speed_max_denoised",
    "aperiodicity_denoised", "periodEntropy_denoised",
    "numInterruptions_denoised", "numFreeze_denoised", "maxFreezeDuration_denoised",
)
TAP_LOG = frozenset({"frequency_stdev_denoised", "period_stdev_denoised", "amplitude_median_denoised",
                     "amplitude_stdev_denoised", "speed_median_denoised", "speed_max_denoised",
                     "maxFreezeDuration_denoised"})


def finger_tapping_spec() -> ModelSpec:
    net = T.NetConfig(hidden=0, weight_decay=0.02)
    mlp = T.NetConfig(hidden=8, weight_decay=0.05)
    return ModelSpec(
        name="finger_tapping", version="1.0.0", load=D.load_finger_tapping,
        log_features=TAP_LOG,
        candidates=[
            Candidate("compact_logistic", TAP_COMPACT, net,
                      "13 rhythm, amplitude, decrement, speed and hesitation features, logistic on diagnosis"),
            Candidate("compact_mlp8", TAP_COMPACT, mlp, "same features, one hidden layer of 8, on diagnosis"),
            Candidate("compact_severity_score", TAP_COMPACT, net,
                      "the linear severity regression's predicted rating, Platt-calibrated to diagnosis",
                      fit_target="severity"),
        ],
        severity_candidates=[
            Candidate("compact_linear", TAP_COMPACT, net, "linear regression on the 13 features"),
            Candidate("compact_mlp8", TAP_COMPACT, mlp, "one hidden layer of 8"),
        ],
        data_note="Islam et al. 2023 finger-tapping features (ROC-HCI), copy in "
                  "models/datasets/movement/roc_hci_finger_tapping",
        split_note="5-fold StratifiedGroupKFold by session (file name without -left/-right; NIH participant "
                   "code where present), both hands of a session in one fold, repeated 3 times",
        repeats=3,
    )
