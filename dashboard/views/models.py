"""Models: each shipped model's card, data, split, metrics with their spread and baselines, a
calibration plot and its version; the fused visit score's card; the clinic's own models (train,
activate, roll back: administrators; everyone sees the versions and their cards); and which model
version produced the scores stored in this database."""
import json

import pandas as pd
import streamlit as st

from core import clinic_models as cm
from core.store.errors import NotFound, PermissionDenied, ValidationError
from core.visits import model_versions_in_use
from dashboard import state
from dashboard.formatting import escape_markdown
from dashboard.widgets.explanations import calibration_figure, rating_calibration_figure
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


def _ci(ci) -> str:
    return "n/a" if not ci else f"{ci[0]:.2f} to {ci[1]:.2f}"


def clinic_result_table(metrics: dict) -> pd.DataFrame:
    """The clinic model beside its baselines, on the same patient-grouped folds."""
    cv, base = metrics.get("cv") or {}, metrics.get("baseline") or {}
    name = (cv.get("metric") or "mae").upper()
    rows = [{"Model": "clinic model", name: cv.get("value"), "95% CI (patient bootstrap)": _ci(cv.get("ci95")),
             "Difference from it (95% CI)": ""}]
    for key, b in (base.get("models") or {}).items():
        rows.append({"Model": "baseline: " + key.replace("_", " "), name: b.get("value"),
                     "95% CI (patient bootstrap)": _ci(b.get("ci95")),
                     "Difference from it (95% CI)": f"{_fmt(b.get('difference_model_minus_this'), 2)} "
                                                    f"({_ci(b.get('difference_ci95'))})"})
    return pd.DataFrame(rows)


def _do(action, *args) -> None:
    """Run a train/activate/rollback call as the signed-in administrator; refusals shown as errors."""
    try:
        with state.session() as s:
            actor_id = state.actor(s).id
        done = action(state.store(), actor_id, *args)
    except (ValidationError, PermissionDenied, NotFound) as problem:
        st.session_state["clinic_model_error"] = str(problem)
        return
    st.session_state["clinic_model_done"] = done
    st.rerun()


def clinic_version_panel(v, admin: bool, expanded: bool) -> None:
    status = "active" if v.active else ("rolled back" if v.deactivated_at else "not active")
    metrics = v.metrics or {}
    with st.expander(f"{v.label} ({status})", expanded=expanded):
        data = v.data_summary or {}
        cv = metrics.get("cv") or {}
        facts([("Version", v.label), ("Patients", f"{data.get('n_patients', 'n/a')}"),
               ("Visits", f"{data.get('n_visits', 'n/a')}"),
               ("Beats the baseline", "yes" if v.beats_baseline else "no")], per_row=4)
        st.dataframe(clinic_result_table(metrics), hide_index=True, width="stretch", key=f"clinic_metrics_{v.id}",
                     column_config={(cv.get("metric") or "mae").upper(): st.column_config.NumberColumn(format="%.2f")})
        st.caption(escape_markdown((metrics.get("baseline") or {}).get("shipped_model_note") or ""))
        if metrics.get("calibration") and not metrics.get("binary"):
            st.plotly_chart(rating_calibration_figure(metrics["calibration"], "Calibration (out-of-fold, "
                                                      "patient-grouped)"), key=f"clinic_calibration_{v.id}")
        wp = metrics.get("within_patient") or {}
        st.markdown("**Within-patient change** (stated separately from the cross-patient error): "
                    f"estimate vs rating change between consecutive visits r = {_fmt(wp.get('change_correlation'), 2)} "
                    f"({_ci(wp.get('change_correlation_ci95'))}) over {wp.get('visit_to_visit_changes', 0)} changes of "
                    f"{wp.get('patients_with_two_visits', 0)} patients; within patients (patient means removed) "
                    f"r = {_fmt(wp.get('within_patient_correlation'), 2)} ({_ci(wp.get('within_patient_correlation_ci95'))}).")
        pim = wp.get("patient_intercept_model") or {}
        if pim.get("available"):
            st.markdown("**Patient-intercept model** (learns each patient's deviations from their own mean): "
                        f"within-patient r = {_fmt(pim.get('within_patient_correlation'), 2)} "
                        f"({_ci(pim.get('within_patient_correlation_ci95'))}), change r = "
                        f"{_fmt(pim.get('change_correlation'), 2)} ({_ci(pim.get('change_correlation_ci95'))}).")
        if data.get("ratings_note"):
            st.caption(escape_markdown(data["ratings_note"]))
        if admin:
            refusal = cm.activation_refusal(v)
            cols = st.columns(2)
            if cols[0].button("Activate", key=f"clinic_activate_{v.id}", disabled=refusal is not None,
                              help=refusal or "Use this version's estimates on every visit with its measures."):
                _do(cm.activate, v.id)
            if v.active and cols[1].button("Roll back", key=f"clinic_rollback_{v.id}",
                                           help="Stop using this version: back to the shipped model (or measures only)."):
                _do(cm.rollback, v.target_item, v.target_side)
            if refusal and not v.active:
                st.caption(escape_markdown(refusal))
        st.markdown(v.card)  # generated by core.clinic_models from our own wording and numbers


def clinic_models_section() -> None:
    st.header("Clinic models")
    st.caption("Models this clinic trains on its own ratings and pdlens's measures of its own recordings, "
               "evaluated on patients they did not see (patient-grouped cross-validation) beside the clinic's "
               "mean rating. A version can be activated only if it measurably beats that baseline. "
               + cm.NOT_A_DIAGNOSIS)
    admin = state.may("train_clinic_model")
    with state.session() as s:
        targets = cm.rated_targets(s)
        versions = cm.list_versions(s)
    if (message := st.session_state.pop("clinic_model_error", None)):
        st.error(escape_markdown(message))
    done = st.session_state.pop("clinic_model_done", None)
    if isinstance(done, cm.TrainResult):
        st.success(f"Trained {done.version_label}: {done.n_patients} patients, {done.n_visits} visits; "
                   f"beats the baseline: {'yes' if done.beats_baseline else 'no'}.")
    elif isinstance(done, dict) and "estimates" in done:
        st.success(f"Activated {done['version']}: {done['estimates']} visit estimates written.")
    elif isinstance(done, dict):
        st.success(f"Rolled back {done['version']}: the shipped model (or measures only) again.")
    if admin:
        if not targets:
            st.info("No ratings in this database that pdlens records a task for: enter ratings at visits with "
                    "recordings first.")
        else:
            by_key = {t["key"]: t for t in targets}
            key = st.selectbox("Rating to learn", list(by_key), key="clinic_target",
                               format_func=lambda k: f"{by_key[k]['label']} ({by_key[k]['patients']} patients, "
                                                     f"{by_key[k]['visits']} rated visits)")
            chosen = by_key[key]
            with state.session() as s:
                status = cm.data_status(s, chosen["item"], chosen["side"])
            if status.enough:
                st.caption(escape_markdown(status.message))
                if st.button("Train", key="clinic_train", icon=":material/model_training:",
                             help="Train and evaluate a new version (it is not activated by training)."):
                    with st.spinner("Training and cross-validating..."):
                        _do(cm.train, chosen["item"], chosen["side"])
            else:
                st.warning(escape_markdown(status.message))
    elif versions:
        st.caption(escape_markdown(state.cannot("train_clinic_model")))
    if not versions:
        st.caption("No clinic model trained yet.")
        return
    st.subheader("Versions")
    newest = max(v.id for v in versions)
    for v in versions:
        clinic_version_panel(v, admin, expanded=v.id == newest)


st.title("Models")
st.caption("What each model was trained on, how well it did on people it had not seen, and its limits. "
           "Decision support, not a diagnosis.")
fused_section()
for model_name in MODEL_NAMES:
    model_section(model_name)

clinic_models_section()

st.header("Which model version produced the stored scores")
with state.session() as s:
    in_use = model_versions_in_use(s)
if in_use:
    st.dataframe(pd.DataFrame([{"Model": r["model"], "Version": r["version"], "Assessments": r["assessments"],
                                "First": r["first"], "Last": r["last"]} for r in in_use]),
                 hide_index=True, width="stretch", key="versions_in_use")
else:
    st.caption("No scores stored yet.")
