"""The clinician rating vocabulary: MDS-UPDRS part III items (Goetz et al., Mov Disord 2008),
Hoehn & Yahr stage, and the summary scores the public telemonitoring data carries.

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
    task: str | None = None  # the pdlens task (core.tasks) that measures the same sign
    entered: bool = True  # offered on the rating form (totals are computed or imported)
    part3: bool = False  # one of the 18 part III items (33 scores with their locations)

    @property
    def sided(self) -> bool:
        return bool(self.locations)

    def score_text(self, score: float) -> str:
        """'2 mild' for the 0-4 items, the number alone otherwise."""
        if self.allowed == ITEM_SCORES and float(score) in ANCHORS:
            return f"{score:g} {ANCHORS[float(score)]}"
        return f"{score:g}"


def _item(key: str, label: str, locations: tuple[str, ...] = (), task: str | None = None) -> RatingItem:
    return RatingItem(key, label, locations, ITEM_SCORES, 0.0, 4.0, task, True, True)


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
    )
}

# The rating that each model's score is compared with on the "rating vs app score" table.
MODEL_RATING_ITEMS = {"voice": "3.1", "finger_tapping": "3.4", "gait": "3.10", "fused": PART3_TOTAL_ITEM}


def rating_item(key: str) -> RatingItem:
    try:
        return RATING_ITEMS[key]
    except KeyError:
        raise ValidationError(f"Unknown rating item '{key}': choose an MDS-UPDRS part III item or Hoehn & Yahr.") from None


def entered_items() -> list[RatingItem]:
    """Items offered on the per-visit rating form, in scale order."""
    return [i for i in RATING_ITEMS.values() if i.entered]


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
        raise ValidationError(f"{spec.label}: {value:g} is outside {spec.low:g}-{spec.high:g}.")
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
