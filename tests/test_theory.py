"""Tests of linnet.theory: hand-computed cases, every ValueError, and the bounds
checked against numerically integrated trajectories of the induced flow (17).

The trajectories are integrated here with scipy (independently of
linnet.flows), in two forms:

* ``dy = 1``: the polar reduction ``r' = -m N r^{2-2/N} (r - s_Z cos th)``,
  ``th' = -m r^{1-2/N} s_Z sin th`` (``W = r (cos th v + sin th w)``);
* general ``dy``: ``dW/dt = -m A_W(W - Z)`` with the rank-one closed form
  ``A_W(D) = s^{2-2/N} (u u^T D + D v v^T + (N-2) u u^T D v v^T)``, which has
  ``s_Z2 > 0`` and so exercises ``gamma``.

Numerical slack. Every trajectory is integrated twice with DOP853, at
rtol = 1e-11, atol = 1e-13 and at rtol = 1e-13, atol = 1e-15; the second is the
one tested. The difference of the two estimates the error of the *coarser*
solve, so it over-estimates the error of the finer one (by roughly the
tolerance ratio, ~100). The test *asserts* that this difference is below
``ETA = 1e-7 s_Z`` in ``W``; only then is ``ETA`` used as the allowance for
integration error, in the form ``||W(t) - Z_1||_F <= sqrt(bound(t)) + ETA``.
So ``ETA`` is a checked upper bound on the integration error, not a fitted
tolerance. Without it the comparison is meaningless once the bound drops below
the round-off floor of ``||W - Z_1||^2`` (~1e-16 s_Z^2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from linnet import theory as th
from linnet.data import Target

ETA = 1e-7  # checked allowance for integration error in ||W - Z_1||_F, in units of s_Z (module docstring)
TIGHT = dict(method="DOP853", rtol=1e-11, atol=1e-13)
TIGHTER = dict(method="DOP853", rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------
# integrators (test-only)
# --------------------------------------------------------------------------


def polar_trajectory(r0, th0, s_Z, m, N, t):
    """W(t) for dy = 1 with Z = s_Z e_1^T in R^{1x2}; returns (dense W of shape (T, 1, 2), r, theta)."""

    def rhs(_, y):
        r, a = y
        return [
            -m * N * r ** (2 - 2 / N) * (r - s_Z * math.cos(a)),
            -m * r ** (1 - 2 / N) * s_Z * math.sin(a),
        ]

    out = []
    for opts in (TIGHT, TIGHTER):
        sol = solve_ivp(rhs, (0, t[-1]), [r0, th0], t_eval=t, **opts)
        assert sol.success, sol.message
        out.append(sol.y)
    (r2, a2), (r, a) = out  # coarse, fine
    W = np.stack([r * np.cos(a), r * np.sin(a)], axis=-1)[:, None, :]
    W2 = np.stack([r2 * np.cos(a2), r2 * np.sin(a2)], axis=-1)[:, None, :]
    assert np.max(np.linalg.norm(W - W2, axis=(1, 2))) < ETA * s_Z, (
        "integration error estimate exceeds ETA"
    )
    return W, r, a


def matrix_trajectory(W0, target, N, t):
    """W(t) of (17) for a rank-one W0 and any Z, integrated as a matrix ODE."""
    Z, m = target.Z, target.m
    shape = Z.shape

    def rhs(_, w):
        W = w.reshape(shape)
        U, S, Vt = np.linalg.svd(W)
        s, u, v = S[0], U[:, 0], Vt[0]
        D = m * (W - Z)
        uD = np.outer(u, u @ D)
        Dv = np.outer(D @ v, v)
        uDv = (u @ D @ v) * np.outer(u, v)
        return (-(s ** (2 - 2 / N)) * (uD + Dv + (N - 2) * uDv)).ravel()

    out = []
    for opts in (TIGHT, TIGHTER):
        sol = solve_ivp(
            rhs, (0, t[-1]), np.asarray(W0, float).ravel(), t_eval=t, **opts
        )
        assert sol.success, sol.message
        out.append(sol.y.T.reshape(len(t), *shape))
    W2, W = out  # coarse, fine
    assert np.max(np.linalg.norm(W - W2, axis=(1, 2))) < ETA * target.s_Z, (
        "integration error estimate exceeds ETA"
    )
    return W


def errors(W, target):
    return np.linalg.norm(W - target.Z1, axis=(1, 2))


def assert_below_bound(W, target, res):
    """||W(t) - Z1|| <= sqrt(bound) + ETA s_Z at every sampled time; returns the largest err^2/bound at t > 0."""
    err = errors(W, target)
    assert np.all(err <= np.sqrt(res.bound) + ETA * target.s_Z), np.max(
        err - np.sqrt(res.bound)
    )
    # ratio at t > 0 (at t = 0 the bound is exact by construction), above the integration-error floor
    meaningful = (res.bound > (100 * ETA * target.s_Z) ** 2) & (res.t > 0)
    return float(np.max(err[meaningful] ** 2 / res.bound[meaningful]))


def general_target(seed=3, shape=(3, 4), m=2):
    Z = np.random.default_rng(seed).standard_normal(shape)
    return Target.from_matrix(Z, m)


# --------------------------------------------------------------------------
# hand-computed cases
# --------------------------------------------------------------------------

DIAG = Target.from_matrix(
    np.diag([3.0, 1.0]), 1
)  # s_Z = 3, s_Z2 = 1, gamma = 1/3, Z1 = 3 e1 e1^T
E1E1 = np.array([[2.0, 0.0], [0.0, 0.0]])
E2E2 = np.array([[0.0, 0.0], [0.0, 1.0]])


def test_correlation_and_cosine_hand_values():
    assert th.correlation_with_target(E1E1, DIAG) == pytest.approx(3.0)
    assert th.cosine_with_Z1(E1E1, DIAG) == pytest.approx(1.0)
    assert th.correlation_with_target(E2E2, DIAG) == pytest.approx(1.0)
    assert th.cosine_with_Z1(E2E2, DIAG) == pytest.approx(0.0)
    W = np.outer([1.0, 1.0], [1.0, 1.0])  # u = v = (1,1)/sqrt2: rho = (3+1)/2, p = 1/2
    assert th.correlation_with_target(W, DIAG) == pytest.approx(2.0)
    assert th.cosine_with_Z1(W, DIAG) == pytest.approx(0.5)


def test_correlation_set_margin_hand_values():
    # threshold = s_Z2 + alpha (s_Z - s_Z2) = 1 + 0.5 * 2 = 2
    assert th.correlation_set_margin(E1E1, DIAG, 0.5) == pytest.approx((3 - 2) / 3)
    assert th.correlation_set_margin(E2E2, DIAG, 0.5) == pytest.approx((1 - 2) / 3)
    assert th.in_correlation_set(E1E1, DIAG, 0.5) is True
    assert th.in_correlation_set(E2E2, DIAG, 0.5) is False
    assert th.correlation_set_margin(np.zeros((2, 2)), DIAG, 0.5) == -math.inf
    assert th.in_correlation_set(np.zeros((2, 2)), DIAG, 0.5) is False
    # -W has the opposite correlation
    assert th.correlation_set_margin(-E1E1, DIAG, 0.5) == pytest.approx((-3 - 2) / 3)


def test_stable_set_margin_hand_values():
    # gamma = 1/3: beta <= (4/3) alpha - 1/3 = 1/3 for alpha = 1/2
    assert th.stable_set_margin(E1E1, DIAG, 0.5, 0.25) == pytest.approx(
        min(1 - 0.5, 2 / 3 - 0.25)
    )
    assert th.stable_set_margin(E2E2, DIAG, 0.5, 0.25) == pytest.approx(-0.5)
    small = 0.3 * E1E1  # norm 0.6 = 0.2 s_Z < beta s_Z
    assert th.stable_set_margin(small, DIAG, 0.5, 0.25) == pytest.approx(0.2 - 0.25)
    assert th.in_stable_set(E1E1, DIAG, 0.5, 0.25) is True
    assert th.in_stable_set(small, DIAG, 0.5, 0.25) is False
    assert th.stable_set_margin(np.zeros((2, 2)), DIAG, 0.5, 0.25) == -math.inf


def test_membership_is_vectorised_over_a_stack():
    stack = np.stack([E1E1, E2E2, np.zeros((2, 2)), 0.3 * E1E1])
    np.testing.assert_allclose(
        th.stable_set_margin(stack, DIAG, 0.5, 0.25),
        [5 / 12, -0.5, -math.inf, -0.05],
        rtol=1e-12,
    )
    np.testing.assert_array_equal(
        th.in_stable_set(stack, DIAG, 0.5, 0.25), [True, False, False, False]
    )
    np.testing.assert_array_equal(
        th.in_correlation_set(stack, DIAG, 0.5), [True, False, False, True]
    )
    np.testing.assert_allclose(
        th.cosine_with_Z1(stack[:2], DIAG), [1.0, 0.0], atol=1e-15
    )


def test_theorem_4_4_bound_hand_case():
    # dy = 1, Z = [2, 0], m = 1, N = 2, W0 = [1, 0]: p0 = 1, s0 = 1; alpha = 1, beta = 1/2.
    # lambda = 2 m s_Z alpha (beta s_Z)^0 = 4, k_lo = m N (beta s_Z)^1 = 2, tau_bar = 0 (s0 < sqrt6 s_Z),
    # D0 = |1 - 2| = 1, A = 0 (q0 = 0): (38a) at t = 0 is max((1-2)^2, (2-1)^2) = 1, (38b) is e^{-2 k_lo t}.
    tgt = Target.from_matrix([[2.0, 0.0]], 1)
    res = th.theorem_4_4_bound([[1.0, 0.0]], tgt, 2, 1.0, 0.5, [0.0, 1.0, 2.0])
    assert res.tau_bar == 0.0
    assert res.rate_cosine == pytest.approx(4.0)
    assert res.rate_norm == pytest.approx(2.0)
    assert res.asymptotic_rate == pytest.approx(4.0)
    np.testing.assert_array_equal(res.phase_one, [True, False, False])
    np.testing.assert_allclose(
        res.bound, [1.0, math.exp(-4.0), math.exp(-8.0)], rtol=1e-12
    )
    # exact solution s(t) = 2 / (1 + e^{-4t}) (logistic): the bound holds
    s = 2 / (1 + np.exp(-4 * res.t))
    assert np.all((s - 2) ** 2 <= res.bound)
    with pytest.raises(ValueError):
        res.bound[0] = 0.0  # results are read-only


def test_tau_bar_hand_case():
    # N = 2, m = 1, s_Z = 1, s0 = 2 sqrt6: tau_bar = (1/sqrt6 - 1/s0) / (2 (1 - 1/sqrt6)) = 1 / (4 (sqrt6 - 1))
    tgt = Target.from_matrix([[1.0, 0.0]], 1)
    s0 = 2 * math.sqrt(6)
    res = th.theorem_4_4_bound([[s0, 0.0]], tgt, 2, 1.0, 1.0, [0.0])
    assert res.tau_bar == pytest.approx(1 / (4 * (math.sqrt(6) - 1)))
    assert res.bound[0] == pytest.approx(
        (s0 - 1) ** 2
    )  # (38a) at t = 0: (S(0) - s_Z)^2 with q0 = 0


def test_tau_bar_is_bounded_uniformly_in_the_start_and_shrinks_with_depth():
    tgt = Target.from_matrix([[1.0, 0.0]], 1)
    for N in (2, 3, 6):
        limit = 1 / (2 * (N - 1) * (1 - 1 / math.sqrt(6)) * math.sqrt(6) ** (2 - 2 / N))
        taus = [
            th.theorem_4_4_bound([[s0, 0.0]], tgt, N, 1.0, 1.0, 0.0).tau_bar
            for s0 in (10.0, 1e3, 1e6)
        ]
        assert taus == sorted(taus) and taus[-1] < limit
    deep = th.theorem_4_4_bound([[1e6, 0.0]], tgt, 6, 1.0, 1.0, 0.0).tau_bar
    shallow = th.theorem_4_4_bound([[1e6, 0.0]], tgt, 2, 1.0, 1.0, 0.0).tau_bar
    assert deep < shallow


def test_time_to_accuracy_hand_case():
    # the hand case above: A = 0 and q0 = 0, so T_eps = t1 = log(6 D0^2 / eps) / (2 k_lo)
    tgt = Target.from_matrix([[2.0, 0.0]], 1)
    T = th.time_to_accuracy([[1.0, 0.0]], tgt, 2, 1.0, 0.5, 1e-4)
    assert T == pytest.approx(math.log(6e4) / 4)


@pytest.mark.parametrize("seed", range(6))
def test_time_to_accuracy_makes_the_bound_at_most_epsilon(seed):
    rng = np.random.default_rng(seed)
    tgt = general_target(seed)
    N = int(rng.integers(2, 6))
    U, _, Vt = np.linalg.svd(
        tgt.Z1 / tgt.s_Z + 0.3 * rng.standard_normal((tgt.dy, tgt.dx))
    )
    W0 = (
        rng.uniform(0.5, 30) * tgt.s_Z * np.outer(U[:, 0], Vt[0])
    )  # a rank-one start near Z1
    if th.cosine_with_Z1(W0, tgt) < 0:
        W0 = -W0
    p0, s0 = th.cosine_with_Z1(W0, tgt), np.linalg.norm(W0)
    alpha = 0.999 * p0
    beta = min(0.999 * ((1 + tgt.gamma) * alpha - tgt.gamma), 0.999 * s0 / tgt.s_Z)
    if beta <= 0:
        pytest.skip("start too far from Z1 for any beta > 0")
    for eps in (1e-2, 1e-6, 1e-10):
        T = th.time_to_accuracy(W0, tgt, N, alpha, beta, eps)
        res = th.theorem_4_4_bound(
            W0, tgt, N, alpha, beta, T + np.geomspace(1e-6, 1e3, 40) - 1e-6
        )
        assert np.all(res.bound <= eps * (1 + 1e-12))


def test_deficiency_margin_hand_values():
    Phi = np.diag([3.0, 2.0])
    assert th.deficiency_margin(np.diag([3.0, 1.5]), Phi) == pytest.approx(1.5)
    assert th.deficiency_margin(np.zeros((2, 2)), Phi) == pytest.approx(
        2 - math.sqrt(13)
    )  # negative: none
    assert th.deficiency_margin(
        np.diag([3.0, 2.0]), np.diag([3.0, 0.0])
    ) == pytest.approx(0.0 - 2.0)
    # scalar output: sigma_min(Phi) = ||Phi||
    assert th.deficiency_margin([[1.0, 0.0]], [[2.0, 0.0]]) == pytest.approx(1.0)


def test_deficiency_margin_implies_sigma_min_at_least_c():  # Claim 1
    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((3, 4))
    for _ in range(200):
        W = Phi + 0.2 * rng.standard_normal((3, 4))
        c = th.deficiency_margin(W, Phi)
        if c > 0:
            assert np.linalg.svd(W, compute_uv=False)[-1] >= c - 1e-12


def test_delta_balancedness_hand_values():
    assert th.delta_balancedness(
        [np.diag([2.0, 1.0]), np.diag([2.0, 1.0])]
    ) == pytest.approx(0.0)
    # W1 = diag(3, 1.5), W2 = I: ||I - W1 W1^T||_F = ||diag(-8, -1.25)||
    assert th.delta_balancedness([np.diag([3.0, 1.5]), np.eye(2)]) == pytest.approx(
        math.hypot(8, 1.25)
    )
    assert th.delta_balancedness([np.ones((1, 3))]) == 0.0


def test_arora_theorem_1_hand_case():
    Phi = np.diag([3.0, 2.0])
    W1 = np.diag(
        [math.sqrt(3.0), math.sqrt(1.5)]
    )  # balanced, end-to-end diag(3, 1.5): margin 1.5
    res = th.arora_theorem_1([W1, W1], Phi, 1e-3)
    c, N, phi = 1.5, 2, math.sqrt(13.0)
    assert res.depth == 2 and res.margin == pytest.approx(c)
    assert res.delta == pytest.approx(0.0, abs=1e-14) and res.balanced_enough
    assert res.delta_max == pytest.approx(
        c**2 / (256 * N**3 * phi)
    )  # ||Phi||^{2(N-1)/N} = ||Phi||
    assert res.eta_max == pytest.approx(
        c**3 / (6144 * N**3 * phi**4)
    )  # (4N-2)/N = 3, (6N-4)/N = 4
    assert res.initial_loss == pytest.approx(0.125)
    assert res.applies and res.eta == res.eta_max
    assert res.iterations == math.ceil(math.log(0.125 / 1e-3) / (res.eta_max * c))


def test_arora_theorem_1_reports_failed_hypotheses():
    Phi = np.diag([3.0, 2.0])
    none = th.arora_theorem_1([np.zeros((2, 2)), np.zeros((2, 2))], Phi, 1e-3)
    assert (
        none.margin is None
        and not none.applies
        and none.iterations is None
        and none.delta_max is None
    )
    unbalanced = th.arora_theorem_1([np.diag([3.0, 1.5]), np.eye(2)], Phi, 1e-3)
    assert (
        unbalanced.margin == pytest.approx(1.5)
        and not unbalanced.balanced_enough
        and not unbalanced.applies
    )
    W1 = np.diag([math.sqrt(3.0), math.sqrt(1.5)])
    big_step = th.arora_theorem_1([W1, W1], Phi, 1e-3, eta=1.0)
    assert (
        big_step.balanced_enough
        and not big_step.applies
        and big_step.iterations is None
    )
    done = th.arora_theorem_1([W1, W1], Phi, 1.0)
    assert done.iterations == 0  # l(0) = 0.125 <= eps


def test_arora_theorem_1_iteration_bound_holds_for_gradient_descent():
    # Depth 2, scalar output, balanced start with margin: run GD with eta_max for the promised T.
    Phi = np.array([[1.0, 0.5, -0.5]])
    A = np.array(
        [[0.8, 0.45, -0.3]]
    )  # end-to-end start; ||A - Phi|| = 0.26 < ||Phi|| = 1.22
    s = np.linalg.norm(A)
    W1, W2 = (
        np.sqrt(s) * A / s,
        np.array([[np.sqrt(s)]]),
    )  # Procedure 1: W2 = sqrt(s), W1 = sqrt(s) v^T
    eps = 1e-2 * 0.5 * np.linalg.norm(A - Phi) ** 2
    res = th.arora_theorem_1([W1, W2], Phi, eps)
    assert res.applies
    for _ in range(res.iterations):
        G = (
            W2 @ W1 - Phi
        )  # gradient of l(W) = 1/2 ||W - Phi||^2 w.r.t. the end-to-end matrix
        W1, W2 = W1 - res.eta * W2.T @ G, W2 - res.eta * G @ W1.T
    assert 0.5 * np.linalg.norm(W2 @ W1 - Phi) ** 2 <= eps


# --------------------------------------------------------------------------
# bounds against integrated trajectories
# --------------------------------------------------------------------------

POLAR_STARTS = [
    (r0, th0) for r0 in (0.3, 1.0, 2.0, 20.0, 400.0) for th0 in (0.1, 0.8, 1.3)
]


@pytest.mark.parametrize("N", [2, 3, 5])
def test_theorem_4_4_bound_holds_on_the_scalar_polar_flow(N, record_property):
    s_Z, m = 1.5, 2
    tgt = Target.from_matrix([[s_Z, 0.0]], m)
    t = np.concatenate([[0.0], np.geomspace(1e-5, 12.0, 300)])
    worst = 0.0
    for r0, th0 in POLAR_STARTS:
        W, r, a = polar_trajectory(r0, th0, s_Z, m, N, t)
        alpha = 0.99 * math.cos(th0)
        beta = min(alpha, 0.99 * r0 / s_Z)  # gamma = 0: beta <= alpha
        res = th.theorem_4_4_bound(W[0], tgt, N, alpha, beta, t)
        worst = max(worst, assert_below_bound(W, tgt, res))
        # tau (first time r <= sqrt6 s_Z) is at most tau_bar
        above = r > math.sqrt(6) * s_Z
        if above.any():
            assert not above[t > res.tau_bar].any()
        # Lemma 4.3: N_alpha,beta(Z1) is never left (slack: integration error)
        assert np.all(np.cos(a) >= alpha - ETA) and np.all(r >= beta * s_Z - ETA * s_Z)
        assert np.all(th.stable_set_margin(W, tgt, alpha, beta) >= -ETA)
    record_property("max_err2_over_bound", worst)
    assert worst <= 1.0 + 1e-6


@pytest.mark.parametrize("seed", range(4))
def test_theorem_4_4_bound_holds_for_a_general_target(seed, record_property):
    rng = np.random.default_rng(100 + seed)
    tgt = general_target(seed)
    assert tgt.gamma > 0.1  # a real second singular value: exercises gamma
    N = int(rng.integers(2, 6))
    t = np.concatenate([[0.0], np.geomspace(1e-4, 15.0, 120)])
    worst = 0.0
    for scale in (0.4, 3.0, 40.0):
        for _ in range(3):
            # a rank-one start near the leading pair, within the cone the set allows
            u = tgt.u + 0.4 * rng.standard_normal(tgt.dy)
            v = tgt.v + 0.4 * rng.standard_normal(tgt.dx)
            W0 = (
                scale * tgt.s_Z * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
            )
            p0 = th.cosine_with_Z1(W0, tgt)
            alpha = 0.99 * p0
            b_max = (1 + tgt.gamma) * alpha - tgt.gamma
            if b_max <= 0:
                continue
            beta = min(0.99 * b_max, 0.999 * np.linalg.norm(W0) / tgt.s_Z)
            W = matrix_trajectory(W0, tgt, N, t)
            res = th.theorem_4_4_bound(W0, tgt, N, alpha, beta, t)
            worst = max(worst, assert_below_bound(W, tgt, res))
            assert np.all(
                th.stable_set_margin(W, tgt, alpha, beta) >= -ETA
            )  # Lemma 4.3
            # Lemma R1: correlation with Z and cosine with Z1 never decrease
            assert np.all(np.diff(th.correlation_with_target(W, tgt)) >= -ETA * tgt.s_Z)
            assert np.all(np.diff(th.cosine_with_Z1(W, tgt)) >= -ETA)
    record_property("max_err2_over_bound", worst)
    assert worst <= 1.0 + 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_starts_in_the_correlation_set_converge(seed):  # role of Theorem 3.8
    rng = np.random.default_rng(200 + seed)
    tgt = general_target(seed)
    N = int(rng.integers(2, 5))
    t = np.concatenate([[0.0], np.geomspace(1e-4, 40.0, 120)])
    found = 0
    while found < 3:
        W0 = rng.uniform(0.2, 20) * np.outer(
            rng.standard_normal(tgt.dy), rng.standard_normal(tgt.dx)
        )
        if not th.in_correlation_set(W0, tgt, 0.05):
            continue
        found += 1
        W = matrix_trajectory(W0, tgt, N, t)
        res = th.theorem_3_8_bound(W0, tgt, N, t)
        assert_below_bound(W, tgt, res)
        assert np.all(
            th.in_correlation_set(W, tgt, 0.05)
            | (th.correlation_set_margin(W, tgt, 0.05) >= -ETA)
        )
        assert errors(W, tgt)[-1] <= 1e-4 * tgt.s_Z  # converged to Z1


def test_time_to_accuracy_holds_on_trajectories():
    s_Z, m, N = 1.0, 1, 3
    tgt = Target.from_matrix([[s_Z, 0.0]], m)
    eps = 1e-8
    for r0, th0 in [(0.5, 1.0), (50.0, 0.7), (3.0, 0.2)]:
        W0 = np.array([[r0 * math.cos(th0), r0 * math.sin(th0)]])
        alpha = 0.99 * math.cos(th0)
        beta = min(alpha, 0.99 * r0)
        T = th.time_to_accuracy(W0, tgt, N, alpha, beta, eps)
        t = np.linspace(0, T + 5, 400)
        W, _, _ = polar_trajectory(r0, th0, s_Z, m, N, t)
        assert np.all(errors(W, tgt)[t >= T] ** 2 <= eps)


# --------------------------------------------------------------------------
# one test per ValueError kind
# --------------------------------------------------------------------------

SCALAR = Target.from_matrix([[2.0, 0.0]], 1)
GOOD_W0 = [[1.0, 0.0]]


def test_rejects_a_target_that_is_not_a_Target():
    with pytest.raises(ValueError, match="target must be a linnet.data.Target"):
        th.in_stable_set(E1E1, np.diag([3.0, 1.0]), 0.5, 0.25)


def test_rejects_a_target_without_unique_Z1():
    with pytest.raises(ValueError, match="s_Z > s_Z2"):
        th.correlation_set_margin(E1E1, Target.from_matrix(np.eye(2)), 0.5)


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5, float("nan"), "x"])
def test_rejects_alpha_out_of_range(alpha):
    with pytest.raises(ValueError, match="alpha"):
        th.correlation_set_margin(E1E1, DIAG, alpha)


@pytest.mark.parametrize("beta", [0.0, -1.0, float("inf")])
def test_rejects_nonpositive_beta(beta):
    with pytest.raises(ValueError, match="beta"):
        th.stable_set_margin(E1E1, DIAG, 0.5, beta)


def test_rejects_beta_above_the_invariance_limit():
    with pytest.raises(
        ValueError, match=r"beta must satisfy 0 < beta <= \(1 \+ gamma\) alpha - gamma"
    ):
        th.stable_set_margin(E1E1, DIAG, 0.5, 0.34)  # limit 1/3
    with pytest.raises(ValueError, match="increase alpha above gamma/\\(1\\+gamma\\)"):
        th.theorem_4_4_bound(
            E1E1, DIAG, 2, 0.2, 0.01, 0.0
        )  # 0.2 < gamma/(1+gamma) = 1/4


@pytest.mark.parametrize("depth", [1, 0, 2.0, True])
def test_rejects_depth_below_two(depth):
    with pytest.raises(ValueError, match="depth"):
        th.theorem_4_4_bound(GOOD_W0, SCALAR, depth, 1.0, 0.5, 0.0)


def test_rejects_W_of_the_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        th.in_stable_set(np.ones((3, 2)), DIAG, 0.5, 0.25)
    with pytest.raises(ValueError, match="dimensions"):
        th.in_stable_set(np.ones(2), DIAG, 0.5, 0.25)
    with pytest.raises(ValueError, match="single matrix"):
        th.theorem_4_4_bound([GOOD_W0, GOOD_W0], SCALAR, 2, 1.0, 0.5, 0.0)


def test_rejects_non_finite_W():
    with pytest.raises(ValueError, match="finite"):
        th.cosine_with_Z1([[np.nan, 0.0], [0.0, 0.0]], DIAG)


def test_rejects_W_of_rank_two():
    with pytest.raises(ValueError, match="rank one"):
        th.in_correlation_set(np.eye(2), DIAG, 0.5)


def test_rejects_a_zero_start():
    with pytest.raises(ValueError, match="nonzero"):
        th.theorem_4_4_bound([[0.0, 0.0]], SCALAR, 2, 1.0, 0.5, 0.0)


def test_rejects_a_start_violating_37():
    with pytest.raises(ValueError, match=r"\(37\)"):
        th.theorem_4_4_bound(
            [[1.0, 1.0]], SCALAR, 2, 0.9, 0.5, 0.0
        )  # cosine 0.707 < alpha
    with pytest.raises(ValueError, match=r"\(37\)"):
        th.time_to_accuracy(
            [[0.5, 0.0]], SCALAR, 2, 1.0, 0.5, 1e-3
        )  # ||W0|| = 0.25 s_Z < beta s_Z


def test_rejects_a_start_outside_the_correlation_set():
    with pytest.raises(ValueError, match="must exceed s_Z2"):
        th.theorem_3_8_bound(E2E2, DIAG, 2, 1.0)  # rho = s_Z2 = 1


@pytest.mark.parametrize("t", [-1.0, [0.0, float("nan")], [[0.0]]])
def test_rejects_bad_times(t):
    with pytest.raises(ValueError, match="t must"):
        th.theorem_4_4_bound(GOOD_W0, SCALAR, 2, 1.0, 0.5, t)


def test_rejects_an_exponent_that_is_not_negative():
    tiny = Target.from_matrix([[1e-300, 0.0]], 1)  # the rates underflow to 0
    with pytest.raises(ValueError, match="exponent .* must be negative"):
        th.theorem_4_4_bound([[1e-300, 0.0]], tiny, 50, 1.0, 1.0, 0.0)


@pytest.mark.parametrize("eps", [0.0, -1.0, float("nan")])
def test_rejects_bad_epsilon(eps):
    with pytest.raises(ValueError, match="sq_tol|loss_tol"):
        th.time_to_accuracy(GOOD_W0, SCALAR, 2, 1.0, 0.5, eps)
    with pytest.raises(ValueError, match="sq_tol|loss_tol"):
        th.arora_theorem_1([np.eye(2)], np.eye(2), eps)


def test_deficiency_margin_rejects_mismatched_or_bad_matrices():
    with pytest.raises(ValueError, match="shape"):
        th.deficiency_margin(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="finite"):
        th.deficiency_margin([[np.inf]], [[1.0]])


def test_arora_theorem_1_rejects_bad_weights_and_step():
    with pytest.raises(ValueError, match="columns"):
        th.arora_theorem_1([np.eye(2), np.ones((2, 3))], np.eye(2), 1e-3)
    with pytest.raises(ValueError, match="shape of Phi"):
        th.arora_theorem_1([np.ones((3, 2))], np.eye(2), 1e-3)
    with pytest.raises(ValueError, match="eta"):
        th.arora_theorem_1([np.eye(2)], np.eye(2), 1e-3, eta=0.0)
