"""Tests of Section 2's three problems in linnet.chapters.landscape: the pairings used for
Lemmas 2.4-2.6 (split at the narrowest layer, (P, Q X)), the PCA problem (12) as a
depth-2 instance, the unbalanced weight points (mixed layers, idle path, zero
layers) and the statements they are used to check, re-derived here independently
of the module (gradients of (10b) and (12) from their own formulas, second
derivatives along explicit curves)."""

from __future__ import annotations

import numpy as np
import pytest

from linnet.chapters.landscape import (
    EIG_RTOL,
    GRAD_RTOL,
    add_idle_path,
    classify,
    critical_points,
    mix_layers,
    narrowest_layer,
    pca_point,
    pca_points,
    pca_problem,
    projected_optimum,
    regression_data,
    split_at_narrowest,
    split_target,
    weight_points,
    zero_layers_point,
)
from linnet.network import end_to_end, gradients, hessian, loss

# Products and gradients of matrices of size <= 20 with entries O(1-10):
# round-off ~1e-14 relative; 1e-10 fails on any formula error (O(1)).
TOL = 1e-10


def _data(seed=3, target_rank=None):
    return regression_data(14, 4, 3, seed, target_rank=target_rank)


def _inertia(H, scale):
    """(negative, positive) eigenvalue counts beyond EIG_RTOL * scale."""
    ev = np.linalg.eigvalsh(H)
    return int(np.sum(ev < -EIG_RTOL * scale)), int(np.sum(ev > EIG_RTOL * scale))


def _grad_10b(P, Q, X, Y):
    """Gradient of L_2(P, Q) = 1/2 ||Y - P Q X||^2 from its own formula."""
    R = (P @ Q @ X - Y) @ X.T
    return R @ Q.T, P.T @ R


def _grad_12(P, Qp, Z):
    """Gradient of L_2'(P, Q') = 1/2 ||Z - P Q'||^2 from its own formula."""
    R = P @ Qp - Z
    return R @ Qp.T, P.T @ R


def test_split_at_narrowest_factors_the_end_to_end_matrix_at_the_first_narrowest_layer():
    rng = np.random.default_rng(0)
    for widths, k in [
        ([4, 5, 2, 3], 2),
        ([4, 2, 5, 2, 3], 1),
        ([2, 3, 4], 0),
        ([4, 5, 1], 2),
    ]:
        assert narrowest_layer(widths) == k
        weights = [
            rng.standard_normal((widths[j], widths[j - 1]))
            for j in range(1, len(widths))
        ]
        P, Q = split_at_narrowest(weights)
        assert P.shape == (widths[-1], widths[k]) and Q.shape == (widths[k], widths[0])
        np.testing.assert_allclose(P @ Q, end_to_end(weights), atol=TOL)


def test_pca_problem_is_the_depth_two_loss_on_identity_inputs():
    X, Y = _data()
    inputs, targets = pca_problem(X, Y)
    rng = np.random.default_rng(1)
    P, Qp = rng.standard_normal((3, 2)), rng.standard_normal((2, X.shape[1]))
    Z = Y @ np.linalg.pinv(X) @ X
    assert abs(
        loss([Qp, P], inputs, targets) - 0.5 * np.sum((Z - P @ Qp) ** 2)
    ) <= TOL * loss([Qp, P], inputs, targets)
    gP, gQ = _grad_12(P, Qp, Z)
    g = gradients([Qp, P], inputs, targets)
    np.testing.assert_allclose(g[0], gQ, atol=TOL * np.abs(gQ).max())
    np.testing.assert_allclose(g[1], gP, atol=TOL * np.abs(gP).max())
    # (12)'s optimum is the Eckart-Young-Mirsky tail of Y P_X.
    s = np.linalg.svd(Z, compute_uv=False)
    assert abs(
        projected_optimum(inputs, targets, 2) - 0.5 * np.sum(s[2:] ** 2)
    ) <= TOL * np.sum(s**2)


def test_pca_point_validates_shapes():
    with pytest.raises(ValueError, match=r"P, Q and X must chain"):
        pca_point(np.ones((3, 2)), np.ones((3, 4)), np.ones((4, 10)))


def test_mix_layers_keeps_the_product_and_the_inertia_at_stationary_points():
    X, Y = _data()
    widths = [4, 5, 2, 3]
    for p in critical_points(X, Y, widths, seed=0):
        mixed = mix_layers(p.weights, 7)
        np.testing.assert_allclose(
            end_to_end(mixed), p.W, atol=TOL * max(1.0, np.abs(p.W).max())
        )
        assert max(np.abs(g).max() for g in gradients(mixed, X, Y)) <= 1e-9
        H0, H1 = hessian(p.weights, X, Y), hessian(mixed, X, Y)
        # Sylvester: congruent Hessians have the same numbers of negative eigenvalues.
        assert (
            _inertia(H0, np.abs(H0).max() + 1e-300)[0]
            == _inertia(H1, np.abs(H1).max() + 1e-300)[0]
        )
    with pytest.raises(ValueError, match=r"spread"):
        mix_layers(p.weights, 0, spread=0.0)


def test_rank_r_stationarity_of_10b_does_not_depend_on_the_factorisation():
    # Lemma 2.4's pair: for rank(W) = r every factorisation P Q = W is an FOSP of
    # (10b) when W is critical, and all have the same Hessian inertia.
    X, Y = _data()
    rng = np.random.default_rng(2)
    for p in critical_points(X, Y, [4, 2, 3], seed=0):
        if p.rank != 2:
            continue
        Q, P = p.weights
        kinds = set()
        for _ in range(3):
            A = rng.standard_normal((2, 2)) + 2 * np.eye(2)
            P2, Q2 = P @ A, np.linalg.solve(A, Q)
            gP, gQ = _grad_10b(P2, Q2, X, Y)
            assert max(np.abs(gP).max(), np.abs(gQ).max()) <= 1e-9
            kinds.add(classify([Q2, P2], X, Y).kind)
        assert len(kinds) == 1


def test_lemma_2_5_pairs_fosps_of_10b_with_fosps_of_12_by_hand():
    X, Y = _data()
    Z = split_target(X, Y)[0]
    for wp in weight_points(X, Y, [4, 2, 3], seed=1):
        Q, P = wp.weights
        gP, gQ = _grad_10b(P, Q, X, Y)
        assert max(np.abs(gP).max(), np.abs(gQ).max()) <= 1e-9  # an FOSP of (10b)
        Qp, P12 = pca_point(P, Q, X)
        gP12, gQ12 = _grad_12(P12, Qp, Z)
        assert (
            max(np.abs(gP12).max(), np.abs(gQ12).max()) <= 1e-9
        )  # its pair is an FOSP of (12)


def test_lemma_2_4_proviso_zero_layers_give_a_non_stationary_pair():
    # Depth 3 with W1 = W2 = 0: an FOSP of (6) whose pair (P, Q) = (W3, 0) has
    # dL_2/dQ = W3^T (0 - Y) X^T != 0.
    X, Y = _data()
    weights = zero_layers_point([4, 5, 2, 3], (1, 2), 0)
    assert max(np.abs(g).max() for g in gradients(weights, X, Y)) == 0.0
    P, Q = split_at_narrowest(weights)
    gP, gQ = _grad_10b(P, Q, X, Y)
    assert np.abs(gQ).max() > 1e-3 * np.abs(Y @ X.T).max()


def test_two_zero_layers_give_a_strict_saddle_with_the_closed_curvature():
    # Depth 3, W1 = W2 = 0: along D1 = e v^T / sqrt 2, D2 = u e^T / sqrt 2 (u, v the
    # leading singular pair of W3^T Y X^T, e any unit vector of layer 1) the loss is
    # L(0) - eps^2/2 <W3^T Y X^T, u v^T> + O(eps^4): second derivative -s_1(W3^T Y X^T).
    X, Y = _data()
    widths = [4, 5, 2, 3]
    weights = zero_layers_point(widths, (1, 2), 4)
    M = weights[2].T @ Y @ X.T
    U, s, Vt = np.linalg.svd(M)
    e = np.zeros(5)
    e[0] = 1.0
    D = [
        np.outer(e, Vt[0]) / np.sqrt(2),
        np.outer(U[:, 0], e) / np.sqrt(2),
        np.zeros_like(weights[2]),
    ]
    d = np.concatenate([Dj.ravel() for Dj in D])
    H = hessian(weights, X, Y)
    assert abs(d @ H @ d + s[0]) <= TOL * s[0]
    c = classify(weights, X, Y)
    assert c.kind == "strict saddle" and c.lambda_min <= -s[0] + TOL * s[0]


def test_three_zero_layers_have_a_vanishing_hessian():
    X, Y = _data()
    weights = zero_layers_point([4, 3, 2, 5, 3], (1, 2, 3), 0)
    assert np.all(hessian(weights, X, Y) == 0.0)
    assert classify(weights, X, Y).second_order


def test_zero_layers_point_validates_layers():
    with pytest.raises(
        ValueError, match=r"zero_layers must hold layer indices in 1..N = 1..3"
    ):
        zero_layers_point([4, 5, 2, 3], (0, 1), 0)


def test_idle_path_keeps_the_product_and_turns_a_spurious_sosp_into_a_strict_saddle():
    # Depth 3, subset {1} (rank 1 < r = 2): the balanced point is an SOSP, the
    # idle-path point with the same end-to-end matrix a strict saddle.
    X, Y = _data()
    widths = [4, 5, 2, 3]
    best_rank_one = critical_points(X, Y, widths, seed=0)[1]
    assert best_rank_one.subset == (1,)
    idle = add_idle_path(best_rank_one.weights, 5)
    np.testing.assert_allclose(end_to_end(idle), best_rank_one.W, atol=TOL)
    assert classify(best_rank_one.weights, X, Y).second_order
    c = classify(idle, X, Y)
    assert c.residual <= GRAD_RTOL and c.kind == "strict saddle"
    with pytest.raises(ValueError, match=r"must have rank < 2"):
        add_idle_path([np.eye(2), np.eye(2)], 0)


def test_theorem_2_8_on_unbalanced_points_of_other_data():
    X, Y = _data(seed=9)
    for widths in ([4, 2, 3], [4, 5, 2, 3], [4, 3, 2, 5, 3]):
        optimum = projected_optimum(X, Y, 2)
        for wp in weight_points(X, Y, widths, seed=2):
            c = classify(wp.weights, X, Y, optimum=optimum)
            assert c.kind != "not critical"
            if wp.rank == 2 and c.second_order:
                assert c.kind == "global minimiser"


def test_theorem_2_7_on_pca_points_including_a_rank_deficient_target():
    for X, Y in (_data(seed=5), _data(seed=5, target_rank=1)):
        inputs, targets = pca_problem(X, Y)
        for r in (1, 2):
            best = projected_optimum(inputs, targets, r)
            cls = [
                classify(p.weights, inputs, targets, optimum=best)
                for p in pca_points(X, Y, r, seed=0)
            ]
            assert all(c.kind != "not critical" for c in cls)
            assert any(c.second_order for c in cls)
            assert all(c.kind == "global minimiser" for c in cls if c.second_order)


def test_pca_points_outside_the_row_space_are_not_pairs_of_10b_points():
    X, Y = _data()
    Pperp = np.eye(X.shape[1]) - np.linalg.pinv(X) @ X
    outside = [p for p in pca_points(X, Y, 2, seed=0) if p.variant == "row outside X"]
    assert outside
    for p in outside:
        assert (
            np.linalg.norm(p.weights[0] @ Pperp) > 0.5
        )  # Q' has a row off the row space of X
    with pytest.raises(ValueError, match=r"fewer rows than columns"):
        pca_points(np.eye(3), np.ones((2, 3)), 1)


def test_lemma_2_4_proviso_spurious_sosps_pair_with_strict_saddles_under_any_factorisation():
    # Book's proposition "Lemma 2.4 needs its rank proviso", part 2: a spurious
    # SOSP of (6) (rank < r, loss above the optimum) is paired with a non-SOSP
    # of (10b) by every pairing with P Q = W. Here: the cut pair and random
    # re-factorisations (P A, A^{-1} Q) of the depth-3 balanced points of 0 and
    # W_{1} are FOSPs of (10b) and strict saddles, never SOSPs.
    X, Y = _data()
    widths = [4, 5, 2, 3]
    optimum = projected_optimum(X, Y, 2)
    rng = np.random.default_rng(0)
    for point in critical_points(X, Y, widths, seed=0)[:2]:
        assert point.subset in ((), (1,))
        assert (
            classify(point.weights, X, Y, optimum=optimum).kind == "non-strict saddle"
        )
        P, Q = split_at_narrowest(point.weights)
        for k in range(4):
            A = np.eye(2) if k == 0 else rng.standard_normal((2, 2)) + 2 * np.eye(2)
            c = classify([np.linalg.solve(A, Q), P @ A], X, Y, optimum=optimum)
            assert c.kind == "strict saddle" and not c.second_order
