"""LOINC codes of what pdlens exports as FHIR Observations, each with the page it was checked on.

Rule: an Observation carries a LOINC coding only when LOINC defines a term for exactly the thing
stored, checked on a LOINC page (cited next to the code); everything else stays on pdlens' own
code system (core.reports.PDLENS_SYSTEM). A code that could not be checked is never used: it is
listed under UNVERIFIED with where it was seen, so that someone with access to loinc.org can
confirm it and move it up into LOINC_CODES.

What the lookup found (December 2026, pdlens' `search` tool over public pages, docs and code):

* MDS-UPDRS part III items and total: no LOINC term found. LOINC's Parkinson terms are those of
  the original UPDRS (1987): the motor examination items of the PhenX parkinsonian protocol,
  panel 62757-0 (https://loinc.org/62757-0/), and the UPDRS panel 77717-7. The MDS-UPDRS is a
  different instrument (other items, e.g. 3.7 toe tapping and 3.11 freezing; other anchors;
  total 0-132 instead of 0-108; published conversion formulas between the two), so a UPDRS code
  on an MDS-UPDRS score would state something that was not measured. They are listed in
  NEAREST_UPDRS_TERMS for reference only.
* Hoehn & Yahr: "Hoehn and Yahr scale [UPDRS]" 77718-5 appears in two public code repositories
  (citing loinc.org/77718-5), but no LOINC page confirming it was found: UNVERIFIED, not used.
* UPDRS motor total and UPDRS total (imported UCI telemonitoring values): no LOINC total-score
  term found (77720-1 is quoted in public code as the motor examination *panel*, not a score).
* Voice measures (jitter, shimmer, HNR, ...), tapping, tremor and gait measures, model scores:
  no LOINC term found for the Praat or MediaPipe measures pdlens computes.
* Timed Up and Go: 89423-8 "Time to rise from chair, walk 10 feet and back, and return to
  sitting [TUG]" (property Time, method TUG, example unit s), a member of the CDC STEADI panel
  89422-0, checked on https://loinc.org/89422-0/ (panel hierarchy). It names the total TUG time,
  whoever timed it: used for the stopwatch value (tug_stopwatch_s) and the video measure of the
  total (tug_time_s); the TUG phases have no LOINC term.
* Six-minute walk: the loinc.org page of the PhenX six-minute walk test panel 62619-2 was found,
  but its member term for the distance could not be read on any LOINC page: no code (a panel
  code would say "the test", not "the distance").
* Berg Balance Scale, Mini-BESTest, Functional Gait Assessment totals, Five Times Sit to Stand,
  10 m walk gait speed: no LOINC page found for a total-score or time term (only NIH Toolbox and
  PhenX balance and 4-metre walk terms, which are other tests): no code.
"""
from __future__ import annotations

from dataclasses import dataclass

LOINC_SYSTEM = "http://loinc.org"


@dataclass(frozen=True)
class LoincCode:
    code: str
    display: str
    source: str  # the page the code was checked on


# Applied codes: (kind, pdlens key, side or None) -> LOINC term. kind: "rating" (core.ratings
# item key), "measure" (core.vocabulary measure name) or "score" (model name). See the module
# docstring for what was looked up and why most values have no code.
_TUG = LoincCode("89423-8", "Time to rise from chair, walk 10 feet and back, and return to sitting [TUG]",
                 "https://loinc.org/89422-0/")
LOINC_CODES: dict[tuple[str, str, str | None], LoincCode] = {
    ("rating", "tug_stopwatch_s", None): _TUG,
    ("measure", "tug_time_s", None): _TUG,
}

# Seen, not confirmed on a LOINC page: never used in an export.
UNVERIFIED: dict[tuple[str, str, str | None], tuple[str, str]] = {
    ("rating", "hoehn_yahr", None): (
        "77718-5 Hoehn and Yahr scale [UPDRS]",
        "quoted in public code (pdlens search tool, find_string 'Hoehn and Yahr scale [UPDRS]'); "
        "well-formed (check digit passes) but no loinc.org page found to confirm what it means",
    ),
}

# Original-UPDRS (1987) terms of the PhenX parkinsonian protocol, checked on
# https://loinc.org/62757-0/ (panel hierarchy). NOT equivalent to the MDS-UPDRS items they sit
# beside (different instrument): kept for reference and never exported.
_PHENX = "https://loinc.org/62757-0/"
NEAREST_UPDRS_TERMS: dict[tuple[str, str | None], LoincCode] = {
    ("3.1", None): LoincCode("66038-1", "Parkinson - speech", _PHENX),
    ("3.2", None): LoincCode("66039-9", "Parkinson - facial expression", _PHENX),
    ("3.3", "neck"): LoincCode("66037-3", "Parkinson - rigidity - neck", _PHENX),
    ("3.3", "rue"): LoincCode("66192-6", "Parkinson - rigidity - RUE", _PHENX),
    ("3.3", "lue"): LoincCode("66193-4", "Parkinson - rigidity - LUE", _PHENX),
    ("3.3", "rle"): LoincCode("66194-2", "Parkinson - rigidity - RLE", _PHENX),
    ("3.3", "lle"): LoincCode("66195-9", "Parkinson - rigidity - LLE", _PHENX),
    ("3.4", "right"): LoincCode("65695-9", "Finger taps - right", _PHENX),
    ("3.4", "left"): LoincCode("65696-7", "Finger taps - left", _PHENX),
    ("3.5", "right"): LoincCode("65697-5", "Hand movements - right", _PHENX),
    ("3.5", "left"): LoincCode("65698-3", "Hand movements - left", _PHENX),
    ("3.6", "right"): LoincCode("65699-1", "Rapidly alternating movements - right", _PHENX),
    ("3.6", "left"): LoincCode("65700-7", "Rapidly alternating movements - left", _PHENX),
    ("3.8", "right"): LoincCode("65701-5", "Leg agility - right", _PHENX),
    ("3.8", "left"): LoincCode("65702-3", "Leg agility - left", _PHENX),
    ("3.9", None): LoincCode("65703-1", "Arising from chair", _PHENX),
    ("3.10", None): LoincCode("65705-6", "Gait - parkinsons", _PHENX),
    ("3.12", None): LoincCode("65706-4", "Postural stability - retropulsion test", _PHENX),
    ("3.13", None): LoincCode("65704-9", "Posture", _PHENX),
    ("3.14", None): LoincCode("65811-2", "Body bradykinesia - hypokinesia", _PHENX),
    ("3.15", "right"): LoincCode("66036-5", "Parkinson - postural tremor - RUE", _PHENX),
    ("3.15", "left"): LoincCode("66196-7", "Parkinson - postural tremor - LUE", _PHENX),
    ("3.17", "rue"): LoincCode("66035-7", "Tremor at rest Upper extremity - right [UPDRS]", _PHENX),
    ("3.17", "lue"): LoincCode("66189-2", "Parkinson - tremor at rest - LUE", _PHENX),
    ("3.17", "rle"): LoincCode("66190-0", "Parkinson - tremor at rest - RLE", _PHENX),
    ("3.17", "lle"): LoincCode("66191-8", "Parkinson - tremor at rest - LLE", _PHENX),
    ("3.17", "lipjaw"): LoincCode("66040-7", "Parkinson - tremor at rest - face", _PHENX),
}


def check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (LOINC Users' Guide): catches a mistyped code, not a wrong
    meaning. (The "step rate" code 55414-6 quoted beside 77718-5 in public code fails it.)"""
    number, _, check = code.partition("-")
    if not number.isdigit() or not check.isdigit() or len(check) != 1:
        return False
    total = 0
    for i, d in enumerate(int(c) for c in reversed(number)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(check)


def loinc_code(kind: str, key: str, side: str | None = None,
               table: dict[tuple[str, str, str | None], LoincCode] | None = None) -> LoincCode | None:
    """The applied LOINC term of an exported value (a sided term first, then the unsided one)."""
    table = LOINC_CODES if table is None else table
    return table.get((kind, key, side)) or (table.get((kind, key, None)) if side is not None else None)


def codings(kind: str, key: str, side: str | None, pdlens_coding: dict,
            table: dict[tuple[str, str, str | None], LoincCode] | None = None) -> list[dict]:
    """Observation.code.coding: the LOINC term where one applies, then pdlens' own code (always
    kept, so a receiver that does not know LOINC still reads the pdlens key)."""
    found = loinc_code(kind, key, side, table)
    loinc = [{"system": LOINC_SYSTEM, "code": found.code, "display": found.display}] if found else []
    return loinc + [pdlens_coding]
