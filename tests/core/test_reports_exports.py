"""Exports of a synthetic clinic (no patient data): PDF text and pages, CSV / Parquet round
trips, de-identification, FHIR validation, audit."""
import io
import json
from datetime import date

import pandas as pd
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.reports import (
    DEIDENTIFIED_COLUMNS,
    audit_export,
    export_chunks,
    fhir_bundle,
    fhir_json,
    patient_pdf,
    pseudonym,
    read_export_csv,
    write_csv,
    write_parquet,
)
from core.store import AuditEvent, MeasureValue, open_store, transaction
from core.summary import NOT_A_DIAGNOSIS
from tests.core.trends_synthetic import OTHER, PATIENT, VISITS


def pdf_text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_patient_pdf_content_and_pages(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        report = patient_pdf(s, ids["patient"], today=date(2024, 9, 1))
    text, pages = pdf_text(report.data)
    flat = " ".join(text.split())
    assert report.data.startswith(b"%PDF")
    assert pages == report.pages and 2 <= pages <= 6
    assert PATIENT["name"] in flat and PATIENT["mrn"] in flat and "1951-03-09" in flat
    assert f"Visits ({VISITS})" in flat
    assert "Key trends" in flat and "Changes that matter" in flat
    assert "Tapping rate (right): worse" in flat  # labelled from the measure vocabulary
    assert "Tapping rate" in flat.split("Latest results")[1] and "tap_frequency" not in flat
    assert "Cadence 1" in flat and "Finger tapping (3.4) (right)" in flat
    assert "fused fused-1.0" in flat and "tap-1.0" in flat and "voice-1.0" in flat
    assert " ".join(NOT_A_DIAGNOSIS.split()) in flat
    assert "Contribution of each recording" in flat  # the fused explanation summary


def test_csv_round_trip_equals_the_stored_values(clinic):
    url, ids = clinic
    buffer = io.StringIO()
    with transaction(open_store(url)) as s:
        rows = write_csv(export_chunks(s, chunk_patients=1), buffer)
        stored = sorted(s.scalars(select(MeasureValue.value)).all())
    back = read_export_csv(io.StringIO(buffer.getvalue()))
    assert len(back) == rows
    measures = back[back["kind"] == "measure"]
    assert sorted(measures["value"].tolist()) == stored  # exact: 17 significant digits
    assert set(back["kind"]) == {"measure", "score", "rating"}
    assert set(back["mrn"]) == {PATIENT["mrn"]}  # the other patient has no values
    scores = back[(back["kind"] == "score") & (back["model_name"] == "fused")]
    assert len(scores) == VISITS and (scores["interval_high"] == 0.75).all()
    assert back["visit_date"].min() == date(2024, 1, 8)
    labels = dict(zip(back["name_or_item"], back["label"]))
    assert labels["tap_frequency"] == "Tapping rate" and labels["cadence_steps_per_min"] == "Cadence"
    assert labels["fused"] == "Visit score (combined)" and labels["3.4"] == "3.4 Finger tapping"
    units = dict(zip(measures["name_or_item"], measures["unit"]))
    assert units["tap_frequency"] == "taps/s" and units["jitter_local_pct"] == "%"


def test_parquet_round_trip(clinic, tmp_path):
    url, ids = clinic
    path = tmp_path / "export.parquet"
    with transaction(open_store(url)) as s:
        csv_frame = pd.concat(list(export_chunks(s)), ignore_index=True)
        rows = write_parquet(export_chunks(s, chunk_patients=1), path)
    back = pd.read_parquet(path)
    assert rows == len(back) == len(csv_frame)
    assert back["value"].tolist() == csv_frame["value"].tolist()
    assert back["name_or_item"].tolist() == csv_frame["name_or_item"].tolist()
    assert str(back["visit_date"].dtype).startswith(("object", "date"))


def test_deidentified_export_has_no_identity(clinic, tmp_path):
    url, ids = clinic
    buffer = io.StringIO()
    with transaction(open_store(url)) as s:
        write_csv(export_chunks(s, deidentified=True, salt="synthetic-salt"), buffer, deidentified=True)
        write_parquet(export_chunks(s, deidentified=True, salt="synthetic-salt"), tmp_path / "d.parquet",
                      deidentified=True)
    text = buffer.getvalue()
    for secret in (PATIENT["name"], PATIENT["mrn"], "1951-03-09", "1951", "2024-01-08", OTHER["name"]):
        assert secret not in text
    back = pd.read_csv(io.StringIO(text))
    assert list(back.columns) == DEIDENTIFIED_COLUMNS
    assert set(back["pseudonym"]) == {pseudonym(ids["patient"], "synthetic-salt")}
    assert back["days_since_first_visit"].min() == 0 and back["days_since_first_visit"].max() == 30 * (VISITS - 1)
    assert set(back["age_years"]) == {72, 73}  # born 1951-03-09, visits 2024-01 to 2024-08
    parquet = pd.read_parquet(tmp_path / "d.parquet")
    assert list(parquet.columns) == DEIDENTIFIED_COLUMNS and len(parquet) == len(back)
    assert pseudonym(ids["patient"], "another-salt") != pseudonym(ids["patient"], "synthetic-salt")


def test_fhir_bundle_validates_and_parses_back(clinic):
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.observation import Observation

    url, ids = clinic
    with transaction(open_store(url)) as s:
        bundle = fhir_bundle(s, ids["patient"])
        text = fhir_json(s, ids["patient"], include_identity=False)
    parsed = Bundle.model_validate(bundle)
    resources = [entry.resource for entry in parsed.entry]
    assert resources[0].get_resource_type() == "Patient"
    observations = [Observation.model_validate(r.model_dump()) for r in resources[1:]]
    scores = [o for o in observations if o.code.coding[0].system.endswith("/model-score")]
    assert len(scores) == VISITS * 4  # voice, two hands, fused per visit
    fused = [o for o in scores if o.code.coding[0].code == "fused"]
    assert {c.valueQuantity.value for o in fused for c in o.component} == {0.25, 0.75}
    tapping = [o for o in observations if o.code.coding[0].code == "tap_frequency"]
    assert len(tapping) == 2 * VISITS and tapping[0].code.coding[0].display == "Tapping rate"
    assert {o.code.text for o in tapping} == {"Tapping rate (left), Finger tapping (3.4)",
                                              "Tapping rate (right), Finger tapping (3.4)"}
    assert {o.valueQuantity.unit for o in tapping} == {"taps/s"}
    ratings = [o for o in observations if o.category[0].coding[0].code == "survey"]
    assert len(ratings) == VISITS * 3
    assert all(o.subject.reference == f"Patient/pdlens-{ids['patient']}" for o in observations)
    anonymous = json.loads(text)
    assert PATIENT["name"] not in text and PATIENT["mrn"] not in text
    Bundle.model_validate(anonymous)


def test_export_audit_event_has_no_names(clinic):
    url, ids = clinic
    with transaction(open_store(url)) as s:
        audit_export(s, None, "csv", ids["patient"], "deidentified=yes")
    with transaction(open_store(url)) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert event.patient_id == ids["patient"] and event.detail == "kind=csv deidentified=yes"
