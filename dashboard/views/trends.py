"""Patient trends: model scores with uncertainty, any measure over time (by task and side),
clinician ratings under them on their own axis, baseline and normal-variation band, flagged changes,
medication state, left vs right. Clicking a point (or picking a visit) opens that visit."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core.clinic_models import patient_estimates
from core.ratings import MODEL_RATING_ITEMS, RATING_ITEMS, rating_for_measure, rating_label, rating_unit
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
from dashboard.formatting import MEDICATION_LABELS, escape_markdown, label, plural
from dashboard.widgets import chrome, spans
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


def _at(row: int | None) -> dict:
    """Where a trace or shape goes: the only plot (None) or row `row` of a two-row figure."""
    return {} if row is None else {"row": row, "col": 1}


def _add_flags(fig: go.Figure, analysis: SeriesAnalysis, row: int | None = None) -> None:
    if not analysis.events:
        return
    events = analysis.events
    fig.add_trace(go.Scatter(
        x=[pd.Timestamp(e.visit_date) for e in events], y=[e.value for e in events], mode="markers",
        name=f"Flagged change: {analysis.label}",
        marker=dict(symbol=["triangle-up" if e.change > 0 else "triangle-down" for e in events], size=14,
                    color=FLAG_COLOR, line=dict(width=1, color="white")),
        customdata=[e.visit_id for e in events],
        hovertext=[e.summary(analysis.label, analysis.unit) for e in events], hoverinfo="text",
    ), **_at(row))


def _add_band(fig: go.Figure, analysis: SeriesAnalysis, row: int | None = None) -> None:
    if analysis.band is None:
        return
    band, base = analysis.band, analysis.baseline
    normal = spans.y_span(band.low, band.high, row, fillcolor="#9ecae1", opacity=0.25)
    baseline = spans.y_line(base.mean, row, dash="dash", color="#1f4e79", width=1)
    baseline_visits = spans.x_span(pd.Timestamp(base.first_date), pd.Timestamp(base.last_date), row,
                                   fillcolor="#dddddd", opacity=0.3)
    spans.add_spans(fig, [normal, baseline, baseline_visits],
                    [spans.label("normal variation", normal, "top right"),
                     spans.label(f"baseline {base.mean:.3g}", baseline, "bottom left"),
                     spans.label("baseline visits", baseline_visits, "top left")])


def rating_axis_range(item: str | None, scores) -> list[float]:
    """The clinician rating axis: the item's whole scale for 0-4 items and Hoehn & Yahr (a
    rating of 1 sits a quarter of the way up, never level with a probability of 0.5), from 0
    to a little above the highest value for totals (0-132 would flatten them)."""
    spec = RATING_ITEMS.get(item) if item else None
    if spec is not None and spec.high <= 5:
        return [spec.low - 0.2, spec.high + 0.2]
    top = max([float(v) for v in scores if pd.notna(v)] or [4.0])
    return [0.0, max(4.0, top * 1.15)]


def rating_axis_title(item: str | None) -> str:
    """'clinician rating', or what an outcome value is: 'scale total (points)', 'stopwatch (s)',
    'measured by the clinician (m)'."""
    spec = RATING_ITEMS.get(item) if item else None
    if spec is None or spec.group != "outcome":
        return "clinician rating"
    what = "scale total" if spec.integer else "stopwatch" if spec.measure else "measured by the clinician"
    return f"{what} ({spec.unit})"


def _with_rating_row(title: str) -> go.Figure:
    """Two rows on one date axis: the measure or score above, the clinician rating below on
    its own axis and scale."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.08)
    fig.update_layout(title=title)
    return fig


def _add_rating(fig: go.Figure, rated: pd.DataFrame, item: str | None, name: str) -> None:
    fig.add_trace(go.Scatter(
        x=pd.to_datetime(rated["visit_date"]), y=rated["score"], mode="markers", name=f"Rating {name}",
        marker=dict(symbol="diamond", size=9, color="#7f8c8d"), customdata=rated["visit_id"]), row=2, col=1)


def score_figure(series, analyses: dict[tuple, SeriesAnalysis]) -> go.Figure:
    """Each model's score over time with its uncertainty band on a 0-1 probability axis; the
    matching clinician ratings below it, on their own axis."""
    ratings = series.ratings
    rated_items = []
    for model in series.scores["model"].unique():
        item = MODEL_RATING_ITEMS.get(model)
        if model == "fused" and not ratings.empty and "mds_updrs_part3_total" not in set(ratings["item"]):
            item = "updrs_motor_total"
        rated = ratings[ratings["item"] == item] if item and not ratings.empty else ratings.iloc[0:0]
        if not rated.empty:
            rated_items.append((item, rated))
    fig = _with_rating_row("Model scores over time") if rated_items else go.Figure()
    row = 1 if rated_items else None
    for (model, side), group in series.scores.groupby(["model", "side"], dropna=False, sort=False):
        side = side if isinstance(side, str) else None
        name = series_label(f"score:{model}", side)
        color = SCORE_COLORS.get(model)
        group = group.sort_values("visit_date")
        dates = pd.to_datetime(group["visit_date"])
        single = len(group) == 1 and group["interval_low"].notna().all()  # one point: an error bar, not a band
        if group["interval_low"].notna().any() and not single:
            fig.add_trace(go.Scatter(
                x=list(dates) + list(dates[::-1]),
                y=list(group["interval_high"]) + list(group["interval_low"][::-1]),
                fill="toself", fillcolor="rgba(31,78,121,0.12)", line=dict(width=0), hoverinfo="skip",
                name=f"{name}: uncertainty", showlegend=True), **_at(row))
        fig.add_trace(go.Scatter(
            x=dates, y=group["probability"], mode="lines+markers", name=name,
            line=dict(color=color), marker=dict(symbol=_symbols(group), size=8),
            error_y=dict(type="data", symmetric=False, array=list(group["interval_high"] - group["probability"]),
                         arrayminus=list(group["probability"] - group["interval_low"]), width=8) if single else None,
            customdata=group["visit_id"], hovertext=_hover(group)), **_at(row))
        analysis = analyses.get((f"score:{model}", side))
        if analysis is not None:
            _add_flags(fig, analysis, row)
    all_scores = []
    for item, rated in rated_items:
        for side, group in rated.groupby("side", dropna=False):
            side = side if isinstance(side, str) else None
            _add_rating(fig, group, item, rating_label(item, side))
        all_scores += list(rated["score"])
    fig.update_yaxes(title_text="probability (Parkinson-like pattern)", range=[0, 1], **_at(row))
    if rated_items:
        fig.update_yaxes(title_text="clinician rating", row=2, col=1,
                         range=rating_axis_range(rated_items[0][0] if len(rated_items) == 1 else None, all_scores))
    fig.update_layout(height=440 if rated_items else 380, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h"), title="Model scores over time")
    return fig


def series_figure(analysis: SeriesAnalysis, rating: pd.DataFrame | None = None, rating_name: str = "",
                  rating_item: str | None = None) -> go.Figure:
    """One series with its baseline, band and flags; a matching clinician rating below it, on
    its own axis."""
    with_rating = rating is not None and not rating.empty
    unit = f" ({analysis.unit})" if analysis.unit else ""
    fig = _with_rating_row(f"{analysis.label}{unit}") if with_rating else go.Figure()
    row = 1 if with_rating else None
    points = analysis.points
    fig.add_trace(go.Scatter(
        x=pd.to_datetime(points["visit_date"]), y=points["value"], mode="lines+markers", name=analysis.label,
        marker=dict(symbol=_symbols(points), size=8,
                    color=["#c0392b" if s in ("beyond", "change") else "#1f4e79" for s in points["status"]]),
        line=dict(color="#1f4e79"), customdata=points["visit_id"], hovertext=_hover(points),
    ), **_at(row))
    _add_band(fig, analysis, row)
    _add_flags(fig, analysis, row)
    if with_rating:
        _add_rating(fig, rating, rating_item, rating_name)
        fig.update_yaxes(title_text=rating_axis_title(rating_item),
                         range=rating_axis_range(rating_item, rating["score"]), row=2, col=1)
    fig.update_layout(height=400 if with_rating else 320, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"{analysis.label}{unit}", legend=dict(orientation="h"))
    return fig


ONE_VISIT_SPAN = pd.Timedelta(days=28)


def date_axis(fig: go.Figure, dates) -> go.Figure:
    """A date axis of whole days: with one visit (or visits a few days apart) plotly would zoom
    to milliseconds around the point; show a few weeks around them instead."""
    dates = pd.to_datetime(pd.Series(list(dates))).dropna()
    fig.update_xaxes(type="date", tickformat="%Y-%m-%d")
    if dates.empty:
        return fig
    first, last = dates.min(), dates.max()
    if last - first < ONE_VISIT_SPAN:
        middle = first + (last - first) / 2
        fig.update_xaxes(range=[(middle - ONE_VISIT_SPAN / 2).strftime("%Y-%m-%d"),
                                (middle + ONE_VISIT_SPAN / 2).strftime("%Y-%m-%d")])
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
    date_axis(fig, visits["visit_date"])
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
first_visit, last_visit = visits["visit_date"].min(), visits["visit_date"].max()
span = (f"from {first_visit:%Y-%m-%d} to {last_visit:%Y-%m-%d}" if last_visit != first_visit
        else f"on {first_visit:%Y-%m-%d}")
st.caption(f"{plural(len(visits), 'visit')} {span}. "
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

# --- the clinic's own models' estimates (core.clinic_models), each naming its version -------
with state.session() as s:
    estimates = keep(patient_estimates(s, patient.id))
if not estimates.empty:
    st.subheader("Clinic model estimates")
    st.caption("Estimates of a rating by a model this clinic trained on its own ratings (Models page); "
               "each row names the model version. Decision support, not a diagnosis.")
    st.dataframe(estimates.rename(columns={"visit_date": "Visit", "target": "Rating estimated",
                                           "estimate": "Estimate", "interval_low": "Interval low",
                                           "interval_high": "Interval high", "version": "Model version"})
                 [["Visit", "Rating estimated", "Estimate", "Interval low", "Interval high", "Model version"]],
                 hide_index=True, width="stretch", key="trends_clinic_estimates",
                 column_config={c: st.column_config.NumberColumn(format="%.1f")
                                for c in ("Estimate", "Interval low", "Interval high")})

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
    rating_item = rating_for_measure(task, name)
    rating = None
    if rating_item and not ratings.empty:
        rating = ratings[(ratings["item"] == rating_item) &
                         ((ratings["side"] == side) if side else ratings["side"].isna())]
    chart(series_figure(analysis, rating, rating_label(rating_item, side) if rating_item else "", rating_item),
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
                                  series_label(f"rating:{item}", side), rating_unit(item), side, **options)
        all_events += [(analysis, e) for e in analysis.events]
        figure = series_figure(analysis)
        figure.update_yaxes(title_text=rating_axis_title(item), range=rating_axis_range(item, group["score"]))
        chart(figure, f"trends_rating_{item}_{side}")
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
