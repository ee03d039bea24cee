"""Plain-text helpers for pages: safe markdown, ages, labels for stored codes, plurals."""
from __future__ import annotations

import re
from datetime import date

from core.words import (  # noqa: F401  (re-exported for the pages)
    DIAGNOSIS_LABELS,
    MEDICATION_LABELS,
    SEX_LABELS,
    SIDE_LABELS,
    plural,
    plural_word,
)

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all
# also neutralises Streamlit's own syntax (:red[...], :material/icon:, $latex$) and raw HTML.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=^%@/;?,])")

ROLE_LABELS = {"admin": "Administrator", "clinician": "Clinician", "reviewer": "Reviewer (read-only)"}


def escape_markdown(text: str) -> str:
    """`text` shown literally by st.markdown / st.title / st.subheader: no formatting, no HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def age_years(birth_date: date | None, on: date | None = None) -> int | None:
    """Completed years of age on `on` (today by default)."""
    if birth_date is None:
        return None
    on = on or date.today()
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def label(labels: dict[str, str], code: str | None) -> str:
    """The display label of a stored code; unknown codes are shown as they are."""
    if code is None:
        return ""
    return labels.get(code, code)


def hours_text(hours: float | None) -> str:
    return "" if hours is None else f"{hours:g} h"
