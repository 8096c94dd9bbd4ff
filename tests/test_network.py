"""Tests of linnet.network: end-to-end matrix (3), loss (4), gradients, Hessian, imbalances (14-15)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linnet.init import balanced_init, gaussian_init
from linnet.network import (
    balancedness,
    end_to_end,
    gradients,
    hessian,
    imbalances,
    loss,
)

# Finite-difference step for central differences. The loss and the gradients
# are polynomials in the weights with O(1) coefficients here, so the truncation
# error is ~h^2 * |third derivative| ~ 1e-10 and the round-off error is
# ~eps * |value| / h ~ 1e-11; FD_TOL = 1e-6 (relative to 1 + the largest
# entry compared) leaves four orders of margin for both.
FD_STEP = 1e-5
FD_TOL = 1e-6

network_cases = st.fixed_dictionaries(
    {
        "widths": st.lists(st.integers(1, 4), min_size=2, max_size=5),
        "m": st.integers(1, 6),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def random_problem(widths, m, seed):
    rng = np.random.default_rng(seed)
    weights = [
        rng.standard_normal((widths[j], widths[j - 1])) * 0.8
        for j in range(1, len(widths))
    ]
    X = rng.standard_normal((widths[0], m))
    Y = rng.standard_normal((widths[-1], m))
    return weights, X, Y


def flatten(weights):
    return np.concatenate([W.ravel() for W in weights])


def unflatten(theta, like):
    out, i = [], 0
    for W in like:
        out.append(theta[i : i + W.size].reshape(W.shape))
        i += W.size
    return out


def test_end_to_end_is_the_product_in_layer_order():
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s) for s in [(3, 2), (4, 3), (1, 4)]]
    W = end_to_end(weights)
    assert W.shape == (1, 2)
    np.testing.assert_allclose(W, weights[2] @ weights[1] @ weights[0], rtol=1e-14)


def test_loss_is_half_squared_residual():
    weights, X, Y = random_problem([3, 2, 2], 5, seed=1)
    expected = 0.5 * np.linalg.norm(Y - weights[1] @ weights[0] @ X) ** 2
    assert loss(weights, X, Y) == pytest.approx(expected, rel=1e-14)


@settings(max_examples=40, deadline=None)
@given(network_cases)
def test_gradients_match_central_differences_of_the_loss(case):
    weights, X, Y = random_problem(**case)
    grads = flatten(gradients(weights, X, Y))
    theta = flatten(weights)
    fd = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = FD_STEP
        fd[k] = (
            loss(unflatten(theta + e, weights), X, Y)
            - loss(unflatten(theta - e, weights), X, Y)
        ) / (2 * FD_STEP)
    assert np.max(np.abs(fd - grads)) <= FD_TOL * (1 + np.max(np.abs(grads)))


@settings(max_examples=40, deadline=None)
@given(network_cases)
def test_hessian_matches_central_differences_of_the_gradients(case):
    weights, X, Y = random_problem(**case)
    H = hessian(weights, X, Y)
    theta = flatten(weights)
    assert H.shape == (theta.size, theta.size)
    fd = np.empty_like(H)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = FD_STEP
        plus = flatten(gradients(unflatten(theta + e, weights), X, Y))
        minus = flatten(gradients(unflatten(theta - e, weights), X, Y))
        fd[:, k] = (plus - minus) / (2 * FD_STEP)
    assert np.max(np.abs(fd - H)) <= FD_TOL * (1 + np.max(np.abs(H)))


@settings(max_examples=40, deadline=None)
@given(network_cases)
def test_hessian_is_symmetric(case):
    weights, X, Y = random_problem(**case)
    H = hessian(weights, X, Y)
    # Built symmetric block by block; only the Gauss-Newton product J^T M J
    # carries round-off asymmetry, a few ulps of its largest entry.
    assert np.max(np.abs(H - H.T)) <= 1e-13 * (1 + np.max(np.abs(H)))


def test_hessian_of_depth_one_is_kron_identity_data_covariance():
    # L(W) = 1/2 ||Y - W X||^2 has Hessian I (x) X X^T in row-major vec(W), at any W.
    weights, X, Y = random_problem([3, 2], 7, seed=2)
    np.testing.assert_allclose(
        hessian(weights, X, Y), np.kron(np.eye(2), X @ X.T), rtol=1e-13, atol=1e-13
    )


def test_hessian_at_a_global_minimum_is_positive_semidefinite():
    # Exact data Y = W* X for a depth-3 network: the residual part vanishes at
    # W*, leaving the Gauss-Newton part J^T (I kron X X^T) J >= 0.
    rng = np.random.default_rng(3)
    weights = gaussian_init([3, 2, 2, 2], 1.0, seed=4)
    X = rng.standard_normal((3, 10))
    Y = end_to_end(weights) @ X
    evals = np.linalg.eigvalsh(hessian(weights, X, Y))
    # Round-off in the eigenvalues of a matrix of norm ||H||: a few ulps of it.
    assert evals.min() >= -1e-12 * evals.max()
    assert evals.max() > 0


def test_imbalances_are_the_corrected_eq_14_matrices():
    rng = np.random.default_rng(5)
    weights = [rng.standard_normal(s) for s in [(3, 2), (4, 3), (2, 4)]]
    D = imbalances(weights)
    assert [Dj.shape for Dj in D] == [(3, 3), (4, 4)]
    np.testing.assert_allclose(
        D[0], weights[1].T @ weights[1] - weights[0] @ weights[0].T, rtol=1e-14
    )
    np.testing.assert_allclose(
        D[1], weights[2].T @ weights[2] - weights[1] @ weights[1].T, rtol=1e-14
    )
    assert balancedness(weights) == pytest.approx(
        max(np.linalg.norm(Dj) for Dj in D), rel=1e-14
    )


def test_depth_one_network_is_balanced_and_has_no_imbalances():
    assert imbalances([np.ones((2, 3))]) == []
    assert balancedness([np.ones((2, 3))]) == 0.0


def test_balanced_init_has_zero_balancedness_and_gaussian_init_not():
    W0 = np.arange(6.0).reshape(2, 3)
    assert balancedness(
        balanced_init(W0, [3, 4, 2, 2], seed=0)
    ) <= 1e-13 * np.linalg.norm(W0)
    # A Gaussian network is unbalanced by O(width * std^2).
    assert balancedness(gaussian_init([3, 4, 2, 2], 1.0, seed=0)) > 0.1


# -- bad input: one test per kind --------------------------------------------


def test_empty_weights_raise_naming_weights_and_depth():
    with pytest.raises(ValueError, match=r"weights .*depth N >= 1"):
        end_to_end([])


def test_non_chaining_shapes_raise_naming_the_layer():
    with pytest.raises(ValueError, match=r"weights\[1\] must have 2 columns"):
        end_to_end([np.ones((2, 3)), np.ones((2, 3))])


def test_non_finite_weights_raise_naming_the_layer():
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite"):
        gradients([np.array([[np.nan, 1.0]])], np.ones((2, 3)), np.ones((1, 3)))


def test_weights_not_a_list_raise():
    with pytest.raises(ValueError, match=r"weights must be a list"):
        balancedness(np.ones((2, 2, 2)))


def test_data_of_the_wrong_shape_raises_naming_x_or_y():
    weights = [np.ones((1, 2))]
    with pytest.raises(ValueError, match=r"X must have shape \(2, any\)"):
        loss(weights, np.ones((3, 4)), np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 4\)"):
        hessian(weights, np.ones((2, 4)), np.ones((1, 5)))
