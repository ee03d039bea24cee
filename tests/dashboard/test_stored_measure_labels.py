"""Stored measures without the analysis' own description (imported data, older rows) are shown
with the measure vocabulary's label and healthy range on the results page (synthetic values)."""
from types import SimpleNamespace

from dashboard.widgets.results import measures_frame, stored_measures


def test_stored_measures_fall_back_to_the_vocabulary():
    assessment = SimpleNamespace(explanation_json=None, measures=[
        SimpleNamespace(name="tap_frequency", value=0.5, unit="taps/s"),
        SimpleNamespace(name="cadence_steps_per_min", value=112.0, unit="steps/min"),
        SimpleNamespace(name="an_unknown_measure", value=1.0, unit=""),
    ])
    frame = measures_frame(stored_measures(assessment))
    assert list(frame["Measure"]) == ["Tapping rate", "Cadence", "an_unknown_measure"]
    assert list(frame["In range"]) == ["OUTSIDE", "yes", "-"]  # 0.5 taps/s is below the rated-0 range
    assert frame["Healthy range"].iloc[1] == "100 steps/min to 125 steps/min"


def test_the_analysis_description_wins():
    described = {"name": "tap_frequency", "label": "Tapping rate as analysed", "normal_range": None}
    assessment = SimpleNamespace(explanation_json={"measures": [described]},
                                 measures=[SimpleNamespace(name="tap_frequency", value=3.0, unit="taps/s")])
    frame = measures_frame(stored_measures(assessment))
    assert frame["Measure"].iloc[0] == "Tapping rate as analysed" and frame["In range"].iloc[0] == "-"
