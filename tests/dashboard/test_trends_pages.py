"""The trends, overview, ratings and reports pages through AppTest of the real dashboard/app.py:
a real demo database built from the public UCI telemonitoring data (core.demo) and a synthetic
clinic (no patient data)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from core.config import settings
from core.demo import DEMO_PASSWORD, DEMO_USERNAME, build_demo_database
from core.store import AuditEvent, ClinicianRating, Visit, close_store, open_store, transaction
from core.trends import load_patient_series
from tests.core.trends_synthetic import STEP_AT, build_synthetic_clinic
from tests.dashboard.conftest import charts, open_page, sign_in, texts, values


@pytest.fixture
def demo_db(clinic_db) -> str:
    """The demo database built from the public data, in tmp_path beside the clinic's."""
    url = settings().demo_database_url
    build_demo_database(url, clips=False)  # the telemonitoring patients only: quick
    yield url
    close_store(url)


@pytest.mark.slow
def test_trends_page_with_a_real_demo_patient(app, demo_db):
    with transaction(open_store(demo_db)) as s:
        patient_id, visits = s.execute(
            select(Visit.patient_id, func.count(Visit.id)).group_by(Visit.patient_id).order_by(Visit.patient_id).limit(1)
        ).one()
    at = sign_in(app, DEMO_USERNAME, DEMO_PASSWORD, demo=True)
    at = open_page(at, "views/trends.py", patient=patient_id)
    assert not at.exception, at.exception
    assert "Trends" in at.title[0].value and f"{visits} visits" in texts(at)
    specs = charts(at)
    titles = [spec["layout"]["title"]["text"] for spec in specs]
    assert any(t.startswith("Jitter (local) (%)") for t in titles)
    jitter = next(spec for spec in specs if spec["layout"]["title"]["text"].startswith("Jitter (local) (%)"))
    main = jitter["data"][0]
    assert len(main["x"]) == visits and len(values(main["customdata"])) == visits
    with transaction(open_store(demo_db)) as s:
        stored = load_patient_series(s, patient_id).measures
    stored = stored[stored["name"] == "jitter_local_pct"]["value"].tolist()
    assert values(main["y"]) == pytest.approx(stored)
    shapes = jitter["layout"]["shapes"]
    assert any(shape.get("type") == "rect" for shape in shapes)  # the normal-variation band
    motor = next(spec for spec in specs if spec["layout"]["title"]["text"].startswith("UPDRS motor"))
    assert len(values(motor["data"][0]["y"])) == visits
    assert "Shulman" in texts(at)  # the MCID source is stated
    assert "No model scores stored" in texts(at)  # the demo holds measures and ratings only


def test_trends_page_synthetic_scores_flags_and_visit_link(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    at = sign_in(app)
    at = open_page(at, "views/trends.py", patient=ids["patient"])
    assert not at.exception, at.exception
    specs = charts(at)
    scores = specs[0]
    names = [trace.get("name") for trace in scores["data"]]
    assert "Visit score (combined)" in names and "Visit score (combined): uncertainty" in names
    assert any(n and n.startswith("Flagged change: Visit score (combined)") for n in names)
    assert not any(n and "Fused" in n for n in names)  # "fused" is the model's name, not the clinic's word
    assert "Rating 3.4 Finger tapping (right)" in names
    # measures are offered by label, grouped by task (core.tasks order), never by stored key
    options = at.multiselect(key="trends_measures").options
    assert options == ["Sustained vowel /a/ · Harmonics-to-noise ratio", "Sustained vowel /a/ · Jitter (local)",
                       "Finger tapping (3.4) · Tapping rate · left", "Finger tapping (3.4) · Tapping rate · right",
                       "Gait (3.10) · Cadence", "Gait (3.10) · Stride time variability (CV)"]
    at.multiselect(key="trends_measures").set_value(["Finger tapping (3.4) · Tapping rate · right",
                                                     "Gait (3.10) · Cadence"])
    at = at.run()
    assert not at.exception, at.exception
    titles = [spec["layout"]["title"]["text"] for spec in charts(at)]
    assert "Tapping rate (right) (taps/s)" in titles and "Cadence (steps/min)" in titles
    assert "Tapping rate (taps/s): left vs right" in titles
    assert not any("_" in t for t in titles), titles  # no raw measure key on any chart
    right = next(spec for spec in charts(at) if spec["layout"]["title"]["text"] == "Tapping rate (right) (taps/s)")
    flags = [t for t in right["data"] if t.get("name", "").startswith("Flagged change")]
    assert flags and values(flags[0]["customdata"]) == [ids["visits"][STEP_AT]]
    assert "Tapping rate (right): worse" in flags[0]["hovertext"][0]
    assert any(t.get("name", "").startswith("Rating 3.4") for t in right["data"])
    flagged = next(df.value for df in at.dataframe if "Series" in df.value.columns)
    assert "Tapping rate (right)" in set(flagged["Series"])
    assert "Left vs right" in texts(at)
    at.selectbox(key="trends_visit").set_value(ids["visits"][2])
    at.button(key="trends_open_visit").click()
    at = at.run()
    assert not at.exception
    assert at.title[0].value.startswith("Visit of 2024-03-08")


def test_overview_page_lists_change_overdue_and_retake(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    at = sign_in(app)
    at = open_page(at, "views/overview.py")
    at.date_input(key="overview_as_of").set_value(date(2024, 9, 1))
    at = at.run()
    assert not at.exception, at.exception
    frames = [df.value for df in at.dataframe]
    changed, overdue, retakes = frames[0], frames[1], frames[2]
    assert "Synthetic Patient Zeta" in set(changed["Patient"])
    assert "Tapping rate (right)" in set(changed["Series"])  # the vocabulary's label, not the key
    assert any(text.startswith("Tapping rate (right): worse") for text in changed["What changed"])
    assert list(overdue["Patient"]) == ["Synthetic Patient Eta"]
    assert list(retakes["Task"]) == ["Rest tremor (3.17)"]  # the only task with no usable clip


def test_ratings_page_saves_a_rating(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    at = sign_in(app)
    visit_id = ids["visits"][0]
    at = open_page(at, "views/ratings.py", visit=visit_id)
    assert not at.exception, at.exception
    at.selectbox(key=f"rating_{visit_id}_3.1_").set_value(2.0)
    at.selectbox(key=f"rating_{visit_id}_3.17_lue").set_value(1.0)
    at.button(key=f"rating_save_{visit_id}").click()
    at = at.run()
    assert not at.exception, at.exception
    with transaction(open_store(clinic_db)) as s:
        saved = {(r.item, r.side): r.score for r in s.scalars(select(ClinicianRating).where(ClinicianRating.visit_id == visit_id))}
    assert saved[("3.1", None)] == 2.0 and saved[("3.17", "lue")] == 1.0
    assert saved[("3.4", "left")] == 1.0  # untouched ratings stay
    assert "Ratings saved" in texts(at)
    table = at.dataframe[0].value
    assert "rating" in " ".join(table.columns).lower()
    assert "Finger tapping score" in set(table["Score"]) and "finger_tapping" not in set(table["Score"])  # words, not keys
    assert set(table["Side"]) <= {"Left", "Right", ""}


def test_reports_page_builds_exports_and_audits(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    at = sign_in(app)
    at = open_page(at, "views/reports.py", patient=ids["patient"])
    assert not at.exception, at.exception
    at.checkbox(key="reports_deidentified").check()
    at.button(key="reports_prepare_csv").click()
    at = at.run()
    assert not at.exception, at.exception
    at.button(key="reports_prepare_fhir").click()
    at = at.run()
    assert not at.exception, at.exception
    with transaction(open_store(clinic_db)) as s:
        details = list(s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "export")))
    assert any("kind=csv" in d and "deidentified=yes" in d for d in details)
    assert any("kind=fhir" in d for d in details)
    assert not any("Synthetic" in d or "SYN-" in d for d in details)


def test_trends_with_one_visit_show_weeks_not_milliseconds_and_ratings_on_their_own_axis(app, clinic_db):
    """One analysed visit: every chart's date axis spans a few weeks around it; a clinician
    rating is drawn below the probabilities on its own 0-4 axis, never on the 0-1 one."""
    from core.store import Clinician, repository

    ids = build_synthetic_clinic(clinic_db)
    with transaction(open_store(clinic_db)) as s:
        admin = s.get(Clinician, ids["admin"])
        new = repository.create_patient(s, admin, mrn="SYN-0099", name="Synthetic One Visit",
                                        birth_date=date(1950, 1, 1), sex="unknown", diagnosis="pd",
                                        more_affected_side="unknown")
        visit = repository.create_visit(s, admin, new.id, visit_date=date(2024, 6, 3), medication_state="on")
        repository.save_assessment(s, admin, visit_id=visit.id, recording_id=None, model_name="fused",
                                   model_version="fused-1.0", probability=0.5, interval=(0.4, 0.6), severity=None,
                                   abstained_reason=None, inputs_sha256="", explanation=None, measures=[])
        repository.set_rating(s, admin, visit.id, "3.4", "right", 1.0)
        patient_id = new.id
    at = open_page(sign_in(app), "views/trends.py", patient=patient_id)
    assert not at.exception, at.exception
    assert "1 visit on 2024-06-03." in texts(at)
    assert "the baseline has 1 visit and" in texts(at)  # never "1 visit(s)"
    comparison = next(df.value for df in at.dataframe if "Clinician rating" in df.value.columns)
    assert "None" not in comparison.astype(str).to_numpy().ravel().tolist()  # empty cells say so in words
    assert list(comparison["Clinician rating"]) == ["not rated"] and list(comparison["Uncertainty"]) == ["0.40 to 0.60"]
    fused = next(t for t in charts(at)[0]["data"] if t.get("name") == "Visit score (combined)")
    assert fused["error_y"]["array"] and not any("uncertainty" in (t.get("name") or "") for t in charts(at)[0]["data"])
    specs = charts(at)
    assert specs
    for spec in specs:
        start, end = spec["layout"]["xaxis"]["range"]
        assert (start, end) == ("2024-05-20", "2024-06-17"), spec["layout"].get("title")
    ratings = next(spec for spec in specs if spec["layout"]["title"]["text"].startswith("3.4 Finger tapping"))
    assert ratings["layout"]["yaxis"]["range"] == [-0.2, 4.2]
    with transaction(open_store(clinic_db)) as s:
        assert s.scalar(select(func.count()).select_from(Visit).where(Visit.patient_id == patient_id)) == 1


def test_score_chart_draws_ratings_below_on_their_own_axis(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    at = open_page(sign_in(app), "views/trends.py", patient=ids["patient"])
    scores = charts(at)[0]
    rating = next(t for t in scores["data"] if t.get("name", "").startswith("Rating 3.4"))
    fused = next(t for t in scores["data"] if t.get("name") == "Visit score (combined)")
    assert fused.get("yaxis", "y") == "y" and rating["yaxis"] == "y2"  # separate axes, not one shared scale
    assert scores["layout"]["yaxis"]["range"] == [0, 1]
    assert scores["layout"]["yaxis2"]["range"] == [-0.2, 4.2]
    assert "clinician rating" in scores["layout"]["yaxis2"]["title"]["text"]
    assert scores["layout"]["yaxis2"]["domain"][1] < scores["layout"]["yaxis"]["domain"][0]  # below, not overlaid
