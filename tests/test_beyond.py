"""Tests of linnet.chapters.beyond (chapter 07): targets and their data, learning times against
linnet.theory.escape_time (its formula: tests/test_theory_phases.py), deflation, candidate set,
unbalanced starts, sharpness, gradient descent against the flow.

Tolerances: quantities computed two independent ways to round-off are compared at 1e-10 to
1e-12 relative; ODE solutions at the solver tolerance times a safety factor (rtol 1e-11 runs
agree to 1e-8); interpolated crossing times at the output spacing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linnet.chapters import beyond as bd
from linnet.data import Target, spectral_target, target_data, whitened_data
from linnet.flows import gradient_descent, gradient_flow, induced_flow, induced_velocity
from linnet.init import balanced_init, rotate
from linnet.network import (
    balancedness,
    end_to_end,
    end_to_end_stack,
    gradients,
    stack_networks,
)
from linnet.theory import correlation_set_margin, escape_time


@pytest.fixture(scope="module")
def tg():
    return spectral_target([1.0, 0.5, 0.25], 3, 4, 50, 0)


@pytest.fixture(scope="module")
def fig1():
    X, Y = whitened_data(50, 5, 1, 0)
    return X, Y, Target.from_data(X, Y)


# --- targets and starts ------------------------------------------------------


def test_spectral_target_has_the_prescribed_singular_values(tg):
    np.testing.assert_allclose(tg.s, [1.0, 0.5, 0.25], rtol=0, atol=1e-12)
    assert tg.m == 50


@pytest.mark.parametrize(
    "args, word",
    [
        (([0.5, 1.0], 3, 4, 50, 0), "non-increasing"),
        (([1.0, 0.5, 0.2, 0.1], 3, 4, 50, 0), "singular_values"),
        (([1.0], 0, 4, 50, 0), "dy"),
        (([1.0], 3, 4, 0, 0), "m"),
    ],
)
def test_spectral_target_rejects_bad_input(args, word):
    with pytest.raises(ValueError, match=word):
        spectral_target(*args)


def test_balanced_stack_matches_products_and_is_balanced(tg):
    rng = np.random.default_rng(1)
    W0s = rng.standard_normal((4, 3, 4))
    ws = bd.balanced_stack(W0s, [4, 3, 3, 3], 5)
    for b in range(4):
        net = [w[b] for w in ws]
        np.testing.assert_allclose(end_to_end(net), W0s[b], atol=1e-12)
        assert balancedness(net) <= 1e-12 * max(np.linalg.norm(w) ** 2 for w in net)


def test_balanced_stack_validates_the_products():
    W = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match="W0s must have matrices of shape"):
        bd.balanced_stack(W, [4, 3, 2], 0)  # dy = widths[-1] = 2, not 3
    with pytest.raises(ValueError, match="W0s must be finite"):
        bd.balanced_stack(np.full((2, 3, 4), np.nan), [4, 3, 3], 0)
    with pytest.raises(ValueError, match="at least one"):
        bd.balanced_stack(np.ones((0, 3, 4)), [4, 3, 3], 0)
    with pytest.raises(ValueError, match="W0s must be a matrix"):
        bd.balanced_stack(np.ones(3), [4, 3, 3], 0)
    # one matrix: a stack of one network
    one = bd.balanced_stack(W[0], [4, 3, 3], 0)
    np.testing.assert_array_equal(one[0], bd.balanced_stack(W[:1], [4, 3, 3], 0)[0])


def test_gaussian_stack_draws_are_scaled_arora_gaussian_starts():
    """Documented: the draws of linnet.chapters.arora.gaussian_starts, scaled per layer."""
    from linnet.chapters.arora import gaussian_starts

    widths = [5, 4, 3, 1]
    ws = bd.gaussian_stack(widths, 0.3, 6, 2)
    ref = gaussian_starts(widths, 1.0, 6, 2)
    for j, (w, r) in enumerate(zip(ws, ref, strict=True)):
        np.testing.assert_allclose(
            w, 0.3 ** (1 / 3) / math.sqrt(widths[j]) * r, rtol=1e-15
        )


def test_gaussian_stack_product_scale():
    ws = bd.gaussian_stack([5, 5, 5, 5, 1], 0.3, 4000, 0)
    rms = math.sqrt(np.mean(np.sum(end_to_end_stack(ws) ** 2, axis=(1, 2))))
    # E ||W||^2 = scale^2 exactly; 4000 samples of a heavy-tailed product: 10 % relative.
    assert abs(rms / 0.3 - 1) < 0.1
    with pytest.raises(ValueError, match="product_scale"):
        bd.gaussian_stack([5, 1], -1.0, 3, 0)


# --- data for a target given as a matrix ---------------------------------------------


def test_target_data_is_whitened_and_has_the_target(tg):
    X, Y = target_data(tg)
    assert X.shape == (4, 50) and Y.shape == (3, 50)
    np.testing.assert_allclose(X @ X.T, 50 * np.eye(4), rtol=0, atol=1e-12)
    np.testing.assert_allclose(Target.from_data(X, Y).Z, tg.Z, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="target"):
        target_data(tg.Z)
    with pytest.raises(ValueError, match="m must be >= dx"):
        target_data(Target.from_matrix(tg.Z, 3))


def test_flow_on_target_data_of_balanced_start_follows_induced_flow(tg):
    """The chapter's use: gradient flow (13) of balanced stacks on target_data follows (17) in tg."""
    X, Y = target_data(tg)
    rng = np.random.default_rng(3)
    W0 = 0.3 * rng.standard_normal((2, 3, 4))
    ws = bd.balanced_stack(W0, [4, 3, 3, 3], 0)
    t = np.linspace(0, 0.3, 7)
    batch = gradient_flow(ws, X, Y, t, keep_weights=False)
    ref = induced_flow(W0, tg, 3, t)
    # both at rtol 1e-11: agreement to 1e-8 (the file's tolerance for ODE solutions)
    np.testing.assert_allclose(batch.W, ref.W, rtol=0, atol=1e-8)


def test_flow_from_the_depth8_unbalanced_starts():
    """Chapter 07 integrates the depth-8 unbalanced Figure-1 starts (norm 10 s_Z) as one stack; the stacked
    integrator once accepted a blown-up first step there (measured). Reference: scipy's DOP853, one start at a
    time; both at rtol 1e-10, agreement to 1e-7."""
    from scipy.integrate import solve_ivp

    X, Y = whitened_data(50, 5, 1, 1)
    target = Target.from_data(X, Y)
    W0 = 10 * rotate(target.Z1, math.pi / 6, 2)
    nets = [
        bd.unbalanced_start(W0, [5] + [3] * 7 + [1], delta, 1) for delta in (1e-4, 1e-1)
    ]
    t = np.linspace(0, 0.1, 11)
    batch = gradient_flow(stack_networks(nets), X, Y, t, rtol=1e-10, atol=1e-14)
    shapes = [w.shape for w in nets[0]]
    cuts = np.cumsum([w.size for w in nets[0]])[:-1]

    def layers(y):
        return [p.reshape(sh) for p, sh in zip(np.split(y, cuts), shapes, strict=True)]

    for b, net in enumerate(nets):
        with np.errstate(
            over="ignore", invalid="ignore"
        ):  # scipy's rejected trial steps overflow
            sol = solve_ivp(
                lambda _, y: (
                    -np.concatenate([g.ravel() for g in gradients(layers(y), X, Y)])
                ),
                (0, 0.1),
                np.concatenate([w.ravel() for w in net]),
                method="DOP853",
                t_eval=t,
                rtol=1e-10,
                atol=1e-14,
            )
        ref = np.stack([end_to_end(layers(y)) for y in sol.y.T])
        np.testing.assert_allclose(batch.W[b], ref, rtol=0, atol=1e-7)


# --- escape and learning times --------------------------------------------------


def test_learning_times_of_aligned_start_match_escape_time(tg):
    s0 = 1e-3
    ws = bd.balanced_stack((s0 * tg.U @ tg.Vt)[None], [4, 3, 3], 0)
    t = np.linspace(0, 0.5, 2001)
    res = gradient_flow(
        ws, *target_data(tg), t, rtol=1e-11, atol=1e-16, keep_weights=False
    )
    measured = bd.learning_times(t, res.W, tg)[0]
    np.testing.assert_allclose(measured, escape_time(s0, tg.s, 50, 2), rtol=1e-4)


def test_learning_times_interpolate_and_mark_unreached_and_absent_modes():
    tgt = Target.from_matrix(np.diag([1.0, 0.5, 0.0]), 1)
    t = np.array([0.0, 1.0, 2.0])
    sig = np.array(
        [[0.1, 0.6, 1.0], [0.1, 0.2, 0.2], [0.0, 0.0, 0.0]]
    )  # per mode over time
    W = np.stack([np.diag(sig[:, i]) for i in range(3)])
    # mode 1 reaches 0.5 between t = 0 and 1 (linear in sigma: 0.8); mode 2 never reaches 0.25; s_3 = 0
    lt = bd.learning_times(t, W, tgt)
    np.testing.assert_allclose(lt[:2], [0.8, np.inf])
    assert np.isnan(lt[2])
    W_before = W.copy()
    bd.learning_times(t, W, tgt, level=1.0)
    np.testing.assert_array_equal(W, W_before)
    # a stack of trajectories gives a stack of learning times
    np.testing.assert_array_equal(
        bd.learning_times(t, np.stack([W, W]), tgt), np.stack([lt, lt])
    )


def test_learning_times_validation():
    tgt = Target.from_matrix(np.diag([1.0, 0.5, 0.0]), 1)
    t = np.array([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="one matrix per time"):
        bd.learning_times(t, np.zeros((2, 3, 3)), tgt)
    with pytest.raises(ValueError, match="W must have matrices of shape"):
        bd.learning_times(t, np.zeros((3, 3, 4)), tgt)
    bad = np.zeros((3, 3, 3))
    bad[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="W must be finite"):
        bd.learning_times(t, bad, tgt)
    with pytest.raises(ValueError, match="level"):
        bd.learning_times(t, np.zeros((3, 3, 3)), tgt, level=1.5)


# --- deflation ---------------------------------------------------------------------


def test_deflation_leakage_zero_on_exactly_deflated_state(tg):
    """Derived in chapter 07: W = s_1 u_1 v_1^T + (component orthogonal to u_1, v_1) has a deflated velocity."""
    rng = np.random.default_rng(0)
    Qu = np.eye(3) - np.outer(tg.U[:, 0], tg.U[:, 0])
    Qv = np.eye(4) - np.outer(tg.Vt[0], tg.Vt[0])
    for N in (2, 3, 5):
        W = (
            tg.s[0] * np.outer(tg.U[:, 0], tg.Vt[0])
            + 1e-2 * Qu @ rng.standard_normal((3, 4)) @ Qv
        )
        # round-off: ||V|| ~ 3e-2 against terms of size m s_1^2 ~ 50, so ~1e-12 relative; 1e-10 allowed
        assert bd.deflation_leakage(induced_velocity(W, tg, N), tg, 1) < 1e-10


def test_deflation_leakage_bounds_and_validation(tg):
    rng = np.random.default_rng(1)
    V = rng.standard_normal((20, 3, 4))
    L = bd.deflation_leakage(V, tg, 2)
    assert np.all((L >= 0) & (L <= 1 + 1e-15))
    assert bd.deflation_leakage(
        np.outer(tg.U[:, 0], rng.standard_normal(4)), tg, 1
    ) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="k"):
        bd.deflation_leakage(V, tg, 3)
    with pytest.raises(ValueError, match="V must have matrices of shape"):
        bd.deflation_leakage(np.ones((2, 4, 3)), tg, 1)
    with pytest.raises(ValueError, match="V must be finite"):
        bd.deflation_leakage(np.full((3, 4), np.inf), tg, 1)
    # any leading shape: (2, 10, 3, 4) gives (2, 10)
    np.testing.assert_array_equal(
        bd.deflation_leakage(V.reshape(2, 10, 3, 4), tg, 2), L.reshape(2, 10)
    )


# --- candidate set and component correlation ---------------------------------------


def test_deflated_set_margin_reduces_to_rank_one_set_for_r1(tg):
    rng = np.random.default_rng(4)
    W = np.einsum(
        "bi,bj->bij", rng.standard_normal((30, 3)), rng.standard_normal((30, 4))
    )
    for alpha in (0.1, 0.5, 1.0):
        np.testing.assert_allclose(
            bd.deflated_set_margin(W, tg, 1, alpha),
            correlation_set_margin(W, tg, alpha),
            rtol=1e-10,
            atol=1e-12,
        )


def test_deflated_set_contains_Zr_and_not_minus_Zr(tg):
    for r in (1, 2, 3):
        Zr = (tg.U[:, :r] * tg.s[:r]) @ tg.Vt[:r]
        assert bd.deflated_set_margin(Zr, tg, r, 1.0) == pytest.approx(0.0, abs=1e-12)
        assert bd.deflated_set_margin(-Zr, tg, r, 0.1) < 0
    with pytest.raises(ValueError, match="alpha"):
        bd.deflated_set_margin(tg.Z, tg, 2, 0.0)
    with pytest.raises(ValueError, match="distinct"):
        bd.deflated_set_margin(
            np.ones((3, 4)), spectral_target([1.0, 1.0], 3, 4, 1, 0), 2, 0.5
        )


def test_component_correlation(tg):
    Z1 = tg.s[0] * np.outer(tg.U[:, 0], tg.Vt[0])
    assert bd.component_correlation(-3 * Z1, tg, 1) == pytest.approx(-1.0, abs=1e-12)
    assert bd.component_correlation(tg.Z, tg, 3) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="k"):
        bd.component_correlation(tg.Z, tg, 4)


# --- unbalanced starts -------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(st.floats(1e-5, 0.3), st.integers(2, 5), st.integers(0, 100))
def test_unbalanced_start_keeps_product_and_hits_delta(delta, N, seed):
    X, Y = whitened_data(50, 5, 1, 0)
    target = Target.from_data(X, Y)
    W0 = 10 * rotate(target.Z1, math.pi / 6, 1)
    ws = bd.unbalanced_start(W0, [5] + [3] * (N - 1) + [1], delta, seed)
    np.testing.assert_allclose(end_to_end(ws), W0, rtol=0, atol=1e-12)
    assert abs(balancedness(ws) - delta) <= 1e-9 * max(delta, 1e-3)


def test_unbalanced_start_validation():
    with pytest.raises(ValueError, match="delta"):
        bd.unbalanced_start(np.ones((1, 5)), [5, 3, 1], -1.0, 0)
    with pytest.raises(ValueError, match="depth >= 2"):
        bd.unbalanced_start(np.ones((1, 5)), [5, 1], 0.1, 0)


# --- sharpness and gradient descent ------------------------------------------------


@pytest.mark.parametrize("N", [2, 3, 5])
def test_sharpness_at_balanced_minimum(fig1, N):
    X, Y, target = fig1
    lam = bd.sharpness(balanced_init(target.Z1, [5] + [2] * (N - 1) + [1], 0), X, Y)
    assert lam == pytest.approx(50 * N * target.s_Z ** (2 - 2 / N), rel=1e-10)


def test_sharpness_depth1_is_m(fig1):
    X, Y, _ = fig1
    assert bd.sharpness([np.zeros((1, 5))], X, Y) == pytest.approx(50.0, rel=1e-12)


def test_descent_outcome_statuses(fig1):
    X, Y, target = fig1
    net = balanced_init(target.Z1 * 1.5, [5, 2, 1], 0)
    lam = bd.sharpness(balanced_init(target.Z1, [5, 2, 1], 0), X, Y)
    good = bd.descent_outcome(net, X, Y, 0.5 / lam, 1e-6, 5000)
    assert good.status == "converged" and good.rel_distance <= 1e-6
    # the relative distance it reports is ||W - Z_1|| / s_Z of the iterate at that step
    gd = gradient_descent(net, X, Y, 0.5 / lam, good.steps)
    assert good.rel_distance == pytest.approx(
        np.linalg.norm(gd.W[-1] - target.Z1) / target.s_Z, rel=1e-12
    )
    assert np.linalg.norm(gd.W[-2] - target.Z1) / target.s_Z > 1e-6
    bad = bd.descent_outcome(net, X, Y, 20 / lam, 1e-6, 5000)
    assert bad.status == "diverged" and bad.rel_distance == math.inf
    slow = bd.descent_outcome(net, X, Y, 1e-4 / lam, 1e-9, 10)
    assert slow.status == "stalled" and slow.steps == 10
    with pytest.raises(ValueError, match="rel_tol"):
        bd.descent_outcome(net, X, Y, 0.5 / lam, 0.0, 10)


def test_descent_outcome_needs_a_unique_Z1():
    """Z_1 (27) is the point descent should reach: data with s_Z = s_Z2 are rejected."""
    m = 8
    X = math.sqrt(m) * np.eye(2, m)  # X X^T = m I
    Y = np.eye(2) @ X  # Z = I: s_Z = s_Z2 = 1
    net = balanced_init(np.eye(2), [2, 2, 2], 0)
    with pytest.raises(ValueError, match="s_Z > s_Z2"):
        bd.descent_outcome(net, X, Y, 1e-3, 1e-3, 10)


def test_distance_to_flow_is_first_order(fig1):
    X, Y, target = fig1
    net = balanced_init(3 * rotate(target.Z1, 0.5, 0), [5, 2, 2, 1], 0)
    d1 = bd.distance_to_flow(net, X, Y, 1e-3, 0.05)
    d2 = bd.distance_to_flow(net, X, Y, 5e-4, 0.05)
    # Global error of an order-one scheme: halving the step halves the error (to 10 %).
    assert 1.8 < d1 / d2 < 2.2


def test_inputs_are_not_mutated(tg):
    """Every function that takes arrays leaves the caller's arrays as they were (values and writeability)."""
    rng = np.random.default_rng(5)
    W = rng.standard_normal((4, 3, 4))
    W0 = rng.standard_normal((3, 4))
    sig = np.array([1e-3, 2e-3])
    calls = [
        lambda: bd.deflation_leakage(W, tg, 1),
        lambda: bd.deflated_set_margin(W, tg, 2, 0.5),
        lambda: bd.component_correlation(W, tg, 2),
        lambda: bd.balanced_stack(W, [4, 3, 3], 0),
        lambda: bd.unbalanced_start(W0, [4, 3, 3], 0.1, 0),
        lambda: escape_time(sig, 1.0, 50, 3),
        lambda: bd.learning_times(np.arange(4.0), W, tg),
    ]
    for call in calls:
        before = [a.copy() for a in (W, W0, sig)]
        call()
        for a, b in zip((W, W0, sig), before, strict=True):
            assert a.flags.writeable
            np.testing.assert_array_equal(a, b)
