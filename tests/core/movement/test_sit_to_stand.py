"""Five Times Sit to Stand on SYNTHETIC pose sequences with known stand times (core/synthetic/
outcome_poses.py: a scripted body, side-on and at 45 degrees, with landmark jitter; no person
recorded)."""
from __future__ import annotations

import numpy as np
import pytest

from core.movement import sit_to_stand as sts
from core.synthetic.outcome_poses import synthetic_sit_to_stand


def _failed(result):
    return {c.name: c.message for c in result.quality.checks if not c.passed}


@pytest.mark.parametrize("view", ["side", "45"])
def test_five_stands_counted_and_timed(view):
    pose, truth = synthetic_sit_to_stand(view=view)
    result = sts.analyze_pose(pose)
    assert result.quality.ok, result.quality.problems
    assert result.score is None
    values = result.measure_values()
    assert values["sts_repetitions"] == 5
    assert values["sts_time_s"] == pytest.approx(truth["sts_time_s"], abs=0.2)
    for k, rep in enumerate(truth["repetition_s"], start=1):
        assert values[f"sts_repetition_{k}_s"] == pytest.approx(rep, abs=0.2)
    assert abs(values["sts_repetition_trend_s"]) < 0.05
    assert values["sts_arms_used"] == 0


@pytest.mark.parametrize("view", ["side", "45"])
def test_slowing_is_a_positive_trend(view):
    pose, truth = synthetic_sit_to_stand(cycle_scale=[1.0, 1.1, 1.2, 1.3, 1.4], view=view, seed=3)
    values = sts.analyze_pose(pose).measure_values()
    true_slope = float(np.polyfit(np.arange(1, 6), truth["repetition_s"], 1)[0])  # 0.21 s per repetition
    assert values["sts_repetition_trend_s"] == pytest.approx(true_slope, abs=0.05)
    assert values["sts_time_s"] == pytest.approx(truth["sts_time_s"], abs=0.2)


@pytest.mark.parametrize("view", ["side", "45"])
def test_arms_used_both_ways(view):
    pushed = sts.analyze_pose(synthetic_sit_to_stand(push_reps=(2,), view=view)[0]).measure_values()
    crossed = sts.analyze_pose(synthetic_sit_to_stand(view=view, seed=5)[0]).measure_values()
    assert pushed["sts_arms_used"] == 1
    assert crossed["sts_arms_used"] == 0


def test_ending_standing_after_the_fifth_stand_is_timed():
    """The test ends at the fifth stand: a clip that stops there is complete (the fifth
    repetition, stand to seated again, is then not timed)."""
    pose, truth = synthetic_sit_to_stand(seated_after=False)
    result = sts.analyze_pose(pose)
    assert result.quality.ok, result.quality.problems
    assert result.measure("sts_time_s").value == pytest.approx(truth["sts_time_s"], abs=0.2)
    assert result.measure("sts_repetition_5_s") is None


def test_four_stands_are_refused_with_the_count():
    result = sts.analyze_pose(synthetic_sit_to_stand(n_stands=4)[0])
    assert not result.quality.ok and result.measures == []
    assert _failed(result)["stands"].startswith("Only 4 complete stands were seen")


def test_standing_throughout_is_refused():
    pose, _ = synthetic_sit_to_stand(n_stands=0, seated_at_start=False, start=8.0)
    result = sts.analyze_pose(pose)
    failed = _failed(result)
    assert set(failed) == {"seated_at_start"}
    assert "sits in the chair" in failed["seated_at_start"]


def test_out_of_view_is_refused():
    pose, truth = synthetic_sit_to_stand()
    gone = (pose.times >= truth["rise_starts"][2]) & (pose.times < truth["rise_starts"][2] + 1.5)
    pose.landmarks[gone] = np.nan
    result = sts.analyze_pose(pose)
    assert "out of view" in _failed(result)["in_view"]


def test_nobody_in_view_is_refused():
    pose, _ = synthetic_sit_to_stand()
    pose.landmarks[:] = np.nan
    result = sts.analyze_pose(pose)
    assert "No person" in _failed(result)["person_in_view"]


def test_the_person_standing_up_is_chosen_over_a_walking_examiner():
    from core.movement.landmarks import PoseSeries
    from core.synthetic.outcome_poses import synthetic_tug

    full, _ = synthetic_sit_to_stand()
    tug_pose, truth = synthetic_tug(seated_at_start=False)
    n = int((tug_pose.times < truth["walk_back_end"]).sum())  # stands and walks about, never sits

    def first(pose):
        return PoseSeries(pose.times[:n], pose.landmarks[:n], pose.visibility[:n], pose.world[:n], pose.image_size)

    sitter, walker = first(full), first(tug_pose)
    assert sts.choose_sitter([walker, sitter]) == [1]
    assert sts.choose_sitter([sitter, walker]) == [0]


def test_seated_throughout_is_refused_with_no_stands():
    pose, _ = synthetic_sit_to_stand(n_stands=0, start=6.0)
    failed = _failed(sts.analyze_pose(pose))
    assert set(failed) == {"stands"}
    assert failed["stands"].startswith("Only 0 complete stands were seen")
