"""The nonlinear voice measures behave as their definitions say on signals whose answer is known
(synthetic signals only: white noise, random walks, sines, pitch sequences with set jitter)."""
from __future__ import annotations

import numpy as np
import pytest

from core.voice import nonlinear

RATE = nonlinear.ANALYSIS_RATE


def _logistic(alpha: float) -> float:
    return 1 / (1 + np.exp(-alpha))


@pytest.fixture(scope="module")
def white_noise() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(100_000)


def test_dfa_recovers_the_scaling_exponent_of_white_noise_and_a_random_walk(white_noise):
    # DFA-1 of white noise has alpha 0.5, of its cumulative sum (a random walk) alpha 1.5;
    # Little's DFA reports the logistic of alpha.
    assert nonlinear.dfa(white_noise) == pytest.approx(_logistic(0.5), abs=0.01)
    assert nonlinear.dfa(np.cumsum(white_noise)) == pytest.approx(_logistic(1.5), abs=0.01)


def test_dfa_needs_two_windows_of_the_largest_size():
    assert np.isnan(nonlinear.dfa(np.ones(150)))


def test_rpde_is_zero_for_a_periodic_signal_and_high_for_noise(white_noise):
    t = np.arange(50_000) / RATE
    assert nonlinear.rpde(np.sin(2 * np.pi * 150 * t)) < 0.05
    noise = white_noise[:50_000] / np.max(np.abs(white_noise[:50_000]))
    assert nonlinear.rpde(noise) > 0.7


def test_correlation_dimension_orders_cycle_torus_and_noise(white_noise):
    t = np.arange(40_000) / RATE
    cycle = np.sin(2 * np.pi * 150 * t)  # a limit cycle: D2 = 1
    torus = cycle + 0.7 * np.sin(2 * np.pi * 150 * np.sqrt(2) * 1.37 * t)  # two incommensurate tones: D2 = 2
    noise = white_noise[:40_000] / np.max(np.abs(white_noise[:40_000]))
    d_cycle, d_torus, d_noise = (nonlinear.correlation_dimension(x) for x in (cycle, torus, noise))
    assert 0.8 < d_cycle < 1.5 and 1.6 < d_torus < 2.5 and d_noise > 5


def test_pitch_measures_are_zero_spread_for_a_steady_pitch():
    steady = np.full(300, 120.0)
    assert nonlinear.pitch_period_entropy(steady) == pytest.approx(0.0)
    assert nonlinear.spread2(steady) == pytest.approx(0.0)
    assert nonlinear.spread1(steady) < -20  # ln of a zero variance, floored


def test_pitch_measures_do_not_depend_on_the_speakers_pitch_level():
    """Little 2009 expresses pitch in semitones so that normal differences in voice pitch do not
    count as dysphonia: the same relative perturbation gives the same value an octave apart."""
    relative = 1 + 0.004 * np.random.default_rng(1).standard_normal(300)
    for measure in (nonlinear.pitch_period_entropy, nonlinear.spread1, nonlinear.spread2):
        assert measure(100 * relative) == pytest.approx(measure(200 * relative), rel=1e-9), measure.__name__


def test_pitch_measures_rise_with_cycle_to_cycle_pitch_perturbation():
    rng = np.random.default_rng(2)
    noise = rng.standard_normal(400)
    small, large = 120 * (1 + 0.002 * noise), 120 * (1 + 0.01 * noise)
    for measure in (nonlinear.pitch_period_entropy, nonlinear.spread1, nonlinear.spread2):
        assert measure(large) > measure(small), measure.__name__
