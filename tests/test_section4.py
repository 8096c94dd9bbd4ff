"""The paper's Section 4 formulas (linnet.theory: (31), (33), (35), (36), (38a)/(38b),
remark 1) and the trajectory tools built on them (linnet.rates). Each formula is
re-derived here independently of linnet."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linnet import theory as th
from linnet.data import Target
from linnet.flows import induced_flow_batch
from linnet.rates import check_38, dloss_34, random_target, sample_set_36


@pytest.fixture(scope="module")
def scalar():
    return random_target(1, 5, 0.3, 0.0, 50, 1)


@pytest.fixture(scope="module")
def matrix():
    return random_target(3, 4, 2.0, 0.2, 50, 2)


def _unit(v):
    return v / np.linalg.norm(v)


def _rank_one(target, s_over_sZ, cos):
    """s u v^T with u = u_Z and v at cosine ``cos`` with v_Z, so u^T Z1 v = cos s_Z."""
    rng = np.random.default_rng(0)
    e = rng.standard_normal(target.v.shape)
    e = _unit(e - (e @ target.v) * target.v)
    v = cos * target.v + math.sqrt(1 - cos**2) * e
    return s_over_sZ * target.s_Z * np.outer(target.u, v)


# --------------------------------------------------------------- (36)


def test_in_set_36_contains_Z1_and_respects_each_strict_bound(matrix):
    g, a, b = matrix.gamma, 0.7, 1.5
    assert th.in_set_36(matrix.Z1, matrix, a, b)
    assert not th.in_set_36(_rank_one(matrix, b * (1 + 1e-9), 0.99), matrix, a, b)  # s above beta s_Z: excluded
    assert th.in_set_36(_rank_one(matrix, b * (1 - 1e-9), 0.99), matrix, a, b)
    assert not th.in_set_36(_rank_one(matrix, (a - g) * (1 - 1e-9), 0.99), matrix, a, b)
    assert th.in_set_36(_rank_one(matrix, (a - g) * (1 + 1e-9), 0.99), matrix, a, b)
    assert not th.in_set_36(_rank_one(matrix, 1.0, a - 1e-9), matrix, a, b)
    assert th.in_set_36(_rank_one(matrix, 1.0, a + 1e-9), matrix, a, b)


def test_in_set_36_stack_and_closed_alpha(matrix):
    W = np.stack([matrix.Z1, -matrix.Z1, 3 * matrix.Z1])
    assert th.in_set_36(W, matrix, 0.5, 2.0).tolist() == [True, False, False]
    assert th.in_set_36(matrix.Z1, matrix, matrix.gamma, 2.0)  # alpha = gamma_Z is allowed by (36)


@pytest.mark.parametrize(
    "alpha, beta, match",
    [(0.1, 2.0, "alpha"), (1.0, 2.0, "alpha"), (float("nan"), 2.0, "alpha"), (0.5, 1.0, "beta"), (0.5, 0.5, "beta")],
)
def test_in_set_36_rejects_parameters(matrix, alpha, beta, match):
    with pytest.raises(ValueError, match=match):
        th.in_set_36(matrix.Z1, matrix, alpha, beta)


def test_in_set_36_rejects_rank(matrix):
    with pytest.raises(ValueError, match="rank one"):
        th.in_set_36(matrix.Z, matrix, 0.5, 2.0)
    with pytest.raises(ValueError, match="rank"):
        th.in_set_36(np.zeros_like(matrix.Z), matrix, 0.5, 2.0)


def test_sample_set_36_fills_the_set(matrix):
    a, b = 0.4, 3.0
    W = sample_set_36(matrix, a, b, 4000, 0)
    assert np.all(th.in_set_36(W, matrix, a, b))
    s = np.linalg.norm(W, axis=(1, 2)) / matrix.s_Z
    c = np.einsum("kij,ij->k", W, matrix.Z1) / (np.linalg.norm(W, axis=(1, 2)) * matrix.s_Z)
    assert s.min() < (a - matrix.gamma) + 0.01 and s.max() > b - 0.01
    assert c.min() < a + 0.01 and c.max() > 0.99


# --------------------------------------------------------------- exponents and the hypothesis


def test_exponents_38_rederived(matrix):
    m, s, g = matrix.m, matrix.s_Z, matrix.gamma
    for N in (1, 2, 3, 7):
        k = 2 - 2 / N
        a, b = 0.9, 1.3
        assert th.exponent_38a(matrix, N, a, b) == pytest.approx(-m * N * (((a - g) * s) ** k - 2 * g * (b * s) ** k))
        assert th.exponent_38b(matrix, N, a, b) == pytest.approx(-m * (a * ((a - g) * s) ** k - 2 * g * N * (b * s) ** k))


def test_hypothesis(scalar, matrix):
    assert th.theorem_4_4_applies(scalar, 2, 0.5, 50.0)  # gamma = 0: always, for N >= 2
    assert not th.theorem_4_4_applies(scalar, 1, 0.5, 50.0)  # Assumption 3.6: N >= 2
    assert not th.theorem_4_4_applies(matrix, 2, 0.9, 1.3)  # gamma = 0.2 is far too large
    small = random_target(3, 4, 2.0, 0.01, 50, 3)
    assert th.theorem_4_4_applies(small, 2, 0.95, 1.2)
    assert not th.theorem_4_4_applies(small, 40, 0.95, 1.2)  # 2 gamma N beta^k grows with N


@pytest.mark.parametrize("fn", [th.exponent_38a, th.exponent_38b, th.theorem_4_4_applies])
def test_theorem_4_4_parameters_rejected(matrix, fn):
    with pytest.raises(ValueError, match="alpha"):
        fn(matrix, 2, matrix.gamma, 2.0)  # Theorem 4.4: alpha in the open interval
    with pytest.raises(ValueError, match="alpha"):
        fn(matrix, 2, 1.0, 2.0)
    with pytest.raises(ValueError, match="beta"):
        fn(matrix, 2, 0.5, 1.0)
    with pytest.raises(ValueError, match="depth"):
        fn(matrix, 0, 0.5, 2.0)


def test_bounds_38_are_the_printed_exponentials(scalar):
    W0 = _rank_one(scalar, 10.0, math.cos(math.pi / 6))
    t = np.array([0.0, 0.01, 0.1])
    d2 = np.sum((scalar.Z1 - W0) ** 2)
    a = th.bound_38a(W0, scalar, 4, 0.8, 11.0, t)
    b = th.bound_38b(W0, scalar, 4, 0.8, 11.0, t)
    np.testing.assert_allclose(a, d2 * np.exp(th.exponent_38a(scalar, 4, 0.8, 11.0) * t), rtol=1e-14)
    np.testing.assert_allclose(b, d2 * np.exp(th.exponent_38b(scalar, 4, 0.8, 11.0) * t), rtol=1e-14)
    with pytest.raises(ValueError, match="W0"):
        th.bound_38a(np.ones((1, 5)) * 0, scalar, 4, 0.8, 11.0, t)
    with pytest.raises(ValueError, match="t"):
        th.bound_38b(W0, scalar, 4, 0.8, 11.0, [-1.0])


def test_bound_38_rejects_rank_two(matrix):
    with pytest.raises(ValueError, match="rank one"):
        th.bound_38a(matrix.Z, matrix, 2, 0.5, 2.0, [0.0])


def test_time_from_38_inverts_the_bound(scalar):
    W0 = _rank_one(scalar, 10.0, 0.9)
    C = float(np.sum((scalar.Z1 - W0) ** 2))
    Ea = -th.exponent_38a(scalar, 3, 0.8, 11.0)
    Eb = -th.exponent_38b(scalar, 3, 0.8, 11.0)
    tau = 0.01
    eps_far = C * math.exp(-Ea * tau / 2)
    assert th.time_from_38(scalar, 3, 0.8, 11.0, C, tau, eps_far) == pytest.approx(tau / 2)
    eps_near = C * math.exp(-Ea * tau) * math.exp(-Eb * 0.5)
    assert th.time_from_38(scalar, 3, 0.8, 11.0, C, tau, eps_near) == pytest.approx(tau + 0.5)


def test_remark_1_differs_from_38_but_not_for_a_special_case(scalar):
    # With gamma = 0 the remark's first case is log(C/eps) / (m N s_Z alpha^2) and (38)'s is
    # log(C/eps) / (m N (alpha s_Z)^k): equal only when (alpha s_Z)^k = s_Z alpha^2.
    C, eps = 1.0, 1e-3
    r = th.remark_1_time(scalar, 2, 0.8, 11.0, C, 0.0, eps)  # tau = 0: eps_0 = C, eps <= eps_0
    t = th.time_from_38(scalar, 2, 0.8, 11.0, C, 0.0, eps)
    m, s = scalar.m, scalar.s_Z
    assert r == pytest.approx(math.log(C / eps) / (m * s**2 * 0.8**3))
    assert t == pytest.approx(math.log(C / eps) / (m * s * 0.8**2))
    assert abs(r / t - 1) > 0.1


# --------------------------------------------------------------- (31), (33), (34), (35)


def test_33_identity_and_bound(matrix):
    W = sample_set_36(matrix, 0.3, 4.0, 200, 5)
    L = th.loss_31(W, matrix)
    T1, T2 = th.terms_33(W, matrix)
    assert np.all(T1 >= 0) and np.all(T2 >= 0)
    np.testing.assert_allclose(L, 0.5 * T1 + matrix.s_Z * T2 - 0.5 * T2**2, rtol=1e-12, atol=1e-14)
    assert np.all(th.bound_33(W, matrix) >= L - 1e-12)


def test_dloss_34_matches_a_finite_difference(matrix):
    W0 = sample_set_36(matrix, 0.5, 2.0, 3, 1)
    h, t0 = 1e-6, 0.002
    W = induced_flow_batch(W0, matrix, 3, [0.0, t0 - h, t0, t0 + h], rtol=1e-12).W
    L = 0.5 * np.sum((W - matrix.Z1) ** 2, axis=(2, 3))
    fd = (L[:, 3] - L[:, 1]) / (2 * h)
    np.testing.assert_allclose(dloss_34(W[:, 2], matrix, 3), fd, rtol=1e-5)


def test_35_as_printed_fails_on_the_ray_by_a_factor_two(scalar):
    for N in (2, 3, 8):
        for r in (0.3, 3.0):
            W = r * scalar.Z1
            s = r * scalar.s_Z
            exact = -scalar.m * N * s ** (2 - 2 / N) * (s - scalar.s_Z) ** 2  # (s - s_Z) ds/dt
            assert dloss_34(W, scalar, N) == pytest.approx(exact, rel=1e-12)
            assert th.rhs_35(W, scalar, N) == pytest.approx(2 * exact, rel=1e-12)


def test_rhs_35_rederived(matrix):
    W = sample_set_36(matrix, 0.5, 2.0, 5, 7)
    N = 4
    s = np.linalg.norm(W, axis=(1, 2))
    c = np.einsum("kij,ij->k", W, matrix.Z1) / s
    T1, T2 = (s - c) ** 2, matrix.s_Z - c
    k = s ** (2 - 2 / N)
    m, g = matrix.m, matrix.gamma
    want = -2 * m * N * k * T1 - 2 * m * k * c * T2 + math.sqrt(2) * m * N * k * g * np.sqrt(T1 * T2) + 2 * m * k * matrix.s_Z2 * T2
    np.testing.assert_allclose(th.rhs_35(W, matrix, N), want, rtol=1e-12)


# --------------------------------------------------------------- trajectories


def test_check_38_far_start(scalar):
    W0 = _rank_one(scalar, 10.0, math.cos(math.pi / 6))[None]
    r = check_38(scalar, 4, W0, 0.8, 11.0, n_times=120)
    assert r.tau[0] > 0
    assert np.linalg.norm(W0[0]) > math.sqrt(6) * scalar.s_Z
    assert np.nanmax(r.ratio_a) <= 1 + 1e-9 and np.nanmax(r.ratio_b) <= 1 + 1e-9
    assert np.all(r.in_36)
