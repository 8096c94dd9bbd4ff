"""Tests of the closed forms of chapters 04 and 06 in linnet.theory (section "Closed forms of
chapters 04 and 06"): the rank-one reduction of (17) (notes A.3: reduced equations, Lemma R1,
(R2)) against the matrix velocity of (17) (an independent route: the chain rule on
:func:`linnet.flows.induced_velocity`), hand cases, the best rank-one deficiency margin, the
depth thresholds of (38a)'s exponent, the Euler error at depth 1, and every ValueError.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from linnet import theory as th
from linnet.chapters import rates as R
from linnet.data import Target
from linnet.flows import forward_euler, induced_flow, induced_velocity


def rank_one(rng, shape, scale=1.0):
    return scale * np.outer(
        rng.standard_normal(shape[0]), rng.standard_normal(shape[1])
    )


@pytest.fixture(scope="module")
def general():
    """A 3 x 4 target with gamma ~ 0.5, m = 5."""
    return R.random_target(3, 4, 1.3, 0.5, 5, seed=7)


def factors(W):
    U, s, Vt = np.linalg.svd(W)
    return s[:, 0], U[:, :, 0], Vt[:, 0, :]


def chain_rule_rates(W, target, N):
    """``ds, drho, dp`` by the chain rule on the matrix velocity of (17) (re-derived here)."""
    V = induced_velocity(W, target, N)
    s = np.linalg.norm(W, axis=(1, 2))
    rho = np.einsum("kij,ij->k", W, target.Z) / s
    p = np.einsum("kij,ij->k", W, target.Z1) / (s * target.s_Z)
    ds = np.einsum("kij,kij->k", W, V) / s
    drho = np.einsum("kij,ij->k", V, target.Z) / s - rho * ds / s
    dp = np.einsum("kij,ij->k", V, target.Z1) / (s * target.s_Z) - p * ds / s
    return rho, p, ds, drho, dp


@pytest.mark.parametrize("N", [2, 3, 7])
def test_reduced_rates_agree_with_the_matrix_velocity(general, N):
    rng = np.random.default_rng(3)
    W = np.stack([rank_one(rng, general.Z.shape, s) for s in (0.1, 1.0, 30.0)])
    got = th.rank_one_reduced_rates(*factors(W), general, N)
    want = chain_rule_rates(W, general, N)
    for name, x, y in zip(("rho", "p", "ds", "drho", "dp"), got, want, strict=True):
        assert np.allclose(x, y, rtol=1e-10, atol=1e-12 * np.max(np.abs(y))), name


def test_reduced_rates_hand_case_at_a_multiple_of_Z1(general):
    # W = 2 Z1: rho = s_Z, p = 1, ds = -m N (2 s_Z)^{2-2/N} s_Z, drho = dp = 0.
    W = 2.0 * general.Z1[None]
    rho, p, ds, drho, dp = th.rank_one_reduced_rates(*factors(W), general, 3)
    assert rho[0] == pytest.approx(general.s_Z, rel=1e-12)
    assert abs(p[0]) == pytest.approx(1.0, rel=1e-12)
    assert ds[0] == pytest.approx(
        -general.m * 3 * (2 * general.s_Z) ** (4 / 3) * general.s_Z, rel=1e-12
    )
    assert abs(drho[0]) <= 1e-12 and abs(dp[0]) <= 1e-12


def test_reduced_rates_reject_bad_factors(general):
    s, u, v = factors(np.stack([general.Z1]))
    with pytest.raises(ValueError, match="depth"):
        th.rank_one_reduced_rates(s, u, v, general, 1)
    with pytest.raises(ValueError, match="s must"):
        th.rank_one_reduced_rates(-s, u, v, general, 2)
    with pytest.raises(ValueError, match="u must have shape"):
        th.rank_one_reduced_rates(s, u[:, :2], v, general, 2)
    with pytest.raises(ValueError, match="v must hold unit vectors"):
        th.rank_one_reduced_rates(s, u, 2 * v, general, 2)
    with pytest.raises(ValueError, match="finite"):
        th.rank_one_reduced_rates(s, np.full_like(u, np.nan), v, general, 2)
    with pytest.raises(ValueError, match="Target"):
        th.rank_one_reduced_rates(s, u, v, general.Z, 2)


def test_cosine_rate_lower_bound_bounds_dp_on_random_rank_one_matrices(
    general, figure1_data
):
    rng = np.random.default_rng(5)
    for tgt in (general, figure1_data[2], R.random_target(2, 5, 0.4, 0.85, 3, seed=1)):
        W = np.stack(
            [rank_one(rng, tgt.Z.shape, rng.uniform(0.1, 10)) for _ in range(400)]
        )
        for N in (2, 5):
            rates = R.rank_one_rates(W, tgt, N)
            lower = th.cosine_rate_lower_bound(W, tgt, N)
            ok = (rates.p >= 0) & (rates.p <= 1 - 1e-6)
            assert ok.sum() > 100
            assert np.all(rates.dp[ok] >= lower[ok] * (1 - 1e-9))
            assert np.all(
                rates.drho >= -1e-12 * np.max(np.abs(rates.drho))
            )  # rho never decreases


def test_cosine_rate_lower_bound_hand_case_scalar_output():
    # dy = 1: a = 1, b = p, rho = s_Z p, so dp = m s^{1-2/N} s_Z (1 - p^2) = (35) * (1 + p) / (2 p).
    tgt = Target.from_matrix([[2.0, 0.0]], 3)
    p = 0.6
    W = 5.0 * np.array([[p, math.sqrt(1 - p * p)]])
    dp = R.rank_one_rates(W, tgt, 4).dp
    assert th.cosine_rate_lower_bound(W, tgt, 4) == pytest.approx(
        dp * 2 * p / (1 + p), rel=1e-12
    )
    assert dp == pytest.approx(3 * 5.0**0.5 * 2.0 * (1 - p * p), rel=1e-12)


def test_correlation_bounds_hold_and_are_tight_at_Z1(general):
    rng = np.random.default_rng(6)
    W = np.stack([rank_one(rng, general.Z.shape) for _ in range(500)])
    rho = th.correlation_with_target(W, general)
    p = th.cosine_with_Z1(W, general)
    lo, hi = th.correlation_bounds(W, general)
    keep = p >= 0
    assert np.all(lo[keep] <= rho[keep] + 1e-13) and np.all(
        rho[keep] <= hi[keep] + 1e-13
    )
    lo1, hi1 = th.correlation_bounds(general.Z1 * 3, general)
    assert lo1 == pytest.approx(general.s_Z) and hi1 == pytest.approx(general.s_Z)


def test_best_rank_one_margin_hand_values_and_sampling(general):
    tgt = Target.from_matrix(np.diag([3.0, 2.0, 1.0]), 1)
    assert th.best_rank_one_margin(tgt) == pytest.approx(1 - math.sqrt(5))
    assert th.best_rank_one_margin(tgt) == pytest.approx(
        th.deficiency_margin(tgt.Z1, tgt.Z)
    )
    assert th.best_rank_one_margin(
        Target.from_matrix([[3.0, 4.0]], 1)
    ) == pytest.approx(5.0)
    rng = np.random.default_rng(8)
    best = th.best_rank_one_margin(general)
    assert best < 0
    for _ in range(300):
        W = general.Z1 + rank_one(rng, general.Z.shape, 0.2)
        W = np.linalg.svd(W)[1][0] * np.outer(
            np.linalg.svd(W)[0][:, 0], np.linalg.svd(W)[2][0]
        )
        assert th.deficiency_margin(W, general.Z) <= best + 1e-12
    with pytest.raises(ValueError, match="Target"):
        th.best_rank_one_margin(np.eye(2))


def test_cosine_rate_and_correlation_bounds_reject_bad_input(general):
    with pytest.raises(ValueError, match="depth"):
        th.cosine_rate_lower_bound(general.Z1, general, 1)
    with pytest.raises(ValueError, match="shape"):
        th.correlation_bounds(np.ones((4, 3)), general)
    with pytest.raises(ValueError, match="rank"):
        th.correlation_bounds(np.eye(3, 4), general)
    with pytest.raises(ValueError, match="nonzero"):
        th.cosine_rate_lower_bound(np.zeros((3, 4)), general, 2)
    assert isinstance(th.cosine_rate_lower_bound(general.Z1, general, 2), float)


def test_exponent_38a_step_threshold():
    assert th.exponent_38a_step_threshold(2) == pytest.approx(8 / 27, rel=1e-15)
    thr = th.exponent_38a_step_threshold(np.arange(1, 12))
    assert thr[0] == pytest.approx(0.5)  # N = 1: (1/2)^1
    assert np.argmax(thr[1:]) == 0  # over N >= 2 (Theorem 4.4), largest at N = 2
    # the threshold is where E_a / m = N x^{2-2/N} (gamma_Z = 0) takes equal values at N, N + 1
    for N, x in zip(range(1, 12), thr, strict=True):
        assert N * x ** th.kappa(N) == pytest.approx(
            (N + 1) * x ** th.kappa(N + 1), rel=1e-12
        )
    for bad in (0, 1.5, [2, -1]):
        with pytest.raises(ValueError, match="depth"):
            th.exponent_38a_step_threshold(bad)


def test_euler_relative_error_depth_1_matches_the_scheme(figure1_data):
    _, _, target = figure1_data
    W0 = 3.0 * target.Z1 + 0.1 * np.ones(target.Z.shape)
    h, n = 1e-3, 400
    e = forward_euler(W0, target, 1, h, n, record_every=100)
    exact = induced_flow(W0, target, 1, e.t, rtol=1e-13).W
    steps = np.rint(e.t / h).astype(int)
    got = th.euler_relative_error_depth_1(target.m, h, steps)
    err = np.linalg.norm(e.W - exact, axis=(1, 2)) / np.linalg.norm(
        exact - target.Z, axis=(1, 2)
    )
    assert got[0] == 0.0
    assert np.allclose(err[1:], got[1:], rtol=1e-6)
    assert isinstance(th.euler_relative_error_depth_1(2.0, 0.1, 3), float)
    with pytest.raises(ValueError, match="step"):
        th.euler_relative_error_depth_1(2.0, 0.0, 3)
    with pytest.raises(ValueError, match="n_steps"):
        th.euler_relative_error_depth_1(2.0, 0.1, -1)
