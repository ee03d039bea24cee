"""The clinician rating vocabulary: MDS-UPDRS part III items (Goetz et al., Mov Disord 2008),
Hoehn & Yahr stage, the summary scores the public telemonitoring data carries, and the
physical-therapy outcome values a clinician enters per visit (group "outcome": balance-scale
totals, six-minute walk distance, stopwatch times of the tests pdlens also measures on video).

Item keys are what `ClinicianRating.item` stores ("3.4", "hoehn_yahr", ...). Items the scale
rates more than once are stored once per location in `ClinicianRating.side` (a short code, see
LOCATIONS): "right" / "left" for the hand and foot items (3.4-3.8, 3.15, 3.16), the body parts
for 3.3 rigidity (neck, four limbs) and 3.17 rest tremor amplitude (four limbs, lip/jaw).
Unlocated items have side None. Older 3.17 rows stored "left" / "right" (upper extremity then):
`legacy_location` reads them as "lue" / "rue".

Only the item numbers and names of the MDS-UPDRS are used here, with generic anchor words for
the scores: the item instructions are the Movement Disorder Society's copyrighted text.

The part III total is the sum of its 33 scores (0-132), computed only when all 33 are rated
(`part3_total`); otherwise it says how many are missing.

Outcome values: only the TOTALS of the Mini-BESTest, the Berg Balance Scale and the Functional
Gait Assessment are stored; no item of these copyrighted scales is named or copied here. Unlike
the MDS-UPDRS, higher is better on the balance scales, the walk distance and gait speed
(`RatingItem.higher_is_worse`), which core.trends reads. A stopwatch value names the video
measure of the same test (`RatingItem.measure`), so that pages show the two side by side
(`stopwatch_pairs`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.store.errors import ValidationError

# Short location codes (fit ClinicianRating.side, String(8)) and what a reader sees.
LOCATIONS: dict[str, str] = {
    "right": "right",
    "left": "left",
    "neck": "neck",
    "rue": "right upper extremity",
    "lue": "left upper extremity",
    "rle": "right lower extremity",
    "lle": "left lower extremity",
    "lipjaw": "lip/jaw",
}
# Short forms for narrow print (the usual clinical abbreviations), with their legend.
LOCATION_ABBREVIATIONS = {"rue": "RUE", "lue": "LUE", "rle": "RLE", "lle": "LLE"}
LOCATION_LEGEND = "RUE/LUE right/left upper extremity, RLE/LLE right/left lower extremity"
SIDES = ("right", "left")  # the hand and foot items, in the scale's order (right first)
LIMBS = ("rue", "lue", "rle", "lle")
RIGIDITY_LOCATIONS = ("neck", *LIMBS)
REST_TREMOR_LOCATIONS = (*LIMBS, "lipjaw")
_LEGACY_SIDES = {"3.17": {"right": "rue", "left": "lue"}}  # 3.17 rated the upper extremity per side before

# Modified Hoehn & Yahr (Goetz et al., Mov Disord 2004): the stages in use, 0-5 in half steps
# only between 1 and 3 (there is no stage 0.5, 3.5 or 4.5).
HOEHN_YAHR_STAGES = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
ITEM_SCORES = (0.0, 1.0, 2.0, 3.0, 4.0)
# Generic anchor words of the MDS-UPDRS 0-4 scores (Goetz et al. 2008), not item instructions.
ANCHORS = {0.0: "normal", 1.0: "slight", 2.0: "mild", 3.0: "moderate", 4.0: "severe"}

PART3_TOTAL_ITEM = "mds_updrs_part3_total"
PART3_SCORES = 33
PART3_MAX = 4.0 * PART3_SCORES


@dataclass(frozen=True)
class RatingItem:
    key: str  # stored in ClinicianRating.item
    label: str
    locations: tuple[str, ...]  # rated once per location (codes of LOCATIONS); () unlocated
    allowed: tuple[float, ...] | None  # the only valid scores; None: any value in [low, high]
    low: float = 0.0
    high: float = 4.0
    task: str | None = None  # the pdlens task (core.tasks) that measures the same sign (or test)
    entered: bool = True  # offered on the rating form (totals are computed or imported)
    part3: bool = False  # one of the 18 part III items (33 scores with their locations)
    group: str = "mds_updrs"  # "mds_updrs" (neurology's ratings) or "outcome" (physical-therapy values)
    unit: str = "points"
    higher_is_worse: bool = True  # False for balance totals, distances, speeds
    integer: bool = False  # whole numbers only (scale totals)
    decimals: int = 0  # how many decimals the form offers and the pages print
    measure: str | None = None  # the video measure of the same test (stopwatch values)

    @property
    def worse(self) -> str:
        """"higher" or "lower" (the wording of core.trends)."""
        return "higher" if self.higher_is_worse else "lower"

    @property
    def step(self) -> float:
        return 10.0 ** -self.decimals

    @property
    def sided(self) -> bool:
        return bool(self.locations)

    def score_text(self, score: float) -> str:
        """'2 mild' for the 0-4 items, '45 of 56' for an outcome scale total, '12.1 s' for a
        measured outcome value, the number alone otherwise."""
        if self.allowed == ITEM_SCORES and float(score) in ANCHORS:
            return f"{score:g} {ANCHORS[float(score)]}"
        if self.group == "outcome":
            if self.integer:
                return f"{float(score):.0f} of {self.high:g}"
            return f"{float(score):.{self.decimals}f} {self.unit}"
        return f"{score:g}"


def _item(key: str, label: str, locations: tuple[str, ...] = (), task: str | None = None) -> RatingItem:
    return RatingItem(key, label, locations, ITEM_SCORES, 0.0, 4.0, task, True, True)


def _outcome(key: str, label: str, low: float, high: float, unit: str, *, higher_is_worse: bool = True,
             integer: bool = False, decimals: int = 0, task: str | None = None,
             measure: str | None = None) -> RatingItem:
    return RatingItem(key, label, (), None, low, high, task, True, False, "outcome", unit, higher_is_worse,
                      integer, decimals, measure)


RATING_ITEMS: dict[str, RatingItem] = {
    i.key: i
    for i in (
        _item("3.1", "3.1 Speech", task="vowel"),
        _item("3.2", "3.2 Facial expression"),
        _item("3.3", "3.3 Rigidity", RIGIDITY_LOCATIONS),
        _item("3.4", "3.4 Finger tapping", SIDES, task="finger_tapping"),
        _item("3.5", "3.5 Hand movements", SIDES),
        _item("3.6", "3.6 Pronation-supination movements of hands", SIDES),
        _item("3.7", "3.7 Toe tapping", SIDES),
        _item("3.8", "3.8 Leg agility", SIDES),
        _item("3.9", "3.9 Arising from chair"),
        _item("3.10", "3.10 Gait", task="gait"),
        _item("3.11", "3.11 Freezing of gait"),
        _item("3.12", "3.12 Postural stability"),
        _item("3.13", "3.13 Posture"),
        _item("3.14", "3.14 Global spontaneity of movement"),
        _item("3.15", "3.15 Postural tremor of the hands", SIDES),
        _item("3.16", "3.16 Kinetic tremor of the hands", SIDES),
        _item("3.17", "3.17 Rest tremor amplitude", REST_TREMOR_LOCATIONS, task="tremor"),
        _item("3.18", "3.18 Constancy of rest tremor"),
        RatingItem("hoehn_yahr", "Hoehn & Yahr stage", (), HOEHN_YAHR_STAGES, 0.0, 5.0),
        RatingItem(PART3_TOTAL_ITEM, "MDS-UPDRS part III total", (), None, 0.0, PART3_MAX, entered=False),
        # Summary scores of the original UPDRS, as in the UCI telemonitoring data (imported).
        RatingItem("updrs_motor_total", "UPDRS motor (part III) total", (), None, 0.0, 108.0, entered=False),
        RatingItem("updrs_total", "UPDRS total", (), None, 0.0, 176.0, entered=False),
        # Physical-therapy outcome values, entered per visit (totals only for the scales).
        _outcome("mini_bestest", "Mini-BESTest total", 0.0, 28.0, "points", higher_is_worse=False, integer=True),
        _outcome("berg_balance", "Berg Balance Scale total", 0.0, 56.0, "points", higher_is_worse=False, integer=True),
        _outcome("fga", "Functional Gait Assessment total", 0.0, 30.0, "points", higher_is_worse=False, integer=True),
        _outcome("six_minute_walk_m", "Six-minute walk distance", 0.0, 1000.0, "m", higher_is_worse=False),
        _outcome("tug_stopwatch_s", "Timed Up and Go, stopwatch", 1.0, 300.0, "s", decimals=1, task="tug",
                 measure="tug_time_s"),
        _outcome("sts_stopwatch_s", "Five Times Sit to Stand, stopwatch", 1.0, 300.0, "s", decimals=1,
                 task="sit_to_stand", measure="sts_time_s"),
        _outcome("gait_speed_stopwatch_m_s", "Gait speed (10 m walk), stopwatch", 0.05, 3.0, "m/s",
                 higher_is_worse=False, decimals=2, task="gait_speed", measure="gait_speed_m_s"),
    )
}
OUTCOME_GROUP = "outcome"

# The rating that each model's score is compared with on the "rating vs app score" table.
MODEL_RATING_ITEMS = {"voice": "3.1", "finger_tapping": "3.4", "gait": "3.10", "fused": PART3_TOTAL_ITEM}


def rating_item(key: str) -> RatingItem:
    try:
        return RATING_ITEMS[key]
    except KeyError:
        raise ValidationError(f"Unknown rating item '{key}': choose an MDS-UPDRS part III item, Hoehn & Yahr "
                              "or an outcome test.") from None


def entered_items(group: str | None = None) -> list[RatingItem]:
    """Items offered on the per-visit rating form, in scale order (of one group, or all)."""
    return [i for i in RATING_ITEMS.values() if i.entered and (group is None or i.group == group)]


def outcome_items() -> list[RatingItem]:
    """The physical-therapy outcome values, in form order."""
    return entered_items(OUTCOME_GROUP)


def rating_unit(item: str) -> str:
    """The unit a stored rating is in: "points" for the scales, "s", "m", "m/s" for outcome values."""
    spec = RATING_ITEMS.get(item)
    return spec.unit if spec else "points"


def rating_worse(item: str) -> str:
    """Which direction of a rating is worse: "higher" (MDS-UPDRS, stage, times) or "lower"
    (balance totals, distance, speed). Items pdlens does not define (imports) are scored like
    the MDS-UPDRS: higher is worse."""
    spec = RATING_ITEMS.get(item)
    return spec.worse if spec else "higher"


def rating_for_measure(task: str | None, name: str) -> str | None:
    """The rating shown under a measure's trend: the stopwatch value of the same test for its
    video measure (tug_time_s - tug_stopwatch_s), or the MDS-UPDRS item of the task."""
    for key, spec in RATING_ITEMS.items():
        if spec.measure is not None and spec.measure == name:
            return key
    for key, spec in RATING_ITEMS.items():
        if spec.group != OUTCOME_GROUP and task is not None and spec.task == task:
            return key
    return None


def part3_items() -> list[RatingItem]:
    return [i for i in RATING_ITEMS.values() if i.part3]


def part3_slots() -> list[tuple[str, str | None]]:
    """The 33 (item, location) scores of part III, in scale order."""
    return [(i.key, loc) for i in part3_items() for loc in (i.locations or (None,))]


def legacy_location(item: str, side: str | None) -> str | None:
    """The location code of a stored side: older 3.17 rows said "left"/"right" (upper extremity)."""
    if side is None:
        return None
    return _LEGACY_SIDES.get(item, {}).get(side, side)


def location_label(side: str | None, short: bool = False) -> str:
    if not side:
        return ""
    if short and side in LOCATION_ABBREVIATIONS:
        return LOCATION_ABBREVIATIONS[side]
    return LOCATIONS.get(side, side)


def validate_rating(item: str, side: str | None, score: float) -> tuple[str, str | None, float]:
    """Check one rating; returns (item, location, score) normalised, or raises ValidationError
    with a one-line message saying what to change."""
    spec = rating_item(item)
    side = legacy_location(spec.key, side)
    if spec.sided and side not in spec.locations:
        where = ", ".join(LOCATIONS[loc] for loc in spec.locations)
        raise ValidationError(f"{spec.label} is rated per location: choose one of {where}.")
    if not spec.sided and side is not None:
        raise ValidationError(f"{spec.label} is not rated per side: leave the side empty.")
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise ValidationError(f"{spec.label}: the score must be a number.") from None
    if value != value:  # NaN
        raise ValidationError(f"{spec.label}: the score must be a number.")
    if spec.allowed is not None:
        if value not in spec.allowed:
            allowed = ", ".join(f"{a:g}" for a in spec.allowed)
            raise ValidationError(f"{spec.label}: {value:g} is not a valid score; use one of {allowed}.")
    elif not spec.low <= value <= spec.high:
        unit = f" {spec.unit}" if spec.group == OUTCOME_GROUP else ""
        raise ValidationError(f"{spec.label}: {value:g} is outside {spec.low:g}-{spec.high:g}{unit}.")
    if spec.integer and value != int(value):
        raise ValidationError(f"{spec.label}: {value:g} is not a whole number; the total is a whole number of points.")
    return spec.key, side, value


def rating_label(item: str, side: str | None = None) -> str:
    spec = RATING_ITEMS.get(item)
    text = spec.label if spec else item
    side = legacy_location(item, side)
    return f"{text} ({location_label(side)})" if side else text


def score_text(item: str, score: float) -> str:
    """A stored score as a reader sees it: "2 mild" for a 0-4 item, "2.5" for a stage."""
    spec = RATING_ITEMS.get(item)
    return spec.score_text(score) if spec else f"{score:g}"


# ---------------------------------------------------------------- part III total


@dataclass(frozen=True)
class Part3Total:
    total: float | None  # the sum of the 33 scores; None while any is missing
    rated: int
    missing: tuple[tuple[str, str | None], ...]  # (item, location) not rated yet

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def text(self) -> str:
        """'MDS-UPDRS part III total 23 of 132' or 'MDS-UPDRS part III total: 5 of 33 scores missing'."""
        if self.total is not None:
            return f"MDS-UPDRS part III total {self.total:g} of {PART3_MAX:g}"
        if self.rated == 0:
            return f"MDS-UPDRS part III total: not rated yet ({PART3_SCORES} scores)"
        return f"MDS-UPDRS part III total: {len(self.missing)} of {PART3_SCORES} scores missing"


def _scores(ratings: Iterable) -> dict[tuple[str, str | None], float]:
    """{(item, location): score} from ClinicianRating rows, (item, side, score) tuples or dicts."""
    out: dict[tuple[str, str | None], float] = {}
    for r in ratings:
        if isinstance(r, Mapping):
            item, side, score = r["item"], r.get("side"), r["score"]
        elif isinstance(r, tuple):
            item, side, score = r
        else:
            item, side, score = r.item, r.side, r.score
        side = side if isinstance(side, str) else None  # pandas gives NaN for no side
        out[(item, legacy_location(item, side))] = float(score)
    return out


def part3_total(ratings: Iterable) -> Part3Total:
    """The part III total of one visit's ratings: the sum of the 33 scores when all are present,
    otherwise which are missing (a partly rated exam has no total: a sum of some items would
    read as a milder exam)."""
    scores = _scores(ratings)
    slots = part3_slots()
    missing = tuple(slot for slot in slots if slot not in scores)
    rated = len(slots) - len(missing)
    total = None if missing else float(sum(scores[slot] for slot in slots))
    return Part3Total(total, rated, missing)


# ---------------------------------------------------------------- stopwatch beside video

# How a pair is named in one line ("TUG: video 12.4 s, stopwatch 12.1 s").
PAIR_NAMES = {"tug_stopwatch_s": "TUG", "sts_stopwatch_s": "5xSTS", "gait_speed_stopwatch_m_s": "Gait speed"}


@dataclass(frozen=True)
class StopwatchPair:
    """One outcome test of a visit timed twice: by the clinician's stopwatch and from the video."""

    item: str  # the stopwatch rating item, e.g. "tug_stopwatch_s"
    measure: str  # the video measure, e.g. "tug_time_s"
    task: str
    name: str  # "TUG"
    unit: str
    decimals: int
    stopwatch: float | None
    video: float | None

    def _value(self, value: float | None) -> str:
        return "not recorded" if value is None else f"{value:.{self.decimals}f} {self.unit}"

    @property
    def difference(self) -> float | None:
        """video - stopwatch, when both exist."""
        return None if self.video is None or self.stopwatch is None else self.video - self.stopwatch

    @property
    def text(self) -> str:
        """'TUG: video 12.4 s, stopwatch 12.1 s' (plain text)."""
        return f"{self.name}: video {self._value(self.video)}, stopwatch {self._value(self.stopwatch)}"


def stopwatch_pairs(s, visit_id: int) -> list[StopwatchPair]:
    """The visit's stopwatch values beside the video measure of the same test (the current
    assessment of the clip that counts; the mean if several count), for every test that has
    either. Stored data only."""
    from sqlalchemy import func, select

    from core.store.models import Assessment, ClinicianRating, MeasureValue, Recording
    from core.store.repository import counted_assessment

    pairs = [spec for spec in RATING_ITEMS.values() if spec.measure is not None and spec.task is not None]
    stopwatch = dict(s.execute(
        select(ClinicianRating.item, ClinicianRating.score)
        .where(ClinicianRating.visit_id == visit_id, ClinicianRating.item.in_([p.key for p in pairs]))
    ).all())
    video = {(task, name): value for task, name, value in s.execute(
        select(Recording.task, MeasureValue.name, func.avg(MeasureValue.value))
        .select_from(MeasureValue)
        .join(Assessment, MeasureValue.assessment_id == Assessment.id)
        .join(Recording, Assessment.recording_id == Recording.id)
        .where(Assessment.visit_id == visit_id, counted_assessment(),
               MeasureValue.name.in_([p.measure for p in pairs]))
        .group_by(Recording.task, MeasureValue.name)
    ).all()}
    out = []
    for spec in pairs:
        watch, seen = stopwatch.get(spec.key), video.get((spec.task, spec.measure))
        if watch is None and seen is None:
            continue
        out.append(StopwatchPair(spec.key, spec.measure, spec.task, PAIR_NAMES.get(spec.key, spec.label), spec.unit,
                                 spec.decimals, None if watch is None else float(watch),
                                 None if seen is None else float(seen)))
    return out
