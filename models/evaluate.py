"""Check a shipped model on data it never saw; prints one JSON object on stdout.

    python -m models.evaluate uci_voice PATH        # a file in the UCI parkinsons.data format
    python -m models.evaluate finger_tapping PATH   # a CSV in the finger-tapping table's format
    python -m models.evaluate gaitpdb DIR           # gaitpdb_forces layout with demographics.txt

Rows with missing features and files that fail to parse are skipped and counted ("skipped").
Exit status 2 with a one-line message on stderr when the input cannot be read at all.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from models import data as D
from models import tabular as T
from models.registry import load_model


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf -> null, numpy scalars -> Python, floats rounded."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(float(obj)) else round(float(obj), 4)
    return obj


def _binary_block(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    if len(y) == 0:
        return {"auc": None, "sensitivity": None, "specificity": None, "brier": None}
    return T.binary_metrics(y, p, threshold)


def _subject_level(y: np.ndarray, p: np.ndarray, groups: np.ndarray, threshold: float) -> dict[str, Any]:
    if len(y) == 0:
        return {"auc": None, "n_subjects": 0}
    ps, _ = T.subject_means(p, groups)
    ys, _ = T.subject_means(y.astype(float), groups)
    m = T.binary_metrics(ys.astype(int), ps, threshold)
    return {**m, "n_subjects": int(len(ps))}


def _outside_training(model, X: np.ndarray) -> int:
    """Rows the model would abstain on in the app: a measure far out of its training range, or
    the measures taken together unlike the training data (the multivariate check)."""
    return int(model.outside_training(X).sum()) if len(X) else 0


def evaluate_uci_voice(path: Path) -> dict[str, Any]:
    model = load_model("voice")
    table = D.load_uci_voice(path).complete(model.feature_names)
    X, y, g = table.features(model.feature_names), table.y, table.groups
    p = model.predict_proba(X) if len(y) else np.zeros(0)
    rec = _binary_block(y, p, model.threshold)
    subj = _subject_level(y, p, g, model.threshold)
    return {
        "dataset": "uci_voice", "model_version": model.version, "threshold": model.threshold,
        "auc": rec["auc"], "n": int(len(y)), "n_subjects": subj["n_subjects"], "n_pd": int(y.sum()),
        "subject_auc": subj["auc"],
        "sensitivity": rec["sensitivity"], "specificity": rec["specificity"], "brier": rec["brier"],
        "subject_sensitivity": subj.get("sensitivity"), "subject_specificity": subj.get("specificity"),
        "auc_definition": "recording-level AUC of the calibrated probability; subject_auc uses each "
                          "subject's mean probability over their recordings",
        "rows_outside_training_ranges": _outside_training(model, X) if len(y) else 0,
        "skipped": table.skipped,
    }


def evaluate_finger_tapping(path: Path) -> dict[str, Any]:
    model = load_model("finger_tapping")
    table = D.load_finger_tapping(path).complete(model.feature_names)
    X, y, g = table.features(model.feature_names), table.y, table.groups
    p = model.predict_proba(X) if len(y) else np.zeros(0)
    sev = model.predict_severity(X) if len(y) else np.zeros(0)  # the validated output (see model card)
    sev_cont = model.predict_severity(X, continuous=True) if len(y) else np.zeros(0)
    rated = np.isfinite(table.severity) if table.severity is not None else np.zeros(len(y), dtype=bool)
    diag = _binary_block(y, p, model.threshold)
    return {
        "dataset": "finger_tapping", "model_version": model.version, "threshold": model.threshold,
        "auc": diag["auc"], "mae": T.mae(table.severity[rated], sev[rated]) if rated.any() else None,
        "mae_continuous": T.mae(table.severity[rated], sev_cont[rated]) if rated.any() else None,
        "severity_output": model.meta.get("severity_output"),
        "n": int(len(y)), "n_rated": int(rated.sum()), "n_sessions": int(table.frame["filename"].map(D.tapping_session).nunique()),
        "sensitivity": diag["sensitivity"], "specificity": diag["specificity"], "brier": diag["brier"],
        "session_auc": _subject_level(y, p, g, model.threshold)["auc"],
        "auc_definition": "row-level (one hand of one session) AUC of the diagnosis probability; mae: "
                          "mean |predicted 0-4 severity - Rating| over rows with a Rating, for the shipped severity output "
                          "(severity_output: rounded = whole item score); mae_continuous for the unrounded rating",
        "rows_outside_training_ranges": _outside_training(model, X) if len(y) else 0,
        "skipped": table.skipped,
    }


def evaluate_gaitpdb(directory: Path) -> dict[str, Any]:
    model = load_model("gait")
    table = D.load_gaitpdb(directory, studies=None)
    skipped = dict(table.skipped)
    if len(table.y):
        table = table.complete(model.feature_names)
        skipped.update(table.skipped)
    if not len(table.y):
        return {"dataset": "gaitpdb", "model_version": model.version, "auc": None, "n": 0, "n_walks": 0,
                "skipped": skipped}
    X, y, g = table.features(model.feature_names), table.y, table.groups
    p = model.predict_proba(X)
    study = table.frame["study"].to_numpy()
    over = np.isin(study, D.OVERGROUND_STUDIES)
    subj_over = _subject_level(y[over], p[over], g[over], model.threshold)
    walk_over = _binary_block(y[over], p[over], model.threshold)
    subj_all = _subject_level(y, p, g, model.threshold)
    si = study == "Si"
    return {
        "dataset": "gaitpdb", "model_version": model.version, "threshold": model.threshold,
        "auc": subj_over["auc"], "n": subj_over["n_subjects"],
        "auc_definition": "subject-level AUC (mean probability over each subject's walks) on the "
                          "overground studies (Ga, Ju); the treadmill study (Si) is excluded from `auc` "
                          "because the model was trained on overground walking only",
        "sensitivity": subj_over.get("sensitivity"), "specificity": subj_over.get("specificity"),
        "walk_auc": walk_over["auc"], "n_walks": int(over.sum()),
        "subject_auc_all_protocols": subj_all["auc"], "n_subjects_all_protocols": subj_all["n_subjects"],
        "subject_auc_treadmill_si": _subject_level(y[si], p[si], g[si], model.threshold)["auc"] if si.any() else None,
        "n_walks_all_protocols": int(len(y)),
        "walks_outside_training_ranges": _outside_training(model, X[over]) if over.any() else 0,
        "skipped": skipped,
    }


EVALUATORS = {"uci_voice": evaluate_uci_voice, "finger_tapping": evaluate_finger_tapping, "gaitpdb": evaluate_gaitpdb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(EVALUATORS))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if not args.path.exists():
        print(f"error: {args.path} does not exist", file=sys.stderr)
        return 2
    try:
        result = EVALUATORS[args.dataset](args.path)
    except (ValueError, OSError, KeyError) as exc:
        print(f"error: cannot evaluate {args.path.name}: {str(exc).splitlines()[0] if str(exc) else exc!r}",
              file=sys.stderr)
        return 2
    print(json.dumps(_clean(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
