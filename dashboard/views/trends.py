"""Patient trends: model scores with uncertainty, any measure over time (by task and side),
clinician ratings on the same charts, baseline and normal-variation band, flagged changes,
medication state, left vs right. Clicking a point (or picking a visit) opens that visit."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.ratings import MODEL_RATING_ITEMS, RATING_ITEMS, rating_label
from core.trends import (
    DEFAULT_BASELINE_VISITS,
    DEFAULT_CONFIRM_VISITS,
    MEASURE_THRESHOLDS,
    SeriesAnalysis,
    analyse_series,
    load_patient_series,
    rating_vs_score,
    side_comparison,
)
from core.vocabulary import label as measure_label, label_with_unit, series_label, task_label, unit as measure_unit
from dashboard import state
from dashboard.formatting import MEDICATION_LABELS, escape_markdown, label
from dashboard.widgets import chrome
from dashboard.widgets.ratings import readable_rating_vs_score

MEDICATION_SYMBOLS = {"on": "circle", "off": "x", "unknown": "circle-open"}
FLAG_COLOR = "#c0392b"
SCORE_COLORS = {"fused": "#1f4e79", "voice": "#2e8b57", "finger_tapping": "#8e44ad", "gait": "#d35400"}


def series_option(task, name: str, side) -> str:
    """'Finger tapping (3.4) · Tapping rate · right': the task first, so options group by task."""
    side_text = f" · {side}" if isinstance(side, str) and side else ""
    return f"{task_label(task)} · {measure_label(name)}{side_text}"


def _hover(points: pd.DataFrame, value_format: str = ".3g") -> list[str]:
    return [f"{d:%Y-%m-%d} · medication {label(MEDICATION_LABELS, m)}" for d, m in
            zip(pd.to_datetime(points["visit_date"]), points.get("medication_state", ["unknown"] * len(points)))]


def _symbols(points: pd.DataFrame) -> list[str]:
    return [MEDICATION_SYMBOLS.get(m, "circle-open") for m in points.get("medication_state", [])]


def _add_flags(fig: go.Figure, analysis: SeriesAnalysis, secondary: bool | None = None) -> None:
    if not analysis.events:
        return
    events = analysis.events
    trace = go.Scatter(
        x=[pd.Timestamp(e.visit_date) for e in events], y=[e.value for e in events], mode="markers",
        name=f"Flagged change: {analysis.label}",
        marker=dict(symbol=["triangle-up" if e.change > 0 else "triangle-down" for e in events], size=14,
                    color=FLAG_COLOR, line=dict(width=1, color="white")),
        customdata=[e.visit_id for e in events],
        hovertext=[e.summary(analysis.label, analysis.unit) for e in events], hoverinfo="text",
    )
    if secondary is None:
        fig.add_trace(trace)
    else:
        fig.add_trace(trace, secondary_y=secondary)


def _add_band(fig: go.Figure, analysis: SeriesAnalysis, secondary: bool | None = None) -> None:
    if analysis.band is None:
        return
    band, base = analysis.band, analysis.baseline
    kwargs = {} if secondary is None else {"secondary_y": secondary}
    fig.add_hrect(y0=band.low, y1=band.high, fillcolor="#9ecae1", opacity=0.25, line_width=0,
                  annotation_text="normal variation", annotation_position="top right", **kwargs)
    fig.add_hline(y=base.mean, line_dash="dash", line_color="#1f4e79", line_width=1,
                  annotation_text=f"baseline {base.mean:.3g}", annotation_position="bottom left", **kwargs)
    fig.add_vrect(x0=pd.Timestamp(base.first_date), x1=pd.Timestamp(base.last_date), fillcolor="#dddddd",
                  opacity=0.3, line_width=0, annotation_text="baseline visits", annotation_position="top left")


def score_figure(series, analyses: dict[tuple, SeriesAnalysis]) -> go.Figure:
    """Each model's score over time with its uncertainty band; the matching rating on the right axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for (model, side), group in series.scores.groupby(["model", "side"], dropna=False, sort=False):
        side = side if isinstance(side, str) else None
        name = series_label(f"score:{model}", side)
        color = SCORE_COLORS.get(model)
        group = group.sort_values("visit_date")
        dates = pd.to_datetime(group["visit_date"])
        if group["interval_low"].notna().any():
            fig.add_trace(go.Scatter(
                x=list(dates) + list(dates[::-1]),
                y=list(group["interval_high"]) + list(group["interval_low"][::-1]),
                fill="toself", fillcolor="rgba(31,78,121,0.12)", line=dict(width=0), hoverinfo="skip",
                name=f"{name}: uncertainty", showlegend=True), secondary_y=False)
        fig.add_trace(go.Scatter(
            x=dates, y=group["probability"], mode="lines+markers", name=name,
            line=dict(color=color), marker=dict(symbol=_symbols(group), size=8),
            customdata=group["visit_id"], hovertext=_hover(group)), secondary_y=False)
        analysis = analyses.get((f"score:{model}", side))
        if analysis is not None:
            _add_flags(fig, analysis, secondary=False)
    ratings = series.ratings
    for model in series.scores["model"].unique():
        item = MODEL_RATING_ITEMS.get(model)
        if model == "fused" and not ratings.empty and "mds_updrs_part3_total" not in set(ratings["item"]):
            item = "updrs_motor_total"
        rated = ratings[ratings["item"] == item] if item and not ratings.empty else ratings.iloc[0:0]
        for side, group in rated.groupby("side", dropna=False):
            side = side if isinstance(side, str) else None
            fig.add_trace(go.Scatter(
                x=pd.to_datetime(group["visit_date"]), y=group["score"], mode="markers",
                name=f"Rating {rating_label(item, side)}", marker=dict(symbol="diamond", size=9, color="#7f8c8d"),
                customdata=group["visit_id"]), secondary_y=True)
    fig.update_yaxes(title_text="probability (Parkinson-like pattern)", range=[0, 1], secondary_y=False)
    fig.update_yaxes(title_text="clinician rating", secondary_y=True)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h"),
                      title="Model scores over time")
    return fig


def series_figure(analysis: SeriesAnalysis, rating: pd.DataFrame | None = None, rating_name: str = "") -> go.Figure:
    """One series with its baseline, band and flags; a matching clinician rating on the right axis."""
    with_rating = rating is not None and not rating.empty
    fig = make_subplots(specs=[[{"secondary_y": True}]]) if with_rating else go.Figure()
    points = analysis.points
    trace = go.Scatter(
        x=pd.to_datetime(points["visit_date"]), y=points["value"], mode="lines+markers", name=analysis.label,
        marker=dict(symbol=_symbols(points), size=8,
                    color=["#c0392b" if s in ("beyond", "change") else "#1f4e79" for s in points["status"]]),
        line=dict(color="#1f4e79"), customdata=points["visit_id"], hovertext=_hover(points),
    )
    secondary = False if with_rating else None
    if with_rating:
        fig.add_trace(trace, secondary_y=False)
    else:
        fig.add_trace(trace)
    _add_band(fig, analysis, secondary)
    _add_flags(fig, analysis, secondary)
    if with_rating:
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(rating["visit_date"]), y=rating["score"], mode="markers", name=f"Rating {rating_name}",
            marker=dict(symbol="diamond", size=9, color="#7f8c8d"), customdata=rating["visit_id"]), secondary_y=True)
        fig.update_yaxes(title_text="clinician rating", secondary_y=True)
    unit = f" ({analysis.unit})" if analysis.unit else ""
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), title=f"{analysis.label}{unit}",
                      legend=dict(orientation="h"))
    return fig


def sides_figure(table: pd.DataFrame, name: str) -> go.Figure:
    fig = go.Figure()
    for side, color in (("left", "#2980b9"), ("right", "#e67e22")):
        fig.add_trace(go.Scatter(x=pd.to_datetime(table["visit_date"]), y=table[side], mode="lines+markers",
                                 name=side.capitalize(), line=dict(color=color), customdata=table["visit_id"]))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), title=f"{name}: left vs right")
    return fig


def open_visit_on_select(event, key: str) -> None:
    """A clicked point carries its visit id in customdata: open that visit."""
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", []) or []
    for point in points:
        visit_id = point.get("customdata")
        if isinstance(visit_id, list):
            visit_id = visit_id[0] if visit_id else None
        if visit_id is not None:
            st.switch_page(state.VISIT_PAGE, query_params={"visit": str(int(visit_id))})


def band_caption(analysis: SeriesAnalysis) -> None:
    """How the chart's band of normal variation was set (or why there is none)."""
    if analysis.band is not None:
        st.caption(f"Band: {analysis.band.method}, {analysis.band.source}.")
    elif analysis.note:
        st.caption(analysis.note)


def chart(fig: go.Figure, key: str) -> None:
    event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points", width="stretch")
    open_visit_on_select(event, key)


# ------------------------------------------------------------------------------------------ page

patient = state.require_patient("Patient trends")

with state.session() as s:
    series = load_patient_series(s, patient.id)

chrome.back_to_patient(patient)
st.title(f"Trends · {escape_markdown(patient.name)}")
chrome.demo_patient_note(patient)
visits = series.visits
if visits.empty:
    st.info("No visits yet: trends appear after the first visit.")
    st.stop()
st.caption(f"{len(visits)} visits from {visits['visit_date'].min():%Y-%m-%d} to {visits['visit_date'].max():%Y-%m-%d}. "
           "Markers: ● medication ON, ✕ OFF, ○ unknown. Click a point to open that visit.")

with st.expander("Baseline and change settings", icon=":material/tune:"):
    left, middle, right = st.columns(3)
    mode = left.radio("Baseline", ["First visits", "Date window"], horizontal=True, key="trends_baseline_mode")
    window = None
    baseline_visits = DEFAULT_BASELINE_VISITS
    if mode == "First visits":
        baseline_visits = left.number_input("Number of baseline visits", 1, 50, DEFAULT_BASELINE_VISITS,
                                            key="trends_baseline_visits")
    else:
        first, last = visits["visit_date"].min().date(), visits["visit_date"].max().date()
        chosen = left.date_input("Baseline window", value=(first, min(last, first + pd.Timedelta(days=60).to_pytimedelta())),
                                 min_value=first, max_value=last, key="trends_baseline_window")
        if isinstance(chosen, (tuple, list)) and len(chosen) == 2:
            window = (chosen[0], chosen[1])
    medication = middle.radio("Compare visits", ["all", "on", "off"], horizontal=True, key="trends_medication",
                              format_func=lambda m: {"all": "All", "on": "ON only", "off": "OFF only"}[m])
    confirm = right.number_input("Visits in a row beyond the band to confirm a change", 1, 5,
                                 DEFAULT_CONFIRM_VISITS, key="trends_confirm")
    st.caption("Thresholds: a published minimal clinically important difference or reliable change index where "
               "one exists (its source is shown on each flag), otherwise the 95% prediction band of the patient's "
               "own baseline.")

options = dict(baseline_visits=int(baseline_visits), window=window, confirm_visits=int(confirm))


def keep(frame: pd.DataFrame) -> pd.DataFrame:
    return frame if medication == "all" else frame[frame["medication_state"] == medication]


analyses: dict[tuple, SeriesAnalysis] = {}
all_events: list[tuple[SeriesAnalysis, object]] = []

# --- model scores -----------------------------------------------------------------------------
st.subheader("Model scores")
scores = keep(series.scores)
if scores.empty:
    st.info("No model scores stored for this patient yet: they appear once a visit's clips are analysed "
            "(imported data, such as the demo's, carries measures and ratings only).")
else:
    for (model, side), group in scores.groupby(["model", "side"], dropna=False, sort=False):
        side = side if isinstance(side, str) else None
        analysis = analyse_series(group.rename(columns={"probability": "value"}), f"score:{model}",
                                  series_label(f"score:{model}", side), "", side, **options)
        analyses[(f"score:{model}", side)] = analysis
        all_events += [(analysis, e) for e in analysis.events]
    filtered = type(series)(series.patient_id, series.visits, scores, series.measures, keep(series.ratings))
    chart(score_figure(filtered, analyses), "trends_scores")

# --- measures ---------------------------------------------------------------------------------
st.subheader("Measures")
measures = keep(series.measures)
catalogue = series.measure_catalogue()
option_keys = {series_option(r.task, r.name, r.side): (r.task, r.name, r.side if isinstance(r.side, str) else None,
                                                       r.unit) for r in catalogue.itertuples()}
defaults = [o for o, (_, name, _, _) in option_keys.items() if name in MEASURE_THRESHOLDS][:4] or list(option_keys)[:3]
chosen = st.multiselect("Measures to show (grouped by task and side)", list(option_keys), default=defaults,
                        key="trends_measures")
ratings = keep(series.ratings)
for option in chosen:
    task, name, side, unit = option_keys[option]
    rows = measures[(measures["name"] == name) & (measures["task"].fillna("") == (task if isinstance(task, str) else ""))]
    rows = rows[rows["side"].isna()] if side is None else rows[rows["side"] == side]
    analysis = analyse_series(rows, name, series_label(name, side), measure_unit(name, unit), side, **options)
    all_events += [(analysis, e) for e in analysis.events]
    rating_item = next((k for k, item in RATING_ITEMS.items() if item.task == task), None)
    rating = None
    if rating_item and not ratings.empty:
        rating = ratings[(ratings["item"] == rating_item) &
                         ((ratings["side"] == side) if side else ratings["side"].isna())]
    chart(series_figure(analysis, rating, rating_label(rating_item, side) if rating_item else ""),
          f"trends_measure_{task}_{name}_{side}")
    band_caption(analysis)

# --- ratings ----------------------------------------------------------------------------------
st.subheader("Clinician ratings")
if ratings.empty:
    st.info("No clinician ratings yet: enter them on the Clinician ratings page of a visit.")
else:
    for (item, side), group in ratings.groupby(["item", "side"], dropna=False, sort=False):
        side = side if isinstance(side, str) else None
        analysis = analyse_series(group.rename(columns={"score": "value"}), f"rating:{item}",
                                  series_label(f"rating:{item}", side), "points", side, **options)
        all_events += [(analysis, e) for e in analysis.events]
        chart(series_figure(analysis), f"trends_rating_{item}_{side}")
        band_caption(analysis)

# --- left vs right ----------------------------------------------------------------------------
sided = catalogue[catalogue["side"].isin(["left", "right"])]
sided_names = list(dict.fromkeys(sided["name"]))  # in the catalogue's order: by task, then label
sided_units = dict(zip(sided["name"], sided["unit"]))
if sided_names:
    st.subheader("Left vs right")
    name = st.selectbox("Sided measure", sided_names, format_func=measure_label, key="trends_sided")
    table = side_comparison(measures, name)
    if table.empty:
        st.info("No visit has both sides of this measure.")
    else:
        chart(sides_figure(table, label_with_unit(name, sided_units.get(name))), "trends_sides")
        st.dataframe(table.assign(visit_date=table["visit_date"].dt.date)
                     .drop(columns=["visit_id"]).rename(columns=lambda c: c.replace("_", " ")),
                     hide_index=True, width="stretch")

# --- flags ------------------------------------------------------------------------------------
st.subheader("Flagged changes")
if not all_events:
    st.info("No change beyond the normal variation of the baseline.")
else:
    st.dataframe(pd.DataFrame({
        "Visit": [e.visit_date for _, e in all_events],
        "Series": [a.label for a, _ in all_events],
        "Direction": [e.direction for _, e in all_events],
        "Change from baseline": [e.change for _, e in all_events],
        "Threshold": [e.threshold for _, e in all_events],
        "Confirmed": [e.confirmed for _, e in all_events],
        "Threshold source": [e.source for _, e in all_events],
    }).sort_values("Visit"), hide_index=True, width="stretch",
        column_config={c: st.column_config.NumberColumn(format="%.3g") for c in ("Change from baseline", "Threshold")})

# --- rating vs score, open a visit ------------------------------------------------------------
comparison = rating_vs_score(series)
if not comparison.empty:
    st.subheader("Rating vs app score per visit")
    st.dataframe(readable_rating_vs_score(comparison), hide_index=True, width="stretch")

st.subheader("Open a visit")
visit_choices = {int(v.visit_id): f"{v.visit_date:%Y-%m-%d} · {label(MEDICATION_LABELS, v.medication_state)}"
                 for v in visits.iloc[::-1].itertuples()}
picked = st.selectbox("Visit", list(visit_choices), format_func=visit_choices.get, key="trends_visit")
if st.button("Open visit", icon=":material/open_in_new:", key="trends_open_visit"):
    st.switch_page(state.VISIT_PAGE, query_params={"visit": str(picked)})
