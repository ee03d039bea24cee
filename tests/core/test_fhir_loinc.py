"""LOINC codings in the FHIR export: applied only from core.loinc's checked table (with its
source page), pdlens' own coding always kept, MDS-UPDRS locations in the text and body site,
and the bundle still validates with fhir.resources. Synthetic clinic, real SQLite file."""
from __future__ import annotations

import re

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from core.loinc import LOINC_CODES, check_digit_ok, LOINC_SYSTEM, NEAREST_UPDRS_TERMS, UNVERIFIED, LoincCode, codings, loinc_code
from core.ratings import RATING_ITEMS, part3_slots
from core.reports import PDLENS_SYSTEM, fhir_bundle
from core.store import ClinicianRating, open_store, repository, transaction
from core.store.models import Clinician
from tests.core.trends_synthetic import PATIENT

LOINC_FORMAT = re.compile(r"^\d{1,7}-\d$")


def test_every_listed_code_is_well_formed_and_cites_its_page():
    for table in (LOINC_CODES, NEAREST_UPDRS_TERMS):
        for key, code in table.items():
            assert LOINC_FORMAT.match(code.code) and check_digit_ok(code.code), (key, code)
            assert code.source.startswith("https://loinc.org/"), (key, code)
    for key in NEAREST_UPDRS_TERMS:  # reference terms of the MDS-UPDRS items they sit beside
        item, side = key
        assert item in RATING_ITEMS and (side is None or side in RATING_ITEMS[item].locations)
    assert not check_digit_ok("55414-6") and check_digit_ok("8302-2")  # a mistyped code is caught
    # Unverified codes are never applied.
    assert not set(UNVERIFIED) & set(LOINC_CODES)
    # No MDS-UPDRS item borrows an original-UPDRS term.
    assert not [k for k in LOINC_CODES if k[0] == "rating" and (k[1], k[2]) in NEAREST_UPDRS_TERMS]


def test_a_loinc_coding_comes_first_and_pdlens_coding_stays():
    table = {("measure", "example_measure", None): LoincCode("8302-2", "Body height", "https://loinc.org/8302-2/")}
    pdlens = {"system": f"{PDLENS_SYSTEM}/measure", "code": "example_measure", "display": "Example"}
    found = codings("measure", "example_measure", "left", pdlens, table)  # a sided value finds the unsided term
    assert found == [{"system": LOINC_SYSTEM, "code": "8302-2", "display": "Body height"}, pdlens]
    assert codings("measure", "other", None, pdlens, table) == [pdlens]
    assert loinc_code("rating", "hoehn_yahr") is None  # 77718-5 seen only in third-party code: not used


def test_bundle_codes_ratings_with_locations_and_validates(clinic):
    url, ids = clinic
    sessions = open_store(url)
    with transaction(sessions) as s:
        admin = s.scalar(select(Clinician).where(Clinician.username == "admin"))
        visit_id = ids["visits"][-1]
        for item, side in part3_slots():
            repository.set_rating(s, admin, visit_id, item, side, 1.0)
        s.add(ClinicianRating(visit_id=ids["visits"][0], item="3.17", side="left", score=2.0, rater_id=admin.id))
    with transaction(sessions) as s:
        bundle = fhir_bundle(s, ids["patient"])
    Bundle.model_validate(bundle)  # still a valid R4B Bundle
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    for observation in observations:
        coding = observation["code"]["coding"]
        assert coding[-1]["system"].startswith(PDLENS_SYSTEM)  # pdlens' own code always there
        for c in coding[:-1]:  # anything before it is a LOINC term of the checked table
            assert c["system"] == LOINC_SYSTEM
            assert c["code"] in {code.code for code in LOINC_CODES.values()}
    ratings = [o for o in observations if o["id"].startswith("pdlens-rating-")]
    texts = {o["code"]["text"] for o in ratings}
    assert "3.3 Rigidity (neck)" in texts and "3.17 Rest tremor amplitude (lip/jaw)" in texts
    assert "MDS-UPDRS part III total" in texts  # computed once all 33 were rated
    assert "3.17 Rest tremor amplitude (left upper extremity)" in texts  # an older "left" row
    sites = {o.get("bodySite", {}).get("text") for o in ratings}
    assert {"neck", "right upper extremity", "lip/jaw", "left"} <= sites
    assert PATIENT["name"] in str(bundle)
