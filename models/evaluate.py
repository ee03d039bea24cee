"""Check a shipped model on data it never saw; prints one JSON object on stdout.

    python -m models.evaluate uci_voice PATH        # a file in the UCI parkinsons.data format
    python -m models.evaluate finger_tapping PATH   # a CSV in the finger-tapping table's format
    python -m models.evaluate gaitpdb DIR           # gaitpdb_forces layout with demographics.txt
    python -m models.evaluate recordings FOLDER --labels labels.csv [--task vowel] [--side left]
                                        [--age-band 55] [--include-withheld]

`recordings` runs the whole pdlens pipeline (decode, quality, measures, score: the same
core.analysis.analyze_recording the app uses) on a folder of labelled real clips. labels.csv has
the columns file (path relative to FOLDER) and label, optionally age, sex, subject, task, side.
Labels: healthy = HC, control, healthy, 0; Parkinson's = PD, PwPD, Parkinson, 1 (any case).
Without a subject column every clip counts as its own subject. The JSON: n, measured, refused
(by failed quality check, "unreadable", "missing"), scored, AUC with a subject-bootstrap 95% CI,
sensitivity and specificity at the shipped threshold, score medians per class, the AUC of age
alone (older = Parkinson-like) and the AUCs within the age band (age >= --age-band), the model
version and its status. A withheld model gives no scores unless --include-withheld.
Progress on stderr says only "clip i of n": never a file name.

Table modes: rows with missing features and files that fail to parse are skipped and counted
("skipped"). Exit status 2 with a one-line message on stderr when the input cannot be read at all.
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
from models.registry import load_model, model_status, scoring_withheld_models


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
    model = load_model("voice", allow_withheld=True)  # a withheld model is checked all the same
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
    model = load_model("finger_tapping", allow_withheld=True)  # a withheld model is checked all the same
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
    model = load_model("gait", allow_withheld=True)  # a withheld model is checked all the same
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


# ---------------------------------------------------------------- real recordings, whole pipeline

HEALTHY_LABELS = ("hc", "control", "healthy", "0")
PD_LABELS = ("pd", "pwpd", "parkinson", "1")
TASK_MODEL = {"vowel": "voice", "finger_tapping": "finger_tapping", "gait": "gait"}  # reading, tremor: none


class LabelsError(ValueError):
    """labels.csv cannot be used. One line, no patient data."""


def _parse_label(text: Any) -> int | None:
    t = str(text).strip().lower()
    if t.endswith(".0"):
        t = t[:-2]
    if t in HEALTHY_LABELS:
        return 0
    if t in PD_LABELS:
        return 1
    return None


def read_labels(path: Path):
    """labels.csv -> DataFrame with y (0 healthy, 1 PD), age (float or NaN). Raises LabelsError."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LabelsError(f"cannot read the labels file ({exc.__class__.__name__})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("file", "label") if c not in frame.columns]
    if missing:
        raise LabelsError(f"the labels file needs the columns file and label (missing: {', '.join(missing)})")
    if frame.empty:
        raise LabelsError("the labels file lists no recordings")
    y = frame["label"].map(_parse_label)
    bad = sorted(set(frame.loc[y.isna(), "label"].astype(str)))
    if bad:
        shown = ", ".join(repr(b[:20]) for b in bad[:5])
        raise LabelsError(f"unknown label(s) {shown} in {int(y.isna().sum())} row(s); accepted: "
                          f"{'/'.join(HEALTHY_LABELS)} (healthy) and {'/'.join(PD_LABELS)} (Parkinson's), any case")
    frame["y"] = y.astype(int)
    frame["age"] = pd.to_numeric(frame["age"], errors="coerce") if "age" in frame.columns else np.nan
    return frame


def _auc_with_ci(y: np.ndarray, score: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    ok = np.isfinite(score)
    y, score, groups = y[ok], score[ok], groups[ok]
    out = {"auc": None, "auc_ci95": None, "n": int(len(y)), "n_pd": int(y.sum()), "n_healthy": int((y == 0).sum())}
    if len(np.unique(y)) < 2:
        out["note"] = "both groups are needed for an AUC"
        return out
    out["auc"] = T.auc(y, score)
    try:
        out["auc_ci95"] = T.group_bootstrap_ci(T.auc, y, score, groups, n_boot=1000, seed=0)
    except (IndexError, ValueError):  # too few subjects for any resample with both groups
        out["auc_ci95"] = None
    return out


def _score_block(y: np.ndarray, p: np.ndarray, groups: np.ndarray, threshold: float | None) -> dict[str, Any]:
    block = _auc_with_ci(y, p, groups)
    if threshold is not None and len(y):
        m = T.binary_metrics(y, p, threshold)
        block["sensitivity"], block["specificity"] = m["sensitivity"], m["specificity"]
    else:
        block["sensitivity"] = block["specificity"] = None
    block["median_score"] = {"healthy": float(np.median(p[y == 0])) if (y == 0).any() else None,
                             "pd": float(np.median(p[y == 1])) if (y == 1).any() else None}
    return block


def _analyse_one(path: Path, task: str, side: str | None):
    """(outcome, result or None): outcome is 'measured', a failed check's name, or 'unreadable'."""
    from core.analysis import analyze_recording
    from core.pipeline import UnusableInput

    try:
        result = analyze_recording(path, task, side)
    except UnusableInput:
        return ["unreadable"], None
    except (ValueError, OSError, RuntimeError, EOFError, MemoryError):  # a decoder's own error
        return ["unreadable"], None
    if not result.quality.ok:
        return [c.name for c in result.quality.checks if not c.passed] or ["quality"], result
    return ["measured"], result


def evaluate_recordings(folder: Path, labels: Path, task: str = "vowel", side: str | None = None,
                        age_band: float = 55.0, include_withheld: bool = False,
                        progress=None) -> dict[str, Any]:
    from core.tasks import task_spec

    frame = read_labels(labels)
    n = len(frame)
    model_name = TASK_MODEL.get(task)
    status = model_status(model_name) if model_name else None
    refused: dict[str, int] = {}
    abstained: dict[str, int] = {}
    y_scored, p_scored, age_scored, group_scored = [], [], [], []
    measured = 0
    subjects = frame["subject"].astype(str).to_numpy() if "subject" in frame.columns else np.arange(n).astype(str)
    versions: set[str] = set()
    for i, row in enumerate(frame.itertuples(index=False)):
        if progress:
            progress(i + 1, n)
        row = row._asdict()
        row_task = (row.get("task") or task).strip() or task
        row_side = (row.get("side") or side or "").strip().lower() or None
        try:
            spec = task_spec(row_task)
        except ValueError:
            refused["unknown_task"] = refused.get("unknown_task", 0) + 1
            continue
        rel = str(row["file"]).strip()
        path = folder / rel
        if not rel or not path.is_file():
            refused["missing"] = refused.get("missing", 0) + 1
            continue
        if spec.sided and row_side not in ("left", "right"):
            refused["side_not_given"] = refused.get("side_not_given", 0) + 1
            continue
        if include_withheld:
            with scoring_withheld_models():
                outcome, result = _analyse_one(path, row_task, row_side)
        else:
            outcome, result = _analyse_one(path, row_task, row_side)
        if outcome != ["measured"]:
            for reason in outcome:
                refused[reason] = refused.get(reason, 0) + 1
            continue
        measured += 1
        score = result.score
        if score is None or score.probability is None:
            kind = ("no_model" if score is None else "withheld" if score.model_version == "withheld"
                    else "unavailable" if score.model_version == "unavailable" else "model_abstained")
            abstained[kind] = abstained.get(kind, 0) + 1
            continue
        versions.add(score.model_version)
        y_scored.append(row["y"])
        p_scored.append(score.probability)
        age_scored.append(float(frame["age"].iloc[i]) if np.isfinite(frame["age"].iloc[i]) else np.nan)
        group_scored.append(subjects[i])

    y = np.array(y_scored, dtype=int)
    p = np.array(p_scored, dtype=float)
    age = np.array(age_scored, dtype=float)
    g = np.array(group_scored, dtype=str)
    threshold = None
    if model_name and (versions or include_withheld or not (status and status.withheld)):
        try:
            threshold = load_model(model_name, allow_withheld=True).threshold
        except Exception:  # weights missing: no threshold to report
            threshold = None
    scores = _score_block(y, p, g, threshold)
    all_y = frame["y"].to_numpy(dtype=int)
    all_age = frame["age"].to_numpy(dtype=float)
    age_all = _auc_with_ci(all_y, all_age, subjects.astype(str))
    age_same = _auc_with_ci(y, age, g)  # age alone on exactly the scored clips: the like-for-like reference
    band = {"age_min": age_band, "score_auc": None, "score_auc_ci95": None, "age_auc": None, "n": 0,
            "n_pd": 0, "n_healthy": 0, "specificity": None, "note": None}
    in_band = np.isfinite(age) & (age >= age_band)
    band.update(n=int(in_band.sum()), n_pd=int(y[in_band].sum()), n_healthy=int((y[in_band] == 0).sum()))
    if not np.isfinite(all_age).any():
        band["note"] = "no ages in the labels file"
    elif band["n_pd"] == 0 or band["n_healthy"] == 0:
        band["note"] = f"the scored clips aged {age_band:g} and over are not from both groups"
    else:
        b = _score_block(y[in_band], p[in_band], g[in_band], threshold)
        band.update(score_auc=b["auc"], score_auc_ci95=b["auc_ci95"], specificity=b["specificity"],
                    sensitivity=b["sensitivity"], age_auc=_auc_with_ci(y[in_band], age[in_band], g[in_band])["auc"])
    notes = []
    if status is not None and status.withheld and not include_withheld:
        notes.append("The model is withheld (measures only), so no clip is scored; run with "
                     "--include-withheld to check the withheld model's figures.")
    if model_name is None:
        notes.append(f"No model scores the {task} task: measures only.")
    if "subject" not in frame.columns:
        notes.append("No subject column: each clip counts as one subject for the bootstrap.")
    return {
        "dataset": "recordings", "task": task, "n": n, "n_pd": int(all_y.sum()), "n_healthy": int((all_y == 0).sum()),
        "measured": measured, "refused": dict(sorted(refused.items())), "refused_total": n - measured,
        "scored": int(len(y)), "not_scored": dict(sorted(abstained.items())),
        "model": model_name, "model_version": sorted(versions)[0] if len(versions) == 1 else (sorted(versions) or None),
        "model_status": {"status": status.status, "reason": status.reason} if status else None,
        "scores_from_withheld_model": bool(include_withheld and status is not None and status.withheld),
        "threshold": threshold,
        "auc": scores["auc"], "auc_ci95_subject_bootstrap": scores["auc_ci95"],
        "sensitivity": scores["sensitivity"], "specificity": scores["specificity"],
        "median_score": scores["median_score"],
        "age_only_auc": age_same["auc"], "age_only_auc_ci95": age_same["auc_ci95"],
        "age_only_auc_all_labelled": age_all["auc"], "n_with_age": int(np.isfinite(all_age).sum()),
        "age_band": band,
        "definitions": "auc: clip-level AUC of the model's calibrated probability on the scored clips "
                       "(the whole pipeline: decode, quality, measures, score); CI: 95% percentile bootstrap "
                       "over subjects (1000 resamples); sensitivity/specificity at the shipped threshold; "
                       "age_only_auc: AUC of age alone (older = Parkinson-like) on the same scored clips; "
                       "age_band: the same within age >= age_min, computed only when both groups are there.",
        "notes": notes,
    }


TABLE_MODEL = {"uci_voice": "voice", "finger_tapping": "finger_tapping", "gaitpdb": "gait"}
EVALUATORS = {"uci_voice": evaluate_uci_voice, "finger_tapping": evaluate_finger_tapping, "gaitpdb": evaluate_gaitpdb}


def _quiet_runtime_logs() -> None:
    """MediaPipe / TFLite print INFO lines on stderr at start: set before they are imported."""
    import os

    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / "var" / "numba_cache"))


def _parser() -> argparse.ArgumentParser:
    from core.tasks import TASKS

    parser = argparse.ArgumentParser(prog="python -m models.evaluate", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="dataset", required=True, metavar="{" + ",".join([*EVALUATORS, "recordings"]) + "}")
    for name, help_text in (("uci_voice", "a file in the UCI parkinsons.data format"),
                            ("finger_tapping", "a CSV in the finger-tapping table's format"),
                            ("gaitpdb", "a gaitpdb_forces directory with demographics.txt")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("path", type=Path)
    rec = sub.add_parser("recordings", help="the whole pipeline on a folder of labelled real clips")
    rec.add_argument("path", type=Path, metavar="FOLDER")
    rec.add_argument("--labels", type=Path, required=True,
                     help="CSV with columns file (relative to FOLDER), label (HC/control/healthy/0 or "
                          "PD/PwPD/Parkinson/1), optional age, sex, subject, task, side")
    rec.add_argument("--task", default="vowel", choices=list(TASKS), help="task of the clips (default vowel)")
    rec.add_argument("--side", choices=("left", "right"), default=None, help="tested side for hand tasks")
    rec.add_argument("--age-band", type=float, default=55.0, help="lower age of the band (default 55)")
    rec.add_argument("--include-withheld", "--model-status-ignored", dest="include_withheld", action="store_true",
                     help="score with a withheld model too, to check the decision to withhold it")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.path.exists():
        print(f"error: {args.path.name or args.path} does not exist", file=sys.stderr)
        return 2
    try:
        if args.dataset == "recordings":
            _quiet_runtime_logs()
            if not args.path.is_dir():
                print("error: FOLDER must be a directory of recordings", file=sys.stderr)
                return 2
            if not args.labels.is_file():
                print("error: the labels file does not exist", file=sys.stderr)
                return 2

            def progress(i: int, n: int) -> None:
                print(f"clip {i} of {n}", file=sys.stderr, flush=True)

            result = evaluate_recordings(args.path, args.labels, task=args.task, side=args.side,
                                         age_band=args.age_band, include_withheld=args.include_withheld,
                                         progress=progress)
        else:
            result = EVALUATORS[args.dataset](args.path)
    except LabelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError, KeyError) as exc:
        print(f"error: cannot evaluate {args.path.name}: {str(exc).splitlines()[0] if str(exc) else exc!r}",
              file=sys.stderr)
        return 2
    if args.dataset in EVALUATORS:
        status = model_status(TABLE_MODEL[args.dataset])
        result["model_status"] = {"status": status.status, "reason": status.reason}
    print(json.dumps(_clean(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
