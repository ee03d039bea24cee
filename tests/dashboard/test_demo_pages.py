"""The demo database as a newcomer sees it (AppTest of the real dashboard/app.py): a demo patient
with analysed synthetic clips shows a visit score, explanations, a key frame and trends, each page
saying that the clips are synthetic; the telemonitoring patients' pages and the demo banner say
that their UPDRS ratings are the study's interpolated values. The demo is the session's full build
(tests/conftest.py), copied into this test's data dir."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.demo import (
    CLIP_PATIENTS,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    SYNTHETIC_NOTE,
    TELEMONITORING_NOTE,
    TELEMONITORING_RATINGS_NOTE,
)
from core.store import Patient, Visit, close_store, open_store, transaction
from tests.conftest import copy_built_demo
from tests.dashboard.conftest import charts, open_page, sign_in, texts, values

pytestmark = pytest.mark.slow  # the session's demo build analyses 16 clips


@pytest.fixture
def demo(clinic_db, built_demo, tmp_path):
    """(URL, {MRN: (patient id, [visit ids by date])}) of a copy of the built demo where the
    dashboard looks for it (PDLENS_DATA_DIR=tmp_path)."""
    url, _ = copy_built_demo(built_demo, tmp_path)
    with transaction(open_store(url)) as s:
        ids = {}
        for mrn in [p.mrn for p in CLIP_PATIENTS] + ["DEMO-01"]:
            patient_id = s.scalar(select(Patient.id).where(Patient.mrn == mrn))
            ids[mrn] = (patient_id, list(s.scalars(select(Visit.id).where(Visit.patient_id == patient_id)
                                                   .order_by(Visit.visit_date))))
    yield url, ids
    close_store(url)


def test_results_of_a_synthetic_demo_patient_show_score_explanation_and_the_label(app, demo):
    _, ids = demo
    patient_id, visits = ids[CLIP_PATIENTS[0].mrn]
    at = sign_in(app, DEMO_USERNAME, DEMO_PASSWORD, demo=True)
    at = open_page(at, "views/results.py", visit=visits[-1])
    assert not at.exception, at.exception
    page = texts(at)
    assert "Demo patient A" in page and "synthetic movement clips" in page
    assert SYNTHETIC_NOTE in [el.value for el in at.info]
    assert TELEMONITORING_RATINGS_NOTE in at.warning[0].value  # the demo banner
    score = at.get("metric")[0].value
    assert score != "not scored" and 0 < float(score) < 1
    figs = charts(at)
    assert any(trace.get("type") == "image" for f in figs for trace in f["data"])  # the key frame
    assert any("movement mattered" in str(f["layout"].get("title", "")) for f in figs)  # the saliency
    assert "Tapping amplitude" in page


def test_trends_of_a_synthetic_demo_patient_show_one_score_per_visit_and_the_label(app, demo):
    _, ids = demo
    patient_id, visits = ids[CLIP_PATIENTS[0].mrn]
    at = sign_in(app, DEMO_USERNAME, DEMO_PASSWORD, demo=True)
    at = open_page(at, "views/trends.py", patient=patient_id)
    assert not at.exception, at.exception
    assert SYNTHETIC_NOTE in [el.value for el in at.info]
    scores = charts(at)[0]
    fused = next(trace for trace in scores["data"] if trace.get("name") == "Visit score (combined)")
    assert len(values(fused["y"])) == len(visits) == 3


def test_telemonitoring_pages_say_the_ratings_are_interpolated(app, demo):
    _, ids = demo
    patient_id, visits = ids["DEMO-01"]
    at = sign_in(app, DEMO_USERNAME, DEMO_PASSWORD, demo=True)
    for page, query in (("views/ratings.py", {"visit": visits[0]}), ("views/trends.py", {"patient": patient_id}),
                        ("views/reports.py", {"patient": patient_id}), ("views/visit.py", {"visit": visits[0]}),
                        ("views/compare.py", {"patient": patient_id})):
        at = open_page(at, page, **query)
        assert not at.exception, (page, at.exception)
        assert TELEMONITORING_NOTE in [el.value for el in at.info], page
    assert "linearly interpolated" in TELEMONITORING_NOTE and "Tsanas" in TELEMONITORING_NOTE
