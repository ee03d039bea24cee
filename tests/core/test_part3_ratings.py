"""The whole MDS-UPDRS part III: 33 scores with their sides and body locations, the part III
total (only when all 33 are rated), anchor words, older 3.17 rows, and what set_rating refuses.
Real SQLite store, synthetic patient."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.ratings import (ANCHORS, PART3_TOTAL_ITEM, RATING_ITEMS, part3_slots, part3_total, rating_label,
                          score_text, validate_rating)
from core.store import ClinicianRating, ValidationError, repository, transaction
from core.store.models import Clinician


def test_part3_has_33_scores_with_rigidity_and_rest_tremor_locations():
    slots = part3_slots()
    assert len(slots) == 33 and len(set(slots)) == 33
    assert [side for item, side in slots if item == "3.3"] == ["neck", "rue", "lue", "rle", "lle"]
    assert [side for item, side in slots if item == "3.17"] == ["rue", "lue", "rle", "lle", "lipjaw"]
    assert [side for item, side in slots if item == "3.4"] == ["right", "left"]
    assert ("3.18", None) in slots and ("hoehn_yahr", None) not in slots
    assert all(len(side) <= 8 for _, side in slots if side)  # ClinicianRating.side is String(8)


def test_items_are_names_only_with_anchor_words():
    assert not hasattr(RATING_ITEMS["3.4"], "description")  # no paraphrase of the MDS instructions
    assert [score_text("3.4", s) for s in range(5)] == ["0 normal", "1 slight", "2 mild", "3 moderate", "4 severe"]
    assert ANCHORS[2.0] == "mild"
    assert score_text("hoehn_yahr", 2.5) == "2.5"
    assert rating_label("3.3", "neck") == "3.3 Rigidity (neck)"
    assert rating_label("3.17", "lipjaw") == "3.17 Rest tremor amplitude (lip/jaw)"
    assert rating_label("3.17", "right") == "3.17 Rest tremor amplitude (right upper extremity)"  # older row


def test_total_only_when_all_33_are_rated():
    slots = part3_slots()
    partial = part3_total([(item, side, 1.0) for item, side in slots[:-5]])
    assert partial.total is None and len(partial.missing) == 5 and partial.rated == 28
    assert partial.text == "MDS-UPDRS part III total: 5 of 33 scores missing"
    full = part3_total([(item, side, 2.0) for item, side in slots])
    assert full.complete and full.total == 66.0
    assert full.text == "MDS-UPDRS part III total 66 of 132"
    assert part3_total([]).text == "MDS-UPDRS part III total: not rated yet (33 scores)"
    assert part3_total([("3.1", None, 0.0)]).text.endswith("32 of 33 scores missing")


@pytest.mark.parametrize("item,side", [("3.3", "left"), ("3.3", None), ("3.17", "neck"), ("3.4", "rue"),
                                       ("3.1", "neck"), ("3.3", "elbow")])
def test_wrong_locations_are_refused_with_a_message(item, side):
    with pytest.raises(ValidationError) as problem:
        validate_rating(item, side, 1)
    assert str(problem.value) and "\n" not in str(problem.value)


def test_set_rating_stores_locations_and_the_computed_total(store):
    sessions, admin_id, visit_id, _ = store
    slots = part3_slots()
    with transaction(sessions) as s:
        admin = s.get(Clinician, admin_id)
        for item, side in slots[:-1]:
            repository.set_rating(s, admin, visit_id, item, side, 1.0)
        assert repository.list_ratings(s, visit_id)  # rows stored
        assert not [r for r in repository.list_ratings(s, visit_id) if r.item == PART3_TOTAL_ITEM]  # 1 missing
        item, side = slots[-1]
        repository.set_rating(s, admin, visit_id, item, side, 3.0)
    with transaction(sessions) as s:
        rows = {(r.item, r.side): r.score for r in repository.list_ratings(s, visit_id)}
    assert rows[(PART3_TOTAL_ITEM, None)] == 32 * 1.0 + 3.0
    assert rows[("3.3", "neck")] == 1.0 and rows[("3.17", "lipjaw")] == 1.0
    with transaction(sessions) as s:  # changing an item recomputes the total
        repository.set_rating(s, s.get(Clinician, admin_id), visit_id, "3.3", "neck", 4.0)
    with transaction(sessions) as s:
        total = s.scalar(select(ClinicianRating.score).where(ClinicianRating.visit_id == visit_id,
                                                             ClinicianRating.item == PART3_TOTAL_ITEM))
    assert total == 38.0


def test_older_3_17_sides_stay_valid_and_are_updated_in_place(store):
    sessions, admin_id, visit_id, _ = store
    with transaction(sessions) as s:  # a row as stored before rest tremor had its five locations
        s.add(ClinicianRating(visit_id=visit_id, item="3.17", side="right", score=2.0, rater_id=admin_id))
    with transaction(sessions) as s:
        assert part3_total(repository.list_ratings(s, visit_id)).missing.count(("3.17", "rue")) == 0
        repository.set_rating(s, s.get(Clinician, admin_id), visit_id, "3.17", "rue", 3.0)
        repository.set_rating(s, s.get(Clinician, admin_id), visit_id, "3.4", "left", 2.0)  # left/right items
    with transaction(sessions) as s:
        rows = [(r.item, r.side, r.score) for r in repository.list_ratings(s, visit_id)]
    assert ("3.17", "rue", 3.0) in rows and not [r for r in rows if r[:2] == ("3.17", "right")]
    assert ("3.4", "left", 2.0) in rows
    with transaction(sessions) as s, pytest.raises(ValidationError):
        repository.set_rating(s, s.get(Clinician, admin_id), visit_id, "3.3", "right", 1.0)


def test_patient_pdf_lists_the_latest_ratings_and_part3_total(clinic):
    import io
    from datetime import date

    from pypdf import PdfReader

    from core.reports import patient_pdf
    from core.store import open_store
    from tests.core.trends_synthetic import PATIENT

    url, ids = clinic
    sessions = open_store(url)
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        repository.set_rating(s, admin, ids["visits"][-1], "3.3", "neck", 2.0)
        repository.set_rating(s, admin, ids["visits"][-1], "3.17", "lipjaw", 1.0)
    with transaction(sessions) as s:
        report = patient_pdf(s, ids["patient"], today=date(2024, 9, 1))
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(report.data)).pages).split())
    section = text.split("Clinician ratings")[1].split("Latest results")[0]
    assert "3.3 Rigidity neck 2 mild" in section and "3.17 Rest tremor amplitude lip/jaw 1 slight" in section
    assert "3.4 Finger tapping" in section and "Hoehn & Yahr stage" in section
    assert "MDS-UPDRS part III total:" in section and "of 33 scores missing" in section
    assert PATIENT["name"] in text and 2 <= report.pages <= 6
