"""Exports of the record: a per-patient PDF for the chart, CSV / Parquet tables of measures,
scores and ratings (one patient or the whole clinic, streamed in chunks of patients so memory
stays bounded), and an HL7 FHIR R4 Bundle of Observations per patient.

De-identified tables (research): no name, MRN or birth date; the patient is a pseudonym
(salted SHA-256 of the patient id: the same salt gives the same pseudonym in every export, a
new salt unlinkable ones); age in whole years at each visit; dates replaced by days since the
patient's first visit (`days_since_first_visit`), so no calendar date leaves the clinic.

Every export writes an AuditEvent "export" (ids and the export kind only, never names).
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.loinc import codings
from core.ratings import LOCATION_LEGEND, OUTCOME_GROUP, PART3_TOTAL_ITEM, RATING_ITEMS, legacy_location, \
    location_label, part3_total, rating_label, rating_unit, score_text, stopwatch_pairs
from core.tasks import OUTCOME_TASKS
from core.store.models import Assessment, AuditEvent, Clinician, ClinicianRating, MeasureValue, Patient, Recording, Visit
from core.store.repository import counted_assessment
from core.summary import NOT_A_DIAGNOSIS, fused_summary, score_sentence
from core.trends import SeriesAnalysis, analyse_patient, load_patient_series, rows_frame
from core.vocabulary import label as measure_label, score_label, task_label, with_side
from core.words import DIAGNOSIS_LABELS, SEX_LABELS, SIDE_LABELS, code_label, plural

PDLENS_SYSTEM = "https://pdlens.org/fhir/CodeSystem"  # pdlens' own code systems (LOINC where core.loinc has a code)
EXPORT_ACTION = "export"
PSEUDONYM_SALT_ENV = "PDLENS_PSEUDONYM_SALT"


IDENTIFIED_KINDS = ("pdf", "visit_summary")  # always carry name and MRN


def export_is_identified(kind: str, detail: str = "") -> bool:
    """An export with name, MRN or dates: the PDFs always, tables and FHIR unless de-identified."""
    return kind in IDENTIFIED_KINDS or "deidentified=yes" not in detail.split()


def check_export(s: Session, actor: Clinician | None, identified: bool) -> None:
    """PermissionDenied (one line) when the actor's role may not make this export: a reviewer
    exports de-identified tables only (core.permissions). `actor` None: the server's command line."""
    if actor is None:
        return
    from core.permissions import EXPORT_DEIDENTIFIED, EXPORT_IDENTIFIED
    from core.store.repository import _may

    _may(s, actor, EXPORT_IDENTIFIED if identified else EXPORT_DEIDENTIFIED)


def audit_export(s: Session, actor: Clinician | None, kind: str, patient_id: int | None = None,
                 detail: str = "") -> None:
    """Record an export: kind ("pdf", "csv", "parquet", "fhir") and scope, no names. Refuses
    (PermissionDenied, so the caller's transaction and its data go) an export the actor's role
    may not make; pages call check_export before building the file."""
    check_export(s, actor, export_is_identified(kind, detail))
    text = f"kind={kind}" + (f" {detail}" if detail else "")
    s.add(AuditEvent(clinician_id=actor.id if actor else None, action=EXPORT_ACTION, patient_id=patient_id,
                     detail=text[:500]))


# ---------------------------------------------------------------- tables


EXPORT_COLUMNS = [
    "patient_id", "mrn", "name", "birth_date", "sex", "diagnosis", "visit_id", "visit_date", "medication_state",
    "kind", "task", "side", "name_or_item", "label", "value", "unit", "model_name", "model_version", "interval_low",
    "interval_high",
]
DEIDENTIFIED_COLUMNS = [
    "pseudonym", "sex", "diagnosis", "age_years", "visit_number", "days_since_first_visit", "medication_state",
    "kind", "task", "side", "name_or_item", "label", "value", "unit", "model_name", "model_version", "interval_low",
    "interval_high",
]
_STRING_COLUMNS = {"mrn", "name", "sex", "diagnosis", "medication_state", "kind", "task", "side", "name_or_item",
                   "label", "unit", "model_name", "model_version", "pseudonym"}


def _arrow_schema(deidentified: bool) -> pa.Schema:
    types = {"patient_id": pa.int64(), "visit_id": pa.int64(), "birth_date": pa.date32(), "visit_date": pa.date32(),
             "age_years": pa.int64(), "visit_number": pa.int64(), "days_since_first_visit": pa.int64(),
             "value": pa.float64(), "interval_low": pa.float64(), "interval_high": pa.float64()}
    columns = DEIDENTIFIED_COLUMNS if deidentified else EXPORT_COLUMNS
    return pa.schema([(c, types.get(c, pa.string())) for c in columns])


def pseudonym(patient_id: int, salt: str) -> str:
    return "P-" + hashlib.sha256(f"{salt}:{int(patient_id)}".encode()).hexdigest()[:16]


def export_salt() -> str:
    """The installation's pseudonym salt (env PDLENS_PSEUDONYM_SALT: stable pseudonyms across
    exports), else a fresh random salt (pseudonyms unlinkable between exports)."""
    return os.environ.get(PSEUDONYM_SALT_ENV) or secrets.token_hex(16)


def _patient_ids(s: Session, patient_ids: Iterable[int] | None, chunk_patients: int) -> Iterator[list[int]]:
    if patient_ids is not None:
        ids = sorted(set(int(i) for i in patient_ids))
        for start in range(0, len(ids), chunk_patients):
            yield ids[start:start + chunk_patients]
        return
    last = 0
    while True:  # keyset pagination: constant cost per chunk whatever the clinic size
        ids = list(s.scalars(select(Patient.id).where(Patient.id > last).order_by(Patient.id).limit(chunk_patients)))
        if not ids:
            return
        yield ids
        last = ids[-1]


def _chunk_frame(s: Session, ids: list[int]) -> pd.DataFrame:
    """Measures, scores and ratings of a few patients, one row per value (three queries)."""
    patient_cols = (Patient.id, Patient.mrn, Patient.name, Patient.birth_date, Patient.sex, Patient.diagnosis,
                    Visit.id, Visit.visit_date, Visit.medication_state)
    measures = s.execute(
        select(*patient_cols, Recording.task, Recording.side, MeasureValue.name, MeasureValue.value, MeasureValue.unit,
               Assessment.model_name, Assessment.model_version)
        .select_from(MeasureValue)
        .join(Assessment, MeasureValue.assessment_id == Assessment.id)
        .join(Visit, Assessment.visit_id == Visit.id)
        .join(Patient, Visit.patient_id == Patient.id)
        .outerjoin(Recording, Assessment.recording_id == Recording.id)
        .where(Patient.id.in_(ids), counted_assessment())
    ).all()
    scores = s.execute(
        select(*patient_cols, Recording.task, Recording.side, Assessment.model_name, Assessment.probability,
               Assessment.model_version, Assessment.interval_low, Assessment.interval_high)
        .select_from(Assessment)
        .join(Visit, Assessment.visit_id == Visit.id)
        .join(Patient, Visit.patient_id == Patient.id)
        .outerjoin(Recording, Assessment.recording_id == Recording.id)
        .where(Patient.id.in_(ids), Assessment.probability.is_not(None), counted_assessment())
    ).all()
    # the clinic's own models' estimates of a rating (core.clinic_models), each naming its version
    estimates = s.execute(
        select(*patient_cols, Assessment.model_name, Assessment.severity, Assessment.model_version,
               Assessment.interval_low, Assessment.interval_high)
        .select_from(Assessment)
        .join(Visit, Assessment.visit_id == Visit.id)
        .join(Patient, Visit.patient_id == Patient.id)
        .where(Patient.id.in_(ids), Assessment.recording_id.is_(None), Assessment.superseded_at.is_(None),
               Assessment.model_name.startswith(CLINIC_MODEL_PREFIX), Assessment.severity.is_not(None))
    ).all()
    ratings = s.execute(
        select(*patient_cols, ClinicianRating.side, ClinicianRating.item, ClinicianRating.score)
        .select_from(ClinicianRating)
        .join(Visit, ClinicianRating.visit_id == Visit.id)
        .join(Patient, Visit.patient_id == Patient.id)
        .where(Patient.id.in_(ids))
    ).all()
    base = ["patient_id", "mrn", "name", "birth_date", "sex", "diagnosis", "visit_id", "visit_date", "medication_state"]
    frames = [
        rows_frame(measures, base + ["task", "side", "name_or_item", "value", "unit", "model_name",
                                               "model_version"]).assign(kind="measure"),
        rows_frame(scores, base + ["task", "side", "name_or_item", "value", "model_version", "interval_low",
                                             "interval_high"]).assign(kind="score", unit="probability",
                                                                      model_name=lambda f: f["name_or_item"]),
        _estimate_frame(rows_frame(estimates, base + ["model_name", "value", "model_version", "interval_low",
                                                      "interval_high"])),
        rows_frame(ratings, base + ["side", "name_or_item", "value"]).assign(
            kind="rating", unit=lambda f: f["name_or_item"].map(rating_unit)),
    ]
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(not f.empty for f in frames) \
        else pd.DataFrame(columns=EXPORT_COLUMNS)
    frame = frame.reindex(columns=EXPORT_COLUMNS)
    frame["label"] = _labels(frame)
    return frame.sort_values(["patient_id", "visit_date", "visit_id", "kind", "name_or_item", "side"],
                             na_position="first", kind="stable").reset_index(drop=True)


CLINIC_MODEL_PREFIX = "clinic:"  # core.clinic_models.MODEL_PREFIX


def _estimate_label(item: str) -> str:
    return f"Clinic model estimate of {rating_label(item)}"


def _estimate_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Estimate rows: the rating item (and side) from the model name 'clinic:ITEM[:SIDE]'."""
    if frame.empty:
        return frame
    parts = frame["model_name"].str[len(CLINIC_MODEL_PREFIX):].str.split(":", n=1)
    return frame.assign(kind="estimate", name_or_item=parts.str[0],
                        side=parts.map(lambda p: p[1] if len(p) > 1 else None),
                        unit=parts.str[0].map(rating_unit))


_LABEL_OF_KIND = {"measure": measure_label, "score": score_label, "rating": rating_label,
                  "estimate": _estimate_label}


def _labels(frame: pd.DataFrame) -> pd.Series:
    """What a reader of the table sees for each name_or_item: the measure vocabulary's label, the
    model's score label, the rating item's label (looked up once per distinct name)."""
    labels = pd.Series(None, index=frame.index, dtype=object)
    for kind, label_of in _LABEL_OF_KIND.items():
        rows = frame["kind"] == kind
        names = frame.loc[rows, "name_or_item"]
        labels[rows] = names.map({name: label_of(name) for name in names.unique()})
    return labels


def _deidentify(frame: pd.DataFrame, salt: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=DEIDENTIFIED_COLUMNS)
    out = frame.copy()
    visit_dates = pd.to_datetime(out["visit_date"])
    first = visit_dates.groupby(out["patient_id"]).transform("min")
    out["days_since_first_visit"] = (visit_dates - first).dt.days
    out["visit_number"] = out.groupby("patient_id")["visit_date"].rank(method="dense").astype(int)
    birth = pd.to_datetime(out["birth_date"])
    had_birthday = (visit_dates.dt.month > birth.dt.month) | (
        (visit_dates.dt.month == birth.dt.month) & (visit_dates.dt.day >= birth.dt.day))
    out["age_years"] = visit_dates.dt.year - birth.dt.year - (~had_birthday).astype(int)
    out["pseudonym"] = out["patient_id"].map(lambda i: pseudonym(i, salt))
    return out[DEIDENTIFIED_COLUMNS]


def export_chunks(s: Session, patient_ids: Iterable[int] | None = None, *, deidentified: bool = False,
                  salt: str | None = None, chunk_patients: int = 500) -> Iterator[pd.DataFrame]:
    """The export table in chunks of `chunk_patients` patients (None: the whole clinic)."""
    if deidentified and not salt:
        raise ValueError("A de-identified export needs a pseudonym salt.")
    for ids in _patient_ids(s, patient_ids, max(1, int(chunk_patients))):
        frame = _chunk_frame(s, ids)
        yield _deidentify(frame, salt) if deidentified else frame


def _typed(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    columns = {}
    for field in schema:
        values = frame[field.name] if field.name in frame else pd.Series([None] * len(frame))
        if pa.types.is_date32(field.type):
            values = pd.to_datetime(values).dt.date
        elif pa.types.is_string(field.type):
            values = values.astype(object).where(values.notna(), None)
        columns[field.name] = pa.array(values.tolist() if not pa.types.is_floating(field.type)
                                       else pd.to_numeric(values).astype(float).to_numpy(), type=field.type,
                                       from_pandas=True)
    return pa.table(columns, schema=schema)


def write_csv(chunks: Iterable[pd.DataFrame], out: IO[str], deidentified: bool = False) -> int:
    """Write chunks as one CSV (header once); returns rows written."""
    columns = DEIDENTIFIED_COLUMNS if deidentified else EXPORT_COLUMNS
    rows, header = 0, True
    for frame in chunks:
        frame.reindex(columns=columns).to_csv(out, index=False, header=header, lineterminator="\n",
                                              float_format="%.17g")
        header, rows = False, rows + len(frame)
    if header:
        out.write(",".join(columns) + "\n")
    return rows


def write_parquet(chunks: Iterable[pd.DataFrame], out: str | Path | IO[bytes], deidentified: bool = False) -> int:
    """Write chunks as one Parquet file, a row group per chunk; returns rows written."""
    schema = _arrow_schema(deidentified)
    rows = 0
    with pq.ParquetWriter(out, schema) as writer:
        for frame in chunks:
            if len(frame):
                writer.write_table(_typed(frame, schema))
                rows += len(frame)
    return rows


def read_export_csv(source) -> pd.DataFrame:
    """Read an export CSV back with the same column types (round trip, tests)."""
    frame = pd.read_csv(source, dtype={c: "string" for c in _STRING_COLUMNS} | {"mrn": "string"},
                        keep_default_na=True)
    for column in ("visit_date", "birth_date"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


# ---------------------------------------------------------------- FHIR R4


def _coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def _category(code: str, display: str) -> dict:
    return {"coding": [_coding("http://terminology.hl7.org/CodeSystem/observation-category", code, display)]}


def fhir_bundle(s: Session, patient_id: int, include_identity: bool = True) -> dict[str, Any]:
    """A Bundle (type collection) of the patient and their assessments as Observations: model
    scores (probability with its interval as components), measures and clinician ratings. Each
    resource is validated with fhir.resources (R4B models; Observation is unchanged from R4)."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.patient import Patient as FhirPatient

    patient = s.get(Patient, patient_id)
    if patient is None:
        raise ValueError(f"No patient with id {patient_id}.")
    patient_ref = f"Patient/pdlens-{patient.id}"
    fhir_patient: dict[str, Any] = {"resourceType": "Patient", "id": f"pdlens-{patient.id}",
                                    "gender": {"female": "female", "male": "male", "other": "other"}.get(patient.sex, "unknown")}
    if include_identity:
        fhir_patient |= {"identifier": [{"system": f"{PDLENS_SYSTEM}/mrn", "value": patient.mrn}],
                         "name": [{"text": patient.name}], "birthDate": patient.birth_date.isoformat()}
    resources = [FhirPatient.model_validate(fhir_patient)]

    rows = s.execute(
        select(Assessment, Visit.visit_date, Recording.task, Recording.side)
        .join(Visit, Assessment.visit_id == Visit.id)
        .outerjoin(Recording, Assessment.recording_id == Recording.id)
        .where(Visit.patient_id == patient.id, counted_assessment())
        .order_by(Visit.visit_date, Assessment.id)
    ).all()
    for assessment, visit_date, task, side in rows:
        effective = visit_date.isoformat()
        side_text = f" ({side})" if side else ""
        method = {"text": f"pdlens model {assessment.model_name} version {assessment.model_version}"}
        if assessment.probability is not None:
            components = []
            for code, value in (("interval-low", assessment.interval_low), ("interval-high", assessment.interval_high)):
                if value is not None:
                    components.append({"code": {"coding": [_coding(f"{PDLENS_SYSTEM}/score-component", code,
                                                                   f"uncertainty interval {code[9:]}")]},
                                       "valueQuantity": {"value": float(value), "unit": "probability"}})
            observation = {
                "resourceType": "Observation", "id": f"pdlens-score-{assessment.id}", "status": "final",
                "category": [_category("exam", "Exam")],
                "code": {"coding": codings("score", assessment.model_name, side, _coding(
                             f"{PDLENS_SYSTEM}/model-score", assessment.model_name,
                             f"pdlens {assessment.model_name} score{side_text}")),
                         "text": f"Probability of a Parkinson-like pattern ({assessment.model_name}{side_text}); "
                                 "decision support, not a diagnosis"},
                "subject": {"reference": patient_ref}, "effectiveDateTime": effective, "method": method,
                "valueQuantity": {"value": float(assessment.probability), "unit": "probability"},
            }
            if components:
                observation["component"] = components
            resources.append(Observation.model_validate(observation))
        elif (assessment.recording_id is None and assessment.model_name.startswith(CLINIC_MODEL_PREFIX)
              and assessment.severity is not None):  # a clinic model's estimate of a rating (core.clinic_models)
            item = (assessment.explanation_json or {}).get("target") or assessment.model_name[len(CLINIC_MODEL_PREFIX):]
            unit = rating_unit(item)
            observation = {
                "resourceType": "Observation", "id": f"pdlens-estimate-{assessment.id}", "status": "final",
                "category": [_category("exam", "Exam")],
                "code": {"coding": [_coding(f"{PDLENS_SYSTEM}/clinic-model-estimate", assessment.model_name,
                                            f"pdlens clinic model estimate of {item}")],
                         "text": f"Clinic model estimate of {rating_label(item)} ({assessment.model_name}); "
                                 "decision support, not a diagnosis"},
                "subject": {"reference": patient_ref}, "effectiveDateTime": effective, "method": method,
                "valueQuantity": {"value": float(assessment.severity), "unit": unit},
            }
            if assessment.interval_low is not None and assessment.interval_high is not None:
                observation["component"] = [
                    {"code": {"coding": [_coding(f"{PDLENS_SYSTEM}/score-component", code,
                                                 f"uncertainty interval {code[9:]}")]},
                     "valueQuantity": {"value": float(value), "unit": unit}}
                    for code, value in (("interval-low", assessment.interval_low),
                                        ("interval-high", assessment.interval_high))]
            resources.append(Observation.model_validate(observation))
        for measure in assessment.measures:
            if not math.isfinite(measure.value):
                continue
            quantity = {"value": float(measure.value)}
            if measure.unit:
                quantity["unit"] = measure.unit
            body_site = {"bodySite": {"text": f"{side} hand" if task in ("finger_tapping", "tremor") else side}} \
                if side else {}
            resources.append(Observation.model_validate({
                "resourceType": "Observation", "id": f"pdlens-measure-{measure.id}", "status": "final",
                "category": [_category("exam", "Exam")],
                "code": {"coding": codings("measure", measure.name, side, _coding(
                             f"{PDLENS_SYSTEM}/measure", measure.name, measure_label(measure.name))),
                         "text": f"{measure_label(measure.name)}{side_text}, {task_label(task or assessment.model_name)}"},
                "subject": {"reference": patient_ref}, "effectiveDateTime": effective, "method": method,
                "valueQuantity": quantity, **body_site,
            }))
    ratings = s.execute(
        select(ClinicianRating, Visit.visit_date).join(Visit, ClinicianRating.visit_id == Visit.id)
        .where(Visit.patient_id == patient.id).order_by(Visit.visit_date, ClinicianRating.item)
    ).all()
    for rating, visit_date in ratings:
        location = legacy_location(rating.item, rating.side)
        outcome = _is_outcome(rating.item)  # a test the clinician performed and timed or scored: an exam
        resources.append(Observation.model_validate({
            "resourceType": "Observation", "id": f"pdlens-rating-{rating.id}", "status": "final",
            "category": [_category("exam", "Exam") if outcome else _category("survey", "Survey")],
            "code": {"coding": codings("rating", rating.item, location, _coding(
                         f"{PDLENS_SYSTEM}/clinician-rating", rating.item, rating_label(rating.item))),
                     "text": rating_label(rating.item, location)},
            "subject": {"reference": patient_ref}, "effectiveDateTime": visit_date.isoformat(),
            "valueQuantity": {"value": float(rating.score), "unit": rating_unit(rating.item)},
            **({"bodySite": {"text": location_label(location)}} if location else {}),
        }))
    bundle = Bundle.model_validate({
        "resourceType": "Bundle", "type": "collection",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "entry": [{"fullUrl": f"urn:pdlens:{r.get_resource_type()}/{r.id}", "resource": r} for r in resources],
    })
    return bundle.model_dump(mode="json")


def fhir_json(s: Session, patient_id: int, include_identity: bool = True) -> str:
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(fhir_bundle(s, patient_id, include_identity)).model_dump_json(indent=2)


# ---------------------------------------------------------------- PDF


def _font_path(bold: bool = False) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")


def _pdf_document(title: str):
    """An A4 fpdf2 document with pdlens' fonts (DejaVu: every character of a name prints)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(_font_path()))
    pdf.add_font("DejaVu", "B", str(_font_path(bold=True)))
    pdf.set_title(title)
    pdf.set_creator("pdlens")
    return pdf


def _trend_png(analysis: SeriesAnalysis, width_in: float = 7.0, height_in: float = 2.3) -> bytes:
    """A static trend chart: values, baseline band, flagged changes (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = analysis.points
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=110)
    try:
        dates = pd.to_datetime(points["visit_date"])
        ax.plot(dates, points["value"], "o-", color="#1f4e79", markersize=3, linewidth=1)
        if analysis.band is not None:
            ax.axhspan(analysis.band.low, analysis.band.high, color="#9ecae1", alpha=0.35, label="normal variation")
            ax.axhline(analysis.baseline.mean, color="#1f4e79", linestyle="--", linewidth=0.8, label="baseline")
        for event in analysis.events:
            ax.plot([pd.Timestamp(event.visit_date)], [event.value], marker="v" if event.change < 0 else "^",
                    color="#c0392b", markersize=9, linestyle="none")
        unit = f" ({analysis.unit})" if analysis.unit else ""
        ax.set_title(f"{analysis.label}{unit}", fontsize=9)
        ax.tick_params(labelsize=7)
        fig.autofmt_xdate()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


def _pick_key_trends(analyses: list[SeriesAnalysis], limit: int) -> list[SeriesAnalysis]:
    """Flagged series first, then model scores and ratings, then published-threshold measures."""
    def rank(a: SeriesAnalysis) -> tuple:
        kind = 0 if a.key.startswith("score:fused") else 1 if a.key.startswith(("score:", "rating:")) else 2
        return (not a.events, kind, a.band is None, a.label)
    return sorted([a for a in analyses if len(a.points) >= 2], key=rank)[:limit]


def _is_outcome(item: str) -> bool:
    spec = RATING_ITEMS.get(item)
    return spec is not None and spec.group == OUTCOME_GROUP


def _rating_tuple(r) -> tuple[str, str | None, float]:
    return r if isinstance(r, tuple) else (r.item, r.side, r.score)


def split_outcome_ratings(ratings: Iterable) -> tuple[list, list]:
    """(MDS-UPDRS and other ratings, physical-therapy outcome values) of a visit's ratings."""
    ratings = list(ratings)
    outcome = [r for r in ratings if _is_outcome(_rating_tuple(r)[0])]
    return [r for r in ratings if not _is_outcome(_rating_tuple(r)[0])], outcome


def outcome_lines(s: Session, visit_id: int, ratings: Iterable) -> list[str]:
    """A visit's outcome tests in plain lines: each stopwatch time beside the video time of the
    same test ("TUG: video 12.4 s, stopwatch 12.1 s"), then the other outcome values
    ("Berg Balance Scale total: 45 of 56")."""
    pairs = stopwatch_pairs(s, visit_id)
    paired = {p.item for p in pairs}
    lines = [p.text for p in pairs]
    for item, _, score in sorted((_rating_tuple(r) for r in ratings if _is_outcome(_rating_tuple(r)[0])),
                                 key=lambda r: list(RATING_ITEMS).index(r[0])):
        if item not in paired:
            lines.append(f"{rating_label(item)}: {score_text(item, score)}")
    return lines


def rating_rows(ratings: Iterable, short: bool = False) -> list[tuple[str, str]]:
    """A visit's ratings as (item, scores) rows in scale order, one row per item with its
    locations side by side ("right 2 mild, left 1 slight"); stored totals last. `ratings` are
    ClinicianRating rows or (item, side, score) tuples."""
    from core.ratings import RATING_ITEMS, score_text

    by_item: dict[str, dict[str | None, float]] = {}
    for r in ratings:
        item, side, score = (r if isinstance(r, tuple) else (r.item, r.side, r.score))
        by_item.setdefault(item, {})[legacy_location(item, side)] = float(score)
    order = [k for k in RATING_ITEMS if k in by_item] + sorted(set(by_item) - set(RATING_ITEMS))
    rows = []
    for item in order:
        scores = by_item[item]
        spec = RATING_ITEMS.get(item)
        locations = [loc for loc in (spec.locations if spec else ()) if loc in scores]
        locations += [loc for loc in scores if loc not in locations]
        parts = [f"{location_label(loc, short) + ' ' if loc else ''}{score_text(item, scores[loc])}" for loc in locations]
        rows.append((spec.label if spec else rating_label(item), ", ".join(parts)))
    return rows


@dataclass(frozen=True)
class PdfReport:
    data: bytes
    pages: int


def patient_pdf(s: Session, patient_id: int, *, key_trends: int = 4, max_visit_rows: int = 40,
                today: date | None = None, note: str | None = None) -> PdfReport:
    """The chart report of one patient (see module docstring). Text is never interpreted as
    markup: names and notes are written as plain strings. `note`: a sentence printed under the
    patient's details (the demo database's provenance note: synthetic clips, interpolated ratings)."""
    from fpdf.enums import XPos, YPos

    patient = s.get(Patient, patient_id)
    if patient is None:
        raise ValueError(f"No patient with id {patient_id}.")
    series = load_patient_series(s, patient_id)
    analyses = analyse_patient(series)
    today = today or date.today()

    pdf = _pdf_document("pdlens patient report")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def heading(text: str, size: int = 13) -> None:
        pdf.set_font("DejaVu", "B", size)
        pdf.multi_cell(width, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)

    def para(text: str, size: int = 9) -> None:
        pdf.set_font("DejaVu", "", size)
        pdf.multi_cell(width, 4.8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    heading("pdlens patient report", 16)
    para(f"Generated {today.isoformat()}. {NOT_A_DIAGNOSIS}")
    pdf.ln(2)
    heading("Patient")
    para(f"Name: {patient.name}")
    para(f"MRN: {patient.mrn}    Birth date: {patient.birth_date.isoformat()}    "
         f"Sex: {code_label(SEX_LABELS, patient.sex)}    Diagnosis: {code_label(DIAGNOSIS_LABELS, patient.diagnosis)}    "
         f"More affected side: {code_label(SIDE_LABELS, patient.more_affected_side)}")
    if note:
        para(note)

    visits = series.visits
    heading(f"Visits ({len(visits)})")
    if visits.empty:
        para("No visits recorded.")
    else:
        para(f"First visit {visits['visit_date'].min().date().isoformat()}, latest "
             f"{visits['visit_date'].max().date().isoformat()}. Medication state at each visit: "
             + ", ".join(f"{state} {count}" for state, count in visits["medication_state"].value_counts().items()) + ".")
        shown = visits.tail(max_visit_rows)
        if len(visits) > len(shown):
            para(f"The latest {plural(len(shown), 'visit')}:")
        pdf.set_font("DejaVu", "", 8)
        with pdf.table(col_widths=(30, 30, 40), text_align="LEFT", first_row_as_headings=True) as table:
            table.row(["Date", "Medication", "Hours since dose"])
            for _, visit in shown.iterrows():
                hours = visit["hours_since_dose"]
                table.row([visit["visit_date"].date().isoformat(), str(visit["medication_state"]),
                           "" if hours is None or pd.isna(hours) else f"{hours:g}"])
    pdf.ln(2)

    heading("Changes that matter")
    flagged = [(a, e) for a in analyses for e in a.events]
    if not flagged:
        para("No change beyond the normal variation of the patient's baseline (first 3 visits).")
    for analysis, event in flagged[-15:]:
        para(f"{event.visit_date.isoformat()}: {event.summary(analysis.label, analysis.unit)}. Threshold source: "
             f"{event.source}.")

    key = _pick_key_trends(analyses, key_trends)
    if key:
        heading("Key trends")
        para("Shaded: normal variation around the baseline; dashed: baseline mean; red triangles: flagged changes.")
        for analysis in key:
            png = _trend_png(analysis)
            pdf.image(io.BytesIO(png), w=width)

    heading("Clinician ratings")
    outcome_items = [k for k, spec in RATING_ITEMS.items() if spec.group == OUTCOME_GROUP]
    rated = s.execute(
        select(Visit.id, Visit.visit_date).join(ClinicianRating, ClinicianRating.visit_id == Visit.id)
        .where(Visit.patient_id == patient.id, ClinicianRating.item.not_in(outcome_items))
        .group_by(Visit.id, Visit.visit_date)
        .order_by(Visit.visit_date.desc(), Visit.id.desc())
    ).all()
    if not rated:
        para("No clinician ratings recorded.")
    else:
        latest_rated_id, latest_rated_date = rated[0]
        latest_ratings, _ = split_outcome_ratings(
            s.scalars(select(ClinicianRating).where(ClinicianRating.visit_id == latest_rated_id)))
        para(f"Latest rated visit {latest_rated_date.isoformat()}. {part3_total(latest_ratings).text}. "
             "Scores 0 normal, 1 slight, 2 mild, 3 moderate, 4 severe.")
        pdf.set_font("DejaVu", "", 8)
        with pdf.table(col_widths=(60, 120), text_align="LEFT", first_row_as_headings=True) as table:
            table.row(["Item", "Score"])
            for item_label, scores in rating_rows(latest_ratings):
                table.row([item_label, scores])
        if len(rated) > 1:
            totals = s.execute(
                select(Visit.visit_date, ClinicianRating.score).join(Visit, ClinicianRating.visit_id == Visit.id)
                .where(Visit.patient_id == patient.id, ClinicianRating.item == PART3_TOTAL_ITEM)
                .order_by(Visit.visit_date)
            ).all()
            if totals:
                para("MDS-UPDRS part III total by visit: "
                     + "; ".join(f"{d.isoformat()} {v:g}" for d, v in totals[-12:]) + ".")
        pdf.ln(2)

    heading("Outcome tests")
    header, rows, video_lines = _outcome_table(s, patient.id)
    if not rows:
        para("No outcome test (Timed Up and Go, Five Times Sit to Stand, gait speed, balance scales, six-minute walk) "
             "recorded.")
    else:
        para("By visit. Timed tests: stopwatch / video (the clip that counts); balance totals and the six-minute walk "
             "as entered by the clinician; '-' not done.")
        shown = rows[-max_visit_rows:]
        if len(rows) > len(shown):
            para(f"The latest {plural(len(shown), 'visit')}:")
        pdf.set_font("DejaVu", "", 7.5)
        with pdf.table(col_widths=(22, 26, 26, 28, 20, 18, 16, 16), text_align="LEFT",
                       first_row_as_headings=True) as table:
            table.row(header)
            for row in shown:
                table.row(row)
        for line in video_lines:
            para(line, size=8)
    pdf.ln(2)

    heading("Latest results")
    latest = s.execute(
        select(Assessment, Recording.task, Recording.side)
        .join(Visit, Assessment.visit_id == Visit.id)
        .outerjoin(Recording, Assessment.recording_id == Recording.id)
        .where(Visit.patient_id == patient.id, counted_assessment())
        .where(Visit.visit_date == select(Visit.visit_date).where(Visit.patient_id == patient.id)
               .order_by(Visit.visit_date.desc()).limit(1).scalar_subquery())
        .order_by(Assessment.id)
    ).all()
    versions: dict[str, str] = {}
    if not latest:
        para("No assessment stored.")
    for assessment, task, side in latest:
        versions[assessment.model_name] = assessment.model_version
        what = with_side(task_label(task or assessment.model_name), side)
        explanation = assessment.explanation_json or {}
        if assessment.model_name == "fused" and ("contributions_logodds" in explanation or "probability" in explanation):
            lines = fused_summary({**explanation, "probability": assessment.probability,
                                   "interval": [assessment.interval_low, assessment.interval_high]
                                   if assessment.interval_low is not None else None})
            lines = [line for line in lines if line != NOT_A_DIAGNOSIS]
        elif assessment.model_name.startswith(CLINIC_MODEL_PREFIX) and assessment.severity is not None:
            from core.clinic_models import estimate_text

            lines = [estimate_text(assessment)]
        elif assessment.probability is not None or assessment.abstained_reason:
            interval = ((assessment.interval_low, assessment.interval_high)
                        if assessment.interval_low is not None and assessment.interval_high is not None else None)
            lines = [score_sentence(assessment.probability, interval, assessment.abstained_reason,
                                    what=f"The {what} score")]
        else:
            lines = [f"{what}: {plural(len(assessment.measures), 'measure')} stored (no model score)."]
        for line in lines:
            para(line)
        if assessment.measures:
            para("Measures: " + "; ".join(f"{measure_label(m.name)} {m.value:.4g}{(' ' + m.unit) if m.unit else ''}"
                                          for m in assessment.measures[:20]), size=8)
    all_versions = s.execute(
        select(Assessment.model_name, Assessment.model_version).join(Visit, Assessment.visit_id == Visit.id)
        .outerjoin(Recording, Assessment.recording_id == Recording.id)
        .where(Visit.patient_id == patient.id, counted_assessment()).distinct()
    ).all()
    heading("Model versions")
    para("; ".join(sorted(f"{name} {version}" for name, version in all_versions)) or "No model was used.")
    pdf.ln(2)
    heading("Not a diagnosis")
    para(NOT_A_DIAGNOSIS)
    data = bytes(pdf.output())
    return PdfReport(data, pdf.pages_count)


# The patient report's outcome table: (column, stopwatch item, video measure), then entered totals.
_OUTCOME_COLUMNS = (("TUG (s)", "tug_stopwatch_s", "tug_time_s"), ("5xSTS (s)", "sts_stopwatch_s", "sts_time_s"),
                    ("Gait speed (m/s)", "gait_speed_stopwatch_m_s", "gait_speed_m_s"),
                    ("Mini-BESTest", "mini_bestest", None), ("Berg", "berg_balance", None), ("FGA", "fga", None),
                    ("6MWT (m)", "six_minute_walk_m", None))


def _outcome_table(s: Session, patient_id: int) -> tuple[list[str], list[list[str]], list[str]]:
    """The outcome tests of a patient by visit (oldest first): a header, one row per visit with
    any outcome value (timed tests "stopwatch / video"), and lines with every video measure of
    the outcome tasks at the latest visit that has them (phases, steps, cadence, ...)."""
    from core.vocabulary import unit as measure_unit

    outcome_items = [k for k, spec in RATING_ITEMS.items() if spec.group == OUTCOME_GROUP]
    entered = s.execute(
        select(Visit.id, Visit.visit_date, ClinicianRating.item, ClinicianRating.score)
        .join(Visit, ClinicianRating.visit_id == Visit.id)
        .where(Visit.patient_id == patient_id, ClinicianRating.item.in_(outcome_items))
    ).all()
    measured = s.execute(
        select(Visit.id, Visit.visit_date, Recording.task, MeasureValue.name, MeasureValue.value, MeasureValue.unit)
        .select_from(MeasureValue)
        .join(Assessment, MeasureValue.assessment_id == Assessment.id)
        .join(Visit, Assessment.visit_id == Visit.id)
        .join(Recording, Assessment.recording_id == Recording.id)
        .where(Visit.patient_id == patient_id, Recording.task.in_(OUTCOME_TASKS), counted_assessment())
        .order_by(Recording.task, MeasureValue.name)
    ).all()
    visits: dict[tuple, dict] = {}
    for visit_id, visit_date, item, score in entered:
        visits.setdefault((visit_date, visit_id), {})[item] = float(score)
    video: dict[tuple, list] = {}
    for visit_id, visit_date, task, name, value, unit in measured:
        if math.isfinite(value):
            visits.setdefault((visit_date, visit_id), {})[name] = float(value)
            video.setdefault((visit_date, visit_id), []).append((task, name, float(value), measure_unit(name, unit)))

    def cell(values: dict, item: str, measure: str | None) -> str:
        decimals = RATING_ITEMS[item].decimals
        watch = f"{values[item]:.{decimals}f}" if item in values else "-"
        if measure is None:
            return watch
        seen = f"{values[measure]:.{decimals}f}" if measure in values else "-"
        return "-" if watch == seen == "-" else f"{watch} / {seen}"

    header = ["Date", *(column for column, _, _ in _OUTCOME_COLUMNS)]
    rows = [[d.isoformat(), *(cell(values, item, measure) for _, item, measure in _OUTCOME_COLUMNS)]
            for (d, _), values in sorted(visits.items())]
    lines = []
    if video:
        d, _ = last = max(video)
        by_task: dict[str, list[str]] = {}
        for task, name, value, unit in video[last]:
            by_task.setdefault(task, []).append(f"{measure_label(name)} {value:.3g}{(' ' + unit) if unit else ''}")
        lines = [f"{task_label(task)}, video measures of {d.isoformat()}: " + "; ".join(parts)
                 for task, parts in by_task.items()]
    return header, rows, lines


# ---------------------------------------------------------------- one-page visit summary


def _fit(pdf, text: str, width: float) -> str:
    """`text` cut with an ellipsis to fit `width` mm in the current font (one line per cell)."""
    if pdf.get_string_width(text) <= width - 1:
        return text
    while text and pdf.get_string_width(text + "…") > width - 1:
        text = text[:-1]
    return text + "…"


def visit_summary_pdf(s: Session, visit_id: int, *, today: date | None = None, note: str | None = None) -> bytes:
    """One A4 page for the chart: patient and visit; the current visit score with its meaning
    and the decision-support statement beside it; measures beside their healthy ranges and the
    patient's own baseline (changes flagged as core.trends flags them, as of this visit); the
    clinician's ratings beside the app's estimates, with the part III total; the changes flagged
    at this visit. Lists that do not fit say how many rows were left out (the patient report
    has everything). Text is written as plain strings, never markup. `note`: a sentence printed
    under the visit line (the demo database's provenance note: synthetic clips, interpolated
    ratings)."""
    from core.compare import visit_snapshot

    snap = visit_snapshot(s, visit_id)
    today = today or date.today()
    pdf = _pdf_document("pdlens visit summary")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(12, 10, 12)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    bottom = pdf.h - 12
    line = 4.0

    def font(size: float = 8, bold: bool = False) -> None:
        pdf.set_font("DejaVu", "B" if bold else "", size)

    def text_line(text: str, size: float = 8, bold: bool = False, h: float = line) -> None:
        font(size, bold)
        pdf.cell(width, h, _fit(pdf, text, width), new_x="LMARGIN", new_y="NEXT")

    def heading(text: str) -> None:
        pdf.ln(1.2)
        text_line(text, 10, True, 5.5)

    def table(widths: list[float], header: list[str], rows: list[list[str]], reserve: float) -> None:
        """Rows while they fit above `bottom - reserve`; then one line saying how many were left out."""
        scale = width / sum(widths)
        widths = [w * scale for w in widths]
        font(7.5, True)
        pdf.set_fill_color(230, 236, 242)
        for w, title in zip(widths, header):
            pdf.cell(w, line, _fit(pdf, title, w), fill=True)
        pdf.ln(line)
        font(7.5)
        for n, row in enumerate(rows):
            if pdf.get_y() + 2 * line > bottom - reserve and n < len(rows) - 1:
                left = len(rows) - n
                text_line(f"... and {left} more {'row' if left == 1 else 'rows'}: see the patient report.", 7.5)
                return
            for w, cell in zip(widths, row):
                pdf.cell(w, line, _fit(pdf, cell, w))
            pdf.ln(line)

    # Title, patient, visit.
    text_line("pdlens visit summary", 14, True, 7)
    font(7.5)
    text_line(f"Generated {today.isoformat()} for the chart.", 7.5)
    text_line(f"{snap.patient_name}   MRN {snap.mrn}   born {snap.birth_date.isoformat()}   sex {snap.sex}   "
              f"more affected side {snap.more_affected_side}", 9, True, 5)
    hours = "" if snap.hours_since_dose is None else f", {snap.hours_since_dose:g} h since the last dose"
    text_line(f"Visit of {snap.visit_date.isoformat()} (visit {snap.visit_number} of {snap.visits_total}), "
              f"medication {snap.medication_state.upper()}{hours}", 9, False, 5)
    if note:
        font(7)
        pdf.multi_cell(width, 3.2, note, new_x="LMARGIN", new_y="NEXT")

    # The visit score with its meaning, the statement next to it.
    heading("Visit score")
    fused = snap.fused
    if fused is None:
        meaning = "No visit score stored: no scored recording in this visit."
        value_text = "-"
    else:
        meaning = score_sentence(fused["probability"], fused["interval"], fused["abstained"],
                                 what="The combined visit score")
        value_text = "-" if fused["probability"] is None else f"{fused['probability']:.2f}"
    top = pdf.get_y()
    font(20, True)
    pdf.set_xy(pdf.l_margin, top)
    pdf.cell(24, 12, value_text)
    pdf.set_xy(pdf.l_margin + 26, top)
    font(8)
    pdf.multi_cell(width - 26, line, meaning, new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.l_margin + 26)
    font(7.5, True)
    pdf.multi_cell(width - 26, line, NOT_A_DIAGNOSIS, new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 12))

    # Changes flagged at this visit.
    heading("Changes at this visit")
    if not snap.changes:
        text_line("No change beyond the normal variation of the patient's baseline at this visit.")
    for change in snap.changes[:5]:
        text_line(f"! {change}")
    if len(snap.changes) > 5:
        text_line(f"... and {len(snap.changes) - 5} more: see the patient report.")

    # Ratings beside estimates.
    heading("Clinician ratings and the app's estimates")
    text_line(snap.part3.text + ("" if snap.part3.complete else ".") + "  Scores: 0 normal, 1 slight, 2 mild, "
              "3 moderate, 4 severe. App estimates are model outputs, not ratings.", 7.5)
    estimate_rows = [[e.label, e.rating_text, e.estimate] for e in snap.estimates if e.estimate]
    updrs_ratings, _ = split_outcome_ratings(snap.ratings)
    other = rating_rows(updrs_ratings, short=True)
    if estimate_rows:
        table([70, 40, 50], ["Item", "Clinician", "App estimate"], estimate_rows, reserve=70)
    if other:
        pdf.ln(1)
        table([55, 125], ["Item", "Clinician's scores"], [[a, b] for a, b in other], reserve=62)
        if any(abbreviation in b for _, b in other for abbreviation in ("RUE", "LUE", "RLE", "LLE")):
            text_line(LOCATION_LEGEND + ".", 6.5, h=3.2)
    if not estimate_rows and not other:
        text_line("No clinician rating and no app estimate for this visit.")

    # Outcome tests: the stopwatch beside the video, the balance totals.
    outcomes = outcome_lines(s, visit_id, snap.ratings)
    if outcomes:
        heading("Outcome tests")
        for n in range(0, len(outcomes), 2):  # two to a line: the page has little room
            text_line("   ".join(outcomes[n:n + 2]), 7.5)

    # Measures.
    heading("Measures (this visit, healthy range, the patient's baseline)")
    rows = []
    for m in sorted(snap.measures, key=lambda m: (m.flag is None, m.in_range is not False)):
        value = f"{m.value:.3g}{'%' if m.unit == '%' else (' ' + m.unit if m.unit else '')}"
        baseline = "-" if m.baseline_mean is None else (
            f"{m.baseline_mean:.3g} ({m.baseline_n} {'visit' if m.baseline_n == 1 else 'visits'})")
        where = {True: "in range", False: "OUTSIDE", None: "-"}[m.in_range]
        flag = "CHANGE" if m.status == "change" else ("beyond band" if m.status == "beyond" else
                                                       ("baseline" if m.status == "baseline" else ""))
        rows.append([with_side(m.label, m.side), task_label(m.task), value, m.range_text, where, baseline, flag])
    if rows:
        table([36, 30, 20, 36, 13, 23, 15], ["Measure", "Task", "Value", "Healthy range", "", "Baseline", "Change"],
              rows, reserve=12)
    else:
        text_line("No measures stored for this visit.")

    # Footer.
    pdf.set_y(bottom - 4)
    font(6.5)
    versions = "; ".join(f"{k} {v}" for k, v in sorted(snap.model_versions.items())) or "none"
    pdf.cell(width, 3.5, _fit(pdf, f"Baseline: the first 3 visits. Model versions: {versions}.", width))
    assert pdf.pages_count == 1, "the visit summary must stay on one page"
    return bytes(pdf.output())
