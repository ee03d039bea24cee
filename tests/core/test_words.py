"""core.words: the plurals every page and message uses ("1 tap", never "1 taps")."""
from __future__ import annotations

import pytest

from core.words import plural, plural_word
from dashboard.formatting import plural as page_plural


@pytest.mark.parametrize("count, word, expected", [
    (1, "tap", "1 tap"), (2, "tap", "2 taps"), (0, "visit", "0 visits"), (1, "visit", "1 visit"),
    (1.0, "visit", "1 visit"), (3, "measure", "3 measures"), (1, "clip", "1 clip"), (7, "task", "7 tasks"),
    (2, "entry", "2 entries"), (2, "day", "2 days"), (2, "match", "2 matches"), (2, "analysis", "2 analyses"),
    (1.5, "hour", "1.5 hours"),
])
def test_plural(count, word, expected):
    assert plural(count, word) == expected


def test_irregular_plural_and_word_alone():
    assert plural(2, "criterion", "criteria") == "2 criteria"
    assert plural_word(1, "file") == "file" and plural_word(4, "file") == "files"
    assert page_plural is plural  # the pages use the same helper


def test_tapping_sentence_says_1_tap():
    from core.explain import tapping_sentences

    assert tapping_sentences({"amplitude_decrement_pct": 50.0, "tap_count": 1.0}) == [
        "Tapping amplitude fell 50% over 1 tap."]


def test_a_count_of_one_reads_in_the_singular_in_sentences():
    from core.summary import fmt, out_of_range_sentence

    assert fmt(1.0, "taps") == "1 tap" and fmt(2.0, "taps") == "2 taps" and fmt(1.0, "s") == "1 s"
    sentence = out_of_range_sentence({"name": "tap_count", "label": "Number of taps", "value": 1.0, "unit": "taps",
                                      "normal_range": [7.0, 14.7]})
    assert sentence.startswith("Number of taps 1 tap, below the healthy range") and "1 taps" not in sentence
