"""Outcome-test figures from the measures the real pipelines return on SYNTHETIC poses."""
from __future__ import annotations

import pytest

from core.movement import sit_to_stand, tug
from core.synthetic.outcome_poses import synthetic_sit_to_stand, synthetic_tug
from dashboard.widgets.outcome_plots import sts_repetitions_figure, tug_timeline_figure


def _stored(result):
    return [{"name": m.name, "value": m.value, "unit": m.unit} for m in result.measures]


def test_tug_phases_are_laid_end_to_end():
    result = tug.analyze_pose(synthetic_tug()[0])
    fig = tug_timeline_figure(_stored(result))
    bars = list(fig.data)
    assert [b.name for b in bars] == ["Sit-to-stand", "Walk out", "Turn", "Walk back", "Turn and sit"]
    end = bars[-1].base[0] + bars[-1].x[0]
    assert end == pytest.approx(result.measure("tug_time_s").value, abs=1e-6)
    assert tug_timeline_figure([]) is None  # a refused clip stores no measures: no figure


def test_sts_repetitions_in_order():
    result = sit_to_stand.analyze_pose(synthetic_sit_to_stand(cycle_scale=[1, 1.1, 1.2, 1.3, 1.4])[0])
    fig = sts_repetitions_figure(_stored(result))
    heights = list(fig.data[0].y)
    assert len(heights) == 5 and heights == sorted(heights)
    assert "trend +0.2" in fig.layout.title.text
