"""Tests of the book's phase laws in linnet.theory (section "The book's phase laws of the
rank-one reduction of (17)"): the far-away law, the far-phase horizon, the scale factor,
the two-phase estimate (chapter 06), the escape time of a decoupled mode (chapter 07) and
the reduced radial equation they come from.

These are closed forms of this book, not results of the paper. Their measured
counterparts (times read off integrated trajectories) are tested with the chapters:
``tests/test_depth.py`` and ``tests/test_beyond.py``.

Tolerances. Closed forms recomputed here from their formulas agree to round-off
(``1e-14`` relative). Times from an independent ODE solution (scipy's ``solve_ivp`` at
``rtol = 1e-12``, or :func:`linnet.flows.scalar_polar_flow`) agree to ``1e-7``. The
far-phase time is an upper bound, compared with a measured time with no tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linnet import theory as th
from linnet.data import Target
from linnet.flows import induced_velocity, scalar_polar_flow
from linnet.measure import crossing_time

PI6 = math.pi / 6


# -- the reduced radial equation ------------------------------------------------------


def test_reduced_radial_velocity_is_the_norm_velocity_of_17():
    # d||W||/dt = <W, V>/||W|| with V the velocity of (17), on a rank-one W = s u v^T.
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((3, 4))
    target = Target.from_matrix(Z, m=7)
    u, v = rng.standard_normal(3), rng.standard_normal(4)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    for N in (1, 2, 3, 6):
        for s in (0.3, 2.0):
            W = s * np.outer(u, v)
            ds = float(np.sum(W * induced_velocity(W, target, N))) / s
            rho = float(u @ Z @ v)
            assert th.reduced_radial_velocity(s, rho, 7, N) == pytest.approx(
                ds, rel=1e-12
            )
    assert th.reduced_radial_velocity(2.0, 2.0, 1.0, 3) == 0.0


# -- the far-away phase -----------------------------------------------------------------


def test_faraway_halving_time_formula():
    m = 4.0
    assert th.faraway_halving_time(3.0, m, 1) == pytest.approx(math.log(2) / m)
    for N in (2, 3, 8):
        k = 2 - 2 / N
        assert th.faraway_halving_time(3.0, m, N) == pytest.approx(
            (2**k - 1) * 3.0**-k / (k * m * N), rel=1e-14
        )
    # N -> kappa -> 0 continuity is the N = 1 value: (2^k - 1)/k -> ln 2.
    out = th.faraway_halving_time(np.array([1.0, 10.0]), m, np.array([[1], [2]]))
    assert out.shape == (2, 2)
    with pytest.raises(ValueError, match="r0"):
        th.faraway_halving_time(0.0, m, 2)


def test_far_phase_time_formula_and_bound():
    assert th.far_phase_time(1.9, 1.0, 3.0, 4) == 0.0
    assert th.far_phase_time(50.0, 2.0, 3.0, 1) == pytest.approx(
        math.log(25.0) / 3.0, rel=1e-14
    )
    k = 2 - 2 / 3
    assert th.far_phase_time(50.0, 2.0, 3.0, 3) == pytest.approx(
        2 * (4.0**-k - 50.0**-k) / (k * 9.0), rel=1e-14
    )
    # An upper bound on the time for ||W|| to fall to 2 s_Z (scalar output, any angle < pi/2).
    s_Z, m = 0.5, 2.0
    r0 = np.array([5.0, 50.0, 500.0])
    for N in (1, 2, 5):
        bound = th.far_phase_time(float(r0.max()), s_Z, m, N)
        t = np.linspace(0.0, bound, 2001)
        for angle in (0.0, PI6, 1.5):
            r = scalar_polar_flow(
                r0, np.full_like(r0, angle), s_Z, m, N, t, rtol=1e-12
            ).r
            assert np.all(crossing_time(t, r, 2 * s_Z, stay=True) <= bound)
            assert np.all(r[:, -1] <= 2 * s_Z)


def test_far_phase_time_rejects_bad_input():
    for args, match in (
        ((-1.0, 1.0, 1.0, 2), "s0"),
        ((1.0, 0.0, 1.0, 2), "s_Z"),
        ((1.0, 1.0, np.nan, 2), "m"),
        ((1.0, 1.0, 1.0, 0), "depth"),
    ):
        with pytest.raises(ValueError, match=match):
            th.far_phase_time(*args)


# -- the scale law and the two-phase estimate -----------------------------------------


def test_time_scale_factor_formula():
    depths = np.array([1, 2, 4])
    assert np.array_equal(th.time_scale_factor(3.0, depths), 3.0 ** -(2 - 2 / depths))
    assert th.time_scale_factor(0.2, 1) == 1.0
    with pytest.raises(ValueError, match="scale"):
        th.time_scale_factor(0.0, 2)


def test_two_phase_estimate():
    # Already there: 0. Deep networks: far phase plus nearby phase.
    d0 = math.sqrt(100 + 1 - 20 * math.cos(PI6))
    assert th.two_phase_time_estimate(1.0, 1.0, 3, 10.0, PI6, d0 * 1.01) == 0.0
    k = 2 - 2 / 3
    far = (1.0 - 10.0**-k) * 0.5**-k / (k * 3)
    near = math.log(1e4) / (0.5**k)
    assert th.two_phase_time_estimate(0.5, 1.0, 3, 10.0, PI6, 1e-4) == pytest.approx(
        far + near, rel=1e-14
    )
    out = th.two_phase_time_estimate(
        np.array([0.1, 10.0])[:, None], 2.0, np.array([1, 5]), 10.0, PI6, 1e-3
    )
    assert out.shape == (2, 2)


def test_two_phase_estimate_rejects_bad_input():
    for kwargs, match in (
        (dict(s_Z=0.0), "s_Z"),
        (dict(norm_ratio=-1.0), "norm_ratio"),
        (dict(rel_tol=np.nan), "rel_tol"),
    ):
        args = (
            dict(s_Z=1.0, m=1.0, depth=2, norm_ratio=10.0, angle=PI6, rel_tol=1e-3)
            | kwargs
        )
        with pytest.raises(ValueError, match=match):
            th.two_phase_time_estimate(**args)


# -- the escape time of a decoupled mode ------------------------------------------------


def test_escape_time_depth2_closed_form_and_quadrature_agree():
    # N = 2 has a closed form; N = 2 through the general quadrature path is reproduced
    # by integrating the scalar ODE numerically.
    from scipy.integrate import solve_ivp

    s, m, s0 = 0.7, 50.0, 1e-3
    for N in (2, 3, 5):
        T = th.escape_time(s0, s, m, N)
        sol = solve_ivp(
            lambda t, x, N=N: m * N * x ** (2 - 2 / N) * (s - x),
            (0, T),
            [s0],
            rtol=1e-12,
            atol=1e-16,
        )
        assert abs(sol.y[0, -1] / (0.5 * s) - 1) < 1e-7


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-6, 1e-2), st.floats(0.1, 2.0), st.integers(2, 8))
def test_escape_time_decreases_with_sigma0(s0, s, N):
    assert th.escape_time(s0, s, 1.0, N) > th.escape_time(2 * s0, s, 1.0, N)


def test_escape_time_rejects_bad_input():
    with pytest.raises(ValueError, match="sigma0"):
        th.escape_time(1.0, 1.0, 1.0, 2)
    with pytest.raises(ValueError, match="level"):
        th.escape_time(0.1, 1.0, 1.0, 2, level=1.5)
