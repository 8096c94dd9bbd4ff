"""Tests of linnet.chapters.stable_set: sampling at a correlation level, the analytic SVD (19),
the manifold M_{N,r} (20), the conservation law (15) and the time-to-epsilon
quadrature against the ODE solver."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linnet.chapters.stable_set import (
    conservation_drift,
    polar_coordinates,
    printed_15_gap,
    rank_drop_sequence,
    sample_at_correlation,
    singular_value_velocity,
    tangent_residual,
    time_to_accuracy_polar,
)
from linnet.data import Target, whitened_data
from linnet.flows import (
    gradient_flow,
    induced_flow,
    induced_operator,
    scalar_polar_flow,
)
from linnet.init import gaussian_init
from linnet.measure import polar_distance, polar_time_to_accuracy
from linnet.theory import correlation_with_target, lingering_slopes


@pytest.fixture(scope="module")
def target3():
    X, Y = whitened_data(30, 5, 3, 1)
    return Target.from_data(X, Y)


@pytest.fixture(scope="module")
def target1():
    X, Y = whitened_data(30, 4, 1, 0)
    return Target.from_data(X, Y)


# --- sampling and the set (28) ---------------------------------------------


@settings(max_examples=30, deadline=None)
@given(c=st.floats(-1.0, 1.0), s=st.floats(1e-3, 1e3), seed=st.integers(0, 10**6))
def test_sample_at_correlation_hits_the_level(target3, c, s, seed):
    W = sample_at_correlation(target3, [s / target3.s_Z], [c], seed)[0]
    # Bisection to 2^-60 in the path parameter: the level is met to round-off (1e-12 is generous).
    assert abs(correlation_with_target(W, target3) / target3.s_Z - c) <= 1e-12
    assert abs(np.linalg.norm(W) - s) <= 1e-12 * s
    sv = np.linalg.svd(W, compute_uv=False)
    assert sv[1] <= 1e-13 * sv[0]


def test_sample_at_correlation_scalar_output(target1):
    c = np.linspace(-1, 1, 21)
    W = sample_at_correlation(target1, np.ones_like(c), c, 0)
    got = correlation_with_target(W, target1) / target1.s_Z
    assert np.max(np.abs(got - c)) <= 1e-12


def test_sampling_validates(target3):
    with pytest.raises(ValueError, match=r"correlations must be .* in \[-1, 1\]"):
        sample_at_correlation(target3, [1.0], [1.5], 0)
    with pytest.raises(ValueError, match="norm_ratios must be finite positive"):
        sample_at_correlation(target3, [0.0], [0.5], 0)


# --- gradient flow and the induced flow ------------------------------------


def test_conservation_drift_small_for_an_unbalanced_start():
    X, Y = whitened_data(20, 3, 2, 0)
    run = gradient_flow(
        gaussian_init([3, 4, 2, 2], 0.5, 0),
        X,
        Y,
        np.linspace(0, 1, 11),
        rtol=1e-12,
        atol=1e-14,
    )
    drift = conservation_drift(run.weights)
    assert drift[0] == 0
    # Exact flow conserves D_j; DOP853 at rtol 1e-12 over unit time drifts ~1e-11 (1e-9 is generous).
    assert np.max(drift) <= 1e-9


def test_conservation_drift_validates():
    with pytest.raises(ValueError, match="depth N >= 2"):
        conservation_drift([np.zeros((3, 2, 2))])
    with pytest.raises(ValueError, match=r"weights\[1\] must have 2 columns"):
        conservation_drift([np.zeros((3, 2, 2)), np.zeros((3, 3, 3))])
    with pytest.raises(ValueError, match=r"weights\[1\] must stack 3 matrices"):
        conservation_drift([np.zeros((3, 2, 2)), np.zeros((4, 2, 2))])
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite"):
        conservation_drift([np.full((3, 2, 2), np.nan), np.zeros((3, 2, 2))])
    with pytest.raises(ValueError, match=r"\(T, d_j, d_\{j-1\}\)"):
        conservation_drift([np.zeros((2, 2)), np.zeros((2, 2))])


def test_printed_15_fails_for_equal_widths():
    # (15) as printed: W_1 = W_2 = A satisfies W_2^T W_2 = W_1^T W_1, but gradient flow moves
    # W_2^T W_2 - W_1^T W_1 at once. Re-derivation of the errata's hand calculation: with
    # G = grad L_1(W_2 W_1), d/dt (W_2^T W_2 - W_1^T W_1) = -(W_2^T G W_1^T + W_1 G^T W_2) + (W_1^T W_2^T G + G^T W_2 W_1).
    X, Y = whitened_data(20, 2, 2, 3)
    A = np.array([[1.0, 1.0], [0.0, 0.0]])
    h = 1e-4
    run = gradient_flow([A.copy(), A.copy()], X, Y, [0.0, h], rtol=1e-12, atol=1e-14)
    gap = printed_15_gap(run.weights)
    assert gap[0] == 0
    G = A @ A @ X @ X.T - Y @ X.T
    deriv = -(A.T @ G @ A.T + A @ G.T @ A) + (A.T @ A.T @ G + G.T @ A @ A)
    # one step of size h: the gap is h ||deriv|| up to O(h^2) (relative ~1e-3 here)
    assert abs(gap[1] / (h * np.linalg.norm(deriv)) - 1) <= 1e-2
    # the corrected imbalance is conserved on the same run
    assert np.max(conservation_drift(run.weights)) <= 1e-12 * max(
        1.0, np.linalg.norm(A) ** 2
    )


def test_printed_15_gap_validates():
    with pytest.raises(ValueError, match="equal widths"):
        printed_15_gap([np.zeros((3, 2, 2)), np.zeros((3, 3, 2))])
    with pytest.raises(ValueError, match="weights"):
        printed_15_gap([np.zeros((3, 2, 2))])


def test_polar_coordinates_invert_the_polar_form(target1):
    rng = np.random.default_rng(4)
    r = 10 ** rng.uniform(-2, 1, 20)
    th = rng.uniform(0, np.pi, 20)
    v = target1.v
    w = rng.standard_normal(v.size)
    w -= (w @ v) * v
    w /= np.linalg.norm(w)
    W = (
        r[:, None, None]
        * (np.cos(th)[:, None] * v + np.sin(th)[:, None] * w)[:, None, :]
    )
    # sign of Z_1: Z_1 = s_Z u v^T with u = +-1 for d_y = 1
    if target1.u[0] < 0:
        W = -W
    r2, th2 = polar_coordinates(W, target1)
    assert np.allclose(r2, r, rtol=1e-13) and np.allclose(th2, th, atol=1e-7)
    with pytest.raises(ValueError, match="nonzero"):
        polar_coordinates(np.zeros((1, 1, v.size)), target1)
    # one matrix gives two floats (a thin call of measure.angle_to_Z1)
    r1, th1 = polar_coordinates(W[0, 0][None], target1)
    assert isinstance(r1, float) and r1 == pytest.approx(r[0], rel=1e-13)
    assert th1 == pytest.approx(th2[0], abs=1e-15)


def test_polar_coordinates_keep_small_angles(target1):
    # arccos of the cosine loses half the digits near 0 and pi (cos(1e-9) == 1.0, so the
    # angle would come out 0); from the part of W orthogonal to Z the angle is accurate to
    # round-off in absolute terms (a few 1e-16 here).
    v = target1.v * np.sign(target1.u[0])
    w = np.zeros_like(v)
    w[np.argmin(np.abs(v))] = 1.0
    w -= (w @ v) * v
    w /= np.linalg.norm(w)
    th = np.array([1e-12, 1e-9, 1e-6, np.pi - 1e-9])
    W = (np.cos(th)[:, None] * v + np.sin(th)[:, None] * w)[:, None, :] * 2.0
    r, th2 = polar_coordinates(W, target1)
    np.testing.assert_allclose(r, 2.0, rtol=1e-14)
    assert np.max(np.abs(th2 - th)) <= 1e-14


def test_polar_coordinates_rejects_multi_output(target3):
    with pytest.raises(ValueError, match="d_y = 1"):
        polar_coordinates(np.ones((1, target3.dy, target3.dx)), target3)


def test_singular_value_velocity_matches_finite_differences(target3):
    W0 = np.random.default_rng(0).standard_normal((3, 5)) * 0.3
    h = 1e-6
    run = induced_flow(W0, target3, 3, [0.0, h, 2 * h], rtol=1e-13, atol=1e-16)
    s = np.linalg.svd(run.W, compute_uv=False)
    fd = (-3 * s[0] + 4 * s[1] - s[2]) / (2 * h)
    # Second-order difference: truncation ~ h^2 |s'''| (measured 2e-6 relative at h = 1e-5, so ~2e-8 here);
    # the solver's error 1e-13 / h ~ 1e-7. 1e-6 relative bounds both.
    np.testing.assert_allclose(fd, singular_value_velocity(W0, target3, 3), rtol=1e-6)


def test_induced_operator_is_tangent_to_the_rank_manifold(target3):
    rng = np.random.default_rng(1)
    W = rng.standard_normal((3, 2)) @ rng.standard_normal((2, 5))
    Delta = rng.standard_normal((3, 5))
    for N in (2, 3, 5):
        assert tangent_residual(W, induced_operator(W, N, Delta), 2) <= 1e-13
    assert tangent_residual(W, Delta, 2) > 0.1  # a generic Delta is not tangent


def test_rank_drop_sequence():
    U = np.linalg.qr(np.random.default_rng(2).standard_normal((3, 3)))[0]
    V = np.linalg.qr(np.random.default_rng(3).standard_normal((4, 4)))[0]
    W_lim = np.outer(U[:, 0], V[:, 0])
    seq = rank_drop_sequence(W_lim, np.outer(U[:, 1], V[:, 1]), [1.0, 1e-3, 1e-6])
    assert [np.linalg.matrix_rank(W, tol=1e-12) for W in seq] == [2, 2, 2]
    with pytest.raises(ValueError, match="orthogonal"):
        rank_drop_sequence(W_lim, np.outer(U[:, 0], V[:, 1]), [1.0])


# --- time to accuracy -------------------------------------------------------


@pytest.mark.parametrize("N", [2, 3, 5, 8])
def test_time_to_accuracy_agrees_with_the_ode_solver(N):
    s_Z, m, rel_tol = 0.1, 50.0, 1e-3
    rng = np.random.default_rng(N)
    r0 = s_Z * 10 ** rng.uniform(-1.5, 1, 12)
    th0 = rng.uniform(0, 2.8, 12)
    T = time_to_accuracy_polar(r0, th0, s_Z, m, N, rel_tol=rel_tol)
    assert np.all(np.isfinite(T))
    for i in range(r0.size):
        # Just before the crossing the flow is still farther than rel_tol, just after it is closer:
        # a window of 1e-3 T (plus 1e-3 time constants) around the quadrature's answer.
        w = 1e-3 * T[i] + 1e-3 / (m * s_Z ** (2 - 2 / N))
        run = scalar_polar_flow(
            r0[i : i + 1],
            th0[i : i + 1],
            s_Z,
            m,
            N,
            [0.0, max(T[i] - w, 1e-12), T[i] + w],
            rtol=1e-12,
        )
        d = polar_distance(run.r[0], run.theta[0], s_Z) / s_Z
        assert d[1] > rel_tol * (1 - 1e-6) and d[2] < rel_tol * (1 + 1e-6), (i, d, T[i])


def test_time_to_accuracy_edge_cases():
    T = time_to_accuracy_polar(
        [1.0, 1.0, 1.0], [np.pi, 0.0, 0.0], 1.0, 1.0, 3, rel_tol=1e-3
    )
    assert T[0] == np.inf and T[1] == 0.0
    # only starts on the opposite ray: nothing to integrate, all never converge
    assert np.all(
        time_to_accuracy_polar([1.0, 2.0], [np.pi, np.pi], 1.0, 1.0, 3, rel_tol=1e-3)
        == np.inf
    )
    # the shape of r0 is kept
    assert time_to_accuracy_polar(
        np.ones((2, 3)), np.full((2, 3), 0.5), 1.0, 1.0, 3, rel_tol=1e-3
    ).shape == (2, 3)
    with pytest.raises(ValueError, match=r"rel_tol must be in \(0, 1\)"):
        time_to_accuracy_polar([1.0], [0.5], 1.0, 1.0, 3, rel_tol=2.0)
    with pytest.raises(ValueError, match="depth"):
        time_to_accuracy_polar([1.0], [0.5], 1.0, 1.0, 1, rel_tol=1e-3)
    with pytest.raises(ValueError, match="r0"):
        time_to_accuracy_polar([0.0], [0.5], 1.0, 1.0, 3, rel_tol=1e-3)


def test_time_to_accuracy_power_laws():
    # The lingering laws of linnet.theory.lingering_slopes: near the opposite ray
    # T ~ delta^-(N-2), from a small norm T ~ r0^-(1-2/N) for N >= 3; logarithms for N = 2.
    d = np.geomspace(1e-4, 1e-2, 5)
    r_small = np.geomspace(1e-12, 1e-8, 5)
    for N in (2, 3, 5):
        small_law, ray_law = lingering_slopes(N)
        T_ray = time_to_accuracy_polar(
            np.ones_like(d), np.pi - d, 1.0, 1.0, N, rel_tol=1e-3
        )
        T_small = time_to_accuracy_polar(
            r_small, np.full(5, np.pi / 4), 1.0, 1.0, N, rel_tol=1e-3
        )
        if N == 2:
            ray = np.polyfit(np.log(1 / d), T_ray, 1)[0]
            small = np.polyfit(np.log(1 / r_small), T_small, 1)[0]
        else:
            ray = np.polyfit(np.log(1 / d), np.log(T_ray), 1)[0]
            small = np.polyfit(np.log(r_small), np.log(T_small), 1)[0]
        assert abs(ray - ray_law) <= 0.02 and abs(small - small_law) <= 0.01, N


@pytest.mark.parametrize("N", [2, 3, 5])
def test_time_to_accuracy_polar_agrees_with_the_measured_time(N):
    # One convention with linnet.measure.polar_time_to_accuracy (stay=True): the
    # quadrature against the time read off the ODE solver on a fine grid.
    s_Z, m = 0.5, 4.0
    rng = np.random.default_rng(20 + N)
    r0 = s_Z * 10 ** rng.uniform(-1, 1, 5)
    th0 = rng.uniform(0.1, 2.5, 5)
    T = time_to_accuracy_polar(r0, th0, s_Z, m, N, rel_tol=1e-2)
    grid = np.linspace(0.0, 1.2 * T.max(), 4001)
    measured = polar_time_to_accuracy(r0, th0, s_Z, m, N, grid, rel_tol=1e-2)
    # the grid step is 3e-4 of the horizon; log-linear interpolation between samples
    np.testing.assert_allclose(measured, T, rtol=1e-4, atol=1e-4 * grid[-1])


# --- inputs are never changed -------------------------------------------------


def test_inputs_are_not_changed(target1, target3):
    W0s = sample_at_correlation(target3, [1.0, 0.5], [0.8, -0.2], 0)
    saved = W0s.copy()
    singular_value_velocity(W0s[0], target3, 3)
    assert np.array_equal(W0s, saved) and W0s.flags.writeable
    W1 = sample_at_correlation(target1, [1.0, 2.0], [0.3, 0.9], 1)
    r, th = polar_coordinates(W1, target1)
    r_saved, th_saved = r.copy(), th.copy()
    time_to_accuracy_polar(r, th, target1.s_Z, target1.m, 3, rel_tol=1e-3)
    assert np.array_equal(r, r_saved) and np.array_equal(th, th_saved)
