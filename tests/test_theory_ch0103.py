"""Tests of the closed forms of chapters 01-03 in linnet.theory, each against an
independent computation: the loss along the escape direction of the zero network, the
scalar-output flow in closed form along its angle clock, the opposite-ray clock, the
vanishing singular value and the lingering laws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from linnet.chapters.landscape import (
    escape_direction_at_zero,
    loss_decrease,
    regression_data,
)
from linnet.data import spectral_target
from linnet.flows import induced_operator, scalar_polar_flow
from linnet.measure import polar_distance
from linnet.network import end_to_end, loss
from linnet.theory import (
    induced_operator_holder_exponent,
    lingering_slopes,
    opposite_ray_clock,
    opposite_ray_exponent,
    polar_angle_clock,
    scalar_polar_path,
    slowest_nearby_rate,
    vanishing_singular_value_exponent,
    zero_escape_loss_decrease,
)

# --- chapter 01: the escape from the zero network ----------------------------


@pytest.mark.parametrize("N", [2, 3, 4, 6])
def test_zero_escape_loss_decrease_matches_the_network(N):
    X, Y = regression_data(40, 4, 3, 0)
    D = escape_direction_at_zero(X, Y, [4] + [3] * N)
    eps = np.geomspace(1e-3, 1.0, 7)
    got = zero_escape_loss_decrease(eps, X, Y, N)
    # from the end-to-end matrices (no cancellation) and, where it is large enough,
    # from the two losses of the network itself
    direct = loss_decrease(
        np.stack([end_to_end([e * Dj for Dj in D]) for e in eps]), X, Y
    )
    np.testing.assert_allclose(got, direct, rtol=1e-12)
    zero = [np.zeros_like(Dj) for Dj in D]
    big = loss(zero, X, Y) - loss([1.0 * Dj for Dj in D], X, Y)
    assert abs(zero_escape_loss_decrease(1.0, X, Y, N) - big) <= 1e-12 * loss(
        zero, X, Y
    )


def test_zero_escape_loss_decrease_validates():
    X, Y = regression_data(40, 4, 3, 0)
    with pytest.raises(ValueError, match="depth"):
        zero_escape_loss_decrease(0.1, X, Y, 1)
    with pytest.raises(ValueError, match="scale"):
        zero_escape_loss_decrease([0.1, np.nan], X, Y, 2)
    with pytest.raises(ValueError, match="Y"):
        zero_escape_loss_decrease(0.1, X, Y[:, :-1], 2)


# --- chapter 02: the operator (16) at a rank drop, a vanishing singular value ---


@pytest.mark.parametrize("N", [2, 3, 4, 6])
def test_holder_exponent_against_the_operator(N):
    # ||A_Wk(Delta) - A_Z1(Delta)|| along W_k = Z_1 + e_k u_2 v_2^T, by flows.induced_operator
    # (which treats sigma_2 <= RANK_ONE_RTOL sigma_1 as rank one, so e_k >= 1e-7 s_Z here);
    # the next term is smaller by e_k^min(1, 2/N) <= (1e-5 / 2)^(1/3) < 0.02 relative,
    # which moves the fitted slope by well under 0.01.
    t = spectral_target([2.0, 1.0, 0.5], 3, 4, 10, 0)
    Delta = np.random.default_rng(1).standard_normal((3, 4))
    e_k = np.geomspace(1e-7, 1e-5, 7)
    A_lim = induced_operator(t.Z1, N, Delta)
    gaps = [
        np.linalg.norm(
            induced_operator(t.Z1 + e * np.outer(t.U[:, 1], t.Vt[1]), N, Delta) - A_lim
        )
        for e in e_k
    ]
    slope = np.polyfit(np.log(e_k), np.log(gaps), 1)[0]
    assert abs(slope - induced_operator_holder_exponent(N)) <= 0.01
    assert induced_operator_holder_exponent(1) == 1.0


@pytest.mark.parametrize("N", [2, 3, 5, 8])
def test_vanishing_singular_value_exponent_against_the_ode(N):
    # ds/dt = -m N s^(3 - 2/N), integrated numerically; log-log slope at late times.
    m, s0 = 2.0, 0.7
    t = np.geomspace(1e3, 1e5, 20)
    sol = solve_ivp(
        lambda _, s: -m * N * s ** (3 - 2 / N),
        (0.0, t[-1]),
        [s0],
        t_eval=t,
        rtol=1e-11,
        atol=1e-300,
        method="DOP853",
    )
    slope = np.polyfit(np.log(t), np.log(sol.y[0]), 1)[0]
    # The slope of (s0^-k + k m N t)^(-1/k) differs from -1/k by O(s0^-k / (k m N t)) < 1e-3.
    assert abs(slope - vanishing_singular_value_exponent(N)) <= 1e-3
    with pytest.raises(ValueError, match="depth"):
        vanishing_singular_value_exponent(1)


# --- chapter 03: the scalar-output flow in closed form -----------------------


def test_polar_angle_clock():
    th = np.array([1e-3, 0.5, 2.0, math.pi - 1e-3])
    np.testing.assert_allclose(np.tanh(polar_angle_clock(th)), np.cos(th), rtol=1e-12)
    assert polar_angle_clock(0.0) == 40.0
    with pytest.raises(ValueError, match="theta"):
        polar_angle_clock(math.pi)


@pytest.mark.parametrize("N", [2, 3, 5])
def test_scalar_polar_path_solves_the_polar_flow(N):
    s_Z, m = 0.8, 3.0
    rng = np.random.default_rng(N)
    r0 = s_Z * 10 ** rng.uniform(-1, 1, 4)
    th0 = rng.uniform(0.1, 2.8, 4)
    span = np.full(4, 8.0)
    t, r, theta = scalar_polar_path(r0, th0, s_Z, m, N, span, points=4000)
    assert np.all(t[:, 0] == 0) and np.all(np.diff(t, axis=1) > 0)
    np.testing.assert_allclose(r[:, 0], r0, rtol=1e-12)
    np.testing.assert_allclose(theta[:, 0], th0, rtol=1e-12)
    for i in range(4):
        # the ODE solver at the path's times (every 200th node)
        idx = np.arange(0, 4000, 200)
        ode = scalar_polar_flow(
            r0[i : i + 1], th0[i : i + 1], s_Z, m, N, t[i, idx], rtol=1e-12
        )
        # r and theta are exact functions of the clock; t(x) is a trapezoid rule on
        # 4000 nodes (relative error ~1e-6), which moves the comparison point by that much.
        np.testing.assert_allclose(ode.r[0], r[i, idx], rtol=1e-5)
        np.testing.assert_allclose(ode.theta[0], theta[i, idx], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("N", [2, 3, 5, 8])
def test_distance_along_the_path_is_nonincreasing(N):
    # ||W - Z_1||^2 = 2 L_1 / m + const for d_y = 1, and (17) is a gradient flow
    # preconditioned by a PSD operator: the distance never increases. At the nodes it
    # may rise only by the round-off of r near s_Z (measured: < 1e-13 s_Z).
    rng = np.random.default_rng(10 + N)
    r0 = 10 ** rng.uniform(-12, 2, 300)
    th0 = rng.uniform(0.0, math.pi - 1e-4, 300)
    span = np.abs(polar_angle_clock(th0)) + np.maximum(0, -np.log(r0)) / N + 25.0
    _, r, theta = scalar_polar_path(r0, th0, 1.0, 1.0, N, span)
    d = polar_distance(r, theta, 1.0)
    assert np.max(np.diff(d, axis=1)) <= 1e-13


def test_scalar_polar_path_validates():
    with pytest.raises(ValueError, match="r0"):
        scalar_polar_path([0.0], [0.5], 1.0, 1.0, 3, [1.0])
    with pytest.raises(ValueError, match="theta"):
        scalar_polar_path([1.0], [math.pi], 1.0, 1.0, 3, [1.0])
    with pytest.raises(ValueError, match="span"):
        scalar_polar_path([1.0], [0.5], 1.0, 1.0, 3, [-1.0])
    with pytest.raises(ValueError, match="depth"):
        scalar_polar_path([1.0], [0.5], 1.0, 1.0, 1, [1.0])


@pytest.mark.parametrize("N", [3, 5, 8])
def test_opposite_ray_clock_runs_at_one_plus_rho(N):
    # On the ray theta = pi: r' = -m N r^(2-2/N) (r + s_Z). The tau-derivative of the
    # clock by the chain rule with a central difference in r.
    s_Z, m = 1.7, 4.0
    r = s_Z * np.geomspace(1e-6, 3.0, 9)
    h = 1e-6 * r
    dclock_dr = (
        opposite_ray_clock(r + h, s_Z, N) - opposite_ray_clock(r - h, s_Z, N)
    ) / (2 * h)
    drdt = -m * N * r ** (2 - 2 / N) * (r + s_Z)
    dclock_dtau = dclock_dr * drdt / slowest_nearby_rate(s_Z, m, N)
    np.testing.assert_allclose(dclock_dtau, 1 + r / s_Z, rtol=1e-8)
    assert opposite_ray_exponent(N) == pytest.approx(-N / (N - 2), rel=1e-15)


def test_opposite_ray_exponent_against_the_flow():
    # ||W(t)|| on the ray from the ODE solver: log-log slope at late times.
    N, s_Z, m = 5, 1.0, 1.0
    t = np.geomspace(1e5, 1e7, 15)
    res = scalar_polar_flow([s_Z], [math.pi], s_Z, m, N, t, rtol=1e-11, atol=1e-300)
    slope = np.polyfit(np.log(t), np.log(res.r[0]), 1)[0]
    # The affine offset of the clock shifts the slope by O(1 / ((N-2) tau)) ~ 1e-5.
    assert abs(slope - opposite_ray_exponent(N)) <= 1e-3
    with pytest.raises(ValueError, match="depth"):
        opposite_ray_exponent(2)
    with pytest.raises(ValueError, match="r"):
        opposite_ray_clock(0.0, 1.0, 3)


def test_lingering_slopes_values():
    assert lingering_slopes(2) == (0.5, 2.0)
    for N in (3, 5, 8):
        small, ray = lingering_slopes(N)
        assert small == pytest.approx(-(N - 2) / N, rel=1e-15)
        assert ray == N - 2
    with pytest.raises(ValueError, match="depth"):
        lingering_slopes(1)
