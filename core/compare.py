"""One visit at a glance, and two visits side by side.

`visit_snapshot(s, visit_id)`: what the one-page visit summary (core.reports.visit_summary_pdf)
prints: the visit, its measures beside their healthy ranges and the patient's own baseline (with
the change flags of core.trends as of that visit), the clinician's ratings beside the app's
estimates, the part III total and the current visit score.

`compare_visits(s, first_id, second_id)`: the same content for two visits of one patient and the
change between them, judged with the trend rules of core.trends (`change_rule`): a change
counts when it is larger than the published threshold (MCID, RCI, MDC95) or, without one, than
the band of normal variation of the patient's own baseline (first 3 visits); otherwise it is
"within normal variation", or "not judged" when there is no threshold at all.

Stored data only; no Streamlit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ratings import OUTCOME_GROUP, PART3_TOTAL_ITEM, RATING_ITEMS, Part3Total, legacy_location, part3_total, \
    rating_label, rating_unit, score_text
from core.store.errors import ValidationError
from core.store.models import Assessment, ClinicianRating, Patient, Visit
from core.summary import range_text
from core.tasks import TASKS
from core.trends import (SeriesAnalysis, _direction, analyse_patient, change_rule, load_patient_series,
                         PatientSeries)
from core.vocabulary import label as measure_label, measure_info, score_label, task_label, unit as measure_unit, \
    with_side

VISIT_SCORE_LABEL = "Visit score (combined)"
# Which app estimate sits beside which rating (the item the model's output speaks to).
ESTIMATE_ITEMS = {"finger_tapping": "3.4", "gait": "3.10", "voice": "3.1", "fused": PART3_TOTAL_ITEM}


@dataclass(frozen=True)
class MeasureRow:
    task: str | None
    side: str | None
    name: str
    label: str
    unit: str
    value: float
    normal_range: tuple[float | None, float | None] | None
    baseline_mean: float | None
    baseline_n: int
    status: str  # core.trends point status: baseline, within, beyond, change, not judged, before baseline
    flag: str | None  # the change flagged at this visit, in words

    @property
    def range_text(self) -> str:
        return range_text(self.normal_range, self.unit) or "not established"

    @property
    def in_range(self) -> bool | None:
        if not self.normal_range:
            return None
        lo, hi = self.normal_range
        return (lo is None or self.value >= lo) and (hi is None or self.value <= hi)


@dataclass(frozen=True)
class Estimate:
    """A clinician rating beside what the app estimated for the same item (either may be absent)."""

    item: str
    side: str | None
    rating: float | None
    model: str | None
    estimate: str  # "severity 1.8 of 4", "score 0.62", "" when the app has none

    @property
    def label(self) -> str:
        return rating_label(self.item, self.side)

    @property
    def rating_text(self) -> str:
        return "not rated" if self.rating is None else score_text(self.item, self.rating)


@dataclass
class VisitSnapshot:
    patient_id: int
    patient_name: str
    mrn: str
    birth_date: date
    sex: str
    more_affected_side: str
    visit_id: int
    visit_date: date
    medication_state: str
    hours_since_dose: float | None
    visit_number: int
    visits_total: int
    notes: str
    fused: dict[str, Any] | None  # probability, interval, abstained, model_version of the current visit score
    scores: list[dict[str, Any]] = field(default_factory=list)  # per model and side: model, side, probability
    measures: list[MeasureRow] = field(default_factory=list)
    ratings: list[tuple[str, str | None, float]] = field(default_factory=list)
    part3: Part3Total | None = None
    estimates: list[Estimate] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # flagged at this visit, in words
    model_versions: dict[str, str] = field(default_factory=dict)


def _until(series: PatientSeries, visit_date: date) -> PatientSeries:
    """The history as it stood on `visit_date` (later visits cannot change this visit's flags)."""
    cut = pd.Timestamp(visit_date)

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[pd.to_datetime(frame["visit_date"]) <= cut] if not frame.empty else frame

    return PatientSeries(series.patient_id, keep(series.visits), keep(series.scores), keep(series.measures),
                         keep(series.ratings))


def current_score(s: Session, visit_id: int) -> Assessment | None:
    """The visit's current combined score (the one every page shows)."""
    from core.visits import current_visit_score

    return current_visit_score(s, visit_id)


def _fused_dict(a: Assessment | None) -> dict[str, Any] | None:
    if a is None:
        return None
    interval = (a.interval_low, a.interval_high) if a.interval_low is not None and a.interval_high is not None else None
    return {"probability": a.probability, "interval": interval, "abstained": a.abstained_reason,
            "model_version": a.model_version, "assessment_id": a.id}


def _clip_assessments(s: Session, visit_id: int) -> list[tuple[Assessment, str, str | None]]:
    """The current assessment of the clip that counts, per task and side (core.visits.counting_clips)."""
    from core.visits import counting_clips

    return [(c.assessment, c.task, c.side) for c in counting_clips(s, visit_id) if c.assessment is not None]


def _estimates(ratings: list[tuple[str, str | None, float]], clips, fused: dict | None,
               clinic: list | None = None) -> list[Estimate]:
    by_slot = {(item, side): score for item, side, score in ratings}
    out: list[Estimate] = []
    seen: set[tuple[str, str | None]] = set()
    for a in clinic or []:  # the clinic's own active models (core.clinic_models), naming their version
        expl = a.explanation_json or {}
        item, side = expl.get("target"), expl.get("side")
        if item is None or a.severity is None:
            continue
        out.append(Estimate(item, side, by_slot.get((item, side)), a.model_name,
                            f"clinic model {a.severity:.1f} ({a.model_version})"))
        seen.add((item, side))
    for a, task, side in clips:
        item = ESTIMATE_ITEMS.get(a.model_name) or ESTIMATE_ITEMS.get(task)
        if item is None:
            continue
        spec = RATING_ITEMS.get(item)
        slot_side = side if spec is not None and side in spec.locations else None
        if a.severity is not None:
            text = f"severity {a.severity:.1f} of 4"
        elif a.probability is not None:
            text = f"score {a.probability:.2f}"
        else:
            continue
        out.append(Estimate(item, slot_side, by_slot.get((item, slot_side)), a.model_name, text))
        seen.add((item, slot_side))
    total = by_slot.get((PART3_TOTAL_ITEM, None))
    if fused is not None and fused.get("probability") is not None:
        out.append(Estimate(PART3_TOTAL_ITEM, None, total, "fused", f"visit score {fused['probability']:.2f}"))
        seen.add((PART3_TOTAL_ITEM, None))
    for (item, side), score in by_slot.items():  # the other ratings of items the app measures
        spec = RATING_ITEMS.get(item)
        if (item, side) not in seen and spec is not None and spec.task is not None and spec.group != OUTCOME_GROUP:
            out.append(Estimate(item, side, score, None, ""))
    order = {k: i for i, k in enumerate(RATING_ITEMS)}
    return sorted(out, key=lambda e: (order.get(e.item, len(order)), e.side or ""))


def _flag_at(analysis: SeriesAnalysis, visit_id: int) -> str | None:
    """The change a series shows at this visit, in words: a change flagged here, a confirmed
    change that started earlier and still holds, or a first visit beyond the band."""
    point = analysis.points[analysis.points["visit_id"] == visit_id]
    if not len(point):
        return None
    status = str(point["status"].iloc[0])
    here = next((e for e in analysis.events if e.visit_id == visit_id), None)
    if here is not None:
        return here.summary(analysis.label, analysis.unit)
    if status == "change":
        date_here = pd.Timestamp(point["visit_date"].iloc[0]).date()
        earlier = [e for e in analysis.events if e.visit_date <= date_here]
        if earlier:
            return f"{earlier[-1].summary(analysis.label, analysis.unit)}, since {earlier[-1].visit_date.isoformat()}"
    if status == "beyond":
        return f"{analysis.label}: beyond the normal variation of the baseline at this visit"
    return None


def _measure_rows(series: PatientSeries, analyses: list[SeriesAnalysis], visit_id: int) -> list[MeasureRow]:
    by_key = {(a.key, a.side): a for a in analyses}
    rows = []
    measures = series.measures[series.measures["visit_id"] == visit_id] if not series.measures.empty else series.measures
    for _, m in measures.iterrows():
        side = m["side"] if isinstance(m["side"], str) else None
        task = m["task"] if isinstance(m["task"], str) else None
        name = m["name"]
        analysis = by_key.get((name, side))
        status, flag, mean, n = "", None, None, 0
        if analysis is not None:
            point = analysis.points[analysis.points["visit_id"] == visit_id]
            status = str(point["status"].iloc[0]) if len(point) else ""
            if analysis.baseline is not None:
                mean, n = analysis.baseline.mean, analysis.baseline.n
            flag = _flag_at(analysis, visit_id)
        info = measure_info(name)
        rows.append(MeasureRow(task, side, name, measure_label(name),
                               measure_unit(name, m["unit"] if isinstance(m["unit"], str) else None),
                               float(m["value"]), info.normal_range if info else None, mean, n, status, flag))
    task_order = {t: i for i, t in enumerate(TASKS)}
    return sorted(rows, key=lambda r: (task_order.get(r.task or "", 99), r.task or "", r.label, r.side or ""))


def visit_snapshot(s: Session, visit_id: int) -> VisitSnapshot:
    visit = s.get(Visit, visit_id)
    if visit is None:
        raise ValidationError(f"No visit with id {visit_id}.")
    patient = s.get(Patient, visit.patient_id)
    series = _until(load_patient_series(s, patient.id), visit.visit_date)
    analyses = analyse_patient(series)
    all_visits = list(s.scalars(select(Visit.id).where(Visit.patient_id == patient.id)
                                .order_by(Visit.visit_date, Visit.id)))
    ratings = [(r.item, legacy_location(r.item, r.side), float(r.score)) for r in
               s.scalars(select(ClinicianRating).where(ClinicianRating.visit_id == visit_id))]
    fused = _fused_dict(current_score(s, visit_id))
    clips = _clip_assessments(s, visit_id)
    changes = [flag for flag in (_flag_at(a, visit_id) for a in analyses) if flag]
    versions = {a.model_name: a.model_version for a, _, _ in clips}
    if fused is not None:
        versions["fused"] = fused["model_version"]
    from core.clinic_models import visit_estimates

    clinic = visit_estimates(s, visit_id)
    versions.update({a.model_name: a.model_version for a in clinic})
    return VisitSnapshot(
        patient_id=patient.id, patient_name=patient.name, mrn=patient.mrn, birth_date=patient.birth_date,
        sex=patient.sex, more_affected_side=patient.more_affected_side,
        visit_id=visit.id, visit_date=visit.visit_date, medication_state=visit.medication_state,
        hours_since_dose=visit.hours_since_dose, visit_number=all_visits.index(visit.id) + 1,
        visits_total=len(all_visits), notes=visit.notes or "",
        fused=fused,
        scores=[{"model": a.model_name, "side": side, "probability": a.probability, "severity": a.severity}
                for a, _, side in clips],
        measures=_measure_rows(series, analyses, visit_id), ratings=ratings, part3=part3_total(ratings),
        estimates=_estimates(ratings, clips, fused, clinic), changes=changes, model_versions=versions,
    )


# ---------------------------------------------------------------- two visits


@dataclass(frozen=True)
class ComparedValue:
    """One measure, rating or score at two visits and the change between them."""

    kind: str  # "measure", "rating" or "score"
    key: str  # series key of core.trends: a measure name, "rating:<item>", "score:<model>"
    label: str
    side: str | None
    unit: str
    first: float | None
    second: float | None
    threshold: float | None  # the size of change that counts in this direction, when one exists
    method: str  # MCID, RCI, MDC95, own baseline, or "" (not judged)
    verdict: str  # "worse", "better", "higher", "lower", "within normal variation", "not judged", "only at one visit"

    @property
    def change(self) -> float | None:
        if self.first is None or self.second is None:
            return None
        return self.second - self.first

    @property
    def flagged(self) -> bool:
        return self.verdict in ("worse", "better", "higher", "lower")

    def value_text(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.kind == "rating":
            return score_text(self.key.split(":", 1)[1], value)
        return f"{value:.3g}" + (f" {self.unit}" if self.unit and self.unit != "%" else ("%" if self.unit == "%" else ""))

    @property
    def change_text(self) -> str:
        change = self.change
        if change is None:
            return "-"
        unit = "" if self.kind == "rating" and self.unit == "points" else (self.unit if self.unit != "%" else "%")
        sign = "+" if change > 0 else ""
        return f"{sign}{change:.3g}{(' ' + unit) if unit and unit != '%' else unit}"


@dataclass
class VisitComparison:
    first: VisitSnapshot
    second: VisitSnapshot
    rows: list[ComparedValue]

    @property
    def days_between(self) -> int:
        return (self.second.visit_date - self.first.visit_date).days

    @property
    def flagged(self) -> list[ComparedValue]:
        return [r for r in self.rows if r.flagged]


def _judge(key: str, change: float, analysis: SeriesAnalysis | None) -> tuple[float | None, str, str]:
    """(threshold, method, verdict) of a change with the trend rules: a published threshold, else
    the band of the patient's own baseline."""
    rule = change_rule(key)
    if rule.published:
        worse_up = rule.worse != "lower"
        up, down = ((rule.threshold_worse, rule.threshold_better) if worse_up
                    else (rule.threshold_better, rule.threshold_worse))
        method = rule.method
    elif analysis is not None and analysis.band is not None:
        up, down, method = analysis.band.threshold_up, analysis.band.threshold_down, analysis.band.method
    else:
        return None, "", "not judged"
    threshold = up if change > 0 else down
    if change > up:
        return threshold, method, _direction(1, rule.worse)
    if change < -down:
        return threshold, method, _direction(-1, rule.worse)
    return threshold, method, "within normal variation"


def compare_visits(s: Session, first_id: int, second_id: int) -> VisitComparison:
    """Two visits of one patient side by side (the earlier one first, whatever the order given)."""
    a, b = s.get(Visit, first_id), s.get(Visit, second_id)
    if a is None or b is None:
        raise ValidationError("Choose two visits that exist.")
    if a.patient_id != b.patient_id:
        raise ValidationError("The two visits belong to different patients: choose two visits of one patient.")
    if a.id == b.id:
        raise ValidationError("Choose two different visits.")
    if (b.visit_date, b.id) < (a.visit_date, a.id):
        a, b = b, a
    first, second = visit_snapshot(s, a.id), visit_snapshot(s, b.id)
    series = _until(load_patient_series(s, a.patient_id), b.visit_date)
    analyses = {(x.key, x.side): x for x in analyse_patient(series)}
    rows: list[ComparedValue] = []

    def add(kind: str, key: str, label: str, side: str | None, unit: str, v1: float | None, v2: float | None) -> None:
        if v1 is None or v2 is None:
            rows.append(ComparedValue(kind, key, label, side, unit, v1, v2, None, "", "only at one visit"))
            return
        threshold, method, verdict = _judge(key, v2 - v1, analyses.get((key, side)))
        rows.append(ComparedValue(kind, key, label, side, unit, v1, v2, threshold, method, verdict))

    # Scores: the current visit score, then each model's score per side.
    f1 = first.fused["probability"] if first.fused else None
    f2 = second.fused["probability"] if second.fused else None
    if f1 is not None or f2 is not None:
        add("score", "score:fused", VISIT_SCORE_LABEL, None, "", f1, f2)
    s1 = {(x["model"], x["side"]): x["probability"] for x in first.scores if x["probability"] is not None}
    s2 = {(x["model"], x["side"]): x["probability"] for x in second.scores if x["probability"] is not None}
    for model, side in sorted(set(s1) | set(s2), key=lambda k: (k[0], k[1] or "")):
        add("score", f"score:{model}", with_side(score_label(model), side), side, "", s1.get((model, side)),
            s2.get((model, side)))
    # Ratings in scale order.
    r1 = {(i, sd): v for i, sd, v in first.ratings}
    r2 = {(i, sd): v for i, sd, v in second.ratings}
    order = {k: n for n, k in enumerate(RATING_ITEMS)}
    for item, side in sorted(set(r1) | set(r2), key=lambda k: (order.get(k[0], len(order)), k[1] or "")):
        add("rating", f"rating:{item}", rating_label(item, side), side, rating_unit(item), r1.get((item, side)),
            r2.get((item, side)))
    # Measures by task.
    m1 = {(m.task, m.side, m.name): m for m in first.measures}
    m2 = {(m.task, m.side, m.name): m for m in second.measures}
    keys = list(m2) + [k for k in m1 if k not in m2]
    names_in_tasks: dict[str, set] = {}
    for task, _, name in keys:
        names_in_tasks.setdefault(name, set()).add(task)
    for key in keys:
        task, side, name = key
        m = m2.get(key) or m1[key]
        label = with_side(m.label, side)
        if len(names_in_tasks[name]) > 1:  # mean F0 of the vowel and of the reading
            label = f"{label}, {task_label(task)}"
        add("measure", name, label, side, m.unit, m1[key].value if key in m1 else None,
            m2[key].value if key in m2 else None)
    return VisitComparison(first, second, rows)


def visit_heading(snapshot: VisitSnapshot) -> str:
    """'2024-03-01 (visit 3, ON)': a column heading that stays unique for two visits on one day."""
    return f"{snapshot.visit_date.isoformat()} (visit {snapshot.visit_number}, {snapshot.medication_state.upper()})"


def comparison_frame(comparison: VisitComparison) -> pd.DataFrame:
    """The comparison as a table a clinician reads (plain text cells)."""
    first, second = visit_heading(comparison.first), visit_heading(comparison.second)
    records = []
    for r in comparison.rows:
        threshold = "" if r.threshold is None else f"{r.threshold:.3g} ({r.method})"
        records.append({"What": {"score": "Score", "rating": "Rating", "measure": "Measure"}[r.kind],
                        "Item": r.label, first: r.value_text(r.first), second: r.value_text(r.second),
                        "Change": r.change_text, "Counts from": threshold, "Judged": r.verdict})
    return pd.DataFrame(records, columns=["What", "Item", first, second, "Change", "Counts from", "Judged"])
