"""The physical-therapy outcome values (issue 12) on a real SQLite store with synthetic patients
(no patient data): validation and direction of the items, a stopwatch time beside the video time
of the same test, trend flags against the published minimal detectable changes, the PDFs, the
CSV and the FHIR Observations. The video measures are saved directly through the repository (the
pipelines that compute them are other modules)."""
from __future__ import annotations

import hashlib
import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from core.pipeline import Measure
from core.ratings import (RATING_ITEMS, outcome_items, rating_for_measure, rating_unit, rating_worse, score_text,
                          stopwatch_pairs, validate_rating)
from core.compare import compare_visits
from core.reports import export_chunks, fhir_bundle, patient_pdf, read_export_csv, visit_summary_pdf, write_csv
from core.store import ValidationError, repository, transaction
from core.store.models import Clinician, Visit
from core.trends import analyse_patient, change_rule, load_patient_series

OUTCOME_KEYS = ["mini_bestest", "berg_balance", "fga", "six_minute_walk_m", "tug_stopwatch_s", "sts_stopwatch_s",
                "gait_speed_stopwatch_m_s"]


def _sha(*parts) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def _admin(s, admin_id: int) -> Clinician:
    return s.get(Clinician, admin_id)


def _video_measure(s, admin, visit_id: int, task: str, measures: list[Measure], *, quality_ok: bool = True,
                   tag: str = "") -> None:
    """A clip of an outcome task and its assessment with the given (synthetic) measures."""
    clip = repository.add_recording(s, admin, visit_id, task=task, side=None,
                                    stored_path=f"recordings/{_sha(task, visit_id, tag)}.mp4",
                                    sha256=_sha(task, visit_id, tag), duration_s=15.0, format="mp4", source="upload",
                                    quality_ok=quality_ok, status="analysed" if quality_ok else "needs_retake")
    repository.save_assessment(s, admin, visit_id=visit_id, recording_id=clip.id, model_name=task,
                               model_version=f"{task}-test", probability=None, interval=None, severity=None,
                               abstained_reason="Synthetic: measures only.", inputs_sha256="", explanation=None,
                               measures=measures)


# ---------------------------------------------------------------- the items


def test_outcome_items_have_agreed_keys_units_and_directions():
    assert [spec.key for spec in outcome_items()] == OUTCOME_KEYS
    assert {k: (RATING_ITEMS[k].low, RATING_ITEMS[k].high) for k in OUTCOME_KEYS} == {
        "mini_bestest": (0, 28), "berg_balance": (0, 56), "fga": (0, 30), "six_minute_walk_m": (0, 1000),
        "tug_stopwatch_s": (1, 300), "sts_stopwatch_s": (1, 300), "gait_speed_stopwatch_m_s": (0.05, 3)}
    assert [rating_unit(k) for k in OUTCOME_KEYS] == ["points", "points", "points", "m", "s", "s", "m/s"]
    # Better when higher: balance totals, distance, speed; worse when higher: times, MDS-UPDRS, stage.
    assert [rating_worse(k) for k in OUTCOME_KEYS] == ["lower"] * 4 + ["higher", "higher", "lower"]
    assert rating_worse("3.4") == rating_worse("hoehn_yahr") == rating_worse("some_import") == "higher"
    assert {RATING_ITEMS[k].task: RATING_ITEMS[k].measure for k in OUTCOME_KEYS if RATING_ITEMS[k].task} == {
        "tug": "tug_time_s", "sit_to_stand": "sts_time_s", "gait_speed": "gait_speed_m_s"}
    assert score_text("berg_balance", 45) == "45 of 56" and score_text("tug_stopwatch_s", 12.14) == "12.1 s"
    assert score_text("gait_speed_stopwatch_m_s", 0.8) == "0.80 m/s" and score_text("3.4", 2) == "2 mild"
    # The trend chart of a video measure shows the stopwatch value of the same test, not a phase.
    assert rating_for_measure("tug", "tug_time_s") == "tug_stopwatch_s"
    assert rating_for_measure("tug", "tug_turn_s") is None
    assert rating_for_measure("finger_tapping", "tap_frequency") == "3.4"


@pytest.mark.parametrize("item, score, message", [
    ("berg_balance", 45.5, "Berg Balance Scale total: 45.5 is not a whole number"),
    ("berg_balance", 57, "Berg Balance Scale total: 57 is outside 0-56 points."),
    ("mini_bestest", -1, "Mini-BESTest total: -1 is outside 0-28 points."),
    ("tug_stopwatch_s", 0.4, "Timed Up and Go, stopwatch: 0.4 is outside 1-300 s."),
    ("gait_speed_stopwatch_m_s", 4, "Gait speed (10 m walk), stopwatch: 4 is outside 0.05-3 m/s."),
    ("six_minute_walk_m", "far", "Six-minute walk distance: the score must be a number."),
])
def test_a_wrong_value_is_refused_with_one_line_saying_what_to_change(item, score, message):
    with pytest.raises(ValidationError) as problem:
        validate_rating(item, None, score)
    assert str(problem.value).startswith(message) and "\n" not in str(problem.value)


def test_valid_values_pass_and_outcome_values_take_no_side():
    assert validate_rating("berg_balance", None, 45) == ("berg_balance", None, 45.0)
    assert validate_rating("six_minute_walk_m", None, 412.5) == ("six_minute_walk_m", None, 412.5)
    assert validate_rating("tug_stopwatch_s", None, "12.1") == ("tug_stopwatch_s", None, 12.1)
    with pytest.raises(ValidationError, match="not rated per side"):
        validate_rating("fga", "left", 20)


def test_saving_through_the_repository_validates_and_audits(store):
    sessions, admin_id, visit_id, _ = store
    with transaction(sessions) as s:
        repository.set_rating(s, _admin(s, admin_id), visit_id, "berg_balance", None, 48)
    with pytest.raises(ValidationError, match="not a whole number"), transaction(sessions) as s:
        repository.set_rating(s, _admin(s, admin_id), visit_id, "berg_balance", None, 48.5)
    with transaction(sessions) as s:
        stored = {(r.item, r.score) for r in repository.list_ratings(s, visit_id)}
        audit = [e.detail for e in repository.list_audit(s, _admin(s, admin_id)) if e.action == "set_rating"]
    assert stored == {("berg_balance", 48.0)}
    assert audit == [f"visit={visit_id} item=berg_balance side=-"]


# ---------------------------------------------------------------- stopwatch beside video


def test_stopwatch_time_sits_beside_the_video_time_of_the_same_test(store):
    sessions, admin_id, visit_id, _ = store
    with transaction(sessions) as s:
        admin = _admin(s, admin_id)
        assert stopwatch_pairs(s, visit_id) == []  # nothing yet: no line at all
        _video_measure(s, admin, visit_id, "tug", [Measure("tug_time_s", 12.4, "s", "TUG time"),
                                                   Measure("tug_turn_s", 2.1, "s", "Turn")])
        _video_measure(s, admin, visit_id, "sit_to_stand", [Measure("sts_time_s", 99.0, "s", "5xSTS")],
                       quality_ok=False, tag="failed")  # a failed clip does not count
        repository.set_rating(s, admin, visit_id, "tug_stopwatch_s", None, 12.1)
        repository.set_rating(s, admin, visit_id, "sts_stopwatch_s", None, 14.0)
        repository.set_rating(s, admin, visit_id, "berg_balance", None, 45)  # no video counterpart
    with transaction(sessions) as s:
        pairs = {p.item: p for p in stopwatch_pairs(s, visit_id)}
    assert set(pairs) == {"tug_stopwatch_s", "sts_stopwatch_s"}
    tug = pairs["tug_stopwatch_s"]
    assert tug.text == "TUG: video 12.4 s, stopwatch 12.1 s"
    assert tug.difference == pytest.approx(0.3)
    assert pairs["sts_stopwatch_s"].text == "5xSTS: video not recorded, stopwatch 14.0 s"
    assert pairs["sts_stopwatch_s"].difference is None


def test_a_retake_that_counts_replaces_the_video_time(store):
    sessions, admin_id, visit_id, _ = store
    with transaction(sessions) as s:
        admin = _admin(s, admin_id)
        _video_measure(s, admin, visit_id, "gait_speed", [Measure("gait_speed_m_s", 0.91, "m/s", "Speed")], tag="1")
        _video_measure(s, admin, visit_id, "gait_speed", [Measure("gait_speed_m_s", 1.02, "m/s", "Speed")], tag="2")
        repository.set_rating(s, admin, visit_id, "gait_speed_stopwatch_m_s", None, 1.0)
    with transaction(sessions) as s:
        (pair,) = stopwatch_pairs(s, visit_id)
    assert pair.text == "Gait speed: video 1.02 m/s, stopwatch 1.00 m/s"  # the latest good clip counts


# ---------------------------------------------------------------- trends


def _berg_patient(sessions, admin_id: int, values: list[float], item: str = "berg_balance") -> int:
    with transaction(sessions) as s:
        admin = _admin(s, admin_id)
        patient = repository.create_patient(s, admin, mrn=f"SYN-{item}-{values[-1]:g}", name="Synthetic Outcome",
                                            birth_date=date(1950, 1, 1), sex="unknown", diagnosis="pd",
                                            more_affected_side="unknown")
        for n, value in enumerate(values):
            visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 1, 1) + timedelta(days=60 * n),
                                            medication_state="on")
            repository.set_rating(s, admin, visit.id, item, None, value)
        return patient.id


def _analysis(sessions, patient_id: int, key: str):
    with transaction(sessions) as s:
        analyses = analyse_patient(load_patient_series(s, patient_id))
    return next(a for a in analyses if a.key == key)


def test_berg_drop_beyond_its_mdc_is_worse_and_a_rise_is_better(store):
    sessions, admin_id, _, _ = store
    rule = change_rule("rating:berg_balance")
    assert (rule.worse, rule.threshold_worse, rule.method) == ("lower", 5.0, "MDC95")
    assert "Steffen & Seney" in rule.source
    drop = _analysis(sessions, _berg_patient(sessions, admin_id, [46, 45, 44, 38, 37]), "rating:berg_balance")
    (event,) = drop.events
    assert (event.direction, event.confirmed, event.change) == ("worse", True, -7.0)
    assert drop.unit == "points" and event.threshold == 5.0
    rise = _analysis(sessions, _berg_patient(sessions, admin_id, [40, 41, 39, 47, 48]), "rating:berg_balance")
    assert [(e.direction, e.confirmed) for e in rise.events] == [("better", True)]
    # Within the MDC: no flag, even though the patient's own baseline barely varies.
    small = _analysis(sessions, _berg_patient(sessions, admin_id, [45, 45, 45, 41, 41]), "rating:berg_balance")
    assert small.events == []


def test_stopwatch_tug_slower_beyond_its_mdc_is_worse(store):
    sessions, admin_id, _, _ = store
    analysis = _analysis(sessions, _berg_patient(sessions, admin_id, [11.0, 11.5, 10.5, 15.2, 15.8],
                                                 "tug_stopwatch_s"), "rating:tug_stopwatch_s")
    assert analysis.unit == "s" and analysis.band.threshold_up == 3.5
    assert [(e.direction, e.confirmed) for e in analysis.events] == [("worse", True)]
    assert "Huang" in analysis.events[0].source


def test_every_outcome_value_has_a_published_threshold_with_its_source():
    for key in OUTCOME_KEYS:
        rule = change_rule(f"rating:{key}")
        assert rule.published and rule.source and rule.worse == rating_worse(key), key
        assert rule.method in {"MDC95", "MDC"}, key


def test_comparing_two_visits_judges_outcome_values_in_their_direction(store):
    sessions, admin_id, _, _ = store
    with transaction(sessions) as s:
        admin = _admin(s, admin_id)
        patient = repository.create_patient(s, admin, mrn="SYN-CMP", name="Synthetic Compare",
                                            birth_date=date(1950, 1, 1), sex="unknown", diagnosis="pd",
                                            more_affected_side="unknown")
        visits = [repository.create_visit(s, admin, patient.id, visit_date=date(2024, 3, 1) + timedelta(days=90 * n),
                                          medication_state="on").id for n in range(2)]
        for visit_id, berg, tug, walk in zip(visits, (40, 47), (14.0, 10.0), (400, 430)):
            repository.set_rating(s, admin, visit_id, "berg_balance", None, berg)
            repository.set_rating(s, admin, visit_id, "tug_stopwatch_s", None, tug)
            repository.set_rating(s, admin, visit_id, "six_minute_walk_m", None, walk)
        rows = {r.key: r for r in compare_visits(s, visits[0], visits[1]).rows}
    berg, tug, walk = rows["rating:berg_balance"], rows["rating:tug_stopwatch_s"], rows["rating:six_minute_walk_m"]
    assert (berg.verdict, berg.value_text(berg.second), berg.change_text) == ("better", "47 of 56", "+7")
    assert (tug.verdict, tug.change_text, tug.threshold) == ("better", "-4 s", 3.5)  # faster is better
    assert (walk.verdict, walk.change_text) == ("within normal variation", "+30 m")  # under the 82 m MDC


# ---------------------------------------------------------------- reports and exports


@pytest.fixture
def outcome_visit(store):
    """The store's synthetic visit with outcome values entered and TUG measured on video."""
    sessions, admin_id, visit_id, _ = store
    with transaction(sessions) as s:
        admin = _admin(s, admin_id)
        _video_measure(s, admin, visit_id, "tug", [Measure("tug_time_s", 12.4, "s", "TUG time"),
                                                   Measure("tug_turn_steps", 5.0, "steps", "Turn steps")])
        for item, value in (("tug_stopwatch_s", 12.1), ("berg_balance", 45), ("mini_bestest", 19),
                            ("six_minute_walk_m", 412), ("3.10", 2.0)):
            repository.set_rating(s, admin, visit_id, item, None, value)
        patient_id = s.get(Visit, visit_id).patient_id
    return sessions, visit_id, patient_id


def _pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def test_visit_summary_pdf_has_the_outcome_tests(outcome_visit):
    sessions, visit_id, _ = outcome_visit
    with transaction(sessions) as s:
        text = _pdf_text(visit_summary_pdf(s, visit_id, today=date(2024, 2, 1)))
    outcomes = text.split("Outcome tests")[1]
    assert "TUG: video 12.4 s, stopwatch 12.1 s" in outcomes
    assert "Berg Balance Scale total: 45 of 56" in outcomes and "Mini-BESTest total: 19 of 28" in outcomes
    assert "Six-minute walk distance: 412 m" in outcomes
    assert "12.4 s" in text.split("Measures (this visit")[1]  # the video measure in the measures table too
    ratings = text.split("Clinician ratings and the app's estimates")[1].split("Outcome tests")[0]
    assert "3.10 Gait" in ratings and "Berg" not in ratings  # outcome values are not MDS-UPDRS ratings


def test_patient_pdf_lists_outcome_values_by_visit(outcome_visit):
    sessions, _, patient_id = outcome_visit
    with transaction(sessions) as s:
        text = _pdf_text(patient_pdf(s, patient_id, today=date(2024, 2, 1)).data)
    outcomes = text.split("Outcome tests")[1].split("Latest results")[0]
    assert "Date TUG (s) 5xSTS (s) Gait speed (m/s) Mini-BESTest Berg FGA 6MWT (m)" in outcomes
    assert "2024-01-05 12.1 / 12.4 - - 19 45 - 412" in outcomes  # stopwatch / video, then the totals
    assert "video measures of 2024-01-05:" in outcomes and "5 steps" in outcomes  # every video measure of the test
    assert "Berg" not in text.split("Clinician ratings")[1].split("Outcome tests")[0]


def test_csv_rows_carry_the_outcome_values_with_their_units(outcome_visit):
    sessions, _, _ = outcome_visit
    buffer = io.StringIO()
    with transaction(sessions) as s:
        write_csv(export_chunks(s), buffer)
    back = read_export_csv(io.StringIO(buffer.getvalue()))
    ratings = back[back["kind"] == "rating"].set_index("name_or_item")
    assert ratings.loc["berg_balance", "value"] == 45 and ratings.loc["berg_balance", "unit"] == "points"
    assert ratings.loc["tug_stopwatch_s", "unit"] == "s" and ratings.loc["six_minute_walk_m", "unit"] == "m"
    assert ratings.loc["tug_stopwatch_s", "label"] == "Timed Up and Go, stopwatch"
    measures = back[back["kind"] == "measure"].set_index("name_or_item")
    assert measures.loc["tug_time_s", "value"] == 12.4 and measures.loc["tug_time_s", "task"] == "tug"


def test_fhir_codes_the_tug_time_with_loinc_and_the_rest_with_pdlens_codes(outcome_visit):
    sessions, _, patient_id = outcome_visit
    with transaction(sessions) as s:
        bundle = fhir_bundle(s, patient_id)
    observations = {o["code"]["coding"][-1]["code"]: o for o in
                    (e["resource"] for e in bundle["entry"]) if o["resourceType"] == "Observation"}
    for key in ("tug_stopwatch_s", "tug_time_s"):
        loinc = observations[key]["code"]["coding"][0]
        assert (loinc["system"], loinc["code"]) == ("http://loinc.org", "89423-8"), key
    assert observations["tug_stopwatch_s"]["valueQuantity"] == {"value": 12.1, "unit": "s"}
    assert observations["tug_stopwatch_s"]["category"][0]["coding"][0]["code"] == "exam"
    berg = observations["berg_balance"]
    assert len(berg["code"]["coding"]) == 1  # no verified LOINC term: pdlens' own code only
    assert berg["valueQuantity"] == {"value": 45.0, "unit": "points"}
    assert len(observations["tug_turn_steps"]["code"]["coding"]) == 1
    assert observations["3.10"]["category"][0]["coding"][0]["code"] == "survey"
