"""The paper's Section 4 formulas (linnet.theory: (31), (33), (35), (36), (38a)/(38b),
remark 1) and the trajectory tools built on them (linnet.chapters.rates). Each formula is
re-derived here independently of linnet."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linnet import theory as th
from linnet.chapters.rates import (
    check_38,
    dloss_34,
    random_target,
    sample_set_36,
    search_35_violation,
)
from linnet.data import Target
from linnet.flows import induced_flow


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
    assert not th.in_set_36(
        _rank_one(matrix, b * (1 + 1e-9), 0.99), matrix, a, b
    )  # s above beta s_Z: excluded
    assert th.in_set_36(_rank_one(matrix, b * (1 - 1e-9), 0.99), matrix, a, b)
    assert not th.in_set_36(_rank_one(matrix, (a - g) * (1 - 1e-9), 0.99), matrix, a, b)
    assert th.in_set_36(_rank_one(matrix, (a - g) * (1 + 1e-9), 0.99), matrix, a, b)
    assert not th.in_set_36(_rank_one(matrix, 1.0, a - 1e-9), matrix, a, b)
    assert th.in_set_36(_rank_one(matrix, 1.0, a + 1e-9), matrix, a, b)


def test_in_set_36_stack_and_closed_alpha(matrix):
    W = np.stack([matrix.Z1, -matrix.Z1, 3 * matrix.Z1])
    assert th.in_set_36(W, matrix, 0.5, 2.0).tolist() == [True, False, False]
    assert th.in_set_36(
        matrix.Z1, matrix, matrix.gamma, 2.0
    )  # alpha = gamma_Z is allowed by (36)


@pytest.mark.parametrize(
    "alpha, beta, match",
    [
        (0.1, 2.0, "alpha"),
        (1.0, 2.0, "alpha"),
        (float("nan"), 2.0, "alpha"),
        (0.5, 1.0, "beta"),
        (0.5, 0.5, "beta"),
    ],
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
    c = np.einsum("kij,ij->k", W, matrix.Z1) / (
        np.linalg.norm(W, axis=(1, 2)) * matrix.s_Z
    )
    assert s.min() < (a - matrix.gamma) + 0.01 and s.max() > b - 0.01
    assert c.min() < a + 0.01 and c.max() > 0.99


# --------------------------------------------------------------- exponents and the hypothesis


def test_exponents_38_rederived(matrix):
    m, s, g = matrix.m, matrix.s_Z, matrix.gamma
    for N in (1, 2, 3, 7):
        k = 2 - 2 / N
        a, b = 0.9, 1.3
        assert th.exponent_38a(matrix, N, a, b) == pytest.approx(
            -m * N * (((a - g) * s) ** k - 2 * g * (b * s) ** k)
        )
        assert th.exponent_38b(matrix, N, a, b) == pytest.approx(
            -m * (a * ((a - g) * s) ** k - 2 * g * N * (b * s) ** k)
        )


def test_hypothesis(scalar, matrix):
    assert th.theorem_4_4_applies(scalar, 2, 0.5, 50.0)  # gamma = 0: always, for N >= 2
    assert not th.theorem_4_4_applies(scalar, 1, 0.5, 50.0)  # Assumption 3.6: N >= 2
    assert not th.theorem_4_4_applies(
        matrix, 2, 0.9, 1.3
    )  # gamma = 0.2 is far too large
    small = random_target(3, 4, 2.0, 0.01, 50, 3)
    assert th.theorem_4_4_applies(small, 2, 0.95, 1.2)
    assert not th.theorem_4_4_applies(
        small, 40, 0.95, 1.2
    )  # 2 gamma N beta^k grows with N


@pytest.mark.parametrize(
    "fn", [th.exponent_38a, th.exponent_38b, th.theorem_4_4_applies]
)
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
    np.testing.assert_allclose(
        a, d2 * np.exp(th.exponent_38a(scalar, 4, 0.8, 11.0) * t), rtol=1e-14
    )
    np.testing.assert_allclose(
        b, d2 * np.exp(th.exponent_38b(scalar, 4, 0.8, 11.0) * t), rtol=1e-14
    )
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
    sq_tol_far = C * math.exp(-Ea * tau / 2)
    assert th.time_from_38(scalar, 3, 0.8, 11.0, C, tau, sq_tol_far) == pytest.approx(
        tau / 2
    )
    sq_tol_near = C * math.exp(-Ea * tau) * math.exp(-Eb * 0.5)
    assert th.time_from_38(scalar, 3, 0.8, 11.0, C, tau, sq_tol_near) == pytest.approx(
        tau + 0.5
    )


def test_remark_1_differs_from_38_but_not_for_a_special_case(scalar):
    # With gamma = 0 the remark's first case is log(C/eps) / (m N s_Z alpha^2) and (38)'s is
    # log(C/eps) / (m N (alpha s_Z)^k): equal only when (alpha s_Z)^k = s_Z alpha^2.
    C, eps = 1.0, 1e-3
    r = th.remark_1_time(
        scalar, 2, 0.8, 11.0, C, 0.0, eps
    )  # tau = 0: eps_0 = C, eps <= eps_0
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
    np.testing.assert_allclose(
        L, 0.5 * T1 + matrix.s_Z * T2 - 0.5 * T2**2, rtol=1e-12, atol=1e-14
    )
    assert np.all(th.bound_33(W, matrix) >= L - 1e-12)


def test_dloss_34_matches_a_finite_difference(matrix):
    W0 = sample_set_36(matrix, 0.5, 2.0, 3, 1)
    h, t0 = 1e-6, 0.002
    W = induced_flow(W0, matrix, 3, [0.0, t0 - h, t0, t0 + h], rtol=1e-12).W
    L = 0.5 * np.sum((W - matrix.Z1) ** 2, axis=(2, 3))
    fd = (L[:, 3] - L[:, 1]) / (2 * h)
    np.testing.assert_allclose(dloss_34(W[:, 2], matrix, 3), fd, rtol=1e-5)


def test_35_as_printed_fails_on_the_ray_by_a_factor_two(scalar):
    for N in (2, 3, 8):
        for r in (0.3, 3.0):
            W = r * scalar.Z1
            s = r * scalar.s_Z
            exact = (
                -scalar.m * N * s ** (2 - 2 / N) * (s - scalar.s_Z) ** 2
            )  # (s - s_Z) ds/dt
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
    want = (
        -2 * m * N * k * T1
        - 2 * m * k * c * T2
        + math.sqrt(2) * m * N * k * g * np.sqrt(T1 * T2)
        + 2 * m * k * matrix.s_Z2 * T2
    )
    np.testing.assert_allclose(th.rhs_35(W, matrix, N), want, rtol=1e-12)


# --------------------------------------------------------------- trajectories


def test_check_38_far_start(scalar):
    W0 = _rank_one(scalar, 10.0, math.cos(math.pi / 6))[None]
    r = check_38(W0, scalar, 4, 0.8, 11.0, n_times=120)
    assert r.tau[0] > 0
    assert np.linalg.norm(W0[0]) > math.sqrt(6) * scalar.s_Z
    assert np.nanmax(r.ratio_a) <= 1 + 1e-9 and np.nanmax(r.ratio_b) <= 1 + 1e-9
    assert np.all(r.in_36)


# --------------------------------------------------------------- the book's (35) identity, remark 3


def test_gap_35_scalar_output_is_minus_2_m_sk_sZ_T2(scalar):
    # d_y = 1: d||Z1 - W||^2/dt = -2 m s^k (N T1 + T2 (s_Z + c)) by the polar reduction, so
    # 2 dL/dt - (35) = -2 m s^k s_Z T2 (not -2 m s^k T2^2).
    W = sample_set_36(scalar, 0.2, 5.0, 20, 3)
    for N in (2, 3, 8):
        s = np.linalg.norm(W, axis=(1, 2))
        c = np.einsum("kij,ij->k", W, scalar.Z1) / s
        T2 = scalar.s_Z - c
        want = -2 * scalar.m * s ** (2 - 2 / N) * scalar.s_Z * T2
        np.testing.assert_allclose(
            th.gap_35_rank_one_target(W, scalar, N), want, rtol=1e-12
        )
        got = 2 * dloss_34(W, scalar, N) - th.rhs_35(W, scalar, N)
        np.testing.assert_allclose(
            got, want, rtol=1e-9, atol=1e-12 * np.max(np.abs(want))
        )


def test_gap_35_matrix_rank_one_target():
    tk = random_target(3, 5, 0.7, 0.0, 50, 3)
    W = sample_set_36(tk, 0.2, 5.0, 30, 4)
    for N in (2, 5):
        got = 2 * dloss_34(W, tk, N) - th.rhs_35(W, tk, N)
        gap = th.gap_35_rank_one_target(W, tk, N)
        np.testing.assert_allclose(
            gap, got, rtol=1e-9, atol=1e-12 * np.max(np.abs(got))
        )
        assert np.all(gap <= 0)


def test_gap_35_rejects_a_spectral_gap(matrix):
    with pytest.raises(ValueError, match="gamma_Z = 0"):
        th.gap_35_rank_one_target(sample_set_36(matrix, 0.5, 2.0, 2, 1), matrix, 3)


def test_search_35_violation_is_a_true_violation():
    tk = random_target(2, 5, 1.0, 0.1, 50, 1234)
    alpha, beta, N = 0.145, 10.0, 8
    v = search_35_violation(tk, N, alpha, beta, 4000, 2)
    assert th.in_set_36(v.W, tk, alpha, beta)
    assert v.excess > 1e-5 and v.n_exceeding >= 1
    rate = tk.m * N * np.linalg.norm(v.W) ** (2 - 2 / N)
    h = 1e-4 / rate
    D = np.sum(
        (induced_flow(v.W[None], tk, N, [0.0, h, 2 * h], rtol=1e-12).W[0] - tk.Z1) ** 2,
        axis=(1, 2),
    )
    fd = (-3 * D[0] + 4 * D[1] - D[2]) / (2 * h)
    R = th.rhs_35(v.W, tk, N)
    assert (fd - R) / (abs(fd) + abs(R)) == pytest.approx(v.excess, rel=1e-3)


@pytest.mark.parametrize("N", [2, 3, 4, 5])
def test_remark_3_integer_threshold(scalar, N):
    # gamma_Z = 0: E_a/m = N x^(2-2/N) with x = alpha s_Z; the step N -> N+1 is >= 0 iff
    # x >= (N/(N+1))^(N(N+1)/2); the largest threshold is N = 2: (2/3)^3 = 8/27.
    thr = (N / (N + 1)) ** (N * (N + 1) / 2)
    assert th.exponent_38a_step_threshold(N) == pytest.approx(thr, rel=1e-14)
    assert thr <= 8 / 27 + 1e-15
    alpha = 0.9
    for x, grows in ((thr * 1.01, True), (thr * 0.99, False)):
        t = Target.from_matrix(scalar.Z * (x / alpha / scalar.s_Z), scalar.m)
        step = th.exponent_38a(t, N, alpha, 1.5) - th.exponent_38a(
            t, N + 1, alpha, 1.5
        )  # E_a(N+1) - E_a(N)
        assert (step > 0) == grows


def test_check_38_rejects_parameters_of_36_before_integrating(scalar):
    W0 = _rank_one(scalar, 10.0, math.cos(math.pi / 6))[None]
    with pytest.raises(ValueError, match="alpha"):
        check_38(W0, scalar, 4, 1.0, 11.0)
    with pytest.raises(ValueError, match="beta"):
        check_38(W0, scalar, 4, 0.8, 0.5)
    with pytest.raises(ValueError, match="stack"):
        check_38(W0[0], scalar, 4, 0.8, 11.0)
