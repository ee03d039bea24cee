"""The patient's height on the patient form and the floor marks of a gait-speed clip on the results
page, through AppTest of the real dashboard/app.py on a real SQLite store. The clip is a real
encoded video of an empty SYNTHETIC walkway whose landmark cache is replaced by a SYNTHETIC walker
(tests/core/test_floor_marks.py): no person recorded."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.config import settings
from core.store import Assessment, Clinician, Patient, Recording, open_store, repository, transaction
from core.store.files import resolve_recording_path
from core.visits import add_recording_and_analyze, landmark_cache_path
from dashboard.formatting import escape_markdown
from dashboard.widgets.floor_marks import clicked_point, marks_figure
from tests.core.movement.test_gait_speed import synthetic_10m_walk
from tests.core.test_floor_marks import empty_walkway
from tests.dashboard.conftest import charts, open_page, sign_in, signed_in_app, texts


@pytest.fixture
def walk_visit(admin_db, tmp_path):
    """A synthetic patient (no height) and visit with one gait-speed clip: (sessions, visit, recording, project)."""
    sessions = open_store(admin_db)
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician))
        patient = repository.create_patient(s, admin, mrn="SYN-077", name="Synthetic Walker",
                                            birth_date=date(1951, 5, 1), sex="unknown", diagnosis="unknown",
                                            more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 3, 1), medication_state="on")
        admin_id, visit_id = admin.id, visit.id
    data_dir = settings().data_dir
    added = add_recording_and_analyze(sessions, admin_id, visit_id, empty_walkway(tmp_path / "walk.mp4"),
                                      "walk.mp4", "gait_speed", None, "upload", data_dir)
    with transaction(sessions) as s:
        stored = resolve_recording_path(data_dir, s.get(Recording, added.recording_id).stored_path)
    pose, project = synthetic_10m_walk(speed=1.1)
    pose.save_series(landmark_cache_path(stored))
    return sessions, visit_id, added.recording_id, project


def test_floor_marks_are_set_on_the_results_page_and_the_walk_is_measured(walk_visit):
    sessions, visit_id, recording_id, project = walk_visit
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert not at.exception, at.exception
    key = f"floor_marks_{recording_id}"
    assert any("Floor marks: click the two marks" in e.label for e in at.get("expander"))
    assert "Gait speed needs a scale" in texts(at)  # the failed check says what to do
    assert "No height on the patient record" in texts(at)
    [figure] = [f for f in charts(at) if f["layout"].get("images")]
    assert figure["layout"]["images"][0]["source"].startswith("data:image/jpeg;base64,")  # the clip's frame
    [save] = [b for b in at.button if b.key == f"{key}_save"]
    assert save.disabled  # no marks yet

    # the marks as numbers (what a click fills in), then save
    for k, along in enumerate((-3.0, 3.0)):
        x, y = project(along)
        at.number_input(key=f"{key}_x{k}").set_value(round(100 * x, 1))
        at.number_input(key=f"{key}_y{k}").set_value(round(100 * y, 1))
    at.run()
    [save] = [b for b in at.button if b.key == f"{key}_save"]
    assert not save.disabled
    save.click()
    at.run()
    assert not at.exception, at.exception
    with transaction(sessions) as s:
        rec = s.get(Recording, recording_id)
        assert rec.setup_json["marks_distance_m"] == 6.0 and rec.quality_ok
        current = s.scalars(select(Assessment).where(Assessment.recording_id == recording_id,
                                                     Assessment.superseded_at.is_(None))).one()
        speed = {m.name: m.value for m in current.measures}["gait_speed_m_s"]
    assert speed == pytest.approx(1.1, rel=0.05)
    assert any("Floor marks: set" in e.label for e in at.get("expander"))
    assert "Gait speed (10 m walk)" in set(at.dataframe[0].value["Measure"])


def test_a_click_on_the_frame_is_a_picture_point():
    from PIL import Image

    image = Image.new("RGB", (320, 240))
    fig = marks_figure(image, [(0.2, 0.8), None])
    assert fig.layout.height == int(fig.layout.width * 240 / 320)
    grid = fig.data[0]
    assert len(grid.x) == 101 * 101 and grid.marker.opacity == 0.0
    assert list(fig.data[1].x) == [0.2] and list(fig.data[1].y) == [pytest.approx(0.2)]  # plot y = 1 - down
    # the event st.plotly_chart returns for a clicked point (plot coordinates)
    assert clicked_point({"selection": {"points": [{"x": 0.31, "y": 0.25, "point_index": 7}]}}) == (0.31, 0.75)
    assert clicked_point({"selection": {"points": []}}) is None
    assert clicked_point(None) is None


def test_height_is_entered_on_the_patient_form_and_shown(app, admin_db):
    at = sign_in(app)
    at.text_input(key="new_patient_mrn").input("SYN-0099")
    at.text_input(key="new_patient_name").input("Synthetic Tall")
    at.text_input(key="new_patient_birth_date").input("1950-01-01")
    at.text_input(key="new_patient_height_cm").input("300")
    [create] = [b for b in at.get("button") if b.label == "Create patient"]
    create.click()
    at.run()
    assert escape_markdown("300 cm is outside 50-250 cm") in texts(at)  # refused with what to do, nothing saved
    at.text_input(key="new_patient_height_cm").input("172.5")
    [create] = [b for b in at.get("button") if b.label == "Create patient"]
    create.click()
    at.run()
    assert not at.exception, at.exception
    with transaction(open_store(admin_db)) as s:
        assert s.scalar(select(Patient.height_cm).where(Patient.mrn == "SYN-0099")) == 172.5
    assert escape_markdown("172.5 cm") in texts(at)  # on the patient page's facts


def test_the_clip_is_measured_again_with_a_height_entered_later(walk_visit):
    sessions, visit_id, recording_id, _ = walk_visit
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician))
        repository.update_patient(s, admin, repository.get_visit(s, admin, visit_id).patient_id, height_cm=170)
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert "(170 cm on the patient record)" in texts(at)
    [again] = [b for b in at.button if b.key == f"floor_marks_{recording_id}_height"]
    again.click()
    at.run()
    assert not at.exception, at.exception
    with transaction(sessions) as s:
        assert s.get(Recording, recording_id).quality_ok
    assert "Gait speed (10 m walk)" in set(at.dataframe[0].value["Measure"])
