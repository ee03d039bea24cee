"""Change detection on synthetic series with known steps (synthetic data, no patient)."""
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from core.ratings import validate_rating
from core.store.errors import ValidationError
from core.trends import (
    ChangeRule,
    analyse_series,
    change_rule,
    side_comparison,
)


def synthetic_series(values, start=date(2024, 1, 1), step_days=14, medication="on"):
    return pd.DataFrame({
        "visit_id": np.arange(1, len(values) + 1),
        "visit_date": pd.to_datetime([start + timedelta(days=step_days * i) for i in range(len(values))]),
        "medication_state": medication,
        "value": np.asarray(values, float),
    })


def noise(n, seed, sd=1.0, mean=10.0):
    return mean + sd * np.random.default_rng(seed).standard_normal(n)


def test_noise_alone_is_not_flagged():
    # A fixed noise series: baseline of 6 visits, then 24 visits of the same noise.
    analysis = analyse_series(synthetic_series(noise(30, seed=0)), "some_measure", baseline_visits=6)
    assert analysis.band is not None
    assert analysis.events == []


def test_false_alarm_rate_in_pure_noise_is_low():
    # 200 synthetic noise series of 30 visits: a confirmed change in fewer than 10% of them
    # (about 6% expected: a 95% prediction band, two visits in a row, 24 chances per series).
    flagged = sum(
        any(e.confirmed for e in analyse_series(synthetic_series(noise(30, seed)), "x", baseline_visits=6).events)
        for seed in range(200)
    )
    assert flagged < 20


def test_step_of_three_sd_is_flagged_at_the_step_with_direction():
    sd = 1.0
    values = np.zeros(20)
    values[:6] = 10.0 + np.array([-1.0, 1.0, -0.5, 0.5, 0.0, 0.0]) * sd  # baseline SD about 0.7
    values[6:12] = 10.0 + np.array([0.3, -0.4, 0.2, -0.1, 0.4, -0.3]) * sd
    values[12:] = 10.0 + 3.0 * sd + np.array([0.1, -0.2, 0.3, 0.0, -0.1, 0.2, 0.1, -0.3]) * sd
    analysis = analyse_series(synthetic_series(values), "jitter_rap", baseline_visits=6)  # higher is worse (vocabulary)
    confirmed = [e for e in analysis.events if e.confirmed]
    assert len(confirmed) == 1
    event = confirmed[0]
    assert event.visit_id == 13  # the first visit after the step
    assert event.direction == "worse"
    assert event.change == pytest.approx(3.1, abs=0.01)
    assert event.method == "own baseline"
    assert "baseline" in event.source
    statuses = analysis.points.set_index("visit_id")["status"]
    assert set(statuses.loc[1:6]) == {"baseline"}
    assert set(statuses.loc[7:12]) == {"within"}
    assert set(statuses.loc[13:]) == {"change"}


def test_step_down_in_a_lower_is_worse_measure_is_worse():
    values = np.r_[[20.0, 21.0, 19.0, 20.5, 19.5], [20.2, 19.8], [12.0, 12.5, 11.8]]
    analysis = analyse_series(synthetic_series(values), "hnr_db", baseline_visits=5)
    event = analysis.events[-1]
    # hnr_db has a published reliable change index: 6.45 dB
    assert event.method == "RCI" and "Park & Stepp" in event.source
    assert event.visit_id == 8 and event.direction == "worse" and event.confirmed
    assert event.threshold == pytest.approx(1.96 * 2 ** 0.5 * 4.75 * (1 - 0.76) ** 0.5)


def test_single_outlier_is_not_a_change_but_a_jump_at_the_last_visit_is_unconfirmed():
    values = [10, 11, 9, 10.5, 9.5, 10, 30, 10, 10.2, 9.9, 30]
    analysis = analyse_series(synthetic_series(values), "x", baseline_visits=5)
    assert analysis.points.loc[6, "status"] == "beyond"  # the lone outlier
    assert len(analysis.events) == 1
    event = analysis.events[0]
    assert event.visit_id == 11 and not event.confirmed and event.direction == "higher"
    assert "confirm at the next visit" in event.summary("X")


def test_published_mcid_is_asymmetric_for_mds_updrs_part3():
    rule = change_rule("rating:mds_updrs_part3_total")
    assert rule.method == "MCID" and "Horvath" in rule.source
    base = [30, 30, 30]
    better = analyse_series(synthetic_series(base + [26.5, 26.5]), "rating:mds_updrs_part3_total")
    worse = analyse_series(synthetic_series(base + [34.0, 34.0]), "rating:mds_updrs_part3_total")
    assert better.events and better.events[0].direction == "better"  # -3.5 beyond -3.25
    assert not worse.events  # +4 is below the worsening MCID of 4.63
    assert better.band.low == pytest.approx(26.75) and better.band.high == pytest.approx(34.63)


def test_motor_updrs_uses_shulman_mcid():
    analysis = analyse_series(synthetic_series([20, 20.5, 21, 23.8, 24.2]), "rating:updrs_motor_total")
    assert analysis.events[0].visit_id == 4 and analysis.events[0].direction == "worse"
    assert "Shulman" in analysis.events[0].source


def test_baseline_from_a_date_window():
    values = [50, 10, 11, 9, 10, 10.5, 9.5, 10]
    series = synthetic_series(values)
    window = (series["visit_date"][1].date(), series["visit_date"][4].date())
    analysis = analyse_series(series, "x", window=window)
    assert analysis.baseline.n == 4 and analysis.baseline.mean == pytest.approx(10.0)
    assert analysis.points.loc[0, "status"] == "before baseline"
    assert not analysis.events


def test_too_short_baseline_gives_no_band_and_says_why():
    analysis = analyse_series(synthetic_series([1.0, 2.0, 9.0, 9.0]), "x", baseline_visits=2)
    assert analysis.band is None and "3 baseline visits" in analysis.note
    assert not analysis.events


def test_direction_comes_from_the_measure_vocabulary():
    rule = change_rule("tremor_frequency")
    assert rule.worse == "" and not rule.published  # frequency says whether it is tremor, not how much
    assert change_rule("stride_time_cv_pct").worse == "higher"
    assert change_rule("tap_frequency").worse == "lower"
    assert change_rule("hnr_db").worse == "lower" and change_rule("hnr_db").method == "RCI"
    assert change_rule("tap_frequency_hz").worse == ""  # not a pdlens measure: no direction guessed
    assert change_rule("score:fused") == ChangeRule("higher", source=change_rule("score:fused").source)


def test_an_unknown_direction_reports_higher_or_lower():
    analysis = analyse_series(synthetic_series([10, 10.2, 9.8, 10.1, 14, 14.2]), "tremor_frequency")
    assert [e.direction for e in analysis.events] == ["higher"]


def test_left_right_comparison():
    measures = pd.DataFrame({
        "visit_id": [1, 1, 2, 2, 3],
        "visit_date": pd.to_datetime(["2024-01-01"] * 2 + ["2024-02-01"] * 2 + ["2024-03-01"]),
        "medication_state": "off",
        "task": "finger_tapping",
        "side": ["left", "right", "left", "right", "left"],
        "name": "tap_rate_hz",
        "unit": "Hz",
        "value": [2.0, 3.0, 2.5, 2.5, 2.0],
        "n": 1,
    })
    table = side_comparison(measures, "tap_rate_hz")
    assert list(table["visit_id"]) == [1, 2]  # visit 3 has the left side only
    assert table.loc[0, "difference"] == pytest.approx(-1.0)
    assert table.loc[0, "asymmetry_pct"] == pytest.approx(-40.0)
    assert table.loc[1, "asymmetry_pct"] == pytest.approx(0.0)


@pytest.mark.parametrize("item,side,score", [
    ("3.4", None, 2), ("3.4", "up", 2), ("3.1", "left", 1), ("3.1", None, 5), ("3.1", None, 1.5),
    ("hoehn_yahr", None, 3.5), ("9.9", None, 1), ("3.1", None, "a lot"),
])
def test_invalid_ratings_are_refused_with_a_message(item, side, score):
    with pytest.raises(ValidationError) as problem:
        validate_rating(item, side, score)
    assert str(problem.value) and "\n" not in str(problem.value)


def test_valid_ratings_pass():
    assert validate_rating("3.4", "left", 3) == ("3.4", "left", 3.0)
    assert validate_rating("hoehn_yahr", None, 2.5) == ("hoehn_yahr", None, 2.5)
    assert validate_rating("updrs_motor_total", None, 28.2) == ("updrs_motor_total", None, 28.2)
