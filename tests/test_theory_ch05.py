"""Closed forms of chapter 05 in linnet.theory (section "Closed forms of chapter 05").

Arora et al.'s Lemma 1 decrease and Claim 2 bound (forms of the project brief,
checked against their formulas typed here), and the book's two closed forms
(the second moment of the imbalance of Gaussian layers, the exact probability
of a deficiency margin for one output), checked against Monte Carlo drawn here
with numpy alone. Monte Carlo tolerances: 4.5 standard errors (a false alarm
per comparison has probability < 1e-5); the samples are seeded, so the tests
are deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from linnet.theory import (
    arora_claim_2_bound,
    arora_claim_2_scale,
    arora_lemma_1_decrease,
    expected_imbalance_sq,
    margin_probability_exact,
)

# --- Lemma 1 ------------------------------------------------------------------


def test_lemma_1_decrease_is_the_lemma_as_stated():
    # (eta/2) sigma_min^{2(N-1)/N} ||W - Phi||^2, typed here from chapter 05's statement
    for N in range(1, 9):
        got = arora_lemma_1_decrease(0.7, 0.3, N, 0.01)
        assert got == pytest.approx(0.5 * 0.01 * 0.7 ** (2 * (N - 1) / N) * 0.3)
    # N = 1: sigma_min^0 = 1, the decrease of one-layer gradient descent
    assert arora_lemma_1_decrease(0.0, 1.0, 1, 0.5) == 0.25


# --- Claim 2 ------------------------------------------------------------------


def test_claim_2_scale_and_bound():
    widths = [16, 8, 8, 1]
    assert arora_claim_2_scale(widths, 1e-3) == pytest.approx(10 * 3 * 1e-12 * 16**3)
    assert arora_claim_2_bound(widths, 1e-3, 1e-2) == pytest.approx(
        1 - 10 * 3 * 1e-12 * 16**3 / 1e-4
    )
    assert arora_claim_2_bound(widths, 1.0, 1e-2) == 0.0  # clipped at 0
    for call, match in [
        (lambda: arora_claim_2_bound(widths, 0.0, 1e-2), "std"),
        (lambda: arora_claim_2_bound(widths, 1e-3, -1.0), "delta"),
        (lambda: arora_claim_2_scale([4], 1e-3), "widths"),
        (lambda: arora_claim_2_scale([4, 0, 1], 1e-3), r"widths\[1\]"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()


def _imbalance_sq_draws(widths, std, n, seed):
    rng = np.random.default_rng(seed)
    ws = [
        std * rng.standard_normal((n, widths[j + 1], widths[j]))
        for j in range(len(widths) - 1)
    ]
    return sum(
        np.square(
            np.swapaxes(ws[j + 1], 1, 2) @ ws[j + 1] - ws[j] @ np.swapaxes(ws[j], 1, 2)
        ).sum(axis=(1, 2))
        for j in range(len(ws) - 1)
    )


@pytest.mark.parametrize("widths", [[3, 4, 1], [5, 2, 6, 1], [8, 8, 8, 8, 1]])
def test_expected_imbalance_sq_matches_monte_carlo(widths):
    std = 0.7
    sq = _imbalance_sq_draws(widths, std, 40_000, 11)
    exact = expected_imbalance_sq(widths, std)
    assert abs(sq.mean() - exact) <= 4.5 * sq.std() / np.sqrt(sq.size)
    # the corollary of chapter 05: each pair contributes at most 6 std^4 d_max^3, so the
    # Markov form of Claim 2 holds with 6 (N - 1) < 10 N for every widths
    assert exact <= 6 * (len(widths) - 2) * std**4 * max(widths) ** 3
    assert exact < arora_claim_2_scale(widths, std)


def test_expected_imbalance_sq_per_pair_bound_over_random_widths():
    rng = np.random.default_rng(5)
    for _ in range(500):
        widths = list(rng.integers(1, 60, size=rng.integers(3, 9)))
        N = len(widths) - 1
        assert expected_imbalance_sq(widths, 1.0) <= 6 * (N - 1) * max(widths) ** 3
    assert expected_imbalance_sq([3, 2], 1.0) == 0.0  # depth 1: no pair
    assert expected_imbalance_sq([2, 3, 1], 2.0) == pytest.approx(
        16 * expected_imbalance_sq([2, 3, 1], 1.0)
    )


# --- the margin probability (Claim 3's event) ----------------------------------


@pytest.mark.parametrize("d0", [1, 2, 8, 128])
@pytest.mark.parametrize("k", [0.02, 0.5, 2.0])
def test_margin_probability_exact_matches_monte_carlo(d0, k):
    # re-derivation by sampling: A = std g has a margin iff ||A - Phi|| < sigma_min(Phi)
    # = ||Phi|| (Definition 2, one output); ||Phi|| = 2: only ||Phi|| / std matters
    std = k / d0
    Phi = np.zeros(d0)
    Phi[-1] = 2.0
    exact = margin_probability_exact(2 * std, d0, phi_norm=2.0)
    assert exact == pytest.approx(margin_probability_exact(std, d0), abs=1e-9)
    n = 60_000
    A = 2 * std * np.random.default_rng(7).standard_normal((n, d0))
    p = np.mean(np.linalg.norm(A - Phi, axis=1) < 2.0)
    assert abs(p - exact) <= 4.5 * np.sqrt(max(exact * (1 - exact), 1 / n) / n)
    assert 0.0 <= exact <= 0.5


def test_margin_probability_exact_limits_and_validation():
    assert margin_probability_exact(1.0, 1) == pytest.approx(
        norm.cdf(2.0) - 0.5, abs=1e-14
    )
    assert margin_probability_exact(1e-6, 50) == pytest.approx(0.5, abs=1e-4)
    assert margin_probability_exact(10.0, 50) < 1e-12  # large starts: none
    for args, match in [
        ((0.1, 0), "d0"),
        ((0.0, 3), "std"),
        ((0.1, 3, -1.0), "phi_norm"),
    ]:
        with pytest.raises(ValueError, match=match):
            margin_probability_exact(*args)
