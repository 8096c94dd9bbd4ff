"""linnet.measure: one crossing time, distances without cancellation, times to accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linnet.data import Target
from linnet.measure import (
    crossing_time,
    distance_to_Z1,
    fit_decay_rate,
    polar_distance,
    polar_time_to_accuracy,
)

T = np.linspace(0.0, 10.0, 101)


def test_an_exponential_is_located_exactly_between_samples():
    # log-linear interpolation is exact for y = e^{-t}: the crossing of e^{-3.33}
    # lies between the samples 3.3 and 3.4 and is found to round-off.
    assert crossing_time(T, np.exp(-T), math.exp(-3.33)) == pytest.approx(
        3.33, rel=1e-13
    )
    # the same curve sampled 10x more coarsely still gives the exact time
    coarse = T[::10]
    assert crossing_time(coarse, np.exp(-coarse), math.exp(-3.33)) == pytest.approx(
        3.33, rel=1e-13
    )


def test_the_convention_at_the_edges():
    y = np.exp(-T)
    assert crossing_time(T, y, 2.0) == 0.0  # below at t[0]: t[0]
    assert crossing_time(T + 1.0, y, 2.0) == 1.0
    assert (
        crossing_time(T, y, 1e-9) == math.inf
    )  # never reached: censored at the horizon
    assert crossing_time(T, y, 1e-9, stay=True) == math.inf
    assert crossing_time(T, y, 2.0, stay=True) == 0.0


def test_stay_waits_for_the_last_crossing():
    # dips below 0.5 at t ~ 0.69, comes back above at t = 5, then decays for good
    y = np.exp(-T) + np.where(np.abs(T - 5.0) < 0.05, 1.0, 0.0)
    first = crossing_time(T, y, 0.5)
    last = crossing_time(T, y, 0.5, stay=True)
    assert first == pytest.approx(math.log(2.0), rel=1e-12)
    assert 5.0 < last <= 5.1


def test_a_signed_margin_is_interpolated_linearly():
    # a margin crossing zero cannot be interpolated in log y; linearly it is exact for a line
    assert crossing_time(T, 2.0 - T, 0.0) == pytest.approx(2.0, rel=1e-14)
    assert crossing_time(T, 2.05 - T, 0.0) == pytest.approx(2.05, rel=1e-13)


def test_stacks_and_levels_broadcast():
    y = np.stack([np.exp(-T), np.exp(-2 * T)])
    out = crossing_time(T, y[:, None, :], np.array([0.5, 0.1]))
    assert out.shape == (2, 2)
    assert out == pytest.approx(
        np.log([[2.0, 10.0], [2.0, 10.0]]) / [[1.0], [2.0]], rel=1e-12
    )


@pytest.mark.parametrize(
    "t, y, level, match",
    [
        ([0.0, 1.0, 1.0], [3.0, 2.0, 1.0], 1.5, "t must be"),
        ([0.0, 1.0], [3.0, 2.0, 1.0], 1.5, "y must have its last axis"),
        ([0.0, 1.0], [3.0, np.nan], 1.5, "y must be finite"),
        ([0.0, 1.0], [3.0, 2.0], np.nan, "level must be finite"),
    ],
)
def test_bad_input_names_the_parameter(t, y, level, match):
    with pytest.raises(ValueError, match=match):
        crossing_time(t, y, level)


def test_polar_distance_has_no_cancellation():
    # near Z_1 (r = s_Z (1 + 1e-9), theta = 1e-9) the naive r^2 + s^2 - 2 r s cos(theta)
    # loses every digit; the product form keeps them (exact value from the series).
    s, dr, th = 3.0, 1e-9, 1e-9
    r = s * (1 + dr)
    exact = math.sqrt((s * dr) ** 2 + r * s * th**2)  # sin(th/2)^2 = th^2/4 to O(th^4)
    assert polar_distance(r, th, s) == pytest.approx(exact, rel=1e-12)
    naive = math.sqrt(max(r * r + s * s - 2 * r * s * math.cos(th), 0.0))
    assert (
        abs(naive - exact) / exact > 1e-3
    )  # the control: the naive form is wrong here


def test_distance_to_Z1_matches_the_definition():
    target = Target.from_matrix(np.array([[3.0, 0.0], [0.0, 1.0]]), 2)
    W = np.array([[1.0, 2.0], [0.0, 5.0]])
    assert distance_to_Z1(W, target) == pytest.approx(math.sqrt(4 + 4 + 25))
    assert distance_to_Z1(np.stack([W, target.Z1]), target) == pytest.approx(
        [math.sqrt(33), 0.0]
    )


def test_polar_time_to_accuracy_is_exact_at_depth_one():
    # N = 1: W(t) - Z = (W0 - Z) e^{-m t}, so the time to reach rel_tol is
    # log(||W0 - Z|| / (rel_tol s_Z)) / m in closed form.
    s_Z, m = 2.0, 3.0
    r0, theta0 = np.array([5.0, 0.5]), np.array([0.4, 1.0])
    d0 = np.sqrt(r0**2 + s_Z**2 - 2 * r0 * s_Z * np.cos(theta0))
    t = np.concatenate([[0.0], np.geomspace(1e-4, 20.0, 300)])
    times = polar_time_to_accuracy(r0, theta0, s_Z, m, 1, t, rel_tol=[1e-2, 1e-6])
    expected = np.log(d0[:, None] / (np.array([1e-2, 1e-6]) * s_Z)) / m
    assert times == pytest.approx(expected, rel=1e-8)


def test_fit_decay_rate_recovers_an_exponential():
    fit = fit_decay_rate(T, 5.0 * np.exp(-0.7 * T), 1e-3, 1.0)
    assert fit.rate == pytest.approx(0.7, rel=1e-12)
