"""Panels of the visit results page: the fused score, each clip's quality badge, measures beside
their healthy ranges, and each clip's explanation figures.

All text that could come from a user (file names, notes) goes through escape_markdown or
st.text; nothing is rendered as HTML. Stored data only: the panels read the Assessment rows and
their explanation_json, plus the clip files in the data dir for the spectrogram and key frame.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.summary import BRANCH_LABELS, NOT_A_DIAGNOSIS, fused_summary, range_text, readable, recording_summary
from core.tasks import TASKS
from core.vocabulary import measure_info
from dashboard.formatting import escape_markdown
from dashboard.widgets import explanations as ex
from dashboard.widgets import outcome_plots

BRANCH_TITLES = {"voice": "Voice", "finger_tapping_left": "Finger tapping, left",
                 "finger_tapping_right": "Finger tapping, right", "gait": "Gait"}


# ---------------------------------------------------------------- pure builders

def measures_frame(measures: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Measure, value, unit, healthy range, and whether the value is inside it (Yes / No / -)."""
    rows = []
    for m in measures:
        value = m.get("value")
        rng = m.get("normal_range")
        inside = m.get("in_normal_range")
        if inside is None and rng and value is not None:
            lo, hi = rng
            inside = (lo is None or value >= lo) and (hi is None or value <= hi)
        rows.append({
            "Measure": m.get("label") or m["name"],
            "Value": None if value is None or not math.isfinite(float(value)) else float(value),
            "Unit": m.get("unit") or "",
            "Healthy range": range_text(rng, m.get("unit") or "") or "not established",
            "In range": "-" if inside is None else ("yes" if inside else "OUTSIDE"),
        })
    return pd.DataFrame(rows, columns=["Measure", "Value", "Unit", "Healthy range", "In range"])


def stored_measures(assessment: Any) -> list[dict[str, Any]]:
    """Measures of an Assessment row with their labels and ranges (from the explanation JSON,
    where the analysis recorded them, else from the measure vocabulary: imported data)."""
    described = {m["name"]: m for m in ((assessment.explanation_json or {}).get("measures") or [])}
    out = []
    for mv in assessment.measures:
        d = dict(described.get(mv.name, {}))
        info = measure_info(mv.name)
        if info is not None:
            d.setdefault("label", info.label)
            d.setdefault("normal_range", list(info.normal_range) if info.normal_range else None)
        d.update({"name": mv.name, "value": mv.value, "unit": mv.unit or d.get("unit", "")})
        out.append(d)
    return out


def feature_labels(explanation: Mapping[str, Any], measures: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Model feature name -> what a clinician reads (the voice model's UCI columns map to measures)."""
    by_name = {m["name"]: m.get("label") or m["name"] for m in measures}
    attr = explanation.get("measure_attributions") or {}
    labels = {n: by_name.get(n, readable(n)) for n in attr.get("names", [])}
    for feature, measure in (explanation.get("feature_measures") or {}).items():
        labels[feature] = by_name.get(measure, measure)
    return labels


def quality_label(quality_ok: bool, status: str | None = None) -> tuple[str, str]:
    """(text, colour) of a clip's quality badge."""
    if quality_ok:
        return "Quality ok", "green"
    return "Quality failed: record again", "red"


# ---------------------------------------------------------------- panels

def technical_details(lines: Sequence[str], key: str | None = None) -> None:
    """Model builds, methods, log-odds and other internals: folded away, for whoever asks."""
    lines = [line for line in lines if line]
    if not lines:
        return
    with st.expander("Technical details", icon=":material/build:", key=key):
        for line in lines:
            st.caption(escape_markdown(line))


def fused_panel(assessment: Any | None, branch_rows: Sequence[Mapping[str, Any]]) -> None:
    """The visit score with the decision-support statement right beside it, its band, each
    recording's score and contribution, what was left out; internals in "Technical details"."""
    st.subheader("Visit score")
    if assessment is None:
        st.info("No visit score yet: add a voice, finger-tapping or gait recording to this visit.")
        st.info(NOT_A_DIAGNOSIS, icon=":material/info:")
        return
    expl = assessment.explanation_json or {}
    cols = st.columns([1, 2])
    if assessment.probability is None:
        cols[0].metric("Combined score", "not scored")
        cols[0].warning(escape_markdown(assessment.abstained_reason or "No recording could be scored."))
    else:
        band = (f"uncertainty {assessment.interval_low:.2f} to {assessment.interval_high:.2f}"
                if assessment.interval_low is not None else None)
        cols[0].metric("Combined score", f"{assessment.probability:.2f}",
                       help="Probability of a Parkinson-like pattern: 0 = the healthy reference, 1 = "
                            "Parkinson-like. " + (band or ""))
        if band:
            cols[0].caption(band)
    cols[0].info(NOT_A_DIAGNOSIS, icon=":material/info:")  # next to the number it qualifies
    contributions = expl.get("contributions_logodds") or {}
    if assessment.probability is not None:
        rows = [{"label": "Visit (combined)", "probability": assessment.probability,
                 "interval": (assessment.interval_low, assessment.interval_high)
                 if assessment.interval_low is not None else None}] + list(branch_rows)
        cols[1].plotly_chart(ex.score_figure(rows), key="fused_scores")
        if len(contributions) > 1:
            st.plotly_chart(ex.contribution_figure(contributions, BRANCH_TITLES), key="fused_contributions")
    for why in (expl.get("excluded") or {}).values():
        st.caption("Left out: " + escape_markdown(why))
    technical = [f"Visit score model: {assessment.model_version}"]
    technical += [f"{BRANCH_TITLES.get(k, k)} model: {v}" for k, v in (expl.get("component_versions") or {}).items()]
    if contributions:
        technical.append("Contributions (log-odds against the reference prior): " + ", ".join(
            f"{BRANCH_TITLES.get(k, k)} {v:+.3f}" for k, v in contributions.items()))
    technical.append(expl.get("assumptions") or "")
    technical_details(technical, key="fused_technical")


def summary_panel(lines: Sequence[str]) -> None:
    st.subheader("Summary")
    for line in lines:
        st.markdown("- " + escape_markdown(line))


def quality_panel(recording: Any) -> None:
    text, colour = quality_label(recording.quality_ok)
    st.badge(text, color=colour, icon=":material/check_circle:" if recording.quality_ok else ":material/error:")
    if not recording.quality_ok:
        checks = (recording.quality_json or {}).get("checks") or []
        for c in checks:
            if not c.get("passed", True):
                st.error(escape_markdown(c.get("message") or c.get("name", "quality check failed")))


def measures_panel(measures: Sequence[Mapping[str, Any]], key: str) -> None:
    if not measures:
        st.caption("No measures for this clip.")
        return
    st.dataframe(measures_frame(measures), hide_index=True, width="stretch", key=key,
                 column_config={"Value": st.column_config.NumberColumn(format="%.4g")})


def _load_audio(data_dir: Path, relative: str) -> tuple[np.ndarray, int] | None:
    """The stored clip's audio (decrypted in a private temp dir, removed after, when encrypted)."""
    from core.media.audio import load_audio
    from core.pipeline import UnusableInput
    from core.store.files import open_recording

    try:
        with open_recording(data_dir, relative) as path:
            return load_audio(path)
    except (UnusableInput, OSError, ValueError):  # no key, removed by retention, undecodable
        return None


def _load_image(path: Path | None) -> np.ndarray | None:
    if path is None or not path.is_file():
        return None
    import io

    from PIL import Image

    from core.store.files import read_stored_file

    try:
        data = read_stored_file(path)  # decrypted in memory when encrypted at rest
    except (OSError, ValueError):
        return None
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def explanation_panels(recording: Any, assessment: Any, measures: Sequence[Mapping[str, Any]],
                       data_dir: Path) -> list[str]:
    """Attribution bars, then the spectrogram (voice) or signal (movement) with temporal saliency,
    then the key frame with coloured landmarks. Returns the technical notes (methods, log-odds)
    for the clip's "Technical details" (an expander cannot sit inside the "Why this score" one)."""
    from core.store.files import resolve_recording_path

    expl = assessment.explanation_json or {}
    key = f"rec{recording.id}"
    if expl.get("error"):
        st.caption(escape_markdown(expl["error"]))
    attr = expl.get("measure_attributions")
    technical: list[str] = []
    if attr:
        st.plotly_chart(ex.attribution_figure(attr, feature_labels(expl, measures)), key=f"{key}_attr")
        technical.append(f"Measure bars: integrated gradients from the healthy reference, in log-odds; completeness "
                         f"gap {attr.get('completeness_gap', 0):+.4f} log-odds (sum of bars minus score difference).")
    sal = expl.get("temporal_saliency")
    if recording.task in ("vowel", "reading"):
        audio = _load_audio(data_dir, recording.stored_path)
        if audio is not None:
            st.plotly_chart(ex.spectrogram_saliency_figure(audio[0], audio[1], sal), key=f"{key}_spec")
    elif expl.get("signal"):
        sigd = expl["signal"]
        st.plotly_chart(ex.signal_saliency_figure(sigd["times"], sigd["values"], sal,
                                                  "Which seconds of the movement mattered "
                                                  "(red: raised the score, blue: lowered it)",
                                                  sigd.get("label", ""), sigd.get("peaks")), key=f"{key}_signal")
    if sal and sal.get("method"):
        technical.append(f"Which seconds mattered: {sal['method']}.")
    kf = expl.get("key_frame")
    lm = expl.get("landmark_saliency")
    if kf and lm:
        image_path = None
        if kf.get("file"):
            try:
                image_path = resolve_recording_path(data_dir, kf["file"])
            except ValueError:
                image_path = None
        names = ex.HAND_LANDMARK_NAMES if lm.get("names") == "hand" else ex.POSE_LANDMARK_NAMES
        st.plotly_chart(ex.keyframe_landmarks_figure(_load_image(image_path), kf["points"], lm["delta_logodds"],
                                                     names, expl.get("image_size"), lm.get("essential") or ()),
                        key=f"{key}_keyframe")
        if lm.get("method"):
            technical.append(f"Which landmarks mattered: {lm['method']}.")
    return technical


def recording_panel(recording: Any, assessment: Any | None, data_dir: Path) -> list[str]:
    """One clip: title, quality badge, score, measures, explanation. Returns its summary lines."""
    spec = TASKS.get(recording.task)
    title = (spec.label if spec else recording.task) + (f", {recording.side}" if recording.side else "")
    with st.container(border=True):
        st.markdown(f"#### {escape_markdown(title)}")
        if getattr(recording, "source", None) == "browser":
            st.caption("Recorded in the browser")
        elif recording.original_name:
            st.caption("File: " + escape_markdown(recording.original_name))
        quality_panel(recording)
        if getattr(recording, "clip_removed_at", None) is not None:
            st.caption("Clip removed by the retention policy on "
                       f"{recording.clip_removed_at:%Y-%m-%d}; its measures, scores and explanation are kept.")
        if assessment is None:
            st.caption("Not analysed yet.")
            return []
        if assessment.probability is not None:
            band = (f" (uncertainty {assessment.interval_low:.2f} to {assessment.interval_high:.2f})"
                    if assessment.interval_low is not None else "")
            sev = f"; predicted severity {assessment.severity:.1f} of 4" if assessment.severity is not None else ""
            st.markdown(f"Score **{assessment.probability:.2f}**{escape_markdown(band)}{escape_markdown(sev)}")
        elif assessment.model_version == "withheld" and recording.quality_ok:
            st.info("Measures only: " + escape_markdown(assessment.abstained_reason or "this task's model is withheld."),
                    icon=":material/info:")
        elif assessment.abstained_reason and recording.quality_ok:
            st.warning("Not scored: " + escape_markdown(assessment.abstained_reason))
        elif recording.quality_ok:
            st.caption("Measured and reported; no model scores this task.")
        measures = stored_measures(assessment)
        measures_panel(measures, key=f"rec{recording.id}_measures")
        outcome_plots.outcome_panel(recording.task, measures, key=f"rec{recording.id}")
        expl = assessment.explanation_json or {}
        technical = []
        if assessment.model_version and assessment.model_version != "withheld":
            technical.append(f"Model: {assessment.model_version}")
        if recording.quality_ok and (expl.get("measure_attributions") or expl.get("error")):
            with st.expander("Why this score", expanded=True):
                technical += explanation_panels(recording, assessment, measures, data_dir)
        technical_details(technical, key=f"rec{recording.id}_technical")
        quality = recording.quality_json or {}
        problems = [c.get("message", "") for c in quality.get("checks", []) if not c.get("passed", True)]
        return recording_summary(title, measures, expl, recording.quality_ok, problems,
                                 extra=expl.get("sentences") or [])


def branch_rows_from(assessment: Any | None) -> list[dict[str, Any]]:
    """Per-modality rows for the score figure from the fused explanation."""
    expl = (assessment.explanation_json or {}) if assessment is not None else {}
    rows = []
    intervals = expl.get("branch_intervals") or {}
    for key, p in (expl.get("branch_probabilities") or {}).items():
        rows.append({"label": BRANCH_TITLES.get(key, key), "probability": p, "interval": intervals.get(key)})
    return rows


def visit_summary_lines(fused: Any | None, per_recording: Sequence[str]) -> list[str]:
    """The visit's sentences, rebuilt from the stored explanation (so the wording is today's, in
    plain words, whatever was stored with the score); the decision-support statement is beside
    the score, not repeated here."""
    lines = []
    if fused is not None:
        expl = fused.explanation_json or {}
        lines += [s for s in fused_summary({
            "probability": fused.probability, "abstained": fused.abstained_reason,
            "interval": [fused.interval_low, fused.interval_high] if fused.interval_low is not None else None,
            "contributions_logodds": expl.get("contributions_logodds") or {},
            "excluded": expl.get("excluded") or {}}) if s != NOT_A_DIAGNOSIS]
    return lines + list(per_recording)


__all__ = ["BRANCH_LABELS", "branch_rows_from", "fused_panel", "measures_frame", "quality_label",
           "recording_panel", "summary_panel", "visit_summary_lines"]
