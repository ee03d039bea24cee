"""Plain-language helpers shared by every message a clinician reads (no dependencies, so any
module can use them): correct plurals ("1 tap", "2 taps") and the words for stored codes
("pd" -> "Parkinson's disease")."""
from __future__ import annotations

import math

SEX_LABELS = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}
DIAGNOSIS_LABELS = {"pd": "Parkinson's disease", "control": "Control", "unknown": "Unknown"}
SIDE_LABELS = {"left": "Left", "right": "Right", "none": "None", "unknown": "Unknown"}
MEDICATION_LABELS = {"on": "ON", "off": "OFF", "unknown": "Unknown"}


def code_label(labels: dict[str, str], code: str | None) -> str:
    """The words for a stored code; an unknown code is shown as it is, None as empty."""
    if code is None:
        return ""
    return labels.get(code, code)


_IRREGULAR = {"analysis": "analyses", "child": "children", "person": "people", "this": "these"}


def plural_word(count: float, word: str, many: str | None = None) -> str:
    """`word` in the form that goes with `count`: singular for exactly 1, plural otherwise
    (0 taps, 1 tap, 2 taps, 1.5 hours)."""
    if count == 1:
        return word
    if many is not None:
        return many
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def plural(count: float, word: str, many: str | None = None) -> str:
    """'1 visit', '3 visits', '0 clips', '1 file of 2'... : the count and the word that goes with it.
    Whole numbers are shown without decimals; `many` gives an irregular plural."""
    if isinstance(count, float) and math.isfinite(count) and count.is_integer():
        count = int(count)
    return f"{count} {plural_word(count, word, many)}"
