"""Tests of linnet.flows: the operator A_W (16), gradient flow (13), the induced flow (17), discretisations."""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.linalg import fractional_matrix_power

from linnet.data import Target, whitened_data
from linnet.flows import (
    DivergenceError,
    FlowIntegrationError,
    forward_euler,
    gradient_descent,
    gradient_flow,
    induced_flow,
    induced_operator,
    induced_operator_naive,
    scalar_polar_flow,
)
from linnet.init import balanced_init, gaussian_init, rotate
from linnet.network import end_to_end, imbalances

DEPTHS = [2, 3, 4, 5, 6, 7, 8]

# Two exact formulas for A_W evaluated in floating point differ by round-off
# of an SVD and a few products of matrices of size <= 6: ~1e-15 relative.
# 1e-12 leaves three orders of margin and fails on any formula error.
OPERATOR_TOL = 1e-12

# The default solver tolerance is rtol = 1e-11 per step. On these problems
# (a few hundred steps, contracting flows) the global error stays ~1e-11
# relative, so two independent solvers agree to ~1e-10; the specification
# asks for 1e-9 (solver vs solver) and 1e-8 (solver vs closed form).
FLOW_VS_FLOW_TOL = 1e-9
FLOW_VS_EXACT_TOL = 1e-8


def rel(A, B) -> float:
    return float(np.linalg.norm(np.asarray(A) - np.asarray(B)) / np.linalg.norm(B))


def rank_r(rng, shape, r, scale=1.0):
    return (
        scale
        * rng.standard_normal((shape[0], r))
        @ rng.standard_normal((r, shape[1]))
        / np.sqrt(r * shape[1])
    )


# -- the operator A_W (16) ---------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5), st.integers(1, 5), st.integers(1, 8), st.integers(0, 2**32 - 1)
)
def test_range_form_equals_rank1_closed_form_on_rank1_w(dy, dx, depth, seed):
    rng = np.random.default_rng(seed)
    W = rank_r(rng, (dy, dx), 1, scale=rng.uniform(0.1, 10))
    Delta = rng.standard_normal((dy, dx))
    by_definition = induced_operator(W, depth, Delta, form="range")
    closed_form = induced_operator(W, depth, Delta, form="rank1")
    assert rel(by_definition, closed_form) <= OPERATOR_TOL


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 8])
def test_range_form_equals_dense_definition_on_full_rank_w(depth):
    # Square, well-conditioned W: W W^T and W^T W are positive definite, so the
    # definition (16) with scipy's fractional_matrix_power is a sound reference
    # (its own error is ~1e-14 at condition number 4).
    rng = np.random.default_rng(depth)
    Q1, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    Q2, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    W = Q1 @ np.diag([2.0, 1.5, 1.0, 0.5]) @ Q2.T
    Delta = rng.standard_normal((4, 4))
    dense = sum(
        fractional_matrix_power(W @ W.T, (depth - j) / depth)
        @ Delta
        @ fractional_matrix_power(W.T @ W, (j - 1) / depth)
        for j in range(1, depth + 1)
    )
    assert rel(induced_operator(W, depth, Delta, form="range"), np.real(dense)) <= 1e-10


@pytest.mark.parametrize("depth", [3, 4, 8])
def test_naive_powers_put_spurious_mass_on_rank_deficient_w_and_the_library_does_not(
    depth,
):
    rng = np.random.default_rng(depth)
    W = rank_r(rng, (4, 5), 1)
    Delta = rng.standard_normal((4, 5))
    exact = induced_operator(W, depth, Delta, form="rank1")
    library = induced_operator(W, depth, Delta)  # range-restricted
    library_range = induced_operator(W, depth, Delta, form="range")
    naive = induced_operator_naive(W, depth, Delta)
    # Round-off eigenvalues ~1e-17 ||W||^2 raised to 1/N >= 1/8 give >= 1e-7
    # relative (measured: 1e-6 at N = 3, 2e-5 at N = 4, 2e-3 at N = 8).
    assert rel(naive, exact) > 1e-7
    assert rel(library, exact) <= OPERATOR_TOL
    assert rel(library_range, exact) <= OPERATOR_TOL


def test_naive_operator_agrees_on_full_rank_w():
    # On full-rank W every eigenvalue is genuine; the naive variant is then right.
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    Delta = rng.standard_normal((3, 3))
    assert (
        rel(induced_operator_naive(W, 4, Delta), induced_operator(W, 4, Delta)) <= 1e-10
    )


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 8])
@pytest.mark.parametrize(
    "widths", [[5, 2, 3, 4], [5, 4, 4, 4], [5, 1, 3, 4]], ids=["rank2", "full", "rank1"]
)
def test_operator_is_the_end_to_end_velocity_of_a_balanced_network(depth, widths):
    # Arora et al. Thm 1: for balanced weights, sum_j P_j P_j^T Delta Q_j^T Q_j
    # with P_j = W_N...W_{j+1}, Q_j = W_{j-1}...W_1 equals A_W(Delta), also
    # when W is rank-deficient (a bottleneck below min(dx, dy)).
    rng = np.random.default_rng(depth)
    hidden = (widths[1:-1] * depth)[: depth - 1]
    full_widths = [widths[0], *hidden, widths[-1]]
    r = min(full_widths)
    W0 = rank_r(rng, (widths[-1], widths[0]), r, scale=2.0)
    weights = balanced_init(W0, full_widths, seed=depth)
    Delta = rng.standard_normal(W0.shape)
    velocity = np.zeros_like(W0)
    for j in range(depth):
        P = end_to_end(weights[j + 1 :]) if j + 1 < depth else np.eye(W0.shape[0])
        Q = end_to_end(weights[:j]) if j > 0 else np.eye(W0.shape[1])
        velocity += P @ P.T @ Delta @ Q.T @ Q
    assert rel(induced_operator(W0, depth, Delta), velocity) <= OPERATOR_TOL


def test_operator_of_depth_one_is_the_identity_and_of_zero_is_zero():
    Delta = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(induced_operator(np.zeros((2, 3)), 1, Delta), Delta)
    assert np.array_equal(
        induced_operator(np.zeros((2, 3)), 3, Delta), np.zeros((2, 3))
    )


# -- induced flow (17) vs gradient flow (13) from a balanced start -----------


def flow_case(name, depth, matrix_data, figure1_data):
    """``(X, Y, W0, widths)`` for the induced-vs-gradient-flow comparisons."""
    rng = np.random.default_rng(depth)
    if name == "scalar output":
        X, Y, target = figure1_data
        return (
            X,
            Y,
            10 * rotate(target.Z1, np.pi / 6, seed=1),
            [5] + [3] * (depth - 1) + [1],
            0.1,
        )
    X, Y, target = matrix_data
    cycle, rank = {
        "bottleneck 1": ([3, 1, 4], 1),
        "rank 2": ([3, 2, 4], 2),
        "full rank": ([3, 4, 5], 3),
    }[name]
    widths = [4, *(cycle * depth)[: depth - 1], 3]
    return X, Y, rank_r(rng, (3, 4), rank, scale=2 * target.s_Z), widths, 0.5


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(
    "name", ["scalar output", "bottleneck 1", "rank 2", "full rank"]
)
def test_induced_flow_is_the_end_to_end_matrix_of_gradient_flow(
    name, depth, matrix_data, figure1_data, max_rel_error
):
    X, Y, W0, widths, T = flow_case(name, depth, matrix_data, figure1_data)
    t = np.linspace(0, T, 21)
    network = gradient_flow(balanced_init(W0, widths, seed=depth), X, Y, t)
    induced = induced_flow(W0, Target.from_data(X, Y), depth, t)
    # The comparison is meaningful only if W moved.
    assert rel(induced.W[-1], W0) > 0.1
    assert rel(network.W[-1], end_to_end([Wj[-1] for Wj in network.weights])) <= 1e-15
    assert max_rel_error(induced.W, network.W) <= FLOW_VS_FLOW_TOL


@pytest.mark.parametrize(
    "init",
    [
        lambda W0: balanced_init(W0, [4, 3, 1, 2, 3], seed=0),
        lambda W0: gaussian_init([4, 3, 1, 2, 3], 0.8, seed=1),
        lambda W0: gaussian_init([4, 5, 3, 3], 0.6, seed=2),
        lambda W0: gaussian_init([4, 2, 4, 2, 4, 3], 0.9, seed=3),
    ],
    ids=[
        "balanced bottleneck",
        "gaussian bottleneck",
        "gaussian depth 3",
        "gaussian depth 5",
    ],
)
def test_gradient_flow_conserves_every_imbalance(init):
    # Conservation (15) holds for any data: use non-whitened X.
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 15))
    Y = rng.standard_normal((3, 15))
    weights0 = init(rank_r(rng, (3, 4), 1, scale=1.0))
    flow = gradient_flow(weights0, X, Y, np.linspace(0, 0.3, 16))
    assert rel(flow.W[-1], flow.W[0]) > 0.1
    D0 = imbalances(weights0)
    for j in range(len(weights0) - 1):
        Wj, Wnext = flow.weights[j], flow.weights[j + 1]
        D = np.swapaxes(Wnext, 1, 2) @ Wnext - Wj @ np.swapaxes(Wj, 1, 2)
        # Relative to the size of the two Gram matrices that cancel in D_j.
        scale = np.max(
            np.linalg.norm(Wnext, axis=(1, 2)) ** 2
            + np.linalg.norm(Wj, axis=(1, 2)) ** 2
        )
        assert np.max(np.linalg.norm(D - D0[j], axis=(1, 2))) <= 1e-10 * scale


# -- closed forms ------------------------------------------------------------


def test_depth_one_flows_are_the_exponential_relaxation(matrix_data, max_rel_error):
    X, Y, target = matrix_data
    W0 = np.random.default_rng(0).standard_normal((3, 4))
    t = np.linspace(0, 0.3, 16)
    exact = target.Z + (W0 - target.Z) * np.exp(-target.m * t)[:, None, None]
    integrated = induced_flow(W0, target, 1, t, method="range")
    network = gradient_flow([W0], X, Y, t)
    assert max_rel_error(integrated.W, exact) <= FLOW_VS_EXACT_TOL
    assert max_rel_error(network.W, exact) <= FLOW_VS_EXACT_TOL
    assert (
        max_rel_error(induced_flow(W0, Target.from_data(X, Y), 1, t).W, exact) <= 1e-14
    )  # depth 1 is solved exactly


def aligned_start(data, s0_over_sZ):
    X, Y, target = data
    return X, Y, target, s0_over_sZ * target.s_Z * np.outer(target.u, target.v)


@pytest.mark.parametrize("s0_over_sZ", [0.05, 4.0])
@pytest.mark.parametrize("data", ["matrix_data", "figure1_data"])
def test_depth_two_aligned_flow_is_the_saxe_logistic(
    data, s0_over_sZ, request, max_rel_error
):
    X, Y, target, W0 = aligned_start(request.getfixturevalue(data), s0_over_sZ)
    s0, sZ, m = s0_over_sZ * target.s_Z, target.s_Z, target.m
    t = np.linspace(0, 3 / (m * sZ), 31)  # three time constants of the logistic
    s = sZ / (1 + (sZ / s0 - 1) * np.exp(-2 * m * sZ * t))
    exact = s[:, None, None] * np.outer(target.u, target.v)
    widths = [target.dx, 2, target.dy]
    assert (
        max_rel_error(induced_flow(W0, Target.from_data(X, Y), 2, t).W, exact)
        <= FLOW_VS_EXACT_TOL
    )
    assert (
        max_rel_error(
            gradient_flow(balanced_init(W0, widths, seed=0), X, Y, t).W, exact
        )
        <= FLOW_VS_EXACT_TOL
    )


def time_to_reach(s, s0, sZ, m, N):
    """``t(s) = int_{s0}^{s} ds' / (m N s'^{2-2/N} (s_Z - s'))``: the aligned flow, integrated exactly."""
    value, abserr = quad(
        lambda x: 1 / (m * N * x ** (2 - 2 / N) * (sZ - x)),
        s0,
        s,
        epsabs=0,
        epsrel=1e-13,
        limit=200,
    )
    return value


@pytest.mark.parametrize(
    "s0_over_sZ, s_end_over_sZ", [(0.2, 0.95), (3.0, 1.05)], ids=["growth", "decay"]
)
@pytest.mark.parametrize("depth", [3, 4, 6, 8])
def test_aligned_flow_of_any_depth_solves_the_scalar_ode(
    depth, s0_over_sZ, s_end_over_sZ, matrix_data
):
    # s' = m N s^{2-2/N} (s_Z - s) (aligned W = s u v^T stays aligned). The
    # time axis is set by the exact t(s); the solver's s(t_k) is put back into
    # t(s), and the time error is turned into an s error through s'.
    X, Y, target, W0 = aligned_start(matrix_data, s0_over_sZ)
    sZ, m = target.s_Z, target.m
    s0 = s0_over_sZ * sZ
    t = np.linspace(0, time_to_reach(s_end_over_sZ * sZ, s0, sZ, m, depth), 11)
    widths = [target.dx, *([2] * (depth - 1)), target.dy]
    uv = np.outer(target.u, target.v)
    for W in (
        induced_flow(W0, Target.from_data(X, Y), depth, t).W,
        gradient_flow(balanced_init(W0, widths, seed=0), X, Y, t).W,
    ):
        s = np.einsum("kij,ij->k", W, uv)
        assert (
            np.max(np.linalg.norm(W - s[:, None, None] * uv, axis=(1, 2)) / s)
            <= FLOW_VS_FLOW_TOL
        )
        for tk, sk in zip(t[1:], s[1:], strict=True):
            ds_dt = m * depth * sk ** (2 - 2 / depth) * (sZ - sk)
            assert (
                abs(time_to_reach(sk, s0, sZ, m, depth) - tk) * abs(ds_dt) / sk
                <= FLOW_VS_EXACT_TOL
            )


@pytest.mark.parametrize("depth", DEPTHS)
def test_polar_reduction_equals_the_matrix_induced_flow(
    depth, figure1_data, max_rel_error
):
    X, Y, target = figure1_data
    W0 = 10 * rotate(target.Z1, np.pi / 6, seed=1)
    t = np.linspace(0, 0.1, 21)
    polar = induced_flow(W0, target, depth, t, method="polar")
    for method in ("rank1", "range"):
        assert (
            max_rel_error(polar.W, induced_flow(W0, target, depth, t, method=method).W)
            <= FLOW_VS_FLOW_TOL
        )
    # and the plain polar equations agree with the norm and angle of W(t)
    cos0 = np.sum(W0 * target.Z) / (np.linalg.norm(W0) * target.s_Z)
    pf = scalar_polar_flow(
        np.linalg.norm(W0), np.arccos(cos0), target.s_Z, target.m, depth, t
    )
    np.testing.assert_allclose(pf.r, np.linalg.norm(polar.W, axis=(1, 2)), rtol=1e-13)


def test_polar_reduction_of_a_column_output_uses_the_transpose(
    figure1_data, max_rel_error
):
    # dx = 1 (a column W): the flow commutes with transposition.
    _, _, target = figure1_data
    column = Target.from_matrix(target.Z.T, target.m)
    W0 = 10 * rotate(column.Z1, np.pi / 3, seed=2)
    t = np.linspace(0, 0.1, 11)
    polar = induced_flow(W0, column, 4, t)
    assert polar.W.shape == (11, 5, 1)
    assert (
        max_rel_error(polar.W, induced_flow(W0, column, 4, t, method="rank1").W)
        <= FLOW_VS_FLOW_TOL
    )


def test_scalar_polar_flow_is_vectorised_over_any_shape(figure1_data):
    _, _, target = figure1_data
    rng = np.random.default_rng(0)
    r0 = rng.uniform(0.1, 3, (2, 3))
    theta0 = rng.uniform(0, np.pi, (2, 3))
    t = np.linspace(0, 0.1, 6)
    together = scalar_polar_flow(r0, theta0, target.s_Z, target.m, 4, t)
    assert together.r.shape == (2, 3, 6)
    alone = scalar_polar_flow(r0[1, 2], theta0[1, 2], target.s_Z, target.m, 4, t)
    # Same algorithm per trajectory: equal up to ulps of vectorised sin/cos/pow.
    np.testing.assert_allclose(together.r[1, 2], alone.r, rtol=1e-13)
    np.testing.assert_allclose(together.theta[1, 2], alone.theta, rtol=1e-13)


def test_scalar_polar_flow_of_depth_one_is_the_exponential_relaxation():
    t = np.linspace(0, 1, 5)
    res = scalar_polar_flow(2.0, np.pi / 2, 1.0, 3.0, 1, t)
    x = 1 - np.exp(-3 * t)
    y = 2 * np.exp(-3 * t)
    np.testing.assert_allclose(res.r, np.hypot(x, y), rtol=1e-14)
    np.testing.assert_allclose(res.theta, np.arctan2(y, x), rtol=1e-14)


# -- batches -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["scalar output", "rank 1", "full rank"])
def test_batched_flow_matches_single_runs(
    kind, figure1_data, matrix_data, max_rel_error
):
    rng = np.random.default_rng(5)
    if kind == "scalar output":
        _, _, target = figure1_data
        W0s = rng.standard_normal((50, 1, 5)) * rng.uniform(0.05, 3, (50, 1, 1))
        t = np.linspace(0, 0.1, 11)
    else:
        _, _, target = matrix_data
        r = 1 if kind == "rank 1" else 3
        W0s = np.stack(
            [rank_r(rng, (3, 4), r, scale=rng.uniform(0.1, 2)) for _ in range(8)]
        )
        t = np.linspace(0, 0.5, 11)
    batch = induced_flow(W0s, target, 4, t)
    assert batch.W.shape == (len(W0s), 11) + target.Z.shape
    # Each trajectory has its own step control, so the batch runs the same
    # steps as a single run; only ulp-level differences of vectorised
    # arithmetic remain (two runs at rtol 1e-11 would agree to 1e-10 anyway).
    for b in range(0, len(W0s), 7):
        assert max_rel_error(batch.W[b], induced_flow(W0s[b], target, 4, t).W) <= 1e-10


def test_batch_of_mixed_ranks_keeps_each_start_on_its_own_rank(
    matrix_data, max_rel_error
):
    # "auto" takes the range form for the whole stack, with rank(W0) fixed per
    # trajectory; single runs take the rank-1 closed form for the rank-1 start:
    # two code paths, hence the solver-vs-solver tolerance.
    _, _, target = matrix_data
    rng = np.random.default_rng(6)
    W0s = np.stack(
        [rank_r(rng, (3, 4), r, scale=1.0) for r in (1, 2, 3)] + [np.zeros((3, 4))]
    )
    t = np.linspace(0, 0.5, 11)
    batch = induced_flow(W0s, target, 3, t)
    for b, r in enumerate((1, 2, 3, 0)):
        single = induced_flow(W0s[b], target, 3, t).W
        if r == 0:
            assert np.array_equal(batch.W[b], single) and not np.any(
                single
            )  # W = 0 is a fixed point
            continue
        assert max_rel_error(batch.W[b], single) <= FLOW_VS_FLOW_TOL
        s = np.linalg.svd(batch.W[b, -1], compute_uv=False)
        assert np.all(s[r:] <= 1e-12 * s[0])


def test_results_are_deterministic_and_frozen(matrix_data):
    X, Y, target = matrix_data
    weights = gaussian_init([4, 3, 3], 0.5, seed=0)
    a = gradient_flow(weights, X, Y, [0.0, 0.1])
    b = gradient_flow(weights, X, Y, [0.0, 0.1])
    assert np.array_equal(a.W, b.W)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.W = b.W
    with pytest.raises(ValueError):
        a.W[0, 0, 0] = 1.0


# -- the naive operator stalls the solver -------------------------------------


def test_naive_operator_stalls_the_adaptive_solver(matrix_data):
    _, _, target = matrix_data
    W0 = rank_r(np.random.default_rng(0), (3, 4), 1, scale=1.0)
    t = np.linspace(0, 0.2, 11)
    # The library form needs ~40 steps here; give both 300.
    induced_flow(W0, target, 4, t, max_steps=300)
    with pytest.raises(FlowIntegrationError, match="max_steps=300"):
        induced_flow(W0, target, 4, t, method="naive", max_steps=300)


# -- discretisations ---------------------------------------------------------


def test_forward_euler_converges_at_first_order(figure1_data):
    X, Y, target = figure1_data
    W0 = 10 * rotate(target.Z1, np.pi / 6, seed=1)
    T = 0.01
    exact = induced_flow(W0, Target.from_data(X, Y), 3, [T]).W[-1]
    errors = []
    for steps in (100, 200, 400):
        euler = forward_euler(
            W0, Target.from_data(X, Y), 3, T / steps, steps, record_every=50
        )
        assert euler.t[-1] == pytest.approx(T, rel=1e-14)
        errors.append(np.linalg.norm(euler.W[-1] - exact))
    # Error = C h + O(h^2): halving h halves it up to a relative O(h * rate)
    # correction, here h * rate <= 1e-4 * 650 ~ 0.07; [1.8, 2.2] allows for it.
    for coarse, fine in pairwise(errors):
        assert 1.8 <= coarse / fine <= 2.2


def test_forward_euler_records_every_k_steps_and_the_last(figure1_data):
    X, Y, target = figure1_data
    res = forward_euler(target.Z1, Target.from_data(X, Y), 2, 1e-4, 10, record_every=4)
    np.testing.assert_allclose(res.t, [0, 4e-4, 8e-4, 1e-3], rtol=1e-14)
    assert res.W.shape == (4, 1, 5)


def test_forward_euler_raises_on_divergence(figure1_data):
    X, Y, target = figure1_data
    with pytest.raises(DivergenceError, match="step 1000"):
        forward_euler(
            10 * target.Z1, Target.from_data(X, Y), 3, 1.0, 1000, record_every=1000
        )


def test_gradient_descent_converges_to_gradient_flow_at_first_order(matrix_data):
    X, Y, _ = matrix_data
    weights0 = gaussian_init([4, 3, 3, 3], 0.6, seed=2)
    T = 0.05
    flow = gradient_flow(weights0, X, Y, [T]).W[-1]
    errors = []
    for steps in (50, 100, 200):
        gd = gradient_descent(weights0, X, Y, T / steps, steps, record_every=steps)
        assert gd.t[-1] == pytest.approx(T, rel=1e-14)
        assert list(gd.steps) == [0, steps]
        errors.append(np.linalg.norm(gd.W[-1] - flow))
    assert errors[-1] <= 1e-2 * np.linalg.norm(flow)
    # First order, with an O(lr * ||Hessian||) ~ 0.05 correction to the ratio.
    for coarse, fine in pairwise(errors):
        assert 1.8 <= coarse / fine <= 2.2


def test_gradient_descent_raises_on_divergence_with_step_and_loss(matrix_data):
    X, Y, _ = matrix_data
    weights0 = gaussian_init([4, 3, 3], 1.0, seed=0)
    with pytest.raises(DivergenceError, match=r"diverged at step \d+: loss ") as info:
        gradient_descent(weights0, X, Y, 1.0, 1000)
    assert isinstance(info.value, ArithmeticError)
    assert 0 < info.value.step < 1000


def test_gradient_descent_stops_at_tolerance_and_records_losses():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 10))
    Y = rng.standard_normal((2, 3)) @ X  # realisable: the minimum loss is 0
    res = gradient_descent(
        [np.zeros((2, 3))], X, Y, 0.02, 10_000, record_every=100, loss_tol=1e-20
    )
    assert res.converged
    assert res.losses[-1] <= 1e-20 and res.steps[-1] < 10_000
    assert res.loss_curve.size == res.steps[-1] + 1
    assert np.all(np.diff(res.loss_curve) <= 0)


# -- bad input: one test per kind --------------------------------------------


def test_wrong_shapes_raise_naming_the_parameter(matrix_data):
    X, Y, target = matrix_data
    with pytest.raises(ValueError, match=r"W0 must have matrices of shape \(3, 4\)"):
        induced_flow(np.ones((4, 3)), target, 2, [0.1])
    with pytest.raises(ValueError, match=r"W0 must have matrices of shape \(3, 4\)"):
        induced_flow(np.ones((2, 4, 3)), target, 2, [0.1])
    with pytest.raises(
        ValueError, match=r"W0 must be a matrix of shape \(3, 4\) or a stack"
    ):
        induced_flow(np.ones((1, 2, 3, 4)), target, 2, [0.1])
    with pytest.raises(ValueError, match=r"Delta must have shape \(3, 4\)"):
        induced_operator(np.ones((3, 4)), 2, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"X must have shape \(2, any\)"):
        gradient_flow([np.ones((3, 2))], X, Y, [0.1])


def test_non_finite_inputs_raise_naming_the_parameter(matrix_data):
    X, Y, target = matrix_data
    with pytest.raises(ValueError, match=r"W0 must be finite"):
        induced_flow(np.full((3, 4), np.nan), target, 2, [0.1])
    with pytest.raises(ValueError, match=r"weights0\[1\] must be finite"):
        gradient_flow([np.ones((3, 4)), np.full((3, 3), np.inf)], X, Y, [0.1])
    with pytest.raises(ValueError, match=r"t_eval must be finite"):
        induced_flow(np.ones((3, 4)), target, 2, [0.1, np.inf])


def test_depth_below_one_raises_naming_depth(matrix_data):
    _, _, target = matrix_data
    with pytest.raises(ValueError, match=r"depth must be an integer >= 1"):
        induced_flow(np.ones((3, 4)), target, 0, [0.1])
    with pytest.raises(ValueError, match=r"depth must be an integer >= 1"):
        induced_operator(np.ones((3, 4)), 0, np.ones((3, 4)))


def test_non_whitened_x_raises_naming_x():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((4, 20)), rng.standard_normal((3, 20))
    # the flows take a Target; the whitening check is where data become one
    with pytest.raises(ValueError, match=r"X must be whitened"):
        Target.from_data(X, Y)
    with pytest.raises(ValueError, match=r"target must be a linnet.data.Target"):
        forward_euler(np.ones((3, 4)), X, 2, 1e-3, 10)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"rtol": 0.0}, "rtol"),
        ({"rtol": 1e-17}, "rtol"),
        ({"rtol": 2.0}, "rtol"),
        ({"atol": -1.0}, "atol"),
        ({"atol": np.nan}, "atol"),
    ],
)
def test_bad_tolerances_raise_naming_them(kwargs, name, matrix_data):
    X, Y, target = matrix_data
    with pytest.raises(ValueError, match=rf"^{name} must"):
        induced_flow(np.ones((3, 4)), target, 2, [0.1], **kwargs)
    with pytest.raises(ValueError, match=rf"^{name} must"):
        gradient_flow([np.ones((3, 4))], X, Y, [0.1], **kwargs)


def test_bad_steps_raise_naming_them(matrix_data):
    X, Y, target = matrix_data
    with pytest.raises(ValueError, match=r"^step must be a finite number > 0"):
        forward_euler(np.ones((3, 4)), target, 2, 0.0, 10)
    with pytest.raises(ValueError, match=r"^steps must be an integer >= 1"):
        forward_euler(np.ones((3, 4)), target, 2, 1e-3, 0)
    with pytest.raises(ValueError, match=r"^lr must be a finite number > 0"):
        gradient_descent([np.ones((3, 4))], X, Y, -1.0, 10)
    with pytest.raises(ValueError, match=r"^record_every must be an integer >= 1"):
        gradient_descent([np.ones((3, 4))], X, Y, 1e-3, 10, record_every=0)


def test_bad_time_grids_raise_naming_t_eval(matrix_data):
    _, _, target = matrix_data
    for t_eval in ([0.2, 0.1], [-0.1, 0.1], [], [[0.1]]):
        with pytest.raises(ValueError, match=r"^t_eval must"):
            induced_flow(np.ones((3, 4)), target, 2, t_eval)


def test_methods_that_do_not_apply_raise(matrix_data):
    _, _, target = matrix_data
    full = np.random.default_rng(0).standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"^method must be one of"):
        induced_flow(full, target, 2, [0.1], method="rk4")
    with pytest.raises(ValueError, match=r"method='rank1' needs W0 of rank <= 1"):
        induced_flow(full, target, 2, [0.1], method="rank1")
    with pytest.raises(ValueError, match=r"method='polar' needs a scalar output"):
        induced_flow(full, target, 2, [0.1], method="polar")
    with pytest.raises(ValueError, match=r"form='rank1' needs W of rank <= 1"):
        induced_operator(full, 2, full, form="rank1")


def test_target_must_be_a_target():
    with pytest.raises(ValueError, match=r"^target must be a linnet.data.Target"):
        induced_flow(np.ones((3, 4)), np.ones((3, 4)), 2, [0.1])


def test_bad_polar_inputs_raise_naming_them():
    with pytest.raises(ValueError, match=r"^r0 must be finite and >= 0"):
        scalar_polar_flow(-1.0, 0.5, 1.0, 10, 2, [0.1])
    with pytest.raises(ValueError, match=r"^theta0 must have the shape of r0"):
        scalar_polar_flow([1.0, 2.0], [0.5], 1.0, 10, 2, [0.1])


def test_whitened_data_helper_is_what_the_flows_accept():
    # Guard for the fixtures: whitened_data passes the whitening check of the flows.
    X, Y = whitened_data(20, 4, 3, seed=1)
    assert induced_flow(
        np.zeros((3, 4)), Target.from_data(X, Y), 2, [0.0, 0.1]
    ).W.shape == (2, 3, 4)
