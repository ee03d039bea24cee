"""The one-page visit summary PDF and the comparison of two visits, on the synthetic clinic of
tests/core/trends_synthetic.py (real SQLite file, synthetic names)."""
from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.compare import compare_visits, comparison_frame, visit_snapshot
from core.ratings import part3_slots
from core.reports import visit_summary_pdf
from core.store import ValidationError, open_store, repository, transaction
from core.store.models import Clinician
from core.summary import NOT_A_DIAGNOSIS
from tests.core.trends_synthetic import OTHER, PATIENT


def _flat(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split()), len(reader.pages)


def _admin(s):
    return s.scalar(select(Clinician).where(Clinician.username == "admin"))


def test_visit_summary_is_one_page_with_ratings_score_and_statement(clinic):
    url, ids = clinic
    sessions = open_store(url)
    last = ids["visits"][-1]
    with transaction(sessions) as s:
        repository.set_rating(s, _admin(s), last, "3.3", "neck", 2.0)
        data = visit_summary_pdf(s, last, today=date(2024, 9, 1))
    text, pages = _flat(data)
    assert data.startswith(b"%PDF") and pages == 1
    assert PATIENT["name"] in text and PATIENT["mrn"] in text and "2024-08-05" in text and "medication OFF" in text
    assert "visit 8 of 8" in text
    score = text.split("Visit score")[1]
    assert score.startswith(" 0.63") and " ".join(NOT_A_DIAGNOSIS.split()) in score[:600]  # statement beside it
    assert "3.4 Finger tapping (right) 3 moderate score 0.70" in text  # rating beside the app's estimate
    assert "3.3 Rigidity neck 2 mild" in text and "Hoehn & Yahr stage 2" in text
    assert "MDS-UPDRS part III total: 30 of 33 scores missing" in text
    assert "Tapping rate (right)" in text and "OUTSIDE" in text and "CHANGE" in text  # flagged beside its range
    assert "4.03 (3 visits)" in text  # the patient's own baseline
    assert "Changes at this visit ! Visit score (combined): worse" in text


def test_visit_summary_stays_on_one_page_with_a_full_exam(clinic):
    url, ids = clinic
    sessions = open_store(url)
    first = ids["visits"][0]
    with transaction(sessions) as s:
        for item, side in part3_slots():
            repository.set_rating(s, _admin(s), first, item, side, 1.0)
        data = visit_summary_pdf(s, first)
    text, pages = _flat(data)
    assert pages == 1
    assert "MDS-UPDRS part III total 33 of 132" in text
    assert "3.17 Rest tremor amplitude RUE 1 slight, LUE 1 slight, RLE 1 slight, LLE 1 slight, lip/jaw 1 slight" in text
    assert "RUE/LUE right/left upper extremity" in text  # the abbreviations' legend


def test_compare_two_visits_flags_changes_with_the_trend_rules(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        comparison = compare_visits(s, ids["visits"][-1], ids["visits"][0])  # any order: earlier first
        frame = comparison_frame(comparison)
    assert comparison.first.visit_id == ids["visits"][0] and comparison.days_between > 0
    rows = {(r.kind, r.label): r for r in comparison.rows}
    tapping = rows[("measure", "Tapping rate (right)")]
    assert tapping.verdict == "worse" and tapping.method == "own baseline" and tapping.change == pytest.approx(-1.7)
    assert rows[("measure", "Tapping rate (left)")].verdict == "within normal variation"
    assert rows[("measure", "Cadence")].method == "MDC95"  # a published threshold wins
    assert rows[("rating", "Hoehn & Yahr stage")].method == "MCID"
    assert rows[("rating", "3.4 Finger tapping (right)")].second == 3.0
    assert rows[("score", "Visit score (combined)")].verdict == "worse"
    assert {r.label for r in comparison.flagged} >= {"Tapping rate (right)", "Visit score (combined)"}
    assert list(frame.columns[2:4]) == ["2024-01-08 (visit 1, ON)", "2024-08-05 (visit 8, OFF)"]
    assert "3 moderate" in set(frame.iloc[:, 3])


def test_compare_refuses_visits_of_two_patients_or_one_visit(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        other_visit = repository.create_visit(s, _admin(s), ids["other"], visit_date=date(2024, 2, 1),
                                              medication_state="on").id
    with transaction(open_store(url)) as s:
        with pytest.raises(ValidationError, match="different patients"):
            compare_visits(s, ids["visits"][0], other_visit)
        with pytest.raises(ValidationError, match="two different visits"):
            compare_visits(s, ids["visits"][0], ids["visits"][0])
        snapshot = visit_snapshot(s, other_visit)
        empty_pdf = visit_summary_pdf(s, other_visit)
    assert snapshot.measures == [] and snapshot.fused is None and OTHER["name"] == snapshot.patient_name
    text, pages = _flat(empty_pdf)  # a visit with nothing recorded still gives its one page
    assert pages == 1 and "No visit score stored" in text and "No measures stored for this visit." in text
    assert "not rated yet" in text and " ".join(NOT_A_DIAGNOSIS.split()) in text
