"""The floor marks of a gait-speed clip (results page): a frame of the clip on which the clinician
clicks the two floor marks at the ends of the timed distance, the distance between them, Save.

Streamlit has no image click: the frame is the background image of a plotly figure covered by an
invisible grid of points (every 1% of the width and height), and st.plotly_chart's point selection
returns the grid point clicked. A click sets the mark chosen under "Next click sets" and moves on
to the other mark; number inputs show both marks (in % of the width and height) and can set them
without clicking. Saving calls core.visits.set_floor_marks, which analyses the clip again.
No user text here; messages from core are escaped."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

GRID_STEP = 0.01  # fraction of the picture between clickable points
DEFAULT_DISTANCE_M = 6.0  # the 10 m walk's timed middle part (2 m from each end)
FIGURE_WIDTH = 720  # px


def marks_figure(image, marks: list[tuple[float, float] | None]):
    """The frame with its clickable grid and the marks set so far. Plot y is 1 - the picture's y
    fraction (the picture's y runs down)."""
    import plotly.graph_objects as go

    w, h = image.size
    grid = np.arange(0.0, 1.0 + 1e-9, GRID_STEP)
    gx, gy = np.meshgrid(grid, grid)
    fig = go.Figure(go.Scatter(x=gx.ravel(), y=1.0 - gy.ravel(), mode="markers", hoverinfo="none",
                               marker={"size": 7, "opacity": 0.0}, showlegend=False, name="grid"))
    set_marks = [(k, m) for k, m in enumerate(marks) if m is not None]
    if set_marks:
        fig.add_trace(go.Scatter(
            x=[m[0] for _, m in set_marks], y=[1.0 - m[1] for _, m in set_marks], mode="markers+text",
            text=[f"mark {k + 1}" for k, _ in set_marks], textposition="top center", hoverinfo="skip",
            marker={"size": 14, "color": "#e4572e", "symbol": "x", "line": {"width": 2, "color": "white"}},
            textfont={"color": "#e4572e", "size": 14}, showlegend=False, name="marks"))
        for _, m in set_marks:  # the vertical through each mark: where the pelvis is timed crossing it
            fig.add_shape(type="line", x0=m[0], x1=m[0], y0=0, y1=1, line={"color": "#e4572e", "dash": "dot"})
    fig.add_layout_image(source=_jpeg_data_uri(image), xref="x", yref="y", x=0, y=1, sizex=1, sizey=1, xanchor="left",
                         yanchor="top", sizing="stretch", layer="below")
    fig.update_xaxes(range=[0, 1], visible=False, fixedrange=True)
    fig.update_yaxes(range=[0, 1], visible=False, fixedrange=True)
    fig.update_layout(width=FIGURE_WIDTH, height=int(FIGURE_WIDTH * h / w), margin={"l": 0, "r": 0, "t": 0, "b": 0},
                      clickmode="event+select", dragmode=False)
    return fig


def _jpeg_data_uri(image) -> str:
    """The frame as a JPEG data URI (plotly would embed a PIL image as a much larger PNG)."""
    import base64
    import io

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def clicked_point(event: Any) -> tuple[float, float] | None:
    """The picture point (x, y fractions) of the last point selected in a plotly chart event."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    if not points:
        return None
    p = points[-1]
    try:
        x, y = float(p["x"]), 1.0 - float(p["y"])
    except (KeyError, TypeError, ValueError):
        return None
    return round(min(max(x, 0.0), 1.0), 3), round(min(max(y, 0.0), 1.0), 3)


def _stored_marks(recording: Any) -> tuple[list[tuple[float, float] | None], float]:
    from core.analysis import ClipSetup

    setup = ClipSetup.from_json(getattr(recording, "setup_json", None))
    marks = list(setup.marks) if setup.marks else [None, None]
    return marks, float(setup.marks_distance_m or DEFAULT_DISTANCE_M)


def floor_marks_panel(recording: Any, data_dir: Path, height_cm: float | None = None) -> None:
    """For one gait-speed clip: click the floor marks, give their distance, save (or clear);
    without marks, measure it again with the patient's height (`height_cm` from the record)."""
    import io

    from core.visits import floor_marks_jpeg

    key = f"floor_marks_{recording.id}"
    stored_marks, stored_distance = _stored_marks(recording)
    title = ("Floor marks: set" if stored_marks[0] is not None else
             "Floor marks: click the two marks on the floor to time the walk")
    with st.expander(title, icon=":material/straighten:", expanded=stored_marks[0] is None):
        if stored_marks[0] is None:
            st.caption(f"Without marks the speed is scaled from the patient's height ({height_cm:g} cm on the "
                       "patient record), less exactly." if height_cm else
                       "No height on the patient record: without marks the speed cannot be measured.")
            if height_cm and st.button("Measure again with the patient's height", icon=":material/height:",
                                       key=f"{key}_height"):
                _run(lambda sessions, actor_id: _again(sessions, actor_id, recording.id, data_dir))
        jpeg = floor_marks_jpeg(data_dir, recording.stored_path)  # decrypted in memory when encrypted
        frame = io.BytesIO(jpeg) if jpeg is not None else None
        if frame is None:
            st.info("No frame of this clip could be shown, so floor marks cannot be clicked. "
                    "Enter the patient's height on the patient record to scale the speed instead.")
            return
        marks_key, last_key, next_key = f"{key}_marks", f"{key}_last_click", f"{key}_next"
        if marks_key not in st.session_state:
            st.session_state[marks_key] = stored_marks
            for k, m in enumerate(stored_marks):
                if m is not None:
                    st.session_state[f"{key}_x{k}"], st.session_state[f"{key}_y{k}"] = 100 * m[0], 100 * m[1]
        point = clicked_point(st.session_state.get(f"{key}_chart"))
        if point is not None and point != st.session_state.get(last_key):  # a new click
            st.session_state[last_key] = point
            k = 0 if st.session_state.get(next_key, "mark 1") == "mark 1" else 1
            st.session_state[f"{key}_x{k}"], st.session_state[f"{key}_y{k}"] = 100 * point[0], 100 * point[1]
            st.session_state[next_key] = "mark 2" if k == 0 else "mark 1"
        st.caption("Click the point where each floor mark meets the person's path (the two marks at the "
                   "ends of the timed distance). The walk is timed when the hips cross the dotted "
                   "vertical through each mark.")
        st.radio("Next click sets", ["mark 1", "mark 2"], key=next_key, horizontal=True)
        marks: list[tuple[float, float] | None] = []
        columns = st.columns(2)
        for k, column in enumerate(columns):
            with column:
                x = st.number_input(f"Mark {k + 1}: across (% of width)", 0.0, 100.0, value=None, step=0.5,
                                    format="%.1f", key=f"{key}_x{k}")
                y = st.number_input(f"Mark {k + 1}: down (% of height)", 0.0, 100.0, value=None, step=0.5,
                                    format="%.1f", key=f"{key}_y{k}")
                marks.append((x / 100.0, y / 100.0) if x is not None and y is not None else None)
        from PIL import Image

        with Image.open(frame) as opened:
            image = opened.convert("RGB")
        st.plotly_chart(marks_figure(image, marks), key=f"{key}_chart", on_select="rerun",
                        selection_mode="points", width="content", config={"displayModeBar": False})
        distance = st.number_input("Distance between the marks (m)", 1.0, 20.0, value=stored_distance, step=0.5,
                                   key=f"{key}_distance",
                                   help="6 m for the middle part of a 10 m walk (marks 2 m from each end).")
        save, clear = st.columns(2)
        if save.button("Save the marks and measure again", type="primary", icon=":material/save:",
                       key=f"{key}_save", disabled=any(m is None for m in marks)):
            _run(lambda sessions, actor_id: _set(sessions, actor_id, recording.id, marks, distance, data_dir))
        if stored_marks[0] is not None and clear.button("Remove the marks", icon=":material/delete:",
                                                        key=f"{key}_clear"):
            _run(lambda sessions, actor_id: _clear(sessions, actor_id, recording.id, data_dir))


def _set(sessions, actor_id, recording_id, marks, distance, data_dir):
    from core.visits import set_floor_marks

    return set_floor_marks(sessions, actor_id, recording_id, marks, distance, data_dir)


def _again(sessions, actor_id, recording_id, data_dir):
    from core.visits import measure_clip_again

    return measure_clip_again(sessions, actor_id, recording_id, data_dir)


def _clear(sessions, actor_id, recording_id, data_dir):
    from core.visits import clear_floor_marks

    return clear_floor_marks(sessions, actor_id, recording_id, data_dir)


def _run(change) -> None:
    from core.pipeline import UnusableInput
    from core.store import PermissionDenied, ValidationError
    from dashboard import state
    from dashboard.formatting import escape_markdown

    who = state.signed_in()
    if who is None:
        st.error("Sign in first.")
        return
    try:
        with st.spinner("Measuring the walk again..."):
            outcome = change(state.store(), who.clinician_id)
    except (ValidationError, PermissionDenied, UnusableInput) as problem:
        st.error(escape_markdown(str(problem)))
        return
    state.flash(outcome.message)
    for k in [k for k in st.session_state if str(k).startswith(f"floor_marks_{outcome.recording_id}_")]:
        del st.session_state[k]  # shown again from what was stored
    st.rerun()
