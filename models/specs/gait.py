"""The gait model's declared candidates (stride timing).

Only intervals between like events (heel strike to heel strike) are model inputs: a constant offset
of the detected heel strikes, which is what video events show against force-plate events, cancels
out of them. Swing and stance mix toe-offs with heel strikes and shift with any offset between the
two kinds of event (real healthy walkers on video: swing 30-34% where published values are about
38-40%), so they are measured and shown, but are not model inputs (core.movement.gait
INTERVAL_MEASURES; the model card says why). Cadence is 120 / stride time, the same information as
stride time, so it is not a second input.
"""
from __future__ import annotations

from models import data as D
from models import tabular as T
from models.specs.base import Candidate, ModelSpec

GAIT_INTERVALS = ("stride_time_s", "stride_time_cv_pct", "step_time_asymmetry_pct")
# The former inputs, with the swing measures: kept for the record (same folds), never shipped.
GAIT_WITH_SWING = ("stride_time_s", "stride_time_cv_pct", "swing_fraction_pct", "swing_fraction_cv_pct",
                   "cadence_steps_per_min", "swing_time_asymmetry_pct")
_SWING_NOT_ELIGIBLE = ("uses swing and stance, which depend on toe-off timing: video toe-offs are not "
                       "shown to agree with force-plate ones, so the model would not mean the same on video")


def gait_spec() -> ModelSpec:
    return ModelSpec(
        name="gait", version="2.0.0", load=D.load_gaitpdb,
        log_features=frozenset({"stride_time_cv_pct", "step_time_asymmetry_pct", "swing_fraction_cv_pct",
                                "swing_time_asymmetry_pct"}),
        candidates=[
            Candidate("intervals_logistic", GAIT_INTERVALS, T.NetConfig(hidden=0, weight_decay=0.02),
                      "stride time, its CV and step-time asymmetry (heel strikes only); logistic"),
            Candidate("intervals_mlp8", GAIT_INTERVALS, T.NetConfig(hidden=8, weight_decay=0.05),
                      "same interval measures, one hidden layer of 8"),
            Candidate("variability_logistic", ("stride_time_cv_pct",), T.NetConfig(hidden=0, weight_decay=0.02),
                      "stride-time variability alone (Hausdorff's marker); logistic"),
            Candidate("with_swing_logistic", GAIT_WITH_SWING, T.NetConfig(hidden=0, weight_decay=0.02),
                      "the former inputs incl. swing fraction, its CV and swing asymmetry; logistic",
                      not_eligible=_SWING_NOT_ELIGIBLE),
        ],
        data_note="PhysioNet gaitpdb vertical force (Ga and Ju overground studies; Si treadmill excluded), "
                  "copy in models/datasets/movement/gaitpdb_forces",
        split_note="5-fold StratifiedGroupKFold by subject (all walks of a subject in one fold), repeated 5 "
                   "times; AUC on per-subject mean probability",
        subject_level=True,
    )
