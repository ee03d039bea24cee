"""dashboard/widgets/spans.py draws the same shapes and labels as plotly's add_hrect, add_hline,
add_vrect and add_vline (which it replaces for speed), on a plain figure and on a subplot row."""
import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from dashboard.widgets import spans

START, END = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")


def _figure(row):
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True) if row else go.Figure()
    fig.add_trace(go.Scatter(x=[START], y=[1.0]), **({"row": row, "col": 1} if row else {}))
    return fig


def _with_plotly(row):
    fig, at = _figure(row), ({"row": row, "col": 1} if row else {})
    fig.add_hrect(y0=1, y1=2, fillcolor="#9ecae1", opacity=0.25, line_width=0,
                  annotation_text="band", annotation_position="top right", **at)
    fig.add_hline(y=1.5, line_dash="dash", line_color="#1f4e79", line_width=1,
                  annotation_text="line", annotation_position="bottom left", **at)
    fig.add_vrect(x0=START, x1=END, fillcolor="#dddddd", opacity=0.3, line_width=0,
                  annotation_text="span", annotation_position="top left", **at)
    fig.add_vline(x=START, line_color="#555", line_width=1, **at)
    return fig.to_dict()["layout"]


def _with_spans(row):
    fig = _figure(row)
    band = spans.y_span(1, 2, row, fillcolor="#9ecae1", opacity=0.25)
    line = spans.y_line(1.5, row, dash="dash", color="#1f4e79", width=1)
    span = spans.x_span(START, END, row, fillcolor="#dddddd", opacity=0.3)
    spans.add_spans(fig, [band, line, span, spans.x_line(START, row, color="#555", width=1)],
                    [spans.label("band", band, "top right"), spans.label("line", line, "bottom left"),
                     spans.label("span", span, "top left")])
    return fig.to_dict()["layout"]


@pytest.mark.parametrize("row", [None, 1, 2])
def test_same_shapes_and_labels_as_plotly(row):
    ours, plotly_own = _with_spans(row), _with_plotly(row)
    assert len(ours["shapes"]) == 4 and len(ours["annotations"]) == 3
    assert ours["shapes"] == plotly_own["shapes"]
    assert ours["annotations"] == plotly_own["annotations"]


def test_labels_keep_what_the_figure_had():
    fig = go.Figure()
    fig.add_annotation(text="already there", x=0, y=0)
    spans.add_spans(fig, [spans.x_span(0, 1)], [spans.label("new", spans.x_span(0, 1), "bottom right")])
    assert [a.text for a in fig.layout.annotations] == ["already there", "new"]
    assert fig.layout.annotations[1].xanchor == "right" and fig.layout.annotations[1].yanchor == "bottom"
