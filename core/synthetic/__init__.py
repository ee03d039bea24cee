"""Synthetic clips the pdlens team makes: no person was recorded, no patient data.

Used by the demo database (core.demo, at build time) and by the tests and benchmarks (through
tests/fixtures/movement, which re-export these modules):

* `video`: encode RGB frames (or a synthetic tone) with PyAV.
* `hand`: finger-tapping and rest-tremor clips made by warping and moving one real, openly
  licensed photograph of a hand (`hand_palm.jpg`, provenance in PROVENANCE.md).

The walking and seated-scene generators stay in tests/fixtures/movement: they paste a real,
recognisable person's portrait (a NASA astronaut, public domain), which is fine for a test but
not for a demo patient's record.

Everything these modules make is synthetic and must be labelled so wherever it is shown.
"""
