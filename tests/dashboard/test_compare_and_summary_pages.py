"""Compare two visits, the visit summary PDF buttons, the ratings form's 33 scores and the print
style sheet, through AppTest of the real dashboard/app.py on the synthetic clinic (no patient data)."""
from __future__ import annotations

import io

from pypdf import PdfReader
from sqlalchemy import select

from core.store import AuditEvent, ClinicianRating, open_store, transaction
from tests.core.trends_synthetic import PATIENT, build_synthetic_clinic
from tests.dashboard.conftest import open_page, sign_in, texts


def test_compare_page_shows_two_visits_and_the_changes_that_count(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    at = sign_in(app)
    at = open_page(at, "views/compare.py", patient=ids["patient"], first=ids["visits"][0], second=ids["visits"][-1])
    assert not at.exception, at.exception
    said = texts(at).replace("\\", "")  # markdown escapes of the labels
    assert "Compare two visits" in at.title[0].value
    assert "210 days apart" in said
    assert "Tapping rate (right): worse" in said and "counts from" in said
    assert [m.value for m in at.metric] == ["0.37", "0.63"]
    frames = [df.value for df in at.dataframe]
    measures = frames[-1]
    assert "Tapping rate (right)" in set(measures["Item"])
    assert {"Change", "Counts from", "Judged"} <= set(measures.columns)
    ratings = frames[1]
    assert "3 moderate" in set(ratings.iloc[:, 2])
    # Choosing the same visit twice asks for two different visits.
    at.selectbox(key="compare_second").set_value(ids["visits"][0])
    at = at.run()
    assert not at.exception and "Choose two different visits." in texts(at)


def test_compare_page_with_one_visit_says_so(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    at = sign_in(app)
    at = open_page(at, "views/compare.py", patient=ids["other"])
    assert not at.exception, at.exception
    assert "this patient has 0 visits" in texts(at).lower() or "1 visit:" in texts(at)


def test_results_page_offers_the_visit_summary_and_the_part3_total(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    visit_id = ids["visits"][-1]
    at = sign_in(app)
    at = open_page(at, "views/results.py", visit=visit_id)
    assert not at.exception, at.exception
    assert "MDS-UPDRS part III total: 31 of 33 scores missing" in texts(at)
    assert any("@media print" in md.value and "stSidebar" in md.value for md in at.markdown)  # print styles
    at.button(key="results_summary_prepare").click()
    at = at.run()
    assert not at.exception, at.exception
    data = at.get("download_button")[0].proto.url
    assert data  # the PDF is served as a media file
    with transaction(open_store(clinic_db)) as s:
        details = list(s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "export")))
    assert any(d.startswith("kind=visit_summary") and f"visit={visit_id}" in d for d in details)
    assert not any(PATIENT["name"] in d for d in details)


def test_reports_page_builds_a_one_page_visit_summary(app, clinic_db):
    from core.reports import visit_summary_pdf

    ids = build_synthetic_clinic(clinic_db)
    at = sign_in(app)
    at = open_page(at, "views/reports.py", patient=ids["patient"])
    assert not at.exception, at.exception
    assert at.selectbox(key="reports_visit").value == ids["visits"][-1]  # latest visit first
    at.selectbox(key="reports_visit").set_value(ids["visits"][2])
    at.button(key="reports_summary_prepare").click()
    at = at.run()
    assert not at.exception, at.exception
    assert any("visit summary" in b.proto.label.lower() for b in at.get("download_button"))
    with transaction(open_store(clinic_db)) as s:
        pages = len(PdfReader(io.BytesIO(visit_summary_pdf(s, ids["visits"][2]))).pages)
    assert pages == 1


def test_ratings_form_has_all_33_part3_scores_with_anchor_words(app, clinic_db):
    ids = build_synthetic_clinic(clinic_db)
    visit_id = ids["visits"][0]
    at = sign_in(app)
    at = open_page(at, "views/ratings.py", visit=visit_id)
    assert not at.exception, at.exception
    keys = {sb.key for sb in at.selectbox if sb.key and sb.key.startswith(f"rating_{visit_id}_")}
    part3 = {k for k in keys if not k.endswith("hoehn_yahr_")}
    assert len(part3) == 33
    assert f"rating_{visit_id}_3.3_neck" in keys and f"rating_{visit_id}_3.17_lipjaw" in keys
    assert at.selectbox(key=f"rating_{visit_id}_3.3_neck").options == ["not rated", "0 normal", "1 slight", "2 mild",
                                                                        "3 moderate", "4 severe"]
    assert "MDS-UPDRS part III total: 31 of 33 scores missing" in texts(at)
    at.selectbox(key=f"rating_{visit_id}_3.3_neck").set_value(2.0)
    at.button(key=f"rating_save_{visit_id}").click()
    at = at.run()
    assert not at.exception, at.exception
    assert "30 of 33 scores missing" in texts(at)
    with transaction(open_store(clinic_db)) as s:
        saved = s.scalar(select(ClinicianRating.score).where(ClinicianRating.visit_id == visit_id,
                                                             ClinicianRating.item == "3.3",
                                                             ClinicianRating.side == "neck"))
    assert saved == 2.0
