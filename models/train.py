"""Train, validate and ship the tabular models: `python -m models.train voice|finger_tapping|gait|all
[--out DIR]`. Deterministic on CPU: the same command reproduces the shipped weights' metrics.

For each model: a few candidates declared up front (feature set x network) are compared by
repeated subject-grouped cross-validation on the data we have; the best by mean CV AUC (or MAE for
severity) is reported with fold spread, a subject bootstrap CI and baselines on the same folds,
calibrated with Platt scaling on out-of-fold logits, then trained on all rows and written to
<out>/<name>/ (model.pt, metrics.json, MODEL_CARD.md from CARD_TEXT.md + generated metrics).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from core.config import MODELS_DIR
from models import data as D
from models import tabular as T
from models.registry import CARD_FILE, METRICS_FILE, WEIGHTS_FILE, load_model_from
from models.specs import SPECS, Candidate, ModelSpec

SEED = 20231
ABSTAIN_MARGIN = 0.5  # abstain beyond the training range widened by this fraction of its span


# ---------------------------------------------------------------- procedure

def _log_mask(spec: ModelSpec, features: tuple[str, ...]) -> np.ndarray:
    return np.array([f in spec.log_features for f in features], dtype=bool)


def _binary_cv(spec: ModelSpec, cand: Candidate, table: D.Table) -> T.CVResult:
    """Cross-validated calibrated probabilities (and the raw out-of-fold mean logits)."""
    X, y, g = table.features(list(cand.features)), table.y, table.groups
    mask = _log_mask(spec, cand.features)

    target, kind = (table.severity, "regression") if cand.fit_target == "severity" else (y, "binary")

    def fit_predict(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
        ens = T.train_ensemble(X[tr], target[tr], g[tr], mask, kind, cand.net, SEED + len(tr))
        return ens.raw_mean(X[te])

    return T.cross_validate(fit_predict, X, y, g, spec.n_splits, spec.repeats, SEED, calibrate=True)


def _regression_cv(spec: ModelSpec, cand: Candidate, table: D.Table, y: np.ndarray) -> T.CVResult:
    X, g = table.features(list(cand.features)), table.groups
    mask = _log_mask(spec, cand.features)

    def fit_predict(tr, te):
        ens = T.train_ensemble(X[tr], y[tr], g[tr], mask, "regression", cand.net, SEED + len(tr))
        return np.clip(ens.raw_mean(X[te]), 0.0, 4.0)

    return T.cross_validate(fit_predict, X, y, g, spec.n_splits, spec.repeats, SEED)


def _ranges(X: np.ndarray, mask: np.ndarray, names: tuple[str, ...]) -> tuple[dict, dict]:
    """Training min/max per feature, and the wider band beyond which the model abstains
    (widened by ABSTAIN_MARGIN of the span, in log space for logged features)."""
    training, abstain = {}, {}
    for j, n in enumerate(names):
        lo, hi = float(np.min(X[:, j])), float(np.max(X[:, j]))
        training[n] = [lo, hi]
        if mask[j]:
            llo, lhi = np.log(max(lo, 0) + T.LOG_EPS), np.log(hi + T.LOG_EPS)
            m = ABSTAIN_MARGIN * (lhi - llo)
            abstain[n] = [float(max(np.exp(llo - m) - T.LOG_EPS, 0.0)), float(np.exp(lhi + m) - T.LOG_EPS)]
        else:
            m = ABSTAIN_MARGIN * (hi - lo)
            abstain[n] = [lo - m, hi + m]
    return training, abstain


def _shipped_mae(summary: dict[str, Any]) -> float:
    """The CV MAE of the output a severity candidate would ship: continuous or whole score."""
    return min(summary["mae_over_repeats"]["mean"], summary["whole_score"]["mae_over_repeats"]["mean"])


def _state(ens: T.Ensemble) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in ens.state_dict().items()}


def _info(ens: T.Ensemble, cand: Candidate) -> dict[str, Any]:
    return {"kind": ens.kind, "hidden": cand.net.hidden, "n_members": cand.net.n_members,
            "log_mask": [bool(b) for b in ens.transform.log_mask.tolist()],
            "calibration": list(ens.calibration), "candidate": cand.name, "net": cand.net.as_dict(),
            "fit_target": cand.fit_target}


def _round(obj: Any, nd: int = 4) -> Any:
    if isinstance(obj, float):
        return round(obj, nd)
    if isinstance(obj, dict):
        return {k: _round(v, nd) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v, nd) for v in obj]
    return obj


def train_model(spec: ModelSpec, out_root: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    start = time.time()
    table_all = spec.load()
    features_union = sorted({f for c in spec.candidates + spec.severity_candidates for f in c.features})
    table = table_all.complete(features_union)
    if table.severity is not None:  # the severity-based candidates need a rating on every row
        rated = np.isfinite(table.severity)
        table = D.Table(table.frame[rated].reset_index(drop=True), table.y[rated], table.groups[rated],
                        table.severity[rated], {**table.skipped, "rows_without_rating": int((~rated).sum())}
                        if (~rated).sum() else table.skipped)
    y, g = table.y, table.groups
    log(f"[{spec.name}] {len(y)} rows, {len(np.unique(g))} subjects, {int(y.sum())} PD rows")

    # 0. severity (finger tapping) first: its feature set decides which classifiers may ship,
    # since both outputs share one feature set
    sev_results, sev_best = {}, None
    if spec.severity_candidates:
        for cand in spec.severity_candidates:
            cvr = _regression_cv(spec, cand, table, table.severity)
            sev_results[cand.name] = (cvr, T.summarise_regression(cvr, table.severity, g))
            r = sev_results[cand.name][1]
            log(f"[{spec.name}] severity {cand.name}: CV MAE continuous {r['mae_over_repeats']['mean']:.3f}, "
                f"whole score {r['whole_score']['mae_over_repeats']['mean']:.3f}")
        sev_best = min(spec.severity_candidates, key=lambda c: _shipped_mae(sev_results[c.name][1]))

    # 1. choose the classifier candidate by repeated grouped CV (mean AUC over repeats)
    results = {}
    for cand in spec.candidates:
        cv = _binary_cv(spec, cand, table)
        results[cand.name] = (cv, T.summarise_binary(cv, y, g, 0.5, spec.subject_level))
        log(f"[{spec.name}] {cand.name}: CV AUC {results[cand.name][1]['auc_over_repeats']['mean']:.3f}")
    eligible = [c for c in spec.candidates if not c.not_eligible
                and (sev_best is None or c.features == sev_best.features)]
    if not eligible:
        raise ValueError(f"{spec.name}: no eligible classifier candidate on the chosen severity features")
    best = max(eligible, key=lambda c: results[c.name][1]["auc_over_repeats"]["mean"])
    cv_best = results[best.name][0]

    # 2. the shipped classifier: all rows; Platt scaling fitted on the out-of-fold logits of repeat 0
    X = table.features(list(best.features))
    mask = _log_mask(spec, best.features)
    if best.fit_target == "severity":
        clf = T.train_ensemble(X, table.severity, g, mask, "regression", best.net, SEED)
        clf.kind = "binary"  # same members; the calibration below turns the rating into log-odds
    else:
        clf = T.train_ensemble(X, y, g, mask, "binary", best.net, SEED)
    clf.calibration = T.fit_platt(cv_best.raw[0], y)

    # 3. decision threshold: Youden's J on those out-of-fold logits, calibrated as shipped
    p_ship = T.sigmoid(clf.calibration[0] * cv_best.raw[0] + clf.calibration[1])
    if spec.subject_level:
        ps, _ = T.subject_means(p_ship, g)
        ys, _ = T.subject_means(y.astype(float), g)
        threshold = T.youden_threshold(ys, ps)
    else:
        threshold = T.youden_threshold(y, p_ship)
    summary = T.summarise_binary(cv_best, y, g, threshold, spec.subject_level)
    baselines = T.evaluate_baselines("binary", X, y, g, cv_best, SEED, spec.subject_level)
    walk_level = T.summarise_binary(cv_best, y, g, threshold, False) if spec.subject_level else None

    # 4. severity (finger tapping): the chosen candidate, baselines on the same folds (on its
    # features and, where wider, on every candidate feature), continuous and whole-score MAE
    sev, sev_metrics = None, None
    if sev_best is not None:
        cvr = sev_results[sev_best.name][0]
        Xs = table.features(list(sev_best.features))
        sev_baselines = T.evaluate_baselines("regression", Xs, table.severity, g, cvr, SEED)
        widest = max((c.features for c in spec.severity_candidates), key=len)
        if set(widest) != set(sev_best.features):
            wide = T.evaluate_baselines("regression", table.features(list(widest)), table.severity, g, cvr, SEED)
            sev_baselines.update({f"{name} (all {len(widest)} features)": r for name, r in wide.items()
                              if name != "mean_rating"})
        mae_cont = sev_results[sev_best.name][1]["mae_over_repeats"]["mean"]
        mae_round = sev_results[sev_best.name][1]["whole_score"]["mae_over_repeats"]["mean"]
        sev_metrics = {
            "chosen": sev_best.name,
            "selection_rule": "lowest mean CV MAE over repeats of the output each candidate would ship "
                              "(continuous or whole item score, whichever is lower)",
            "cv": sev_results[sev_best.name][1],
            "candidates": {k: {"features": len(c.features), "why": c.why, "net": c.net.as_dict(),
                               "mae_over_repeats": v[1]["mae_over_repeats"],
                               "whole_score_mae_over_repeats": v[1]["whole_score"]["mae_over_repeats"],
                               "whole_score_mae_ci95_subject_bootstrap": v[1]["whole_score"]["mae_ci95_subject_bootstrap"]}
                           for c in spec.severity_candidates for k, v in [(c.name, sev_results[c.name])]},
            "baselines": sev_baselines,
            "target": "Rating (expert consensus MDS-UPDRS 3.4, 0-4)",
            "rating_counts": {str(int(k)): int(v) for k, v in zip(*np.unique(table.severity, return_counts=True))},
            "output_rule": "whole item score (rounded, 0-4) if its mean CV MAE is lower than the continuous one's",
            "cv_mae_continuous": mae_cont,
            "cv_mae_rounded": mae_round,
            "output": "rounded" if mae_round < mae_cont else "continuous",
        }
        sev = T.train_ensemble(Xs, table.severity, g, mask, "regression", sev_best.net, SEED)

    # 5. multivariate abstention: calibrated on out-of-fold distances of the training rows
    ood = T.fit_ood(X, mask, y, g, spec.n_splits, SEED)
    log(f"[{spec.name}] abstention check: {ood['training_refused_fraction']:.1%} of training rows refused "
        f"out of fold ({ood['training_refused_rows']} of {ood['n_rows']})")

    # 6. reference (healthy median), ranges, save
    healthy = y == 0
    training_ranges, abstain_ranges = _ranges(X, mask, best.features)
    meta = {
        "name": spec.name, "version": spec.version, "feature_names": list(best.features),
        "reference": [float(v) for v in np.median(X[healthy], axis=0)],
        "reference_note": "median of the healthy controls in the training data",
        "training_ranges": training_ranges, "abstain_ranges": abstain_ranges,
        "threshold": threshold, "interval_percentiles": [10.0, 90.0],
        "classifier": _info(clf, best), "severity": _info(sev, sev_best) if sev is not None else None,
        "severity_output": sev_metrics["output"] if sev_metrics else None,
        "ood": ood,
    }
    payload = {"meta": meta, "classifier": _state(clf), "severity": _state(sev) if sev is not None else None}
    out_dir = out_root / spec.name
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(payload, out_dir / WEIGHTS_FILE)
    shipped = load_model_from(out_dir)

    metrics = {
        "model": spec.name, "version": shipped.version,
        "data": {"source": spec.data_note, "rows": int(len(y)), "subjects": int(len(np.unique(g))),
                 "pd_rows": int(y.sum()), "control_rows": int((y == 0).sum()),
                 "pd_subjects": int(len(np.unique(g[y == 1]))), "control_subjects": int(len(np.unique(g[y == 0]))),
                 "skipped": {**table_all.skipped, **table.skipped}},
        "split": spec.split_note, "seed": SEED,
        "features": list(best.features),
        "candidates": {c.name: {"features": list(c.features), "net": c.net.as_dict(), "why": c.why,
                                "fit_target": c.fit_target,
                                **({"not_eligible": c.not_eligible} if c.not_eligible else {}),
                                "cv_auc": results[c.name][1]["auc_over_repeats"]} for c in spec.candidates},
        "chosen": best.name,
        "selection_rule": "highest mean subject-grouped CV AUC over repeats among the "
                          + ("eligible " if len(eligible) < len(spec.candidates) else "")
                          + "candidates declared in models/train.py; then trained on all rows",
        "threshold": threshold,
        "threshold_rule": "Youden's J on the pooled out-of-fold logits calibrated with the shipped Platt scaling"
                          + (" (per-subject means)" if spec.subject_level else ""),
        "auc_level": "subject (mean probability over a subject's walks)" if spec.subject_level else "recording",
        "cv": summary,
        "cv_walk_level": walk_level,
        "baselines": baselines,
        "calibration": {"method": "Platt scaling of the ensemble mean logit on out-of-fold logits; CV "
                                  "probabilities above are cross-fitted (each fold calibrated on the others)",
                        "platt": list(clf.calibration),
                        "brier": summary["pooled_repeat0"]["brier"],
                        "reliability_bins": summary["reliability_bins"]},
        "severity": sev_metrics,
        "abstention": {k: v for k, v in ood.items() if k not in ("mean", "precision")},
        "train_seconds": None,
    }
    metrics["train_seconds"] = round(time.time() - start, 1)
    metrics = _round(metrics)
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    write_card(spec, out_dir, metrics)
    log(f"[{spec.name}] shipped {shipped.version}: CV AUC {summary['auc_over_repeats']['mean']:.3f} "
        f"(+/- {summary['auc_over_repeats']['sd']:.3f}) in {metrics['train_seconds']} s")
    return metrics


# ---------------------------------------------------------------- model card

def _fmt_ci(ci: list[float]) -> str:
    return f"{ci[0]:.2f}-{ci[1]:.2f}"


def metrics_markdown(m: dict[str, Any]) -> str:
    cv = m["cv"]
    lines = [
        "## Metrics (generated by `python -m models.train " + m["model"] + "`)", "",
        f"Version `{m['version']}`. Data: {m['data']['rows']} rows, {m['data']['subjects']} subjects "
        f"({m['data']['pd_subjects']} PD, {m['data']['control_subjects']} control). Split: {m['split']}.",
        f"AUC level: {m['auc_level']}. Decision threshold {m['threshold']:.3f} ({m['threshold_rule']}).", "",
        "| model | CV AUC mean +/- sd over repeats | pooled AUC (repeat 0) [95% subject-bootstrap CI] "
        "| per-fold AUC mean +/- sd | sensitivity (per fold) | specificity (per fold) | Brier |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(name: str, s: dict[str, Any]) -> str:
        f = s["per_fold"]
        return (f"| {name} | {s['auc_over_repeats']['mean']:.3f} +/- {s['auc_over_repeats']['sd']:.3f} "
                f"| {s['pooled_repeat0']['auc']:.3f} [{_fmt_ci(s['auc_ci95_subject_bootstrap'])}] "
                f"| {f['auc']['mean']:.3f} +/- {f['auc']['sd']:.3f} "
                f"| {f['sensitivity']['mean']:.2f} +/- {f['sensitivity']['sd']:.2f} "
                f"| {f['specificity']['mean']:.2f} +/- {f['specificity']['sd']:.2f} "
                f"| {s['pooled_repeat0']['brier']:.3f} |")

    lines.append(row(f"**shipped: {m['chosen']}**", cv))
    for name, s in m["baselines"].items():
        lines.append(row(name, s))
    lines += ["", "Baselines are evaluated on exactly the same folds; their sensitivity/specificity use "
              "threshold 0.5 on their own probabilities.", "", "Candidates compared (mean CV AUC over repeats):", ""]
    for name, c in m["candidates"].items():
        line = f"- {name}: {c['cv_auc']['mean']:.3f} +/- {c['cv_auc']['sd']:.3f} ({c['why']})"
        if c.get("not_eligible"):
            line += f"; **not eligible**: {c['not_eligible']}"
        lines.append(line)
    if m.get("cv_walk_level"):
        w = m["cv_walk_level"]
        lines += ["", f"Per-walk AUC (each walk scored alone): {w['auc_over_repeats']['mean']:.3f} +/- "
                  f"{w['auc_over_repeats']['sd']:.3f}."]
    lines += ["", "Calibration (pooled out-of-fold, cross-fitted Platt): Brier "
              f"{m['calibration']['brier']:.3f}; reliability bins:", "",
              "| predicted | n | mean predicted | observed rate |", "|---|---|---|---|"]
    for b in m["calibration"]["reliability_bins"]:
        mp = "-" if b["mean_predicted"] is None else f"{b['mean_predicted']:.2f}"
        ob = "-" if b["observed_rate"] is None else f"{b['observed_rate']:.2f}"
        lines.append(f"| {b['lo']:.1f}-{b['hi']:.1f} | {b['n']} | {mp} | {ob} |")
    if m.get("severity"):
        s = m["severity"]
        lines += ["", f"### Severity ({s['target']})", "",
                  "Like for like: every model below on the same session-grouped folds, its predicted rating "
                  "clipped to 0-4 (continuous) and rounded to the nearest whole item score (what the item is).", "",
                  "| model | continuous: CV MAE mean +/- sd over repeats | continuous: pooled MAE (repeat 0) [95% CI] "
                  "| whole score: CV MAE mean +/- sd over repeats | whole score: pooled MAE (repeat 0) [95% CI] |",
                  "|---|---|---|---|---|"]

        def srow(name: str, r: dict[str, Any]) -> str:
            w = r["whole_score"]
            return (f"| {name} | {r['mae_over_repeats']['mean']:.3f} +/- {r['mae_over_repeats']['sd']:.3f} "
                    f"| {r['pooled_repeat0_mae']:.3f} [{_fmt_ci(r['mae_ci95_subject_bootstrap'])}] "
                    f"| {w['mae_over_repeats']['mean']:.3f} +/- {w['mae_over_repeats']['sd']:.3f} "
                    f"| {w['pooled_repeat0_mae']:.3f} [{_fmt_ci(w['mae_ci95_subject_bootstrap'])}] |")

        lines.append(srow(f"**shipped: {s['chosen']}**", s["cv"]))
        for name, r in s["baselines"].items():
            lines.append(srow(name, r))
        lines += ["", f"Severity candidates ({s['selection_rule']}), mean CV MAE continuous / whole score:", ""]
        for name, c in s["candidates"].items():
            lines.append(f"- {name} ({c['features']} features): {c['mae_over_repeats']['mean']:.3f} / "
                         f"{c['whole_score_mae_over_repeats']['mean']:.3f} ({c['why']})")
        lines += ["", f"Shipped output: **{s['output']}** ({s['output_rule']}): mean CV MAE continuous "
                  f"{s['cv_mae_continuous']:.3f}, whole score {s['cv_mae_rounded']:.3f}. "
                  f"Rating counts: {s['rating_counts']}."]
    if m.get("abstention"):
        a = m["abstention"]
        lines += ["", "### When the model gives no score", "",
                  "Besides missing measures and any measure far outside its training range (the range widened "
                  "by half its span), the model abstains when the measures taken together are unlike the "
                  f"training data: squared Mahalanobis distance in {a['space']}, Ledoit-Wolf shrunk covariance, "
                  f"above the {a['threshold_rule']} (threshold {a['threshold']:.1f}). "
                  f"Training rows refused out of fold: **{a['training_refused_fraction']:.1%}** "
                  f"({a['training_refused_rows']} of {a['n_rows']} rows, {a['training_refused_subjects']} subjects; "
                  f"{a['training_refused_fraction_rule']}); in-sample, {a['training_refused_fraction_in_sample']:.1%}."]
    return "\n".join(lines) + "\n"


def write_card(spec: ModelSpec, out_dir: Path, metrics: dict[str, Any]) -> None:
    text_path = MODELS_DIR / spec.name / "CARD_TEXT.md"
    text = text_path.read_text() if text_path.is_file() else f"# {spec.name} model\n"
    (out_dir / CARD_FILE).write_text(text.rstrip() + "\n\n" + metrics_markdown(metrics))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=[*SPECS, "all"])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="root folder for <name>/model.pt (default: models/)")
    args = parser.parse_args(argv)
    names = list(SPECS) if args.model == "all" else [args.model]
    for name in names:
        train_model(SPECS[name](), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
