"""Trends from a real SQLite store holding a synthetic clinic (no patient data)."""
from datetime import date

import pytest

from core.store import open_store, transaction
from core.trends import (
    analyse_patient,
    load_patient_series,
    overdue_followups,
    patients_with_recent_change,
    rating_vs_score,
    recordings_needing_retake,
    side_comparison,
)
from tests.core.trends_synthetic import STEP_AT, VISITS


def fused_label(analyses) -> str:
    return next(a.label for a in analyses if a.key == "score:fused")


def test_series_load_one_row_per_visit_and_series(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        series = load_patient_series(s, ids["patient"])
    assert list(series.visits["visit_id"]) == ids["visits"]
    assert set(series.scores["model"]) == {"voice", "finger_tapping", "fused"}
    tapping = series.scores[series.scores["model"] == "finger_tapping"]
    assert len(tapping) == 2 * VISITS and set(tapping["side"]) == {"left", "right"}
    fused = series.scores[series.scores["model"] == "fused"]
    assert fused["interval_low"].tolist() == [0.25] * VISITS
    catalogue = series.measure_catalogue()
    assert set(zip(catalogue["task"], catalogue["side"].fillna("-"), catalogue["name"])) == {
        ("vowel", "-", "jitter_local_pct"), ("vowel", "-", "hnr_db"),
        ("finger_tapping", "left", "tap_frequency"), ("finger_tapping", "right", "tap_frequency"),
        ("gait", "-", "cadence_steps_per_min"), ("gait", "-", "stride_time_cv_pct")}
    # grouped by task in core.tasks order, labelled from the measure vocabulary
    assert list(catalogue["task"]) == ["vowel", "vowel", "finger_tapping", "finger_tapping", "gait", "gait"]
    assert list(catalogue["label"]) == ["Harmonics-to-noise ratio", "Jitter (local)", "Tapping rate", "Tapping rate",
                                        "Cadence", "Stride time variability (CV)"]
    assert set(series.ratings["item"]) == {"3.4", "hoehn_yahr"}
    assert list(series.visits["medication_state"][:2]) == ["on", "off"]


def test_right_hand_slowing_is_flagged_at_the_right_visit(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        analyses = analyse_patient(load_patient_series(s, ids["patient"]))
    by_key = {(a.key, a.side): a for a in analyses}
    right = by_key[("tap_frequency", "right")]
    assert [e.visit_id for e in right.events] == [ids["visits"][STEP_AT]]
    assert right.events[0].direction == "worse" and right.events[0].confirmed  # slower tapping is worse
    assert right.label == "Tapping rate (right)" and right.unit == "taps/s"
    assert fused_label(analyses) == "Visit score (combined)"
    assert not by_key[("tap_frequency", "left")].events
    assert not by_key[("jitter_local_pct", None)].events  # wobble far below the published RCI
    rating = by_key[("rating:3.4", "right")]
    assert rating.band is None  # a constant baseline: no variability to judge by
    fused = by_key[("score:fused", None)]
    assert fused.events and fused.events[0].visit_id == ids["visits"][STEP_AT]


def test_comparing_on_with_on_only(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        analyses = analyse_patient(load_patient_series(s, ids["patient"]), medication_state="on")
    for analysis in analyses:
        assert set(analysis.points["medication_state"]) == {"on"}


def test_left_right_and_rating_vs_score(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        series = load_patient_series(s, ids["patient"])
    sides = side_comparison(series.measures, "tap_frequency")
    assert len(sides) == VISITS
    assert sides["difference"].iloc[-1] == pytest.approx(1.5)
    table = rating_vs_score(series)
    right = table[(table["model"] == "finger_tapping") & (table["side"] == "right")]
    assert right["rating"].tolist() == [1.0] * STEP_AT + [3.0] * (VISITS - STEP_AT)
    assert right["rating_item"].unique().tolist() == ["3.4"]
    assert table[table["model"] == "voice"]["rating"].isna().all()  # no 3.1 rating entered


def test_clinic_overview(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        flagged = patients_with_recent_change(s, as_of=date(2024, 9, 1), recent_days=120)
        overdue = overdue_followups(s, as_of=date(2024, 9, 1), overdue_days=90)
        retakes = recordings_needing_retake(s)
    assert {f.patient_id for f in flagged} == {ids["patient"]}
    assert any(f.summary.startswith("Tapping rate (right): worse by -") and "taps/s" in f.summary
               for f in flagged)
    assert overdue["patient_id"].tolist() == [ids["other"]]
    assert overdue["days_since"].iloc[0] == (date(2024, 9, 1) - date(2023, 1, 2)).days
    assert retakes["task"].tolist() == ["tremor"] and "record again" in retakes["problems"].iloc[0]
