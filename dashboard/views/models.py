"""Models: each shipped model's card, data, split, metrics with their spread and baselines, a
calibration plot and its version; the fused visit score's card; and which model version produced
the scores stored in this database."""
import json

import pandas as pd
import streamlit as st

from core.visits import model_versions_in_use
from dashboard import state
from dashboard.formatting import escape_markdown
from dashboard.widgets.explanations import calibration_figure
from dashboard.widgets.facts import facts
from models.fused import FUSED_DIR, FUSED_VERSION, PARAMETERS_FILE
from models.registry import MODEL_NAMES, ModelUnavailable, load_model, model_status

TITLES = {"voice": "Voice (sustained vowel)", "finger_tapping": "Finger tapping (MDS-UPDRS 3.4)", "gait": "Gait"}


def _fmt(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def metrics_table(metrics: dict) -> pd.DataFrame:
    """The shipped model and its baselines on the same subject-grouped folds."""
    rows = []

    def row(name: str, cv: dict) -> dict:
        rep = cv.get("auc_over_repeats", {})
        fold = cv.get("per_fold", {})
        ci = cv.get("auc_ci95_subject_bootstrap") or [None, None]
        return {"Model": name, "AUC (mean over repeats)": rep.get("mean"), "AUC SD": rep.get("sd"),
                "AUC 95% CI (subject bootstrap)": f"{_fmt(ci[0], 2)}-{_fmt(ci[1], 2)}",
                "Sensitivity": (fold.get("sensitivity") or {}).get("mean"),
                "Specificity": (fold.get("specificity") or {}).get("mean"),
                "Brier": (cv.get("pooled_repeat0") or {}).get("brier")}

    if metrics.get("cv"):
        rows.append(row(f"shipped ({metrics.get('chosen', '')})", metrics["cv"]))
    for name, cv in (metrics.get("baselines") or {}).items():
        rows.append(row(name.replace("_", " "), cv))
    return pd.DataFrame(rows)


def model_section(name: str) -> None:
    st.header(TITLES.get(name, name))
    status = model_status(name)
    if status.withheld:
        st.warning("Measures only: " + escape_markdown(status.reason or "this model is withheld.")
                   + " pdlens shows this task's measures, without a score.")
    try:
        model = load_model(name, allow_withheld=True)
    except ModelUnavailable as exc:
        st.warning(str(exc))
        return
    if status.withheld:
        st.caption("The figures below are kept for the record: this model is not used to score clips.")
    metrics = model.metrics
    data = metrics.get("data", {})
    rep = (metrics.get("cv") or {}).get("auc_over_repeats", {})
    facts([  # not st.metric: it cuts long version strings short
        ("Version", model.version),
        ("Subjects", f"{data.get('subjects', 'n/a')} ({data.get('pd_subjects', '?')} PD, "
                     f"{data.get('control_subjects', '?')} control)"),
        ("Rows", f"{data.get('rows', 'n/a')}"),
        ("CV AUC (subject-grouped)", f"{_fmt(rep.get('mean'), 2)} ± {_fmt(rep.get('sd'), 2)}"),
    ], per_row=4)
    if data.get("source"):
        st.caption("Data: " + data["source"])
    if metrics.get("split"):
        st.caption("Split: " + metrics["split"])
    st.dataframe(metrics_table(metrics), hide_index=True, width="stretch", key=f"{name}_metrics",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("AUC (mean over repeats)", "AUC SD", "Sensitivity", "Specificity", "Brier")})
    bins = (metrics.get("calibration") or {}).get("reliability_bins") or (metrics.get("cv") or {}).get("reliability_bins")
    if bins:
        st.plotly_chart(calibration_figure(bins, f"Calibration of {TITLES.get(name, name).lower()} "
                                                 "(out-of-fold, subject-grouped)"), key=f"{name}_calibration")
    severity = metrics.get("severity")
    if severity:
        mae = (severity.get("cv") or {}).get("mae_over_repeats", {})
        st.caption(f"Severity (0-4): CV MAE {_fmt(mae.get('mean'), 2)} ± {_fmt(mae.get('sd'), 2)} "
                   f"({severity.get('target', '')}).")
    if model.card_path.is_file():
        with st.expander("Model card"):
            st.markdown(model.card_path.read_text())  # our own document, shipped with the model


def fused_section() -> None:
    st.header("Visit score (fusion)")
    facts([("Version", FUSED_VERSION)], per_row=4)
    if PARAMETERS_FILE.is_file():
        params = json.loads(PARAMETERS_FILE.read_text())
        st.dataframe(pd.DataFrame([{"Branch": k.replace("_", " "), "Training prior": params["prior"][k],
                                    "CV AUC": params["auc"][k], "Reliability (2 AUC - 1)": params["reliability"][k]}
                                   for k in params["prior"]]), hide_index=True, width="stretch", key="fused_params")
        st.caption(f"Correlation of the two hands' evidence: {params['hand_correlation']:.2f} "
                   f"({params.get('hand_correlation_source', '')}).")
    card = FUSED_DIR / "MODEL_CARD.md"
    if card.is_file():
        with st.expander("Model card of the visit score"):
            st.markdown(card.read_text())


st.title("Models")
st.caption("What each model was trained on, how well it did on people it had not seen, and its limits. "
           "Decision support, not a diagnosis.")
fused_section()
for model_name in MODEL_NAMES:
    model_section(model_name)

st.header("Which model version produced the stored scores")
with state.session() as s:
    in_use = model_versions_in_use(s)
if in_use:
    st.dataframe(pd.DataFrame([{"Model": r["model"], "Version": r["version"], "Assessments": r["assessments"],
                                "First": r["first"], "Last": r["last"]} for r in in_use]),
                 hide_index=True, width="stretch", key="versions_in_use")
else:
    st.caption("No scores stored yet.")
