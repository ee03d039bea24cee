"""The "Outcome tests" section of the rating form and the stopwatch-beside-video lines, through
AppTest of the real dashboard/app.py on a real SQLite clinic (synthetic patients, no patient data)."""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from core.pipeline import Measure
from core.store import AuditEvent, Clinician, ClinicianRating, open_store, repository, transaction
from tests.core.trends_synthetic import build_synthetic_clinic
from tests.dashboard.conftest import charts, open_page, sign_in, texts

OUTCOME_KEYS = ["mini_bestest", "berg_balance", "fga", "six_minute_walk_m", "tug_stopwatch_s", "sts_stopwatch_s",
                "gait_speed_stopwatch_m_s"]


def _saved(url: str, visit_id: int) -> dict:
    with transaction(open_store(url)) as s:
        return {r.item: r.score for r in s.scalars(select(ClinicianRating).where(ClinicianRating.visit_id == visit_id))}


def test_outcome_section_saves_values_with_units_and_refuses_a_wrong_one(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    visit_id = ids["visits"][0]
    at = sign_in(app)
    at = open_page(at, "views/ratings.py", visit=visit_id)
    assert not at.exception, at.exception
    assert "Outcome tests" in texts(at)
    boxes = {n.key: n for n in at.number_input if n.key and n.key.startswith(f"rating_{visit_id}_")}
    assert set(boxes) == {f"rating_{visit_id}_{k}_" for k in OUTCOME_KEYS}
    assert boxes[f"rating_{visit_id}_berg_balance_"].label == "Berg Balance Scale total (points, 0-56)"
    assert boxes[f"rating_{visit_id}_tug_stopwatch_s_"].label == "Timed Up and Go, stopwatch (s, 1-300)"
    assert all(box.value is None for box in boxes.values())  # nothing entered yet

    at.number_input(key=f"rating_{visit_id}_berg_balance_").set_value(45)
    at.number_input(key=f"rating_{visit_id}_tug_stopwatch_s_").set_value(12.1)
    at.button(key=f"rating_save_{visit_id}").click()
    at = at.run()
    assert not at.exception, at.exception
    assert "Ratings saved: 2 values" in texts(at)
    saved = _saved(clinic_db, visit_id)
    assert saved["berg_balance"] == 45.0 and saved["tug_stopwatch_s"] == 12.1
    assert saved["3.4"] == 1.0  # the MDS-UPDRS ratings stay
    assert "TUG: video not recorded, stopwatch 12.1 s" in texts(at)
    with transaction(open_store(clinic_db)) as s:
        details = set(s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "set_rating")))
    assert f"visit={visit_id} item=berg_balance side=-" in details

    at.number_input(key=f"rating_{visit_id}_berg_balance_").set_value(60)
    at.button(key=f"rating_save_{visit_id}").click()
    at = at.run()
    assert not at.exception, at.exception
    errors = [str(e.value).replace("\\", "") for e in at.error]  # markdown escapes
    assert errors == ["Berg Balance Scale total: 60 is outside 0-56 points."]
    assert _saved(clinic_db, visit_id)["berg_balance"] == 45.0  # nothing saved


def test_results_page_shows_the_stopwatch_beside_the_video_time(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    visit_id = ids["visits"][-1]
    with transaction(open_store(clinic_db)) as s:
        admin = s.scalar(select(Clinician))
        sha = hashlib.sha256(b"synthetic tug").hexdigest()
        clip = repository.add_recording(s, admin, visit_id, task="tug", side=None, stored_path=f"recordings/{sha}.mp4",
                                        sha256=sha, duration_s=15.0, format="mp4", source="upload", quality_ok=True,
                                        status="analysed")
        repository.save_assessment(s, admin, visit_id=visit_id, recording_id=clip.id, model_name="tug",
                                   model_version="tug-test", probability=None, interval=None, severity=None,
                                   abstained_reason="Synthetic: measures only.", inputs_sha256="", explanation=None,
                                   measures=[Measure("tug_time_s", 12.4, "s", "TUG time")])
        repository.set_rating(s, admin, visit_id, "tug_stopwatch_s", None, 12.1)
    at = sign_in(app)
    at = open_page(at, "views/results.py", visit=visit_id)
    assert not at.exception, at.exception
    assert "TUG: video 12.4 s, stopwatch 12.1 s" in [t.value for t in at.text]


def test_trends_page_flags_a_berg_drop_as_worse_with_its_source(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    with transaction(open_store(clinic_db)) as s:
        admin = s.scalar(select(Clinician))
        for visit_id, berg in zip(ids["visits"], [46, 45, 44, 46, 38, 37, 37, 36]):  # synthetic values
            repository.set_rating(s, admin, visit_id, "berg_balance", None, berg)
    at = sign_in(app)
    at = open_page(at, "views/trends.py", patient=ids["patient"])
    assert not at.exception, at.exception
    flags = next(df.value for df in at.dataframe if "Threshold source" in df.value.columns)
    berg = flags[flags["Series"] == "Berg Balance Scale total"]
    assert list(berg["Direction"]) == ["worse"] and list(berg["Confirmed"]) == [True]
    assert list(berg["Change from baseline"]) == [-7.0] and list(berg["Threshold"]) == [5.0]  # baseline 46, 45, 44
    assert "Steffen & Seney" in berg["Threshold source"].iloc[0]
    chart = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Berg Balance Scale total"))
    assert chart["layout"]["yaxis"]["title"]["text"] == "scale total (points)"
