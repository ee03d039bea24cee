"""The gait model's declared candidates (stride timing)."""
from __future__ import annotations

from models import data as D
from models import tabular as T
from models.specs.base import Candidate, ModelSpec

GAIT_CORE = ("stride_time_s", "stride_time_cv_pct", "swing_fraction_pct", "swing_fraction_cv_pct",
             "cadence_steps_per_min", "step_time_asymmetry_pct")



def gait_spec() -> ModelSpec:
    return ModelSpec(
        name="gait", version="1.0.0", load=D.load_gaitpdb,
        log_features=frozenset({"stride_time_cv_pct", "swing_fraction_cv_pct", "step_time_asymmetry_pct"}),
        candidates=[
            Candidate("stride_logistic", GAIT_CORE, T.NetConfig(hidden=0, weight_decay=0.02),
                      "stride time, its CV, swing fraction and its CV, cadence, step asymmetry; logistic"),
            Candidate("stride_mlp8", GAIT_CORE, T.NetConfig(hidden=8, weight_decay=0.05),
                      "same measures, one hidden layer of 8"),
        ],
        data_note="PhysioNet gaitpdb vertical force (Ga and Ju overground studies; Si treadmill excluded), "
                  "copy in models/datasets/movement/gaitpdb_forces",
        split_note="5-fold StratifiedGroupKFold by subject (all walks of a subject in one fold), repeated 5 "
                   "times; AUC on per-subject mean probability",
        subject_level=True,
    )
