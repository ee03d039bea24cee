"""A patient's history as series, and which changes in it matter.

Loading: `load_patient_series` reads a patient's visits, model scores (with their uncertainty
intervals), measures (by task and side) and clinician ratings: one query each, aggregated to
one value per visit (a visit may hold several takes of a task).

Change detection (`analyse_series`): a baseline (the first N visits, or the visits of a chosen
date window: mean and SD) and a band of normal variation around it; a later visit is *beyond*
the band when its distance from the baseline mean exceeds the measure's threshold, and a
*change* is flagged at the first visit of a run of `confirm_visits` consecutive visits beyond
the band on the same side (one noisy visit is not a change). A run that reaches the latest
visit but is still shorter is reported as an unconfirmed change ("confirm at the next visit").

Which direction of a measure is worse comes from the measure vocabulary (core.vocabulary), where
each pipeline states it with its source; the threshold, in order of preference (its source is
stated on every flag):
1. a published minimal clinically important difference (ratings: UPDRS, MDS-UPDRS III);
   for the physical-therapy outcome values (balance totals, walk distance, stopwatch times) a
   published minimal detectable change in people with Parkinson's;
2. a reliable change index from a published test-retest reliability:
   RCI threshold = 1.96 * sqrt(2) * SEM, SEM = SD_ref * sqrt(1 - ICC) (Jacobson & Truax 1991),
   or a published minimal detectable change (MDC95, which is the same quantity);
3. otherwise the patient's own baseline variability: t(0.975, n-1) * SD_baseline * sqrt(1 + 1/n),
   the 95% prediction interval of one new visit around a baseline mean of n visits (Student's t,
   because an SD from a few visits is itself uncertain).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from core.ratings import RATING_ITEMS, legacy_location, rating_unit, rating_worse
from core.store.models import Assessment, ClinicianRating, Patient, Recording, Visit
from core.store.repository import counted_assessment, measure_series
from core.tasks import TASKS
from core.vocabulary import label as measure_label, series_label, unit as measure_unit, worse_direction
from core.words import plural

Z95 = 1.96
DEFAULT_BASELINE_VISITS = 3
DEFAULT_CONFIRM_VISITS = 2
MIN_OWN_BASELINE_VISITS = 3  # an SD from fewer visits is too unstable to set a threshold


# ---------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class ChangeRule:
    """How to judge a change in one series."""

    worse: str  # "higher" or "lower" is worse; "" when no direction is established
    threshold_worse: float | None = None  # absolute size of a change that matters; None: own baseline
    threshold_better: float | None = None
    method: str = "own baseline"  # "MCID", "RCI", "MDC95" or "own baseline"
    source: str = "the patient's own baseline variability (no published test-retest value)"

    @property
    def published(self) -> bool:
        return self.threshold_worse is not None


def _rci(sd_ref: float, icc: float) -> float:
    """Reliable change threshold (95%) from a reference SD and a test-retest ICC."""
    return Z95 * math.sqrt(2.0) * sd_ref * math.sqrt(1.0 - icc)


# Reference SDs for the voice measures: between-recording SD of the UCI Parkinsons data
# (Little et al. 2009; 31 speakers, PD and healthy, MDVP measures; models/datasets/voice).
_PARK_STEPP = "Park & Stepp 2019, J Speech Lang Hear Res 62(6):1707 (5-day test-retest)"
_JITTER_RCI = _rci(0.523, 0.67)
_SHIMMER_RCI = _rci(0.0202, 0.76)
_HNR_RCI = _rci(4.75, 0.76)
_SENSORS_2020 = "Sensors 2020, 20(17):4866, Table 3 (test-retest of walking)"

# Published thresholds of the ratings. Which direction is worse comes from the rating item
# (core.ratings.RatingItem.higher_is_worse): higher on the MDS-UPDRS, Hoehn & Yahr and the
# stopwatch times; lower on the balance totals, the walk distance and gait speed.
_STEFFEN = "Steffen & Seney, Phys Ther 2008;88(6):733-746 (parkinsonism, 1-week test-retest)"
_PETERSEN = "Petersen et al., J Geriatr Phys Ther 2017;40(4):223-226 (Parkinson's, test-retest 6-8 days)"


def _outcome_rule(item: str, size: float, method: str, source: str) -> ChangeRule:
    return ChangeRule(rating_worse(item), size, size, method, source)


RATING_RULES: dict[str, ChangeRule] = {
    "rating:updrs_motor_total": ChangeRule(
        "higher", 2.5, 2.5, "MCID",
        "minimal clinically important difference 2.5 points, UPDRS motor (Shulman et al., Arch Neurol 2010;67:64)"),
    "rating:updrs_total": ChangeRule(
        "higher", 4.3, 4.3, "MCID",
        "minimal clinically important difference 4.3 points, UPDRS total (Shulman et al., Arch Neurol 2010;67:64)"),
    "rating:mds_updrs_part3_total": ChangeRule(
        "higher", 4.63, 3.25, "MCID",
        "MCID +4.63 worsening / -3.25 improvement, MDS-UPDRS part III (Horvath et al., Parkinsonism Relat Disord 2015;21:1421)"),
    "rating:hoehn_yahr": ChangeRule("higher", 0.5, 0.5, "MCID", "one step of the modified Hoehn & Yahr scale"),
    "rating:berg_balance": _outcome_rule(
        "berg_balance", 5.0, "MDC95", f"minimal detectable change 5 of 56 points, Berg Balance Scale ({_STEFFEN})"),
    "rating:six_minute_walk_m": _outcome_rule(
        "six_minute_walk_m", 82.0, "MDC95", f"minimal detectable change 82 m, six-minute walk ({_STEFFEN})"),
    "rating:gait_speed_stopwatch_m_s": _outcome_rule(
        "gait_speed_stopwatch_m_s", 0.18, "MDC95",
        f"minimal detectable change 0.18 m/s, comfortable gait speed ({_STEFFEN})"),
    "rating:mini_bestest": _outcome_rule(
        "mini_bestest", 3.4, "MDC95",
        "smallest real difference 3.4 points, Mini-BESTest test-retest (Löfgren et al., BMC Neurol 2014;14:235, "
        "mild to moderate Parkinson's)"),
    "rating:fga": _outcome_rule(
        "fga", 4.0, "MDC95", f"minimal detectable change 4 points, Functional Gait Assessment ({_PETERSEN})"),
    "rating:sts_stopwatch_s": _outcome_rule(
        "sts_stopwatch_s", 10.0, "MDC95", f"minimal detectable change 10 s, Five Times Sit to Stand ({_PETERSEN})"),
    "rating:tug_stopwatch_s": _outcome_rule(
        "tug_stopwatch_s", 3.5, "MDC",
        "minimal detectable change 3.5 s, Timed Up and Go in Parkinson's (Huang et al., Phys Ther 2011;91(1):114-121, "
        "test-retest 14 days)"),
}


@dataclass(frozen=True)
class PublishedThreshold:
    """A measure's published test-retest threshold, the same size either way. Which direction is
    worse comes from the measure vocabulary (core.vocabulary), not from here."""

    size: float
    method: str  # "RCI", "MDC95", "MDC" (confidence level not stated) or "MCID"
    source: str


MEASURE_THRESHOLDS: dict[str, PublishedThreshold] = {
    "jitter_local_pct": PublishedThreshold(
        _JITTER_RCI, "RCI", f"reliable change index: ICC 0.67 ({_PARK_STEPP}), reference SD 0.523 % (UCI Parkinsons)"),
    "shimmer_local": PublishedThreshold(
        _SHIMMER_RCI, "RCI", f"reliable change index: ICC 0.76 ({_PARK_STEPP}), reference SD 0.0202 (UCI Parkinsons)"),
    "hnr_db": PublishedThreshold(
        _HNR_RCI, "RCI", f"reliable change index: ICC 0.76 ({_PARK_STEPP}), reference SD 4.75 dB (UCI Parkinsons)"),
    "cadence_steps_per_min": PublishedThreshold(
        12.2, "MDC95", f"minimal detectable change 12.2 steps/min ({_SENSORS_2020})"),
    "step_time_asymmetry_pct": PublishedThreshold(
        14.2, "MDC95", f"minimal detectable change 14.2 % ({_SENSORS_2020})"),
    # Physical-therapy outcome tests, in people with Parkinson's (test-retest about a week or two apart)
    "tug_time_s": PublishedThreshold(
        3.5, "MDC", "minimal detectable change 3.5 s, Timed Up and Go in Parkinson's (Huang et al., "
        "Phys Ther 2011;91:114-21; 72 people, retest ~14 days, ICC .80)"),
    "sts_time_s": PublishedThreshold(
        10.0, "MDC95", "minimal detectable change 10 s, Five Times Sit to Stand in Parkinson's (Petersen et al., "
        "J Geriatr Phys Ther 2017;40:223-6; 22 people, H&Y 1-3, ICC .74)"),
    # the small change flags; moderate 0.14 and large 0.22 m/s are in the source text
    "gait_speed_m_s": PublishedThreshold(
        0.06, "MCID", "small clinically important difference 0.06 m/s in Parkinson's (moderate 0.14, "
        "large 0.22 m/s; Hass et al., J Neurol Phys Ther 2014;38:233); minimal detectable change of the "
        "comfortable 10 m walk in PD 0.09 m/s (Combs et al., Gait Posture 2014;39:784)"),
}


def change_rule(key: str) -> ChangeRule:
    """The rule for a series key: "score:<model>", "rating:<item>" or a measure name. A measure's
    worse direction is its vocabulary entry's (none for names the vocabulary does not know)."""
    if key in RATING_RULES:
        return RATING_RULES[key]
    if key.startswith("score:"):
        return ChangeRule("higher", source="the patient's own baseline variability (model score)")
    if key.startswith("rating:"):
        return ChangeRule(rating_worse(key[len("rating:"):]),
                          source="the patient's own baseline variability (no published MCID for this item)")
    worse = worse_direction(key)
    published = MEASURE_THRESHOLDS.get(key)
    if published is None:
        return ChangeRule(worse)
    return ChangeRule(worse, published.size, published.size, published.method, published.source)


# ---------------------------------------------------------------- loading


@dataclass
class PatientSeries:
    """One patient's history, one row per visit and series (oldest first)."""

    patient_id: int
    visits: pd.DataFrame  # visit_id, visit_date, medication_state, hours_since_dose
    scores: pd.DataFrame  # visit_id, visit_date, medication_state, model, side, model_version, probability, interval_low, interval_high
    measures: pd.DataFrame  # visit_id, visit_date, medication_state, task, side, name, unit, value, n
    ratings: pd.DataFrame  # visit_id, visit_date, medication_state, item, side, score

    def measure_catalogue(self) -> pd.DataFrame:
        """The measures this patient has, grouped by task (in core.tasks order, imported data
        after) and labelled: task, side, name, unit, visits (count), label."""
        columns = ["task", "side", "name", "unit", "visits", "label"]
        if self.measures.empty:
            return pd.DataFrame(columns=columns)
        table = (self.measures.groupby(["task", "side", "name", "unit"], dropna=False)
                 .size().rename("visits").reset_index())
        table["label"] = table["name"].map(measure_label)
        task_order = {task: i for i, task in enumerate(TASKS)}
        order = table["task"].map(lambda task: task_order.get(task, len(task_order)))
        return (table.assign(order=order).sort_values(["order", "task", "label", "side"], na_position="first")
                [columns].reset_index(drop=True))


VISIT_COLUMNS = ["visit_id", "visit_date", "medication_state", "hours_since_dose"]
SCORE_COLUMNS = ["visit_id", "visit_date", "medication_state", "model", "side", "model_version",
                 "probability", "interval_low", "interval_high"]
MEASURE_COLUMNS = ["visit_id", "visit_date", "medication_state", "task", "side", "name", "unit", "value", "n"]
RATING_COLUMNS = ["visit_id", "visit_date", "medication_state", "item", "side", "score"]


def rows_frame(rows, columns: list[str]) -> pd.DataFrame:
    """A DataFrame from SQLAlchemy rows. Rows are converted to plain tuples first: pandas probes
    every Row for namedtuple attributes, which costs a failed key lookup per row (~20 us each)."""
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def load_visits(s: Session, patient_id: int) -> pd.DataFrame:
    """A patient's visits, oldest first (the cheap query: also the benchmark's baseline)."""
    rows = s.execute(
        select(Visit.id, Visit.visit_date, Visit.medication_state, Visit.hours_since_dose)
        .where(Visit.patient_id == patient_id).order_by(Visit.visit_date, Visit.id)
    ).all()
    frame = rows_frame(rows, VISIT_COLUMNS)
    frame["visit_date"] = pd.to_datetime(frame["visit_date"])
    return frame


def _load_scores(s: Session, patient_id: int) -> pd.DataFrame:
    rows = s.execute(
        select(Visit.id, Visit.visit_date, Visit.medication_state, Assessment.model_name, Recording.side,
               Assessment.model_version, Assessment.probability, Assessment.interval_low, Assessment.interval_high)
        .select_from(Assessment)
        .join(Visit, Assessment.visit_id == Visit.id)
        .outerjoin(Recording, Assessment.recording_id == Recording.id)
        .where(Visit.patient_id == patient_id, Assessment.probability.is_not(None), counted_assessment())
        .order_by(Visit.visit_date, Visit.id, Assessment.id)
    ).all()
    frame = rows_frame(rows, SCORE_COLUMNS)
    frame["visit_date"] = pd.to_datetime(frame["visit_date"])
    if frame.empty:
        return frame
    # Several takes of one task at a visit: their mean score, and the mean interval bounds.
    keys = ["visit_id", "visit_date", "medication_state", "model", "side"]
    return (
        frame.groupby(keys, dropna=False, sort=False)
        .agg(model_version=("model_version", "last"), probability=("probability", "mean"),
             interval_low=("interval_low", "mean"), interval_high=("interval_high", "mean"))
        .reset_index()[SCORE_COLUMNS]
    )


def _load_measures(s: Session, patient_id: int, names: list[str] | None = None) -> pd.DataFrame:
    frame = measure_series(s, patient_id, names)
    if frame.empty:
        return pd.DataFrame(columns=MEASURE_COLUMNS)
    # Visit-level assessments carry no recording: their measures belong to the model's task.
    frame["task"] = frame["task"].fillna(frame["model_name"])
    keys = ["visit_id", "visit_date", "medication_state", "task", "side", "name", "unit"]
    return (
        frame.groupby(keys, dropna=False, sort=False)["value"].agg(value="mean", n="size")
        .reset_index()[MEASURE_COLUMNS]
    )


def _load_ratings(s: Session, patient_id: int) -> pd.DataFrame:
    rows = s.execute(
        select(Visit.id, Visit.visit_date, Visit.medication_state, ClinicianRating.item, ClinicianRating.side,
               ClinicianRating.score)
        .select_from(ClinicianRating)
        .join(Visit, ClinicianRating.visit_id == Visit.id)
        .where(Visit.patient_id == patient_id)
        .order_by(Visit.visit_date, Visit.id, ClinicianRating.item, ClinicianRating.side)
    ).all()
    frame = rows_frame(rows, RATING_COLUMNS)
    frame["visit_date"] = pd.to_datetime(frame["visit_date"])
    # Older 3.17 rows said "left"/"right" (upper extremity): one series per location either way.
    frame["side"] = [legacy_location(item, side) if isinstance(side, str) else side
                     for item, side in zip(frame["item"], frame["side"])]
    return frame


def load_patient_series(s: Session, patient_id: int, measure_names: list[str] | None = None) -> PatientSeries:
    return PatientSeries(
        patient_id=patient_id,
        visits=load_visits(s, patient_id),
        scores=_load_scores(s, patient_id),
        measures=_load_measures(s, patient_id, measure_names),
        ratings=_load_ratings(s, patient_id),
    )


# ---------------------------------------------------------------- change detection


@dataclass(frozen=True)
class Baseline:
    mean: float
    sd: float | None  # None with fewer than 2 visits
    n: int
    first_date: date
    last_date: date


@dataclass(frozen=True)
class Band:
    """Normal variation around the baseline: [low, high]. Outside it a visit is 'beyond'."""

    low: float
    high: float
    threshold_up: float  # distance above the baseline mean that counts
    threshold_down: float
    method: str
    source: str


@dataclass(frozen=True)
class ChangeEvent:
    visit_id: int
    visit_date: date
    value: float
    change: float  # value - baseline mean
    direction: str  # "worse" / "better", or "higher" / "lower" when no direction is established
    confirmed: bool  # False: beyond the band at the latest visit(s) only, confirm at the next visit
    threshold: float
    method: str
    source: str

    def summary(self, label: str, unit: str = "") -> str:
        sign = "+" if self.change >= 0 else ""
        status = "" if self.confirmed else " (latest visit only: confirm at the next visit)"
        unit_text = f" {unit}" if unit else ""
        return (f"{label}: {self.direction} by {sign}{self.change:.3g}{unit_text} from baseline "
                f"(threshold {self.threshold:.3g}{unit_text}, {self.method}){status}")


@dataclass
class SeriesAnalysis:
    key: str  # "score:fused", "rating:3.4", "jitter_local_pct"
    label: str
    unit: str
    side: str | None
    points: pd.DataFrame  # visit_id, visit_date, medication_state, value, status
    baseline: Baseline | None
    band: Band | None
    events: list[ChangeEvent] = field(default_factory=list)
    note: str = ""  # why there is no band, when there is none

    @property
    def latest_event(self) -> ChangeEvent | None:
        return self.events[-1] if self.events else None


def compute_baseline(points: pd.DataFrame, baseline_visits: int = DEFAULT_BASELINE_VISITS,
                     window: tuple[date, date] | None = None) -> tuple[Baseline | None, np.ndarray]:
    """The baseline of a series sorted by date, and a boolean mask of its baseline rows."""
    dates = pd.to_datetime(points["visit_date"]).to_numpy("datetime64[ns]")
    values = points["value"].to_numpy(float)
    if window is not None:
        mask = (dates >= np.datetime64(window[0], "ns")) & (dates <= np.datetime64(window[1], "ns"))
    else:
        mask = np.arange(len(values)) < max(1, int(baseline_visits))
    chosen = values[mask]
    if chosen.size == 0:
        return None, mask
    sd = float(chosen.std(ddof=1)) if chosen.size >= 2 else None
    first, last = pd.Timestamp(dates[mask].min()).date(), pd.Timestamp(dates[mask].max()).date()
    return Baseline(float(chosen.mean()), sd, int(chosen.size), first, last), mask


def normal_band(baseline: Baseline, rule: ChangeRule) -> tuple[Band | None, str]:
    if rule.published:
        up, down = ((rule.threshold_worse, rule.threshold_better) if rule.worse != "lower"
                    else (rule.threshold_better, rule.threshold_worse))
        return Band(baseline.mean - down, baseline.mean + up, up, down, rule.method, rule.source), ""
    if baseline.n < MIN_OWN_BASELINE_VISITS or baseline.sd is None:
        return None, (f"No band: the baseline has {plural(baseline.n, 'visit')} and no published test-retest value "
                      f"exists; {MIN_OWN_BASELINE_VISITS} baseline visits are needed.")
    quantile = float(student_t.ppf(0.975, baseline.n - 1))
    threshold = quantile * baseline.sd * math.sqrt(1.0 + 1.0 / baseline.n)
    if threshold <= 0:
        return None, "No band: the baseline visits all have the same value."
    source = (f"{rule.source}: 95% prediction interval, SD {baseline.sd:.3g} over {baseline.n} baseline visits "
              f"(t {quantile:.2f})")
    return Band(baseline.mean - threshold, baseline.mean + threshold, threshold, threshold, "own baseline", source), ""


def _direction(sign: int, worse: str) -> str:
    if worse == "higher":
        return "worse" if sign > 0 else "better"
    if worse == "lower":
        return "worse" if sign < 0 else "better"
    return "higher" if sign > 0 else "lower"


def analyse_series(points: pd.DataFrame, key: str, label: str = "", unit: str = "", side: str | None = None,
                   baseline_visits: int = DEFAULT_BASELINE_VISITS, window: tuple[date, date] | None = None,
                   confirm_visits: int = DEFAULT_CONFIRM_VISITS, rule: ChangeRule | None = None) -> SeriesAnalysis:
    """Baseline, band and flagged changes of one series. `points` has visit_id, visit_date and
    value (one row per visit); medication_state is carried through when present.
    (numpy inside: the trends page analyses dozens of series per patient on every rerun)."""
    rule = rule or change_rule(key)
    columns = [c for c in ("visit_id", "visit_date", "medication_state", "value") if c in points.columns]
    out = points[columns]
    out = out[out["value"].notna()].sort_values(["visit_date", "visit_id"]).reset_index(drop=True)
    status = np.full(len(out), "before baseline", dtype=object)
    analysis = SeriesAnalysis(key, label or series_label(key, side), unit, side, out, None, None)
    if out.empty:
        analysis.note = "No values."
        out["status"] = status
        return analysis
    baseline, mask = compute_baseline(out, baseline_visits, window)
    if baseline is None:
        analysis.note = "No visits in the chosen baseline window."
        out["status"] = status
        return analysis
    analysis.baseline = baseline
    status[mask] = "baseline"
    band, note = normal_band(baseline, rule)
    analysis.band, analysis.note = band, note
    dates = pd.to_datetime(out["visit_date"]).to_numpy("datetime64[ns]")
    after = np.flatnonzero((dates > np.datetime64(baseline.last_date, "ns")) & ~mask)
    if band is None:
        status[after] = "not judged"
        out["status"] = status
        return analysis
    all_values = out["value"].to_numpy(float)
    visit_ids = out["visit_id"].to_numpy()
    values = all_values[after]
    signs = np.where(values > band.high, 1, np.where(values < band.low, -1, 0))
    status[after] = np.where(signs == 0, "within", "beyond")
    # Runs of consecutive visits beyond the band on the same side.
    i, confirm = 0, max(1, int(confirm_visits))
    while i < len(after):
        if signs[i] == 0:
            i += 1
            continue
        j = i
        while j + 1 < len(after) and signs[j + 1] == signs[i]:
            j += 1
        length = j - i + 1
        if length >= confirm or j == len(after) - 1:
            confirmed = length >= confirm
            if confirmed:
                status[after[i:j + 1]] = "change"
            row = after[i]
            value = float(all_values[row])
            analysis.events.append(ChangeEvent(
                visit_id=int(visit_ids[row]), visit_date=pd.Timestamp(dates[row]).date(), value=value,
                change=value - baseline.mean, direction=_direction(int(signs[i]), rule.worse),
                confirmed=confirmed, threshold=band.threshold_up if signs[i] > 0 else band.threshold_down,
                method=band.method, source=band.source,
            ))
        i = j + 1
    out["status"] = status
    return analysis


def analyse_patient(series: PatientSeries, baseline_visits: int = DEFAULT_BASELINE_VISITS,
                    window: tuple[date, date] | None = None, confirm_visits: int = DEFAULT_CONFIRM_VISITS,
                    medication_state: str | None = None) -> list[SeriesAnalysis]:
    """Every series of a patient analysed: model scores, ratings, measures (per side), labelled
    from the measure vocabulary. `medication_state` ("on"/"off") keeps only visits in that state,
    so ON is compared with ON."""
    results: list[SeriesAnalysis] = []
    options = dict(baseline_visits=baseline_visits, window=window, confirm_visits=confirm_visits)

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame if medication_state is None else frame[frame["medication_state"] == medication_state]

    scores = keep(series.scores)
    for (model, side), group in scores.groupby(["model", "side"], dropna=False, sort=False):
        side = side if isinstance(side, str) else None
        points = group.rename(columns={"probability": "value"})
        key = f"score:{model}"
        results.append(analyse_series(points, key, series_label(key, side), "", side, **options))
    ratings = keep(series.ratings)
    for (item, side), group in ratings.groupby(["item", "side"], dropna=False, sort=False):
        side = side if isinstance(side, str) else None
        points = group.rename(columns={"score": "value"})
        key = f"rating:{item}"
        results.append(analyse_series(points, key, series_label(key, side), rating_unit(item), side, **options))
    measures = keep(series.measures)
    for (name, side, unit), group in measures.groupby(["name", "side", "unit"], dropna=False, sort=False):
        side = side if isinstance(side, str) else None
        results.append(analyse_series(group, name, series_label(name, side),
                                      measure_unit(name, unit if isinstance(unit, str) else None), side, **options))
    return results


# ---------------------------------------------------------------- left vs right


def side_comparison(measures: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per visit: left, right, difference (left - right) and asymmetry % (difference over the
    mean of both sides) of one sided measure. Visits with only one side are left out."""
    sided = measures[(measures["name"] == name) & measures["side"].isin(["left", "right"])]
    columns = ["visit_id", "visit_date", "medication_state", "left", "right", "difference", "asymmetry_pct"]
    if sided.empty:
        return pd.DataFrame(columns=columns)
    wide = (sided.pivot_table(index=["visit_id", "visit_date", "medication_state"], columns="side",
                              values="value", aggfunc="mean").reset_index())
    if "left" not in wide or "right" not in wide:
        return pd.DataFrame(columns=columns)
    wide = wide.dropna(subset=["left", "right"]).sort_values("visit_date")
    wide["difference"] = wide["left"] - wide["right"]
    mean = (wide["left"] + wide["right"]) / 2.0
    wide["asymmetry_pct"] = np.where(mean != 0, 100.0 * wide["difference"] / mean.where(mean != 0, 1.0), np.nan)
    return wide[columns].reset_index(drop=True)


# ---------------------------------------------------------------- rating vs app score


def rating_vs_score(series: PatientSeries) -> pd.DataFrame:
    """Per visit and model: the app's score next to the clinician's rating of the matching
    item (voice - 3.1 speech, finger tapping - 3.4 per side, gait - 3.10, fused - part III total
    or, where only that exists, the UPDRS motor total)."""
    from core.ratings import MODEL_RATING_ITEMS

    columns = ["visit_id", "visit_date", "medication_state", "model", "side", "probability", "interval_low",
               "interval_high", "rating_item", "rating"]
    if series.scores.empty:
        return pd.DataFrame(columns=columns)
    scores = series.scores.copy()
    items = set(series.ratings["item"]) if not series.ratings.empty else set()
    fused_item = "mds_updrs_part3_total" if "mds_updrs_part3_total" in items or "updrs_motor_total" not in items \
        else "updrs_motor_total"
    scores["rating_item"] = scores["model"].map(lambda m: fused_item if m == "fused" else MODEL_RATING_ITEMS.get(m))
    ratings = series.ratings.rename(columns={"item": "rating_item", "score": "rating"})[
        ["visit_id", "rating_item", "side", "rating"]]
    # An all-None side column loads as float64: merging it with text sides raises in pandas.
    scores["side"], ratings["side"] = scores["side"].astype(object), ratings["side"].astype(object)
    # Unsided ratings match every side of a score; sided ratings match their side only.
    sided = scores.merge(ratings.dropna(subset=["side"]), on=["visit_id", "rating_item", "side"], how="left")
    unsided = scores.merge(ratings[ratings["side"].isna()].drop(columns="side"), on=["visit_id", "rating_item"],
                           how="left")
    sided["rating"] = sided["rating"].fillna(unsided["rating"])
    return sided[columns].sort_values(["visit_date", "model", "side"], na_position="first").reset_index(drop=True)


# ---------------------------------------------------------------- clinic overview


@dataclass(frozen=True)
class FlaggedPatient:
    patient_id: int
    last_visit: date
    series_label: str
    event: ChangeEvent
    unit: str

    @property
    def summary(self) -> str:
        return self.event.summary(self.series_label, self.unit)


def patients_with_recent_change(s: Session, as_of: date, recent_days: int = 90,
                                baseline_visits: int = DEFAULT_BASELINE_VISITS) -> list[FlaggedPatient]:
    """Patients (not archived) with a change flagged at a visit in the last `recent_days` before
    `as_of`: the most recent flag of each of their series, worst first (confirmed, then size)."""
    since = as_of - timedelta(days=int(recent_days))
    recent = s.execute(
        select(Visit.patient_id, func.max(Visit.visit_date))
        .join(Patient, Patient.id == Visit.patient_id)
        .where(Patient.archived.is_(False), Visit.visit_date <= as_of)
        .group_by(Visit.patient_id)
        .having(func.max(Visit.visit_date) >= since)
    ).all()
    flagged: list[FlaggedPatient] = []
    for patient_id, last_visit in recent:
        for analysis in analyse_patient(load_patient_series(s, patient_id), baseline_visits):
            event = analysis.latest_event
            if event is not None and since <= event.visit_date <= as_of:
                flagged.append(FlaggedPatient(patient_id, last_visit, analysis.label, event, analysis.unit))
    flagged.sort(key=lambda f: (not f.event.confirmed, f.event.direction != "worse", -f.last_visit.toordinal()))
    return flagged


def overdue_followups(s: Session, as_of: date, overdue_days: int = 90) -> pd.DataFrame:
    """Patients (not archived) whose latest visit is more than `overdue_days` before `as_of`,
    longest wait first. Patients with no visit at all are listed too (days_since None)."""
    last = (select(Visit.patient_id, func.max(Visit.visit_date).label("last_visit"))
            .group_by(Visit.patient_id).subquery())
    rows = s.execute(
        select(Patient.id, last.c.last_visit)
        .outerjoin(last, last.c.patient_id == Patient.id)
        .where(Patient.archived.is_(False))
    ).all()
    out = []
    for patient_id, last_visit in rows:
        days = None if last_visit is None else (as_of - last_visit).days
        if days is None or days > overdue_days:
            out.append((patient_id, last_visit, days))
    frame = pd.DataFrame(out, columns=["patient_id", "last_visit", "days_since"])
    return frame.sort_values("days_since", ascending=False, na_position="first").reset_index(drop=True)


def recordings_needing_retake(s: Session, limit: int = 200) -> pd.DataFrame:
    """Clips that failed their quality check on a task (and side) of a visit for which no clip
    counts, newest visit first."""
    good = aliased(Recording)
    rows = s.execute(
        select(Visit.patient_id, Visit.id, Visit.visit_date, Recording.id, Recording.task, Recording.side,
               Recording.status, Recording.quality_json)
        .join(Visit, Recording.visit_id == Visit.id)
        .join(Patient, Patient.id == Visit.patient_id)
        .where(Patient.archived.is_(False), Recording.excluded_reason.is_(None),
               (Recording.status == "needs_retake") | ((Recording.quality_ok.is_(False)) & (Recording.status != "recorded")),
               # only tasks with no usable clip: a good retake on the same visit settles it
               ~exists().where(and_(good.visit_id == Recording.visit_id, good.task == Recording.task,
                                    func.coalesce(good.side, "") == func.coalesce(Recording.side, ""),
                                    good.counts.is_(True))))
        .order_by(Visit.visit_date.desc(), Recording.id.desc())
        .limit(int(limit))
    ).all()
    out = []
    for patient_id, visit_id, visit_date, recording_id, task, side, status, quality in rows:
        problems = "; ".join(c.get("message", "") for c in (quality or {}).get("checks", [])
                             if isinstance(c, dict) and not c.get("passed", True))
        out.append((patient_id, visit_id, visit_date, recording_id, task, side, status, problems))
    return pd.DataFrame(out, columns=["patient_id", "visit_id", "visit_date", "recording_id", "task", "side",
                                      "status", "problems"])


def rating_items_present(series: PatientSeries) -> list[str]:
    """Rating items this patient has, in catalogue order."""
    have = set(series.ratings["item"]) if not series.ratings.empty else set()
    return [k for k in RATING_ITEMS if k in have] + sorted(have - set(RATING_ITEMS))
