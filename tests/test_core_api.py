"""The consolidated core (issue 20): one implementation per building block, read-only results, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linnet import dop853
from linnet.data import Target, as_target, whitened_data
from linnet.flows import gradient_flow, induced_flow, induced_operator, induced_velocity
from linnet.init import balanced_init, gaussian_init, rank_one_start, rotate
from linnet.network import (
    as_weight_stack,
    balancedness,
    balancedness_stack,
    end_to_end,
    end_to_end_stack,
    gradients,
    layer_gradients_stack,
    stack_networks,
)
from linnet.theory import kappa, radial_rate
from linnet.validate import read_only

# --- the batched gradient ----------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    widths=st.lists(st.integers(1, 4), min_size=2, max_size=5),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_the_batched_chain_rule_matches_finite_differences(widths, batch, seed):
    # Any widths (narrow output or narrow input: both branches of the kernel),
    # against a central difference of l = 1/2 ||W_N...W_1 - Phi||^2 per entry.
    rng = np.random.default_rng(seed)
    ws = [
        rng.standard_normal((batch, widths[j + 1], widths[j]))
        for j in range(len(widths) - 1)
    ]
    Phi = rng.standard_normal((batch, widths[-1], widths[0]))
    grads = layer_gradients_stack(ws, end_to_end_stack(ws) - Phi)
    h = 1e-6
    for j, Wj in enumerate(ws):
        idx = tuple(rng.integers(0, n) for n in Wj.shape)
        plus = [w.copy() for w in ws]
        minus = [w.copy() for w in ws]
        plus[j][idx] += h
        minus[j][idx] -= h
        b = idx[0]
        lp = 0.5 * np.sum((end_to_end_stack(plus)[b] - Phi[b]) ** 2)
        lm = 0.5 * np.sum((end_to_end_stack(minus)[b] - Phi[b]) ** 2)
        fd = (lp - lm) / (2 * h)
        assert grads[j][idx] == pytest.approx(fd, rel=1e-5, abs=1e-6)


def test_single_network_gradients_are_the_stack_kernel_on_one_network():
    X, Y = whitened_data(30, 4, 3, 0)
    ws = gaussian_init([4, 5, 2, 3], 0.7, 1)
    G = (end_to_end(ws) @ X - Y) @ X.T
    stacked = layer_gradients_stack(as_weight_stack(ws), G[None])
    for g, s in zip(gradients(ws, X, Y), stacked, strict=True):
        assert np.allclose(g, s[0], rtol=1e-13, atol=1e-13)


def test_stack_parsers_validate_and_copy():
    a, b = np.ones((2, 3)), np.ones((4, 2))
    out = as_weight_stack([a, b])
    assert [w.shape for w in out] == [(1, 2, 3), (1, 4, 2)]
    out[0][0, 0, 0] = 5.0
    assert a[0, 0] == 1.0  # a copy: the caller's array is untouched
    with pytest.raises(ValueError, match=r"weights\[1\] must have 2 columns"):
        as_weight_stack([a, np.ones((4, 3))])
    with pytest.raises(ValueError, match=r"networks\[1\] must have the layer shapes"):
        stack_networks([[a, b], [np.ones((3, 3)), np.ones((4, 3))]])
    nets = [gaussian_init([3, 2, 4], 1.0, s) for s in range(3)]
    stacked = stack_networks(nets)
    assert np.allclose(
        balancedness_stack(stacked), [balancedness(n) for n in nets], rtol=1e-13
    )


# --- the induced flow: one entry, one velocity -------------------------------


@pytest.fixture(scope="module")
def target():
    X, Y = whitened_data(20, 4, 3, 2)
    return Target.from_data(X, Y)


def test_induced_flow_batches_by_shape_and_changes_no_trajectory(target):
    t = [0.0, 0.05, 0.2]
    W0s = np.stack([rotate(target.Z, 0.3 * k, k) for k in range(1, 4)])
    batch = induced_flow(W0s, target, 3, t)
    assert batch.W.shape == (3, 3, 3, 4)
    for k in range(3):
        single = induced_flow(W0s[k], target, 3, t)
        assert single.W.shape == (3, 3, 4)
        # each trajectory has its own step control: batching changes nothing
        assert np.array_equal(single.W, batch.W[k])


def test_induced_velocity_is_minus_m_A_W_of_W_minus_Z(target):
    W = rotate(target.Z, 0.4, 0)
    expected = -target.m * induced_operator(W, 3, W - target.Z)
    assert np.allclose(induced_velocity(W, target, 3), expected, rtol=1e-13, atol=1e-13)
    # the rank-one closed form and the general form agree on a rank-one W
    W1 = rank_one_start(target, 2.0, 0.5, 1)
    general = -target.m * induced_operator(W1, 3, W1 - target.Z, form="range")
    assert np.allclose(
        induced_velocity(np.stack([W1, W]), target, 3)[0],
        general,
        rtol=1e-10,
        atol=1e-12,
    )


def test_gradient_flow_of_a_stack_equals_each_network_alone():
    X, Y = whitened_data(25, 3, 2, 4)
    nets = [gaussian_init([3, 4, 2], 0.5, s) for s in range(3)]
    t = [0.0, 0.01, 0.03]
    stack = gradient_flow(stack_networks(nets), X, Y, t)
    assert stack.W.shape == (3, 3, 2, 3)
    for b, net in enumerate(nets):
        alone = gradient_flow(net, X, Y, t)
        assert alone.W.shape == (3, 2, 3)
        assert np.array_equal(alone.W, stack.W[b])
    assert gradient_flow(nets[0], X, Y, t, keep_weights=False).weights is None


def test_induced_flow_agrees_with_gradient_flow_from_a_balanced_start(target):
    # (17) is the end-to-end matrix of (13) from a balanced start; the two
    # right-hand sides share nothing but the integrator.
    X, Y = whitened_data(20, 4, 3, 2)
    W0 = rotate(target.Z, 0.5, 3)
    t = np.linspace(0.0, 0.05, 6)
    net = gradient_flow(balanced_init(W0, [4, 5, 5, 3], 0), X, Y, t)
    ind = induced_flow(W0, target, 3, t)
    err = np.max(
        np.linalg.norm(net.W - ind.W, axis=(1, 2)) / np.linalg.norm(ind.W, axis=(1, 2))
    )
    assert err <= 1e-9


# --- results are read-only, inputs are never mutated --------------------------


def test_results_are_read_only_and_inputs_stay_writeable(target):
    W0 = rotate(target.Z, 0.3, 0)
    res = induced_flow(W0, target, 2, [0.0, 0.1])
    with pytest.raises(ValueError, match="read-only"):
        res.W[0, 0, 0] = 1.0
    assert W0.flags.writeable
    X, Y = whitened_data(20, 4, 3, 2)
    net = gradient_flow(balanced_init(W0, [4, 3, 3], 0), X, Y, [0.0, 0.1])
    assert isinstance(net.weights, tuple)
    with pytest.raises(ValueError, match="read-only"):
        net.weights[0][0, 0, 0] = 1.0
    arr = np.arange(3.0)
    frozen = read_only(arr)
    assert arr.flags.writeable and not frozen.flags.writeable


def test_target_from_matrix_does_not_freeze_the_callers_array():
    Z = np.array([[2.0, 0.0], [0.0, 1.0]])
    target = Target.from_matrix(Z, 3)
    assert Z.flags.writeable
    Z[0, 0] = 7.0
    assert target.Z[0, 0] == 2.0 and not target.Z.flags.writeable


def test_a_hand_built_target_is_validated():
    good = Target.from_matrix(np.array([[2.0, 0.0], [0.0, 1.0]]), 3)
    with pytest.raises(ValueError, match="m must be an integer"):
        Target(Z=good.Z, m=0, U=good.U, s=good.s, Vt=good.Vt)
    with pytest.raises(ValueError, match="thin SVD of Z"):
        Target(
            Z=good.Z, m=3, U=good.U, s=good.s[::-1].copy() * 0 + [2.0, 2.0], Vt=good.Vt
        )
    with pytest.raises(ValueError, match="non-increasing"):
        Target(Z=good.Z, m=3, U=good.U, s=good.s[::-1], Vt=good.Vt)
    with pytest.raises(ValueError, match="U must have shape"):
        Target(Z=good.Z, m=3, U=good.U[:, :1], s=good.s, Vt=good.Vt)
    with pytest.raises(ValueError, match="target must be a linnet.data.Target"):
        as_target(good.Z)
    with pytest.raises(ValueError, match="Assumption 3.6"):
        as_target(Target.from_matrix(np.eye(2), 1), unique_Z1=True)


# --- starts, kappa, the tableau ------------------------------------------------


def test_rank_one_start_has_the_asked_norm_angle_and_rank(target):
    for angle in (0.0, 0.3, 1.2, np.pi / 2):
        W0 = rank_one_start(target, 3.0, angle, 5)
        assert np.linalg.norm(W0) == pytest.approx(3.0 * target.s_Z, rel=1e-13)
        cos = np.sum(W0 * target.Z1) / (np.linalg.norm(W0) * target.s_Z)
        assert cos == pytest.approx(np.cos(angle), abs=1e-13)
        sv = np.linalg.svd(W0, compute_uv=False)
        assert sv[1] <= 1e-14 * sv[0]
    with pytest.raises(ValueError, match=r"angle must be in \[0, pi/2\]"):
        rank_one_start(target, 3.0, 2.0, 5)
    with pytest.raises(ValueError, match="norm_ratio"):
        rank_one_start(target, -1.0, 0.3, 5)


def test_rank_one_start_of_a_scalar_target_is_the_figure_1_start():
    rng = np.random.default_rng(0)
    scalar = Target.from_matrix(rng.standard_normal((1, 5)), 4)
    W0 = rank_one_start(scalar, 10.0, np.pi / 6, 7)
    assert np.allclose(
        W0, 10.0 * rotate(scalar.Z1, np.pi / 6, 7), rtol=1e-14, atol=1e-13
    )


def test_kappa_and_the_radial_rate():
    assert kappa(1) == 0.0 and kappa(4) == 1.5
    assert np.allclose(kappa(np.array([2, 8])), [1.0, 1.75])
    assert radial_rate(4.0, 2.0, 2) == pytest.approx(2.0 * 2 * 4.0)
    with pytest.raises(ValueError, match="depth"):
        kappa(0)


def test_the_dop853_tableau_satisfies_its_order_conditions():
    # Hairer, Norsett & Wanner, Section II.10: consistency sum_j a_ij = c_i,
    # and the order conditions sum_i b_i c_i^(k-1) = 1/k for k = 1..8 (the
    # bushy trees); a mistyped coefficient breaks them.
    n = dop853.N_STAGES
    A, B, C = dop853.A[:n, :n], dop853.B, dop853.C[:n]
    assert np.allclose(A.sum(axis=1), C, rtol=0, atol=1e-14)
    for k in range(1, 9):
        assert np.sum(B * C ** (k - 1)) == pytest.approx(1.0 / k, rel=1e-13)
    # a tree with a_ij: sum_i b_i sum_j a_ij c_j^2 = 1/12 (order 4)
    assert np.sum(B * (A @ C**2)) == pytest.approx(1.0 / 12, rel=1e-12)
    # the error estimators integrate constants to zero (they are differences of weights)
    assert abs(np.sum(dop853.E5)) <= 1e-14 and abs(np.sum(dop853.E3)) <= 1e-14


def test_the_velocity_ignores_solver_noise_off_a_rank_one_trajectory(target):
    # A rank-one trajectory of (17) carries sigma_2 ~ 1e-11 sigma_1 of solver
    # error. The velocity treats it as rank one (round-off change only); the
    # general form of A_W, the control, raises the noise to the power 2/N and
    # moves the velocity by far more (4e-5 relative at N = 8).
    W = rank_one_start(target, 2.0, 0.5, 1)
    U, S, Vt = np.linalg.svd(W)
    noisy = W + 1e-11 * S[0] * np.outer(U[:, 1], Vt[1])
    clean = induced_velocity(W, target, 8)
    general = -target.m * induced_operator(noisy, 8, noisy - target.Z, form="range")
    scale = np.linalg.norm(clean)
    assert np.linalg.norm(induced_velocity(noisy, target, 8) - clean) <= 1e-13 * scale
    assert np.linalg.norm(general - clean) >= 1e-6 * scale


def test_rank_one_svd_is_the_one_rank_check():
    from linnet.validate import rank_one_svd

    W = np.stack([np.outer([1.0, 2.0], [3.0, 0.0, 1.0]), np.zeros((2, 3))])
    U, s, Vt = rank_one_svd(W, "W")
    assert s[0, 1] <= 1e-15 * s[0, 0]
    with pytest.raises(ValueError, match=r"W must have rank one .*matrix 1 is zero"):
        rank_one_svd(W, "W", nonzero=True)
    full = np.stack([np.eye(2, 3)])
    with pytest.raises(ValueError, match=r"matrix 0 has sigma_2/sigma_1 = 1 > 1e-08"):
        rank_one_svd(full, "W")


def test_angle_to_Z1_keeps_tiny_angles_and_the_opposite_ray(target):
    from linnet.measure import angle_to_Z1

    Z1 = target.Z1
    assert angle_to_Z1(3.0 * Z1, target) <= 1e-15
    assert angle_to_Z1(-Z1, target) == pytest.approx(np.pi, abs=1e-15)
    tilted = rotate(Z1, 1e-9, 0)  # arccos of the cosine would return 0 or ~1e-8 here
    assert angle_to_Z1(tilted, target) == pytest.approx(1e-9, rel=1e-6)
    with pytest.raises(ValueError, match="W must be nonzero"):
        angle_to_Z1(np.zeros_like(Z1), target)


def test_max_beta_and_min_alpha_bound_the_set_36():
    from linnet import theory as th

    tgt = Target.from_matrix(np.diag([2.0, 0.5]), 3)  # gamma = 1/4
    assert th.min_alpha(tgt) == pytest.approx(0.2)
    assert th.max_beta(tgt, 1.0) == pytest.approx(1.0)
    assert th.max_beta(tgt, th.min_alpha(tgt)) == pytest.approx(0.0, abs=1e-15)
    assert np.allclose(th.max_beta(tgt, np.array([0.6, 0.8])), [0.5, 0.75])
    with pytest.raises(ValueError, match="alpha must lie in"):
        th.max_beta(tgt, 1.5)
