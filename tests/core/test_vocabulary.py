"""The measure vocabulary (core.vocabulary) against what the pipelines really emit: every pipeline
run on synthetic signals (no patient data), every measure it returns has one catalogue entry with
the same label and unit; labels are unique; the demo import and rating items are covered."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from core import vocabulary
from core.pipeline import Measure
from core.tasks import TASKS

ROOT = Path(__file__).resolve().parents[2]


def _vowel() -> list[Measure]:
    from core.voice import vowel
    from tests.fixtures.voice.synth import synthetic_vowel

    return vowel.analyze_samples(synthetic_vowel(f0=120.0, seconds=3.0, jitter=0.005, shimmer=0.03), 16000).measures


def _reading() -> list[Measure]:
    from core.voice import reading
    from tests.fixtures.voice.synth import speech_like

    audio = speech_like([("pause", 0.3), ("speech", 2.0), ("pause", 0.6), ("speech", 2.0), ("pause", 0.5),
                         ("speech", 1.5), ("pause", 0.3)])
    return reading.analyze_samples(audio, 16000).measures


def _tapping() -> list[Measure]:
    from core.movement.finger_tapping import tapping_features, tapping_measures
    from tests.fixtures.movement.synthetic import IMAGE_SIZE, tapping_series

    times, landmarks, _ = tapping_series(rate_hz=3.0, decrement=0.4, pause=(4.0, 5.0))
    features, signal = tapping_features(times, landmarks, IMAGE_SIZE, return_signal=True)
    return tapping_measures(features, signal)


def _tremor() -> list[Measure]:
    from core.movement.tremor import tremor_features, tremor_measures
    from tests.fixtures.movement.synthetic import IMAGE_SIZE, tremor_series

    times, landmarks, _ = tremor_series(freq_hz=5.0, amplitude_px=6.0)
    return tremor_measures(tremor_features(times, landmarks, IMAGE_SIZE))


def _gait() -> list[Measure]:
    """The steps of gait.analyze after pose landmarks, on a synthetic side-on walker."""
    from core.movement import gait
    from tests.core.movement.test_gait_pose import synthetic_walk

    pose = synthetic_walk(arm_amplitude=(0.30, 0.15), view="side")
    tracks = gait.pose_tracks(pose)
    values = gait.stride_measures(gait.events_from_pose(pose, tracks), duration_s=float(pose.times[-1]))
    values.update(gait.arm_swing_measures(pose, tracks))
    assert set(values) <= set(vocabulary.catalogue()), set(values) - set(vocabulary.catalogue())
    return gait._as_measures(values)


def _tug() -> list[Measure]:
    """tug.analyze_pose on a SYNTHETIC Timed Up and Go (core/synthetic/outcome_poses.py)."""
    from core.movement import tug
    from core.synthetic.outcome_poses import synthetic_tug

    return tug.analyze_pose(synthetic_tug()[0]).measures


def _sit_to_stand() -> list[Measure]:
    """sit_to_stand.analyze_pose on a SYNTHETIC Five Times Sit to Stand."""
    from core.movement import sit_to_stand
    from core.synthetic.outcome_poses import synthetic_sit_to_stand

    return sit_to_stand.analyze_pose(synthetic_sit_to_stand()[0]).measures


def _gait_speed() -> list[Measure]:
    """gait_speed.analyze_pose on a SYNTHETIC 10 m walk timed between two floor marks."""
    from core.movement.gait_speed import analyze_pose
    from tests.core.movement.test_gait_speed import _marks, synthetic_10m_walk

    pose, project = synthetic_10m_walk()
    return analyze_pose(pose, _marks(project, -3.0, 3.0)).measures


PIPELINES = {"vowel": _vowel, "reading": _reading, "finger_tapping": _tapping, "tremor": _tremor, "gait": _gait,
             "tug": _tug, "sit_to_stand": _sit_to_stand, "gait_speed": _gait_speed}


@pytest.fixture(scope="module")
def emitted() -> dict[str, list[Measure]]:
    return {task: run() for task, run in PIPELINES.items()}


def test_every_task_pipeline_is_covered():
    assert set(PIPELINES) == set(TASKS)


def test_every_emitted_measure_has_its_catalogue_entry(emitted):
    for task, measures in emitted.items():
        assert measures, f"the synthetic {task} run emitted no measure"
        for m in measures:
            info = vocabulary.measure_info(m.name)
            assert info is not None, f"{task} emits '{m.name}', which the vocabulary does not know"
            assert (m.label, m.unit) == (info.label, info.unit), m.name
            assert task in vocabulary.measure_tasks(m.name)
            if info.normal_range is not None:
                assert m.normal_range == info.normal_range, m.name


def test_the_catalogue_holds_exactly_what_the_pipelines_emit(emitted):
    # every entry is emitted by its task's run (all measures of these synthetic runs are finite)
    names = {m.name for measures in emitted.values() for m in measures}
    assert names == set(vocabulary.catalogue())


def test_labels_are_unique_and_every_entry_is_complete():
    infos = list(vocabulary.catalogue().values())
    labels = [i.label for i in infos]
    assert len(labels) == len(set(labels)), sorted(x for x in labels if labels.count(x) > 1)
    for info in infos:
        assert info.task in TASKS and info.label and info.label != info.name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", info.name) and len(info.name) <= 64  # MeasureValue.name
        assert len(info.unit) <= 16  # MeasureValue.unit
        if info.normal_range is not None:
            lo, hi = info.normal_range
            assert lo is not None or hi is not None
            assert lo is None or hi is None or lo < hi
        if info.higher_is_worse is not None or info.normal_range is not None:
            assert info.source, f"{info.name}: a range or direction needs its source"


def test_a_measure_shared_by_two_tasks_is_one_definition():
    from core.voice import reading, vowel

    assert vocabulary.measure_tasks("f0_mean_hz") == ("vowel", "reading")
    shared = {m.name: m for m in reading.MEASURES}["f0_mean_hz"]
    assert shared is {m.name: m for m in vowel.MEASURES}["f0_mean_hz"]


def test_tapping_ranges_come_from_the_public_table():
    info = vocabulary.measure_info("tap_frequency")
    assert info.normal_range is not None and 1.0 < info.normal_range[0] < info.normal_range[1] < 8.0
    assert "Islam et al. 2023" in info.source and info.higher_is_worse is False


def test_the_demo_import_stores_vocabulary_names_and_units():
    from core.demo import VOICE_MEASURES

    for column, (name, unit, _) in VOICE_MEASURES.items():
        info = vocabulary.measure_info(name)
        assert info is not None and info.unit == unit, column
    assert vocabulary.task_label("uci_telemonitoring_import") == "Voice, imported (UCI telemonitoring)"


def test_labels_for_stored_names_scores_and_ratings():
    assert vocabulary.label("cadence_steps_per_min") == "Cadence"
    assert vocabulary.label_with_unit("tap_frequency") == "Tapping rate (taps/s)"
    assert vocabulary.label_with_unit("jitter_rap") == "Jitter RAP"  # a ratio: no brackets
    assert vocabulary.label("an_old_name_hz") == "An old name hz"  # unknown: readable, never blank
    assert vocabulary.series_label("tap_frequency", "right") == "Tapping rate (right)"
    assert vocabulary.series_label("score:finger_tapping", "left") == "Finger tapping score (left)"
    assert vocabulary.series_label("rating:3.4", "right") == "3.4 Finger tapping (right)"
    assert vocabulary.task_label("gait") == "Gait (3.10)" and vocabulary.task_label(None) == "Visit"


def test_worse_directions():
    assert vocabulary.worse_direction("hnr_db") == "lower"
    assert vocabulary.worse_direction("jitter_local_pct") == "higher"
    assert vocabulary.worse_direction("tremor_frequency") == ""
    assert vocabulary.worse_direction("not_a_measure") == ""


def test_pipelines_build_measures_only_from_their_vocabulary_entries():
    """No label, unit or range written inline beside the catalogue: pipeline modules never call
    Measure(...) themselves."""
    modules = sorted((ROOT / "core" / "voice").glob("*.py")) + sorted((ROOT / "core" / "movement").glob("*.py"))
    inline = [p.name for p in modules if re.search(r"\bMeasure\(", p.read_text())]
    assert inline == []


def test_a_measure_beyond_its_published_cutoff_gets_a_sentence_and_one_within_it_none():
    from core.summary import cutoff_sentence
    from core.vocabulary import MeasureInfo

    timed = MeasureInfo("x_time_s", "Test time", "s", "tug", None, "", True, cutoff=11.5,
                        cutoff_text="above 11.5 s: higher fall risk")
    assert timed.beyond_cutoff(12.0) is True and timed.beyond_cutoff(11.0) is False
    speed = MeasureInfo("x_speed", "Speed", "m/s", "gait_speed", None, "", False, cutoff=1.0)
    assert speed.beyond_cutoff(0.8) is True and speed.beyond_cutoff(1.2) is False
    assert MeasureInfo("x", "X", "", "tug").beyond_cutoff(3.0) is None  # no cut-off
    assert cutoff_sentence({"name": "stride_time_s", "value": 9.0, "unit": "s"}) is None  # none published
