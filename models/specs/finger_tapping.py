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

# The full Islam et al. 2023 feature table: its 116 columns before the hand and rating columns, all
# computed by core.movement.finger_tapping.tapping_features under the same names (no ids,
# demographics or ratings). tests/core/movement/test_tapping_features.py checks the names match.
TAP_ALL = (
    *(f"wrist_mvmnt_{a}_{s}" for a in ("x", "y", "dist")
      for s in ("median", "quartile_range", "mean", "min", "max", "stdev")),
    *(f"{n}_{v}" for n in ("aperiodicity", "periodEntropy", "periodVarianceNorm", "numInterruptions",
                           "numFreeze", "maxFreezeDuration") for v in ("denoised", "trimmed")),
    *(f"period_{s}_{v}" for v in ("denoised", "trimmed")
      for s in ("median", "quartile_range", "mean", "min", "max", "stdev")),
    "period_entropy_denoised", "period_entropy_trimmed",
    *(f"frequency_{s}_{v}" for v in ("denoised", "trimmed")
      for s in ("median", "quartile_range", "mean", "min", "max", "stdev")),
    "frequency_lr_fitness_r2_denoised", "frequency_lr_slope_denoised", "frequency_lr_fitness_r2_trimmed",
    "frequency_lr_slope_trimmed", "frequency_fit_min_degree_denoised", "frequency_fit_min_degree_trimmed",
    *(f"amplitude_{s}_{v}" for v in ("denoised", "trimmed")
      for s in ("median", "quartile_range", "mean", "min", "max", "stdev", "entropy")),
    *(f"amplitude_decrement_{s}_{v}" for v in ("denoised", "trimmed")
      for s in ("fitness_r2", "slope", "end_to_mean", "fit_min_degree", "last_to_first_half")),
    "num_peaks_trimmed", "num_peaks_denoised", "num_interruptions_norm_denoised", "num_freeze_norm_denoised",
    "num_interruptions_norm_trimmed", "num_freeze_norm_trimmed",
    *(f"{n}_{s}_{v}" for n in ("speed", "acceleration") for v in ("denoised", "trimmed")
      for s in ("median", "quartile_range", "mean", "min", "max", "stdev")),
)
# Of the full set, the non-negative scale measures (spreads, speeds, accelerations, wrist movement,
# amplitudes, pause lengths) are taken on a log scale; the compact set keeps its own choice above.
TAP_ALL_LOG = TAP_LOG | frozenset(
    f for f in TAP_ALL if f not in TAP_COMPACT and (
        "stdev" in f or "quartile_range" in f or f.startswith(("speed_", "acceleration_", "wrist_mvmnt_"))
        or f.startswith("maxFreezeDuration") or any(f.startswith(f"amplitude_{s}_") for s in ("median", "mean", "min", "max"))))


def finger_tapping_spec() -> ModelSpec:
    net = T.NetConfig(hidden=0, weight_decay=0.02)
    mlp = T.NetConfig(hidden=8, weight_decay=0.05)
    # 116 correlated inputs on about 130 sessions: much stronger weight decay (ridge-like)
    wide = T.NetConfig(hidden=0, weight_decay=0.2)
    wide_mlp = T.NetConfig(hidden=8, weight_decay=0.3)
    return ModelSpec(
        name="finger_tapping", version="2.0.0", load=D.load_finger_tapping,
        log_features=TAP_ALL_LOG,
        candidates=[
            Candidate("compact_logistic", TAP_COMPACT, net,
                      "13 rhythm, amplitude, decrement, speed and hesitation features, logistic on diagnosis"),
            Candidate("compact_mlp8", TAP_COMPACT, mlp, "same features, one hidden layer of 8, on diagnosis"),
            Candidate("compact_severity_score", TAP_COMPACT, net,
                      "the linear severity regression's predicted rating, Platt-calibrated to diagnosis",
                      fit_target="severity"),
            Candidate("all116_logistic", TAP_ALL, wide, "all 116 Islam et al. features, logistic with strong weight decay"),
            Candidate("all116_mlp8", TAP_ALL, wide_mlp, "all 116 features, one hidden layer of 8, strong weight decay"),
            Candidate("all116_severity_score", TAP_ALL, wide,
                      "the ridge-like severity regression on all 116 features, Platt-calibrated to diagnosis",
                      fit_target="severity"),
        ],
        severity_candidates=[
            Candidate("compact_linear", TAP_COMPACT, net, "linear regression on the 13 features"),
            Candidate("compact_mlp8", TAP_COMPACT, mlp, "one hidden layer of 8"),
            Candidate("all116_linear", TAP_ALL, wide, "ridge-like linear regression on all 116 features"),
            Candidate("all116_mlp8", TAP_ALL, wide_mlp, "all 116 features, one hidden layer of 8, strong weight decay"),
        ],
        data_note="Islam et al. 2023 finger-tapping features (ROC-HCI), copy in "
                  "models/datasets/movement/roc_hci_finger_tapping",
        split_note="5-fold StratifiedGroupKFold by session (file name without -left/-right; NIH participant "
                   "code where present), both hands of a session in one fold, repeated 3 times",
        repeats=3,
    )
