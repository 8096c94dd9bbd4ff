"""Tests of linnet.chapters.depth: components of ``W - Z_1``, the rates measured on
trajectories, times measured against the far-away law, the scale law and the
two-phase estimate of :mod:`linnet.theory` (their formulas:
``tests/test_theory_phases.py``), the bound-to-truth ratio; and the core measurements the chapter reads its times with
(:mod:`linnet.measure`: rate fits, crossing times, the polar distance).

Tolerances. Signals built from exact exponentials are fitted and interpolated
exactly up to round-off (``1e-12``). On integrated trajectories
(``rtol <= 1e-12``) fitted rates agree with the closed forms of
:mod:`linnet.theory` to ``~1e-5`` (the quadratic terms of (17) inside the
fitting window ``[1e-8, 1e-5] s_Z``); ``1e-3`` is the chapter's requirement.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linnet import measure
from linnet import theory as th
from linnet.chapters import depth as dp
from linnet.data import Target
from linnet.flows import FlowIntegrationError, scalar_polar_flow
from linnet.init import rank_one_start

PI6 = math.pi / 6


# -- kappa, components, starts --------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    angle=st.floats(1e-9, 1.5),
    ratio=st.floats(0.01, 100),
    seed=st.integers(0, 2**32 - 1),
)
def test_rank_one_start_has_the_asked_norm_and_angle(matrix_data, angle, ratio, seed):
    _, _, target = matrix_data
    W0 = rank_one_start(target, ratio, angle, seed)
    sv = np.linalg.svd(W0, compute_uv=False)
    assert sv[1] <= 1e-12 * sv[0]
    assert np.linalg.norm(W0) == pytest.approx(ratio * target.s_Z, rel=1e-12)
    assert measure.angle_to_Z1(W0, target) == pytest.approx(angle, rel=1e-6)


def test_rank_one_start_scalar_output(figure1_data):
    _, _, target = figure1_data
    W0 = rank_one_start(target, 10, PI6, 3)
    assert np.linalg.norm(W0) == pytest.approx(10 * target.s_Z, rel=1e-12)
    assert measure.angle_to_Z1(W0, target) == pytest.approx(PI6, rel=1e-12)
    with pytest.raises(ValueError, match="angle"):
        rank_one_start(target, 1.0, 4.0, 0)
    with pytest.raises(ValueError, match="1 x 1"):
        rank_one_start(Target.from_matrix([[2.0]]), 1.0, 0.1, 0)
    assert np.allclose(
        rank_one_start(Target.from_matrix([[2.0]]), 1.5, 0.0, 0), [[3.0]]
    )


def test_angle_keeps_relative_accuracy_for_tiny_angles(figure1_data):
    _, _, target = figure1_data
    for angle in (1e-3, 1e-7, 1e-10):
        W = 3.0 * rank_one_start(target, 1.0, angle, 0)
        assert measure.angle_to_Z1(W, target) == pytest.approx(angle, rel=1e-5)
    with pytest.raises(ValueError, match="nonzero"):
        measure.angle_to_Z1(np.zeros_like(target.Z), target)


def test_mode_starts_excite_their_mode(matrix_data):
    _, _, target = matrix_data
    modes = th.nearby_modes(target, 3)
    a = 1e-4
    for k, E in enumerate(modes.directions):
        W0 = dp.mode_start(target, E, a)
        sv = np.linalg.svd(W0, compute_uv=False)
        assert sv[1] <= 1e-12 * sv[0]
        x = dp.mode_coordinates(W0, target, modes.directions) / target.s_Z
        # First order: the k-th coordinate is a, the others O(a^2).
        assert x[k] == pytest.approx(a, rel=1e-3)
        assert np.max(np.abs(np.delete(x, k))) <= 10 * a**2


def test_radial_deviation_and_shapes(matrix_data):
    _, _, target = matrix_data
    stack = np.stack([2 * target.Z1, 0.5 * target.Z1])
    assert np.allclose(
        dp.radial_deviation(stack, target), [target.s_Z, -0.5 * target.s_Z]
    )
    assert dp.radial_deviation(stack[0], target) == pytest.approx(target.s_Z)
    assert isinstance(measure.angle_to_Z1(stack[0], target), float)
    assert dp.mode_coordinates(stack, target, stack).shape == (2, 2)
    assert dp.mode_coordinates(stack[0], target, stack).shape == (2,)
    with pytest.raises(ValueError, match="shape"):
        dp.radial_deviation(np.ones((2, 2)), target)
    with pytest.raises(ValueError, match="directions"):
        dp.mode_coordinates(stack, target, stack[0])
    with pytest.raises(ValueError, match="finite"):
        measure.angle_to_Z1(np.full(target.Z.shape, np.nan), target)
    with pytest.raises(ValueError, match="Target"):
        measure.angle_to_Z1(target.Z, "Z")


# -- fitting and reading times --------------------------------------------------


def test_fit_decay_rate_is_exact_on_an_exponential():
    t = np.linspace(0, 10, 501)
    y = 3.0 * np.exp(-2.5 * t)
    fit = measure.fit_decay_rate(t, y, 1e-8, 1e-2)
    assert fit.rate == pytest.approx(2.5, rel=1e-12)
    assert fit.residual <= 1e-10
    assert (
        y[np.searchsorted(t, fit.t_start)] <= 1e-2
        and y[np.searchsorted(t, fit.t_stop)] >= 1e-8
    )
    # The window starts after the last sample above hi, even if an early sample dipped below.
    y2 = y.copy()
    y2[3] = 1e-3
    assert measure.fit_decay_rate(t, y2, 1e-8, 1e-2).rate == pytest.approx(
        2.5, rel=1e-12
    )


def test_fit_decay_rate_errors():
    t = np.linspace(0, 1, 11)
    with pytest.raises(ValueError, match="window"):
        measure.fit_decay_rate(t, np.exp(-t), 1e-8, 1e-6)
    with pytest.raises(ValueError, match="lo must be < hi"):
        measure.fit_decay_rate(t, np.exp(-t), 1.0, 0.5)
    with pytest.raises(ValueError, match="same length"):
        measure.fit_decay_rate(t, np.exp(-t)[:-1], 1e-3, 1.0)


def test_crossing_time_to_stay_on_exponentials():
    # The chapter reads every time to accuracy with crossing_time(stay=True): exact for exponentials.
    t = np.linspace(0, 5, 301)
    y = np.stack([np.exp(-t), 2 * np.exp(-3 * t)])
    levels = np.array([0.5, 1e-2, 5.0])
    T = measure.crossing_time(t, y[:, None, :], levels, stay=True)
    assert T.shape == (2, 3)
    assert T[0, 0] == pytest.approx(math.log(2), rel=1e-12)
    assert T[1, 1] == pytest.approx(math.log(200) / 3, rel=1e-12)
    assert T[0, 2] == 0.0 and T[1, 2] == 0.0  # never above: t[0]
    assert (
        measure.crossing_time(t, np.exp(-t), 1e-6, stay=True) == math.inf
    )  # never reached


# -- nearby rates on trajectories -------------------------------------------------


def test_numerical_linearisation_matches_the_closed_form(matrix_data, figure1_data):
    for target, depths in ((matrix_data[2], (2, 5)), (figure1_data[2], (1, 3))):
        for N in depths:
            lin = dp.numerical_linearisation(target, N)
            modes = th.nearby_modes(target, N)
            assert np.max(np.abs(lin.rates / np.sort(modes.rates) - 1)) <= 1e-7
            assert lin.normal_residual <= 1e-10 and lin.asymmetry <= 1e-7
    with pytest.raises(ValueError, match="depth 1"):
        dp.numerical_linearisation(matrix_data[2], 1)
    with pytest.raises(ValueError, match="step"):
        dp.numerical_linearisation(figure1_data[2], 2, step=0.1)


@pytest.mark.parametrize("depth", [2, 4])
def test_measured_rates_match_the_closed_forms_matrix(matrix_data, depth):
    _, _, target = matrix_data
    W0 = rank_one_start(target, 5.0, PI6, 0)
    r = dp.measure_nearby_rates(W0, target, depth)
    assert r.names[:3] == ("distance", "angle", "radius")
    strict = np.array([n != "radius" for n in r.names])
    assert np.max(r.relative_error[strict]) <= 1e-3
    assert (
        r.relative_error[2] <= 5e-2
    )  # slaved radius: next-order corrections, see measure_nearby_rates
    assert np.all(r.points >= 5)
    assert r.predicted[0] == pytest.approx(th.nearby_modes(target, depth).slowest)


@pytest.mark.parametrize("depth", [1, 2, 6])
def test_measured_rates_match_the_closed_forms_scalar(figure1_data, depth):
    _, _, target = figure1_data
    W0 = rank_one_start(target, 10.0, PI6, 1)
    r = dp.measure_nearby_rates(W0, target, depth)
    assert ("radius" in r.names) == (
        depth != 2
    )  # resonance k_r = 2 mu at N = 2 is left out
    assert np.max(r.relative_error) <= 1e-3


def test_measure_nearby_rates_errors(figure1_data):
    _, _, target = figure1_data
    W0 = rank_one_start(target, 2.0, PI6, 1)
    with pytest.raises(ValueError, match="window"):
        dp.measure_nearby_rates(W0, target, 2, window=(1e-5, 1e-8))
    with pytest.raises(ValueError, match="amplitude"):
        dp.measure_nearby_rates(W0, target, 2, amplitude=1e-6)
    with pytest.raises(ValueError, match="shape"):
        dp.measure_nearby_rates(W0.T, target, 2)


@pytest.mark.parametrize("bad", [1e100, np.nan])
def test_norm_guard_raises_on_a_wrong_trajectory(monkeypatch, bad):
    # A flow that leaves ||W(t)|| <= max(||W0||, s_Z) (impossible for (17)) or is not finite.
    def broken(r0, theta0, s_Z, m, N, t, **kwargs):
        res = scalar_polar_flow(r0, theta0, s_Z, m, N, t, **kwargs)
        r = np.array(res.r)
        r[..., -1] = bad
        return type(res)(t=res.t, r=r, theta=res.theta)

    monkeypatch.setattr(dp, "scalar_polar_flow", broken)
    with pytest.raises(FlowIntegrationError, match="bound"):
        dp.measure_faraway_times(1.0, 1.0, [2], [3.0], PI6, samples=50)


# -- far away -------------------------------------------------------------------------


def test_measured_faraway_times(figure1_data):
    _, _, target = figure1_data
    s_Z, m = target.s_Z, target.m
    ratios = np.array([1.0, 2.0, 1e2, 1e4])
    ft = dp.measure_faraway_times(s_Z, m, [1, 3], ratios, PI6, samples=800)
    # N = 1 is linear: the distance halves in ln 2 / m from anywhere.
    assert np.allclose(ft.halving[0], math.log(2) / m, rtol=1e-4)
    # Far away the scaling law holds up to O(s_Z / ||W0||).
    pred = th.faraway_halving_time(1e4 * s_Z, m, 3)
    assert ft.halving[1, -1] == pytest.approx(pred, rel=1e-3)
    # tau = 0 inside sqrt(6) s_Z; tau <= tau_bar of Theorem 4.4 (our reconstruction) outside.
    assert np.all(ft.tau[:, :2] == 0)
    for j in (2, 3):
        W0 = ratios[j] * rank_one_start(target, 1.0, PI6, 0)
        bound = th.theorem_4_4_bound(W0, target, 3, 0.8, 0.8, 0.0)
        assert 0 < ft.tau[1, j] <= bound.tau_bar


# -- which depth first --------------------------------------------------------------


def test_scale_law_on_measured_times():
    eps = np.array([1e-6, 1e-2, 0.5])
    ratios = np.array([2.0, 30.0])
    A1 = dp.accuracy_times(1.0, 5.0, [1, 2, 4], ratios, 0.4, eps, samples=600)
    lam = 0.2
    Al = dp.accuracy_times(lam, 5.0, [1, 2, 4], ratios, 0.4, eps, samples=600)
    scaled = th.time_scale_factor(lam, np.array([1, 2, 4]))[:, None, None] * A1.times
    assert np.max(np.abs(Al.times - scaled) / Al.times) <= 1e-8


def test_depth_one_accuracy_times_are_exact():
    eps = np.array([1e-7, 1e-3, 1.0])
    A = dp.accuracy_times(0.3, 2.0, [1], [5.0], PI6, eps, samples=800)
    exact = th.two_phase_time_estimate(0.3, 2.0, 1, 5.0, PI6, eps)
    assert np.allclose(A.times[0, 0], exact, rtol=1e-8)


def test_fastest_depth():
    T = np.array([[1.0, 0.0, 2.0], [0.5, 0.0, 3.0]])
    assert dp.fastest_depth(T, [1, 7]).tolist() == [7, 0, 1]
    with pytest.raises(ValueError, match="NaN"):
        dp.fastest_depth(np.array([[np.nan]]), [1])
    with pytest.raises(ValueError, match="rows"):
        dp.fastest_depth(T, [1])


def test_accuracy_times_errors():
    with pytest.raises(ValueError, match="rel_tol"):
        dp.accuracy_times(1.0, 1.0, [2], [2.0], PI6, [1e-10])
    with pytest.raises(ValueError, match="angle"):
        dp.accuracy_times(1.0, 1.0, [2], [2.0], 2.0, [1e-3])
    with pytest.raises(ValueError, match="depths"):
        dp.accuracy_times(1.0, 1.0, [0], [2.0], PI6, [1e-3])
    with pytest.raises(ValueError, match="norm_ratios"):
        dp.measure_faraway_times(1.0, 1.0, [2], [-2.0], PI6)


def test_polar_distance_has_no_cancellation():
    s_Z = 0.7
    r, th_ = s_Z * (1 + 1e-12), 1e-12
    exact = math.hypot(r * math.cos(th_) - s_Z, r * math.sin(th_))
    assert measure.polar_distance(r, th_, s_Z) == pytest.approx(exact, rel=1e-6)
    res = scalar_polar_flow([2 * s_Z], [0.3], s_Z, 1.0, 3, [0.0, 1.0])
    assert np.all(measure.polar_distance(res.r, res.theta, s_Z) > 0)


# -- Theorem 4.4 (our reconstruction) against the exact rate --------------------------


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_bound_rate_ratio_closed_form(matrix_data, scale):
    _, _, base = matrix_data
    target = Target.from_matrix(base.Z * scale, base.m)
    W0 = rank_one_start(target, 10.0, 0.4, 2)
    for N in (2, 3, 9):
        r = dp.bound_rate_ratio(W0, target, N)
        # lambda / (2 mu) = alpha beta^{1-2/N} and 2 k_lo >= lambda here, so the ratio is alpha beta^{1-2/N}.
        assert r.ratio == pytest.approx(r.alpha * r.beta ** (1 - 2 / N), rel=1e-12)
        assert r.ratio <= 1.0
        assert r.norm_ratio == pytest.approx(r.beta ** (2 - 2 / N), rel=1e-12)


def test_bound_rate_ratio_errors(matrix_data, figure1_data):
    _, _, target = matrix_data
    W0 = rank_one_start(target, 10.0, 0.4, 2)
    with pytest.raises(ValueError, match="depth"):
        dp.bound_rate_ratio(W0, target, 1)
    with pytest.raises(ValueError, match="gamma/\\(1\\+gamma\\)"):
        dp.bound_rate_ratio(rank_one_start(target, 1.0, 1.5, 2), target, 2)


# -- results are read-only copies; inputs are never changed ---------------------------


def test_times_do_not_freeze_the_callers_arrays():
    ratios = np.array([2.0, 30.0])
    tols = np.array([1e-3, 0.5])
    acc = dp.accuracy_times(1.0, 5.0, [1, 2], ratios, 0.4, tols, samples=200)
    far = dp.measure_faraway_times(1.0, 5.0, [2], ratios, 0.4, samples=200)
    assert ratios.flags.writeable and tols.flags.writeable
    ratios[0] = 7.0  # the results hold copies
    assert acc.norm_ratios[0] == 2.0 and far.norm_ratios[0] == 2.0
    for arr in (
        acc.times,
        acc.rel_tol,
        acc.norm_ratios,
        acc.depths,
        far.halving,
        far.tau,
        far.norm_ratios,
    ):
        with pytest.raises(ValueError):
            arr.flat[0] = 0


def test_rate_results_are_read_only(figure1_data):
    _, _, target = figure1_data
    lin = dp.numerical_linearisation(target, 2)
    W0 = rank_one_start(target, 3.0, PI6, 1)
    before = W0.copy()
    r = dp.measure_nearby_rates(W0, target, 3)
    assert W0.flags.writeable and np.array_equal(W0, before)
    for arr in (lin.basis, lin.jacobian, lin.rates, r.predicted, r.measured, r.points):
        with pytest.raises(ValueError):
            arr.flat[0] = 0
    assert isinstance(r.names, tuple)
