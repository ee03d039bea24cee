"""Explanation figures (plotly) and the Streamlit panels that show them.

Builders (`*_figure`) are plain functions of plain data (the stored explanation JSON, measures,
arrays) returning a plotly Figure, so they are testable without Streamlit. Panels (`*_panel`)
draw a builder's figure with its caption. Colours: red pushes towards a Parkinson-like pattern,
blue away from it, everywhere. Axis titles and hovers are in plain words ("effect on the score");
the unit (log-odds) and the methods are named only in the page's "Technical details".
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashboard.widgets import spans

UP_COLOUR = "#c0392b"  # towards a PD-like pattern
DOWN_COLOUR = "#2e86c1"  # away from it
SALIENCY_SCALE = [[0.0, DOWN_COLOUR], [0.5, "#f4f4f4"], [1.0, UP_COLOUR]]
MAX_HEATMAP_COLUMNS = 400

# MediaPipe hand landmark names (index = landmark number)
HAND_LANDMARK_NAMES = (
    "wrist", "thumb CMC", "thumb MCP", "thumb IP", "thumb tip", "index MCP", "index PIP", "index DIP",
    "index tip", "middle MCP", "middle PIP", "middle DIP", "middle tip", "ring MCP", "ring PIP",
    "ring DIP", "ring tip", "pinky MCP", "pinky PIP", "pinky DIP", "pinky tip",
)
POSE_LANDMARK_NAMES = (
    "nose", "left eye inner", "left eye", "left eye outer", "right eye inner", "right eye",
    "right eye outer", "left ear", "right ear", "mouth left", "mouth right", "left shoulder",
    "right shoulder", "left elbow", "right elbow", "left wrist", "right wrist", "left pinky",
    "right pinky", "left index", "right index", "left thumb", "right thumb", "left hip", "right hip",
    "left knee", "right knee", "left ankle", "right ankle", "left heel", "right heel",
    "left foot index", "right foot index",
)


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                      template="plotly_white", showlegend=False)
    return fig


# ---------------------------------------------------------------- measure attributions

def attribution_figure(attr: Mapping[str, Any], labels: Mapping[str, str] | None = None,
                       max_bars: int = 12) -> go.Figure:
    """Horizontal bars: each measure's contribution to the log-odds against the healthy reference,
    largest at the top."""
    labels = labels or {}
    rows = [(labels.get(n, n), a, v, r) for n, a, v, r in
            zip(attr["names"], attr["attributions"], attr["values"], attr["reference"]) if a is not None]
    rows = sorted(rows, key=lambda r: abs(r[1]))[-max_bars:]
    fig = go.Figure(go.Bar(
        x=[r[1] for r in rows], y=[r[0] for r in rows], orientation="h",
        marker_color=[UP_COLOUR if r[1] > 0 else DOWN_COLOUR for r in rows],
        customdata=[[r[2], r[3]] for r in rows],
        hovertemplate="%{y}: effect %{x:+.3f}<br>value %{customdata[0]:.4g}, healthy reference "
                      "%{customdata[1]:.4g}<extra></extra>",
    ))
    spans.add_spans(fig, [spans.x_line(0, color="#555", width=1)])
    fig.update_xaxes(title="effect on the score (right: towards Parkinson-like, left: towards healthy)")
    return _layout(fig, "Which measures moved the score", height=120 + 28 * len(rows))


# ---------------------------------------------------------------- scores

def score_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Points with uncertainty bars on a 0-1 axis: the fused score first, then each modality.
    rows: {"label", "probability", "interval"} (probability None rows are skipped)."""
    rows = [r for r in rows if r.get("probability") is not None][::-1]
    lo = [r["probability"] - (r["interval"][0] if r.get("interval") else r["probability"]) for r in rows]
    hi = [(r["interval"][1] if r.get("interval") else r["probability"]) - r["probability"] for r in rows]
    fig = go.Figure(go.Scatter(
        x=[r["probability"] for r in rows], y=[r["label"] for r in rows], mode="markers",
        marker=dict(size=14, color=[UP_COLOUR if r["probability"] >= 0.5 else DOWN_COLOUR for r in rows]),
        error_x=dict(type="data", symmetric=False, array=hi, arrayminus=lo, thickness=2, width=6),
        hovertemplate="%{y}: %{x:.2f}<extra></extra>",
    ))
    spans.add_spans(fig, [spans.x_span(0, 0.3, fillcolor=DOWN_COLOUR, opacity=0.06),
                          spans.x_span(0.7, 1, fillcolor=UP_COLOUR, opacity=0.06)])
    fig.update_xaxes(range=[0, 1], title="probability of a Parkinson-like pattern (with uncertainty band)")
    return _layout(fig, "Visit score and each recording's score", height=140 + 45 * len(rows))


def contribution_figure(contributions: Mapping[str, float], labels: Mapping[str, str]) -> go.Figure:
    """Each modality's log-odds contribution to the fused score."""
    items = sorted(contributions.items(), key=lambda kv: abs(kv[1]))
    fig = go.Figure(go.Bar(
        x=[v for _, v in items], y=[labels.get(k, k) for k, _ in items], orientation="h",
        marker_color=[UP_COLOUR if v > 0 else DOWN_COLOUR for _, v in items],
        hovertemplate="%{y}: effect %{x:+.2f}<extra></extra>"))
    spans.add_spans(fig, [spans.x_line(0, color="#555", width=1)])
    fig.update_xaxes(title="effect on the visit score (right: towards Parkinson-like, left: towards healthy)")
    return _layout(fig, "Contribution of each recording to the visit score", height=120 + 40 * len(items))


# ---------------------------------------------------------------- temporal saliency

def _saliency_limits(deltas: Sequence[float | None]) -> float:
    vals = [abs(d) for d in deltas if d is not None]
    return max(max(vals, default=0.0), 1e-3)


def mel_spectrogram(audio: np.ndarray, sample_rate: int, n_mels: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times s, mel band centre Hz, dB matrix bands x frames), at most MAX_HEATMAP_COLUMNS frames."""
    import librosa

    hop = max(int(sample_rate * 0.01), len(audio) // MAX_HEATMAP_COLUMNS + 1)
    S = librosa.feature.melspectrogram(y=np.asarray(audio, dtype=np.float32), sr=sample_rate, n_fft=1024,
                                       hop_length=hop, n_mels=n_mels, fmax=min(8000, sample_rate / 2))
    db = librosa.power_to_db(S, ref=np.max)
    times = librosa.frames_to_time(np.arange(db.shape[1]), sr=sample_rate, hop_length=hop)
    freqs = librosa.mel_frequencies(n_mels=n_mels, fmax=min(8000, sample_rate / 2))
    return times, freqs, db


def spectrogram_saliency_figure(audio: np.ndarray, sample_rate: int, saliency: Mapping[str, Any] | None) -> go.Figure:
    """Mel spectrogram with the occlusion saliency of each time window drawn over it (translucent
    red/blue bands) and as a strip underneath."""
    from plotly.subplots import make_subplots

    times, freqs, db = mel_spectrogram(audio, sample_rate)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.04)
    fig.add_trace(go.Heatmap(x=times, y=freqs, z=db, colorscale="Greys", reversescale=True, showscale=False,
                             hovertemplate="%{x:.2f} s, %{y:.0f} Hz: %{z:.0f} dB<extra></extra>"), row=1, col=1)
    _add_saliency(fig, saliency, strip_row=2)
    fig.update_yaxes(title="Hz (mel)", row=1, col=1)
    fig.update_yaxes(showticklabels=False, row=2, col=1)
    fig.update_xaxes(title="seconds", row=2, col=1)
    return _layout(fig, "Which seconds of the voice mattered (red: raised the score, blue: lowered it)", 380)


def _add_saliency(fig: go.Figure, saliency: Mapping[str, Any] | None, strip_row: int | None) -> None:
    if not saliency:
        return
    deltas = saliency.get("delta_logodds", [])
    limit = _saliency_limits(deltas)
    shading = []
    for (t0, t1), d in zip(saliency.get("windows", []), deltas):
        if d is None:
            continue
        colour = UP_COLOUR if d > 0 else DOWN_COLOUR
        opacity = 0.45 * min(abs(d) / limit, 1.0)
        if opacity > 0.02:
            shading.append(spans.x_span(t0, t1, 1 if strip_row else None, fillcolor=colour, opacity=opacity))
    spans.add_spans(fig, shading)
    if strip_row:
        mids = [(a + b) / 2 for a, b in saliency.get("windows", [])]
        widths = [b - a for a, b in saliency.get("windows", [])]
        fig.add_trace(go.Bar(x=mids, y=[d or 0.0 for d in deltas], width=widths,
                             marker=dict(color=[d or 0.0 for d in deltas], colorscale=SALIENCY_SCALE,
                                         cmin=-limit, cmax=limit),
                             hovertemplate="%{x:.2f} s: effect %{y:+.3f}<extra></extra>"),
                      row=strip_row, col=1)


def signal_saliency_figure(times: Sequence[float], values: Sequence[float], saliency: Mapping[str, Any] | None,
                           title: str, y_title: str, peaks: Sequence[float] | None = None) -> go.Figure:
    """A movement signal (tapping aperture, heel height...) with the saliency of each window
    shaded behind it and a strip underneath."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=list(times), y=list(values), mode="lines", line=dict(color="#333", width=1.5),
                             hovertemplate="%{x:.2f} s: %{y:.3g}<extra></extra>"), row=1, col=1)
    if peaks:
        t = np.asarray(times, dtype=float)
        v = np.asarray(values, dtype=float)
        at = [float(np.interp(p, t, v)) for p in peaks]
        fig.add_trace(go.Scatter(x=list(peaks), y=at, mode="markers", marker=dict(color="#333", size=7),
                                 hovertemplate="tap at %{x:.2f} s<extra></extra>"), row=1, col=1)
    _add_saliency(fig, saliency, strip_row=2)
    fig.update_yaxes(title=y_title, row=1, col=1)
    fig.update_yaxes(showticklabels=False, row=2, col=1)
    fig.update_xaxes(title="seconds", row=2, col=1)
    return _layout(fig, title, 360)


# ---------------------------------------------------------------- landmarks on the key frame

def keyframe_landmarks_figure(image: np.ndarray | None, points: Sequence[Sequence[float]],
                              saliency: Sequence[float | None], names: Sequence[str],
                              image_size: Sequence[int] | None = None,
                              essential: Sequence[int] = ()) -> go.Figure:
    """The patient's own key frame with each landmark as a circle coloured and sized by its
    saliency (|change in log-odds| when its movement is frozen). `points` are normalised (x, y).
    Essential landmarks (no measure can be taken without their movement) get a black ring."""
    fig = go.Figure()
    if image is not None:
        h, w = image.shape[:2]
        fig.add_trace(go.Image(z=image, hoverinfo="skip"))
    else:
        w, h = image_size or (640, 480)
    pts = [(p[0] * w, p[1] * h, s, n) for p, s, n in zip(points, saliency, names)
           if p is not None and p[0] is not None and p[1] is not None and np.isfinite(p[0]) and np.isfinite(p[1])]
    limit = _saliency_limits([s for _, _, s, _ in pts])
    fig.add_trace(go.Scatter(
        x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers",
        marker=dict(size=[8 + 18 * min(abs(p[2] or 0) / limit, 1) for p in pts],
                    color=[p[2] or 0.0 for p in pts], colorscale=SALIENCY_SCALE, cmin=-limit, cmax=limit,
                    line=dict(color="white", width=1.5), showscale=True,
                    colorbar=dict(title="effect", thickness=10)),
        text=[p[3] for p in pts],
        hovertemplate="%{text}: effect %{marker.color:+.3f}<extra></extra>"))
    ess = [(p[0] * w, p[1] * h, names[j]) for j, p in enumerate(points)
           if j in set(essential) and p is not None and p[0] is not None and np.isfinite(p[0])]
    if ess:
        fig.add_trace(go.Scatter(
            x=[e[0] for e in ess], y=[e[1] for e in ess], mode="markers",
            marker=dict(size=26, color="rgba(0,0,0,0)", line=dict(color="black", width=3)),
            text=[e[2] for e in ess],
            hovertemplate="%{text}: essential (without its movement no measure can be taken)<extra></extra>"))
    fig.update_xaxes(visible=False, range=[0, w])
    fig.update_yaxes(visible=False, range=[h, 0], scaleanchor="x")
    return _layout(fig, "Which landmarks mattered (frozen in turn; red: their movement raised the score)", 420)


# ---------------------------------------------------------------- calibration (Model page)

def rating_calibration_figure(bins: Sequence[Mapping[str, Any]], title: str = "Calibration") -> go.Figure:
    """A clinic model's calibration: mean estimate vs mean rating per bin of visits (marker size =
    visits), against the diagonal of perfect agreement; axes in rating points."""
    rows = [b for b in bins if b.get("mean_predicted") is not None and b.get("n")]
    values = [v for b in rows for v in (b["mean_predicted"], b["mean_rated"])] or [0.0, 1.0]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or 1.0
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[lo - pad, hi + pad], y=[lo - pad, hi + pad], mode="lines",
                             line=dict(dash="dash", color="#999"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=[b["mean_predicted"] for b in rows], y=[b["mean_rated"] for b in rows], mode="lines+markers",
        marker=dict(size=[6 + 3 * np.sqrt(b["n"]) for b in rows], color=UP_COLOUR),
        text=[f"n = {b['n']}" for b in rows],
        hovertemplate="estimated %{x:.1f}, rated %{y:.1f} (%{text})<extra></extra>"))
    fig.update_xaxes(range=[lo - pad, hi + pad], title="mean out-of-fold estimate (points)")
    fig.update_yaxes(range=[lo - pad, hi + pad], title="mean rating (points)")
    return _layout(fig, title, 340)


def calibration_figure(bins: Sequence[Mapping[str, Any]], title: str = "Calibration") -> go.Figure:
    """Reliability diagram: mean predicted vs observed rate per bin (marker size = rows)."""
    rows = [b for b in bins if b.get("mean_predicted") is not None and b.get("n")]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color="#999"),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=[b["mean_predicted"] for b in rows], y=[b["observed_rate"] for b in rows], mode="lines+markers",
        marker=dict(size=[6 + 3 * np.sqrt(b["n"]) for b in rows], color=UP_COLOUR),
        text=[f"n = {b['n']}" for b in rows],
        hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{text})<extra></extra>"))
    fig.update_xaxes(range=[0, 1], title="mean predicted probability")
    fig.update_yaxes(range=[0, 1], title="observed rate of PD")
    return _layout(fig, title, 340)
