"""Phase timelines of the physical-therapy outcome tests on the results page, drawn from the
stored measures alone (the phases of a Timed Up and Go follow each other, so their durations
place them; the five repetitions of a sit-to-stand test are bars in order). Labels are pdlens'
own words; nothing the user typed is rendered."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

TUG_PHASES = (("tug_sit_to_stand_s", "Sit-to-stand", "#4c78a8"), ("tug_walk_out_s", "Walk out", "#72b7b2"),
              ("tug_turn_s", "Turn", "#f58518"), ("tug_walk_back_s", "Walk back", "#54a24b"),
              ("tug_turn_to_sit_s", "Turn and sit", "#e45756"))


def _values(measures: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    out = {}
    for m in measures:
        v = m.get("value")
        if v is not None and v == v:
            out[m["name"]] = float(v)
    return out


def tug_timeline_figure(measures: Sequence[Mapping[str, Any]]) -> go.Figure | None:
    """One horizontal bar per TUG phase, end to end from the start of rising (None: no phases)."""
    values = _values(measures)
    if not all(name in values for name, _, _ in TUG_PHASES):
        return None
    fig = go.Figure()
    start = 0.0
    for name, label, colour in TUG_PHASES:
        d = values[name]
        fig.add_trace(go.Bar(x=[d], y=["TUG"], base=[start], orientation="h", name=label, marker_color=colour,
                             hovertemplate=f"{label}: %{{x:.1f}} s<extra></extra>"))
        start += d
    fig.update_layout(barmode="stack", height=170, margin=dict(l=10, r=10, t=40, b=30),
                      title=f"Timed Up and Go phases ({start:.1f} s)", xaxis_title="seconds from the start of rising",
                      legend=dict(orientation="h", y=-0.6), showlegend=True)
    fig.update_yaxes(showticklabels=False)
    return fig


def sts_repetitions_figure(measures: Sequence[Mapping[str, Any]]) -> go.Figure | None:
    """The time of each sit-to-stand repetition, in order (None: fewer than two timed)."""
    values = _values(measures)
    reps = [(k, values[f"sts_repetition_{k}_s"]) for k in range(1, 6) if f"sts_repetition_{k}_s" in values]
    if len(reps) < 2:
        return None
    fig = go.Figure(go.Bar(x=[f"{k}" for k, _ in reps], y=[v for _, v in reps], marker_color="#4c78a8",
                           hovertemplate="repetition %{x}: %{y:.2f} s<extra></extra>"))
    trend = values.get("sts_repetition_trend_s")
    title = "Sit-to-stand repetitions" + (f" (trend {trend:+.2f} s per repetition)" if trend is not None else "")
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=40, b=30), title=title,
                      xaxis_title="repetition", yaxis_title="seconds")
    return fig


def outcome_panel(task: str, measures: Sequence[Mapping[str, Any]], key: str) -> None:
    """The phase timeline of a TUG or the repetitions of a 5xSTS clip, if its measures are stored."""
    import streamlit as st

    fig = {"tug": tug_timeline_figure, "sit_to_stand": sts_repetitions_figure}.get(task, lambda m: None)(measures)
    if fig is not None:
        st.plotly_chart(fig, key=f"{key}_outcome")
