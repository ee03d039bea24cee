"""Lines and shaded spans across a plotly chart, as plain layout shapes added in one update.

plotly's add_hrect/add_vrect/add_hline/add_vline take about 9 ms each (they resolve subplots and
re-validate the whole layout per call): a third of a trends page run, and one per shaded second
on a saliency chart. These build the same shapes as dicts; `add_spans` adds them at once."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go


def _axes(row: int | None) -> tuple[str, str]:
    """The x and y axis ids of a row of a one-column figure (make_subplots numbers them x, x2...)."""
    return ("x", "y") if row in (None, 1) else (f"x{row}", f"y{row}")


def x_span(x0: Any, x1: Any, row: int | None = None, **style: Any) -> dict[str, Any]:
    """A full-height band from x0 to x1 (what add_vrect draws)."""
    x, y = _axes(row)
    return dict(type="rect", xref=x, x0=x0, x1=x1, yref=f"{y} domain", y0=0, y1=1, line=dict(width=0), **style)


def y_span(y0: float, y1: float, row: int | None = None, **style: Any) -> dict[str, Any]:
    """A full-width band from y0 to y1 (what add_hrect draws)."""
    x, y = _axes(row)
    return dict(type="rect", xref=f"{x} domain", x0=0, x1=1, yref=y, y0=y0, y1=y1, line=dict(width=0), **style)


def x_line(x_value: Any, row: int | None = None, **line: Any) -> dict[str, Any]:
    """A vertical line across the chart (what add_vline draws)."""
    x, y = _axes(row)
    return dict(type="line", xref=x, x0=x_value, x1=x_value, yref=f"{y} domain", y0=0, y1=1, line=line)


def y_line(y_value: float, row: int | None = None, **line: Any) -> dict[str, Any]:
    """A horizontal line across the chart (what add_hline draws)."""
    x, y = _axes(row)
    return dict(type="line", xref=f"{x} domain", x0=0, x1=1, yref=y, y0=y_value, y1=y_value, line=line)


def label(text: str, shape: dict[str, Any], at: str) -> dict[str, Any]:
    """A label at one corner of `shape` ("top left", "top right", "bottom left", "bottom right"):
    inside a band, above or below a line (where add_hrect's and add_hline's annotation_position
    put it)."""
    vertical, horizontal = at.split()
    top = vertical == "top"
    inside = shape["type"] == "rect"
    return dict(text=text, showarrow=False, xref=shape["xref"], yref=shape["yref"],
                x=shape["x0"] if horizontal == "left" else shape["x1"],
                y=max(shape["y0"], shape["y1"]) if top else min(shape["y0"], shape["y1"]),
                xanchor=horizontal, yanchor=("top" if top else "bottom") if inside else ("bottom" if top else "top"))


def add_spans(fig: go.Figure, shapes: Iterable[dict[str, Any]], labels: Iterable[dict[str, Any]] = ()) -> go.Figure:
    """Add shapes and their labels to the figure's layout in one update."""
    fig.update_layout(shapes=[*fig.layout.shapes, *shapes], annotations=[*fig.layout.annotations, *labels])
    return fig
