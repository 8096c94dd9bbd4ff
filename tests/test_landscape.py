"""Tests of linnet.chapters.landscape: projections and the split (11), the optimal values of
(10a), (10b), (12), critical points from subsets of singular triplets, classification
by the Hessian (Definitions 2.1-2.3, Theorem 2.8), the zero network, and gradient
flow (13) on stacks of networks. The pairings of Lemmas 2.4-2.6 and the unbalanced
weight points are tested in tests/test_section2.py."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from linnet.chapters.landscape import (
    EIG_RTOL,
    GRAD_RTOL,
    classify,
    critical_end_to_end,
    critical_points,
    escape_direction_at_zero,
    factored_optimum,
    loss_decrease,
    loss_end_to_end,
    loss_split,
    projected_optimum,
    projector,
    rank_constrained_optimum,
    regression_data,
    relative_residual,
    split_target,
    target_singular_triplets,
)
from linnet.flows import gradient_flow
from linnet.init import balanced_init, gaussian_init
from linnet.network import end_to_end, hessian, loss

# Identities evaluated in floating point on matrices of size <= 20 with
# condition numbers <= ~1e3 (the data below): round-off ~1e-15 times the
# condition number. 1e-10 leaves margin and fails on any formula error, whose
# effect is O(1).
IDENTITY_TOL = 1e-10
# Optimal values computed by different routes (reduced-rank regression, SVD,
# alternating least squares stopped at a relative change 1e-12 in A B, whose
# value error is second order in that change): agreement to 1e-9 relative.
VALUE_TOL = 1e-9

data_cases = st.fixed_dictionaries(
    {
        "m": st.integers(6, 12),
        "dx": st.integers(2, 4),
        "dy": st.integers(2, 4),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def _rel(a, b) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


# -- projections and the split (11) ------------------------------------------


@settings(max_examples=30, deadline=None)
@given(data_cases)
def test_projector_is_the_orthogonal_projection_onto_the_row_space(case):
    X, _ = regression_data(**case)
    P = projector(X)
    assert np.max(np.abs(P - P.T)) <= IDENTITY_TOL
    assert np.max(np.abs(P @ P - P)) <= IDENTITY_TOL
    # P fixes the rows of X and has trace dx (rank dx).
    assert np.linalg.norm(X @ P - X) <= IDENTITY_TOL * np.linalg.norm(X)
    assert np.trace(P) == pytest.approx(X.shape[0], abs=IDENTITY_TOL)
    # Equal to the textbook formula X^T (X X^T)^{-1} X.
    assert np.max(np.abs(P - X.T @ np.linalg.solve(X @ X.T, X))) <= IDENTITY_TOL


@settings(max_examples=30, deadline=None)
@given(data_cases)
def test_split_11_is_orthogonal_and_sums_to_the_loss(case):
    X, Y = regression_data(**case)
    Y_in, Y_out = split_target(X, Y)
    np.testing.assert_allclose(
        Y_in + Y_out, Y, rtol=0, atol=IDENTITY_TOL * np.abs(Y).max()
    )
    assert np.max(np.abs(Y_in @ Y_out.T)) <= IDENTITY_TOL * np.sum(Y**2)
    W = np.random.default_rng(case["seed"]).standard_normal((Y.shape[0], X.shape[0]))
    unreachable, projected = loss_split(W, X, Y)
    assert _rel(unreachable + projected, loss([W], X, Y)) <= IDENTITY_TOL


def test_projector_rejects_data_without_full_row_rank():
    X = np.ones((2, 5))
    with pytest.raises(ValueError, match=r"X must have full row rank"):
        projector(X)
    with pytest.raises(ValueError, match=r"X must have at most as many rows"):
        projector(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"X must be finite"):
        projector(np.array([[1.0, np.inf]]))


# -- optimal values of (10a), (10b), (12) ------------------------------------


@settings(max_examples=30, deadline=None)
@given(data_cases, st.integers(1, 3))
def test_the_three_optimal_values_agree(case, r):
    X, Y = regression_data(**case)
    W, value_10a = rank_constrained_optimum(X, Y, r)
    value_12 = projected_optimum(X, Y, r)
    factored = factored_optimum(X, Y, r, seed=case["seed"])
    assert factored.converged
    assert np.linalg.matrix_rank(W) <= r
    assert _rel(value_10a, loss([W], X, Y)) <= IDENTITY_TOL
    assert _rel(value_10a, value_12) <= VALUE_TOL
    assert _rel(factored.value, value_12) <= VALUE_TOL


def test_projected_optimum_is_the_eckart_young_mirsky_tail():
    X, Y = regression_data(15, 4, 3, seed=3)
    s = np.linalg.svd(split_target(X, Y)[0], compute_uv=False)
    unreachable = loss_split(np.zeros((3, 4)), X, Y)[0]
    for r in (1, 2, 3):
        assert (
            _rel(projected_optimum(X, Y, r), unreachable + 0.5 * np.sum(s[r:] ** 2))
            <= IDENTITY_TOL
        )
    # r >= rank: ordinary least squares, the loss is the unreachable part only.
    assert _rel(projected_optimum(X, Y, 3), unreachable) <= IDENTITY_TOL


def test_rank_bound_is_validated():
    X, Y = regression_data(10, 3, 2, seed=0)
    for f in (projected_optimum, rank_constrained_optimum, factored_optimum):
        with pytest.raises(ValueError, match=r"r must be an integer >= 1"):
            f(X, Y, 0)


def test_factored_optimum_reports_non_convergence():
    X, Y = regression_data(10, 4, 3, seed=0)
    result = factored_optimum(X, Y, 2, seed=0, max_iter=1)
    assert not result.converged and result.iterations == 1


# -- data ---------------------------------------------------------------------


def test_regression_data_is_not_whitened_and_target_rank_is_exact():
    X, Y = regression_data(20, 4, 3, seed=0)
    assert X.shape == (4, 20) and Y.shape == (3, 20)
    assert np.linalg.norm(X @ X.T / 20 - np.eye(4), 2) > 0.3
    for k in (1, 2):
        X, Y = regression_data(20, 4, 3, seed=1, target_rank=k)
        s = np.linalg.svd(split_target(X, Y)[0], compute_uv=False)
        # The noise is projected out exactly up to round-off (~1e-15 s_1).
        assert s[k - 1] > 1e-3 * s[0] and np.all(s[k:] <= 1e-12 * s[0])
        assert target_singular_triplets(X, Y)[1].size == k


def test_regression_data_validates_its_parameters():
    with pytest.raises(ValueError, match=r"dx must be <= m"):
        regression_data(3, 4, 2, seed=0)
    with pytest.raises(ValueError, match=r"input_scales must be 2 finite positive"):
        regression_data(5, 2, 2, seed=0, input_scales=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"target_rank must be <= min\(dx, dy\) = 2"):
        regression_data(5, 2, 3, seed=0, target_rank=3)
    with pytest.raises(ValueError, match=r"noise must be a finite number >= 0"):
        regression_data(5, 2, 3, seed=0, noise=-1)


def test_loss_end_to_end_matches_the_network_loss_on_a_stack():
    X, Y = regression_data(12, 3, 2, seed=5)
    Ws = np.random.default_rng(0).standard_normal((4, 5, 2, 3))
    values = loss_end_to_end(Ws, X, Y)
    assert values.shape == (4, 5)
    for idx in np.ndindex(4, 5):
        assert _rel(values[idx], loss([Ws[idx]], X, Y)) <= IDENTITY_TOL
    with pytest.raises(ValueError, match=r"W must have shape \(\.\.\., dy=2, dx=3\)"):
        loss_end_to_end(np.ones((3, 2)), X, Y)
    # parsed by validate.as_matrix_stack: NaN is rejected, the caller's array is kept
    bad = Ws.copy()
    bad[1, 2, 0, 0] = np.nan
    with pytest.raises(ValueError, match="W must be finite"):
        loss_end_to_end(bad, X, Y)
    with pytest.raises(ValueError, match="W must be finite"):
        loss_decrease(bad[1], X, Y)
    saved = Ws.copy()
    loss_decrease(Ws, X, Y)
    assert np.array_equal(Ws, saved) and Ws.flags.writeable
    assert np.shape(loss_end_to_end(Ws[0, 0], X, Y)) == ()


def test_loss_decrease_keeps_relative_accuracy_near_zero():
    X, Y = regression_data(12, 3, 2, seed=5)
    W = np.random.default_rng(1).standard_normal((2, 3))
    for scale in (1.0, 1e-8, 1e-18):
        # Linear in W near 0: <W, Y X^T> dominates; compare with the exact
        # polynomial in the scale, not with a difference of two losses.
        expected = (
            scale * np.sum(W * (Y @ X.T)) - 0.5 * scale**2 * np.linalg.norm(W @ X) ** 2
        )
        assert _rel(loss_decrease(scale * W, X, Y), expected) <= IDENTITY_TOL
    assert (
        _rel(loss_decrease(W, X, Y), loss([np.zeros((2, 3))], X, Y) - loss([W], X, Y))
        <= IDENTITY_TOL
    )


# -- critical points (Lemma 2.6) --------------------------------------------

widths_cases = st.lists(st.integers(1, 4), min_size=1, max_size=3)


@settings(max_examples=25, deadline=None)
@given(data_cases, widths_cases)
def test_balanced_factorisations_of_subset_critical_points_are_critical(case, hidden):
    X, Y = regression_data(**case)
    widths = [case["dx"], *hidden, case["dy"]]
    r = min(widths)
    rho = target_singular_triplets(X, Y)[1].size
    points = critical_points(X, Y, widths, seed=case["seed"])
    assert len(points) == sum(comb(rho, k) for k in range(min(r, rho) + 1))
    assert points[0].subset == () and np.all(points[0].W == 0)
    for p in points:
        assert np.linalg.matrix_rank(p.W) == p.rank == len(p.subset)
        assert _rel(loss(p.weights, X, Y), p.loss) <= IDENTITY_TOL
        assert np.linalg.norm(end_to_end(p.weights) - p.W) <= IDENTITY_TOL * max(
            1.0, np.linalg.norm(p.W)
        )
        # First-order stationary (Definition 2.1) to round-off.
        assert relative_residual(p.weights, X, Y) <= 1e-12


def test_critical_end_to_end_reproduces_the_singular_triplets():
    X, Y = regression_data(15, 4, 3, seed=7)
    U, s, Vt = target_singular_triplets(X, Y)
    W = critical_end_to_end(X, Y, [3, 1])
    np.testing.assert_allclose(
        W @ X,
        s[0] * np.outer(U[:, 0], Vt[0]) + s[2] * np.outer(U[:, 2], Vt[2]),
        atol=1e-12,
    )
    np.testing.assert_allclose(critical_end_to_end(X, Y, []), 0.0)


def test_subsets_are_validated():
    X, Y = regression_data(15, 4, 3, seed=7)
    with pytest.raises(
        ValueError, match=r"subset must hold indices in 1..rank\(Y P_X\) = 1..3"
    ):
        critical_end_to_end(X, Y, [0])
    with pytest.raises(ValueError, match=r"1..3"):
        critical_end_to_end(X, Y, [4])
    with pytest.raises(ValueError, match=r"subset must not repeat"):
        critical_end_to_end(X, Y, [1, 1])
    with pytest.raises(ValueError, match=r"subset must be a collection"):
        critical_end_to_end(X, Y, 1)


def test_critical_points_validate_the_widths():
    X, Y = regression_data(15, 4, 3, seed=7)
    with pytest.raises(
        ValueError, match=r"widths must start with dx=4 and end with dy=3"
    ):
        critical_points(X, Y, [3, 2, 3])


# -- classification and Theorem 2.8 ------------------------------------------


def test_zero_is_a_strict_saddle_for_depth_two_with_the_closed_eigenvalue():
    X, Y = regression_data(20, 4, 3, seed=0)
    widths = [4, 3, 3]
    zero = [np.zeros((3, 4)), np.zeros((3, 3))]
    c = classify(zero, X, Y)
    sigma1 = np.linalg.norm(Y @ X.T, 2)
    assert c.kind == "strict saddle" and not c.second_order
    # The Hessian at zero is the symmetric bilinear form -2 <Y X^T, D_2 D_1>: eigenvalues +-s_i(Y X^T).
    assert _rel(c.lambda_min, -sigma1) <= 1e-12
    assert _rel(c.eigenvalues[-1], sigma1) <= 1e-12
    D = escape_direction_at_zero(X, Y, widths)
    d = np.concatenate([Dj.ravel() for Dj in D])
    assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-15)
    H = hessian(zero, X, Y)
    assert np.linalg.norm(H @ d + sigma1 * d) <= 1e-12 * sigma1


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_zero_is_a_non_strict_saddle_for_depth_three_and_more(depth):
    X, Y = regression_data(20, 4, 3, seed=0)
    widths = [4] + [3] * (depth - 1) + [3]
    zero = [np.zeros((widths[j], widths[j - 1])) for j in range(1, depth + 1)]
    c = classify(zero, X, Y)
    assert c.kind == "non-strict saddle" and c.second_order
    # Every term of the Hessian at zero has a zero factor: it vanishes exactly.
    assert np.all(hessian(zero, X, Y) == 0.0)
    # Along the escape direction the loss drops only at order eps^N (closed form in the docstring).
    D = escape_direction_at_zero(X, Y, widths)
    sigma1 = np.linalg.norm(Y @ X.T, 2)
    U, _, Vt = np.linalg.svd(Y @ X.T)
    tail = 0.5 * np.linalg.norm(np.outer(U[:, 0], Vt[0]) @ X) ** 2
    for eps in (1e-2, 1e-1, 1.0):
        a = eps / np.sqrt(depth)
        expected = loss(zero, X, Y) - sigma1 * a**depth + tail * a ** (2 * depth)
        assert _rel(loss([eps * Dj for Dj in D], X, Y), expected) <= IDENTITY_TOL


def test_escape_direction_needs_depth_two():
    X, Y = regression_data(10, 3, 2, seed=0)
    with pytest.raises(ValueError, match=r"depth N >= 2"):
        escape_direction_at_zero(X, Y, [3, 2])


@settings(max_examples=20, deadline=None)
@given(data_cases, st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_theorem_2_8_rank_r_critical_points_are_second_order_iff_global(case, hidden):
    X, Y = regression_data(**case)
    widths = [case["dx"], *hidden, case["dy"]]
    r = min(widths)
    s = target_singular_triplets(X, Y)[1]
    # Generic data: rank(Y P_X) >= r and distinct singular values (a tie makes
    # the critical set a continuum, outside Lemma 2.6).
    assume(s.size >= r and np.min(np.abs(np.diff(s)), initial=np.inf) > 1e-3 * s[0])
    optimum = projected_optimum(X, Y, r)
    seen_global = 0
    for p in critical_points(X, Y, widths, seed=0):
        c = classify(p.weights, X, Y, optimum=optimum)
        assert c.kind != "not critical"
        if p.rank == r:
            assert c.second_order == (c.kind == "global minimiser")
            seen_global += c.kind == "global minimiser"
            assert (c.kind == "global minimiser") == (
                p.subset == tuple(range(1, r + 1))
            )
        elif c.second_order:
            # Rank-deficient second-order points are spurious (not global).
            assert c.kind == "non-strict saddle"
    assert seen_global == 1


def test_rank_deficient_target_makes_the_global_minimiser_rank_deficient():
    # rank(Y P_X) = 1 < r = 2 violates the assumption of Theorem 2.8.
    X, Y = regression_data(20, 4, 3, seed=0, target_rank=1)
    points = critical_points(X, Y, [4, 3, 2, 3])
    assert [p.subset for p in points] == [(), (1,)]
    c = classify(points[1].weights, X, Y)
    assert c.kind == "global minimiser" and c.second_order and c.rank == 1


def test_a_random_point_is_not_critical():
    X, Y = regression_data(12, 3, 2, seed=2)
    weights = gaussian_init([3, 2, 2], 1.0, seed=0)
    assert relative_residual(weights, X, Y) > 1e-3
    assert classify(weights, X, Y).kind == "not critical"


@settings(max_examples=30, deadline=None)
@given(
    data_cases,
    st.lists(st.integers(1, 4), min_size=0, max_size=3),
    st.floats(0.01, 10.0),
)
def test_relative_residual_is_bounded_by_sqrt_depth(case, hidden, scale):
    X, Y = regression_data(**case)
    widths = [case["dx"], *hidden, case["dy"]]
    weights = gaussian_init(widths, scale, seed=case["seed"] % 1000)
    assert (
        0.0
        <= relative_residual(weights, X, Y)
        <= np.sqrt(len(widths) - 1) * (1 + 1e-12)
    )


def test_classify_validates_tolerances_and_optimum():
    X, Y = regression_data(12, 3, 2, seed=2)
    weights = gaussian_init([3, 2, 2], 1.0, seed=0)
    with pytest.raises(ValueError, match=r"eig_rtol must be a finite number > 0"):
        classify(weights, X, Y, eig_rtol=0.0)
    with pytest.raises(ValueError, match=r"optimum must be a finite number >= 0"):
        classify(weights, X, Y, optimum=float("nan"))


def test_tolerances_are_ordered():
    # Round-off << the thresholds << what separates the classes (module docs).
    assert 1e-14 < GRAD_RTOL < 1e-6 and 1e-12 < EIG_RTOL < 1e-4


# -- gradient flow (13): the chapter's uses of linnet.flows.gradient_flow -----


def test_rank_one_balanced_starts_with_one_horizon_for_both_depths():
    # Not generic: a balanced start of rank 1 < r = 2 keeps rank 1 in exact
    # arithmetic (the induced flow (17) preserves the rank). Both depths are
    # integrated to the same horizon T = 60 (no stopping rule): for N = 2 the
    # best rank-1 point {1} is a strict saddle and round-off carries the run
    # to the global minimiser; for N = 3 it is a spurious SOSP and at T the
    # run is still there, rank one to 1e-12 relative.
    X, Y = regression_data(15, 3, 3, seed=6)
    rng = np.random.default_rng(1)
    W0 = np.outer(rng.standard_normal(3), rng.standard_normal(3)) * 0.3
    for widths, expected in [
        ([3, 2, 3], "global minimiser"),
        ([3, 4, 2, 3], "non-strict saddle"),
    ]:
        run = gradient_flow(balanced_init(W0, widths, 0), X, Y, [60.0])
        c = classify([Wj[-1] for Wj in run.weights], X, Y)
        assert c.kind == expected
        if expected == "non-strict saddle":
            s = np.linalg.svd(run.W[-1], compute_uv=False)
            assert s[1] <= 1e-12 * s[0]
            best_rank_one = critical_points(X, Y, widths)[1]
            assert (
                best_rank_one.subset == (1,)
                and _rel(c.loss, best_rank_one.loss) <= VALUE_TOL
            )


def test_scalar_flow_keeps_the_stable_manifold_of_the_saddle_exactly():
    # Moved from chapter 01, where it is a sanity check of the integrator, not
    # evidence: for N = 2 scalar weights the right-hand side keeps w1 = -w2
    # exactly in floating point (negation is exact), and on that line the flow
    # contracts to the saddle at 0 at rate |y x^T| (exp(-30) ~ 1e-13 at t = 30 / |y x^T|).
    xs, ys = regression_data(20, 1, 1, seed=7, noise=0.5)
    if (ys @ xs.T).item() < 0:
        ys = -ys
    c = (ys @ xs.T / (xs @ xs.T)).item()
    start = [np.array([[1.5 * np.sqrt(c)]]), np.array([[-1.5 * np.sqrt(c)]])]
    t = np.array([0.0, 1.0, 30.0]) / abs((ys @ xs.T).item())
    run = gradient_flow(start, xs, ys, t)
    w1, w2 = run.weights[0][:, 0, 0], run.weights[1][:, 0, 0]
    assert np.all(w1 == -w2)
    assert np.hypot(w1[-1], w2[-1]) <= 1e-6


# -- results are read-only, inputs are never changed ---------------------------


def _assert_read_only(arr):
    assert isinstance(arr, np.ndarray) and not arr.flags.writeable
    with pytest.raises(ValueError):
        arr.flat[0] = 1.0


def test_results_are_read_only_copies():
    X, Y = regression_data(15, 3, 3, seed=6)
    widths = [3, 2, 3]
    factored = factored_optimum(X, Y, 2, seed=0)
    _assert_read_only(factored.A)
    _assert_read_only(factored.B)
    points = critical_points(X, Y, widths, seed=0)
    for p in points:
        _assert_read_only(p.W)
        assert isinstance(p.weights, tuple)
        for Wj in p.weights:
            _assert_read_only(Wj)
    c = classify(points[1].weights, X, Y)
    _assert_read_only(c.eigenvalues)


def test_weight_points_are_read_only_and_own_their_arrays():
    from linnet.chapters.landscape import WeightPoint, weight_points

    X, Y = regression_data(15, 3, 3, seed=6)
    for wp in weight_points(X, Y, [3, 2, 2, 3], seed=0):
        assert isinstance(wp.weights, tuple)
        for Wj in wp.weights:
            _assert_read_only(Wj)
    # a caller's list of arrays is copied, not frozen in place
    mine = [np.ones((2, 3)), np.ones((3, 2))]
    wp = WeightPoint((), "balanced", mine, 0)
    mine[0][0, 0] = 5.0
    assert mine[0].flags.writeable and wp.weights[0][0, 0] == 1.0


def test_inputs_are_not_changed():
    X, Y = regression_data(15, 3, 3, seed=6)
    X0, Y0 = X.copy(), Y.copy()
    weights = gaussian_init([3, 2, 3], 0.5, seed=1)
    before = [Wj.copy() for Wj in weights]
    classify(weights, X, Y)
    relative_residual(weights, X, Y)
    factored_optimum(X, Y, 2, seed=0)
    critical_points(X, Y, [3, 2, 3])
    loss_decrease(np.stack([W for W in [end_to_end(weights)] * 2]), X, Y)
    for a, b in zip([*weights, X, Y], [*before, X0, Y0], strict=True):
        assert np.array_equal(a, b) and a.flags.writeable
