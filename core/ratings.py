"""The clinician rating vocabulary: MDS-UPDRS part III items (Goetz et al., Mov Disord 2008),
Hoehn & Yahr stage, and the summary scores the public telemonitoring data carries.

Item keys are what `ClinicianRating.item` stores ("3.4", "hoehn_yahr", ...). Sided items are
stored once per side ("left" / "right"); unsided items with side None.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.store.errors import ValidationError

SIDES = ("left", "right")
# Modified Hoehn & Yahr (Goetz et al., Mov Disord 2004): the stages in use, 0-5 in half steps
# only between 1 and 3 (there is no stage 0.5, 3.5 or 4.5).
HOEHN_YAHR_STAGES = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
ITEM_SCORES = (0.0, 1.0, 2.0, 3.0, 4.0)


@dataclass(frozen=True)
class RatingItem:
    key: str  # stored in ClinicianRating.item
    label: str
    sided: bool
    allowed: tuple[float, ...] | None  # the only valid scores; None: any value in [low, high]
    low: float = 0.0
    high: float = 4.0
    task: str | None = None  # the pdlens task (core.tasks) that measures the same sign
    entered: bool = True  # offered on the rating form (summary scores come from imports)
    description: str = ""

    def score_text(self, score: float) -> str:
        return f"{score:g}"


def _item(key: str, label: str, sided: bool = False, task: str | None = None, description: str = "") -> RatingItem:
    return RatingItem(key, label, sided, ITEM_SCORES, 0.0, 4.0, task, True, description)


RATING_ITEMS: dict[str, RatingItem] = {
    i.key: i
    for i in (
        _item("3.1", "3.1 Speech", task="vowel",
              description="0 normal, 1 slight loss of modulation, 2 slurred but understood, "
                          "3 difficult to understand, 4 unintelligible"),
        _item("3.2", "3.2 Facial expression"),
        _item("3.4", "3.4 Finger tapping", sided=True, task="finger_tapping",
              description="10 taps as quickly and as big as possible: speed, amplitude, "
                          "hesitations, decrement"),
        _item("3.5", "3.5 Hand movements", sided=True),
        _item("3.6", "3.6 Pronation-supination", sided=True),
        _item("3.7", "3.7 Toe tapping", sided=True),
        _item("3.8", "3.8 Leg agility", sided=True),
        _item("3.9", "3.9 Arising from chair"),
        _item("3.10", "3.10 Gait", task="gait",
              description="stride amplitude and speed, heel strike, turning, arm swing"),
        _item("3.11", "3.11 Freezing of gait"),
        _item("3.12", "3.12 Postural stability"),
        _item("3.13", "3.13 Posture"),
        _item("3.14", "3.14 Global spontaneity of movement"),
        _item("3.15", "3.15 Postural tremor of the hands", sided=True),
        _item("3.16", "3.16 Kinetic tremor of the hands", sided=True),
        _item("3.17", "3.17 Rest tremor amplitude (upper extremity)", sided=True, task="tremor",
              description="0 none, 1 <= 1 cm, 2 1-3 cm, 3 3-10 cm, 4 >= 10 cm maximal amplitude"),
        _item("3.18", "3.18 Constancy of rest tremor",
              description="0 none, 1 <= 25%, 2 26-50%, 3 51-75%, 4 > 75% of the examination"),
        RatingItem("hoehn_yahr", "Hoehn & Yahr stage", False, HOEHN_YAHR_STAGES, 0.0, 5.0,
                   description="modified Hoehn & Yahr: 0, 1, 1.5, 2, 2.5, 3, 4, 5"),
        RatingItem("mds_updrs_part3_total", "MDS-UPDRS part III total", False, None, 0.0, 132.0,
                   description="sum of the 33 part III scores"),
        # Summary scores of the original UPDRS, as in the UCI telemonitoring data (imported).
        RatingItem("updrs_motor_total", "UPDRS motor (part III) total", False, None, 0.0, 108.0,
                   entered=False),
        RatingItem("updrs_total", "UPDRS total", False, None, 0.0, 176.0, entered=False),
    )
}

# The rating that each model's score is compared with on the "rating vs app score" table.
MODEL_RATING_ITEMS = {"voice": "3.1", "finger_tapping": "3.4", "gait": "3.10", "fused": "mds_updrs_part3_total"}


def rating_item(key: str) -> RatingItem:
    try:
        return RATING_ITEMS[key]
    except KeyError:
        raise ValidationError(f"Unknown rating item '{key}': choose an MDS-UPDRS part III item or Hoehn & Yahr.") from None


def entered_items() -> list[RatingItem]:
    """Items offered on the per-visit rating form, in scale order."""
    return [i for i in RATING_ITEMS.values() if i.entered]


def validate_rating(item: str, side: str | None, score: float) -> tuple[str, str | None, float]:
    """Check one rating; returns (item, side, score) normalised, or raises ValidationError with
    a one-line message saying what to change."""
    spec = rating_item(item)
    if spec.sided and side not in SIDES:
        raise ValidationError(f"{spec.label} is rated per side: choose left or right.")
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
    return f"{text} ({side})" if side else text
