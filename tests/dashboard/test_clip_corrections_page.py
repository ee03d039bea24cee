"""The visit and results pages name the clip that counts, and the clinician corrects clips on the
visit page (AppTest of the real dashboard, real SQLite store, a real public vowel recording
(Iyer 2023) and a synthetic near-silent retake)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from core.store import Clinician, Recording, open_store, repository, transaction
from core.visits import add_recording_and_analyze
from tests.dashboard.conftest import open_page, signed_in_app
from tests.dashboard.conftest import texts as escaped_texts
from tests.fixtures.voice.synth import write_audio

VOWEL = next((Path(__file__).resolve().parents[1] / "fixtures" / "voice").glob("PD_sample__AH_545692309*.wav"))


def texts(at) -> str:
    """What the page says, with markdown escapes removed (pages escape every stored text)."""
    return escaped_texts(at).replace("\\", "")


@pytest.fixture
def visit_with_failed_retake(admin_db, tmp_path):
    sessions = open_store(admin_db)
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician))
        patient = repository.create_patient(s, admin, mrn="SYN-077", name="Synthetic Retake",
                                            birth_date=date(1950, 1, 1), sex="unknown", diagnosis="unknown",
                                            more_affected_side="unknown")
        visit = repository.create_visit(s, admin, patient.id, visit_date=date(2024, 2, 1), medication_state="on")
        admin_id, visit_id = admin.id, visit.id
    good = add_recording_and_analyze(sessions, admin_id, visit_id, VOWEL, "a.wav", "vowel", None, "upload", tmp_path)
    silence = tmp_path / "synthetic_silence.wav"
    write_audio(silence, 1e-5 * np.random.default_rng(1).standard_normal(4 * 16000), 16000, channels=1)
    retake = add_recording_and_analyze(sessions, admin_id, visit_id, silence, "b.wav", "vowel", None, "upload",
                                       tmp_path)
    return sessions, visit_id, good.recording_id, retake.recording_id


@pytest.mark.slow
def test_pages_name_the_clip_that_counts_and_the_clinician_can_choose_another(visit_with_failed_retake):
    sessions, visit_id, good_id, retake_id = visit_with_failed_retake
    at = open_page(signed_in_app(), "views/results.py", visit=visit_id)
    assert not at.exception
    said = texts(at)
    assert f"Counts: Sustained vowel /a/ - clip {good_id}" in said
    assert "the latest clip that passed its quality check" in said
    assert "1 other clip of this task, not counted" in [e.label for e in at.expander]

    at = open_page(at, "views/visit.py", visit=visit_id)
    table = at.dataframe[0].value
    assert table["Counts"].tolist() == ["yes", "no: failed its quality check"]
    at.selectbox(key="correct_clip").set_value(retake_id).run()
    next(b for b in at.button if b.label == "Make this the clip that counts").click().run()
    assert not at.exception
    assert "This clip now counts for its task." in texts(at)
    assert at.dataframe[0].value["Counts"].tolist() == ["no: the clinician chose another clip",
                                                        "yes, chosen by the clinician"]
    with transaction(sessions) as s:
        assert s.get(Recording, retake_id).counts and not s.get(Recording, good_id).counts


@pytest.mark.slow
def test_excluding_a_clip_needs_a_reason_and_is_shown_literally(visit_with_failed_retake):
    sessions, visit_id, good_id, _ = visit_with_failed_retake
    at = open_page(signed_in_app(), "views/visit.py", visit=visit_id)
    at.selectbox(key="correct_clip").set_value(good_id).run()
    form_button = next(b for b in at.button if b.label == "Exclude this clip")
    form_button.click().run()
    assert "The reason for excluding the clip is required." in texts(at)
    with transaction(sessions) as s:
        assert s.get(Recording, good_id).excluded_reason is None  # nothing written
    at.text_input[0].input("**loud** <i>room</i>")
    next(b for b in at.button if b.label == "Exclude this clip").click().run()
    assert not at.exception
    counts = at.dataframe[0].value["Counts"].tolist()
    assert counts == ["no: excluded by the clinician: **loud** <i>room</i>", "no: failed its quality check"]
    at = open_page(at, "views/results.py", visit=visit_id)
    assert "No usable clip for this task: it needs a retake" in texts(at)
