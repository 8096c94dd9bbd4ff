"""Tests of Section 3 of Eftekhari (2020) as the paper states it: membership in the
set (28) (``linnet.theory.in_set_28``) at hand-made boundary cases, the samplers of
the set and balanced rank-one networks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linnet.chapters.stable_set import (
    balanced_rank_one_networks,
    rank_one_with,
    sample_set_28,
)
from linnet.data import Target, whitened_data
from linnet.network import balancedness, end_to_end
from linnet.theory import in_set_28, set_28_margins


@pytest.fixture(scope="module")
def diag_target():
    # Z = diag(2, 1) padded: s_Z = 2, s_Z2 = 1, gamma_Z = 1/2, u_Z = e1, v_Z = e1.
    Z = np.zeros((2, 3))
    Z[0, 0], Z[1, 1] = 2.0, 1.0
    return Target.from_matrix(Z, m=10)


def outer(s, u, v):
    u, v = np.asarray(u, float), np.asarray(v, float)
    return s * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))


# --- in_set_28: hand-made cases --------------------------------------------------------


def test_Z1_itself_and_multiples(diag_target):
    t = diag_target
    assert in_set_28(t.Z1, t, 0.5) is True
    assert in_set_28(-t.Z1, t, 0.5) is False  # u^T Z1 v = -s_Z
    # alpha = 0.75: floor (alpha - gamma) s_Z = 0.5. Z1 scaled to norm 0.6 is in, 0.4 is out.
    assert in_set_28(0.3 * t.Z1, t, 0.75) is True
    assert in_set_28(0.2 * t.Z1, t, 0.75) is False


def test_norm_floor_is_strict(diag_target):
    t = diag_target
    alpha = 0.75  # floor = 0.25 * 2 = 0.5 exactly in binary
    assert in_set_28(outer(0.5, [1, 0], [1, 0, 0]), t, alpha) is False
    assert in_set_28(outer(np.nextafter(0.5, 1), [1, 0], [1, 0, 0]), t, alpha) is True
    corr, norm = set_28_margins(outer(0.5, [1, 0], [1, 0, 0]), t, alpha)
    assert norm == 0.0 and corr == pytest.approx(0.25)


def test_correlation_edge_is_strict(diag_target):
    t = diag_target
    # u = e1, v = (c, sqrt(1 - c^2), 0): u^T Z1 v / s_Z = c. c = 0.5 exactly at alpha = 0.5.
    v_edge = [0.5, math.sqrt(0.75), 0.0]
    corr, _ = set_28_margins(outer(1.0, [1, 0], v_edge), t, 0.5)
    assert abs(corr) <= 1e-15
    # A hair above and below (1e-9 in c) decides membership both ways.
    for dc, expected in [(1e-9, True), (-1e-9, False)]:
        c = 0.5 + dc
        assert (
            in_set_28(outer(1.0, [1, 0], [c, math.sqrt(1 - c * c), 0.0]), t, 0.5)
            is expected
        )


def test_correlation_is_with_Z1_not_Z(diag_target):
    t = diag_target
    # W along the second singular pair: <W, Z> = s_Z2 s_W > 0 but u^T Z1 v = 0.
    W = outer(3.0, [0, 1], [0, 1, 0])
    assert np.sum(W * t.Z) > 0
    assert in_set_28(W, t, t.gamma) is False
    corr, _ = set_28_margins(W, t, t.gamma)
    assert corr == pytest.approx(-t.gamma)


def test_sign_convention_does_not_matter(diag_target):
    t = diag_target
    W = outer(1.0, [1, 0.2], [1, 0.1, -0.3])
    assert in_set_28(W, t, 0.6) == in_set_28(
        outer(1.0, [-1, -0.2], [-1, -0.1, 0.3]), t, 0.6
    )
    # flipping u and v together is the same matrix; a single flip changes the sign of the correlation
    assert in_set_28(-W, t, 0.6) is False


def test_alpha_gamma_allowed_and_floor_zero(diag_target):
    t = diag_target
    W = outer(1e-6, [1, 0], [1, 0, 0])
    assert in_set_28(W, t, t.gamma) is True  # floor 0: any nonzero norm


def test_stack_returns_bool_array(diag_target):
    t = diag_target
    stack = np.stack([t.Z1, -t.Z1, 0.2 * t.Z1, outer(1, [0, 1], [0, 1, 0])])
    got = in_set_28(stack, t, 0.75)
    assert got.dtype == bool and got.shape == (4,)
    assert got.tolist() == [True, False, False, False]


@pytest.mark.parametrize(
    "alpha", [0.49, 1.0, 1.5, -0.1, float("nan"), float("inf"), "x", None]
)
def test_alpha_outside_range_raises(diag_target, alpha):
    with pytest.raises(ValueError, match="alpha"):
        in_set_28(diag_target.Z1, diag_target, alpha)


def test_rank_zero_and_rank_two_raise(diag_target):
    t = diag_target
    with pytest.raises(ValueError, match="rank 0"):
        in_set_28(np.zeros((2, 3)), t, 0.6)
    with pytest.raises(ValueError, match="rank one"):
        in_set_28(t.Z, t, 0.6)
    with pytest.raises(ValueError, match="rank 0"):
        in_set_28(np.stack([t.Z1, np.zeros((2, 3))]), t, 0.6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_raises(diag_target, bad):
    W = diag_target.Z1.copy()
    W[0, 1] = bad
    with pytest.raises(ValueError, match="finite"):
        in_set_28(W, diag_target, 0.6)


def test_wrong_shape_and_target_raise(diag_target):
    with pytest.raises(ValueError, match="shape"):
        in_set_28(np.ones((3, 2)), diag_target, 0.6)
    with pytest.raises(ValueError, match="Target"):
        in_set_28(diag_target.Z1, diag_target.Z, 0.6)
    tie = Target.from_matrix(np.eye(2), 1)  # s_Z = s_Z2: Z1 not unique
    with pytest.raises(ValueError, match="s_Z > s_Z2"):
        in_set_28(np.outer([1, 0], [1, 0]), tie, 0.9)


def test_scalar_output_is_cone_minus_ball():
    Z = np.array([[3.0, 4.0]])  # s_Z = 5, gamma = 0
    t = Target.from_matrix(Z, 1)
    ang = np.linspace(0, np.pi, 181)
    for r in (0.5, 2.0, 5.0):
        W = (
            r
            * 5
            * np.stack(
                [
                    [
                        [
                            np.cos(a) * 0.6 - np.sin(a) * 0.8,
                            np.cos(a) * 0.8 + np.sin(a) * 0.6,
                        ]
                    ]
                    for a in ang
                ]
            )
        )
        got = in_set_28(W, t, 0.7)
        want = (np.cos(ang) > 0.7) & (r * 5 > 0.7 * 5)
        # the cosine test is exact up to round-off away from the edge
        away = np.abs(np.cos(ang) - 0.7) > 1e-12
        assert np.array_equal(got[away], want[away])


# --- samplers and balanced networks -----------------------------------------------------


@pytest.fixture(scope="module")
def data_target():
    X, Y = whitened_data(30, 5, 3, 1)
    return X, Y, Target.from_data(X, Y)


def test_rank_one_with_prescribed_correlation(data_target):
    _, _, t = data_target
    c = np.linspace(-1, 1, 41)
    W = rank_one_with(t, np.full(41, 0.7), c, 3)
    U, sv, Vt = np.linalg.svd(W)
    assert np.allclose(sv[:, 0], 0.7 * t.s_Z, rtol=1e-13) and np.all(
        sv[:, 1] <= 1e-14 * t.s_Z
    )
    got = (U[:, :, 0] @ t.u) * (Vt[:, 0, :] @ t.v)
    assert np.max(np.abs(got - c)) <= 1e-13


def test_sample_set_28_inside_and_at_edges(data_target):
    _, _, t = data_target
    alpha = t.gamma + 0.3 * (1 - t.gamma)
    sample = sample_set_28(t, alpha, 400, 0)
    W, near_c, near_s = sample.W, sample.near_cosine_edge, sample.near_norm_floor
    for a in (W, near_c, near_s):
        assert not a.flags.writeable
    assert np.all(in_set_28(W, t, alpha))
    corr, norm = set_28_margins(W, t, alpha)
    assert near_c.sum() > 50 and near_s.sum() > 50
    assert (
        np.max(corr[near_c]) <= 0.01 * (1 - alpha) * 1.0001 and np.min(corr[near_c]) > 0
    )
    assert np.max(norm[near_s]) <= 0.01 * (alpha - t.gamma) * 1.0001
    # the bulk reaches far: correlations close to 1 and norms up to 10 s_Z
    assert corr.max() > 0.9 * (1 - alpha) and norm.max() > 5


def test_sample_set_28_reaches_large_norms(data_target):
    # (28) has no upper bound on the norm; max_norm_ratio = 1e3 (chapter 03) spreads the bulk up to 1e3 s_Z.
    _, _, t = data_target
    alpha = t.gamma + 0.5 * (1 - t.gamma)
    W = sample_set_28(t, alpha, 400, 2, max_norm_ratio=1e3).W
    assert np.all(in_set_28(W, t, alpha))
    s = np.linalg.norm(W, axis=(1, 2)) / t.s_Z
    assert s.max() > 300 and s.max() <= 1e3 * (1 + 1e-12)


def test_starts_just_across_an_edge_lie_in_the_union(data_target):
    # The errata's union: cosine c > gamma_Z and s_W > 0 puts W in N_(N,alpha') for some smaller alpha',
    # so starts just across an edge of N_(N,alpha) are still in N_(N,gamma_Z) = in_set_28(., gamma_Z);
    # starts with cosine just below gamma_Z are outside every set.
    _, _, t = data_target
    alpha = t.gamma + 0.1 * (1 - t.gamma)
    c_in = np.full(20, alpha - (1 - alpha) * 1e-2)
    W = rank_one_with(t, np.full(20, 0.5 * (alpha - t.gamma)), c_in, 0)
    assert not np.any(in_set_28(W, t, alpha)) and np.all(in_set_28(W, t, t.gamma))
    for a2 in np.linspace(t.gamma + 1e-9, c_in[0] - 1e-9, 7):
        # some alpha' in (gamma_Z, c) with floor below s_W contains them
        if (a2 - t.gamma) * t.s_Z < 0.5 * (alpha - t.gamma) * t.s_Z:
            assert np.all(in_set_28(W, t, a2))
    W_out = rank_one_with(
        t, np.ones(20), np.full(20, t.gamma - (1 - t.gamma) * 1e-6), 1
    )
    assert not np.any(in_set_28(W_out, t, t.gamma))


def test_sample_set_28_rejects_alpha_gamma(data_target):
    _, _, t = data_target
    with pytest.raises(ValueError, match="alpha"):
        sample_set_28(t, t.gamma, 10, 0)


def test_balanced_rank_one_networks(data_target):
    _, _, t = data_target
    W0 = sample_set_28(t, 0.8, 20, 1).W
    nets = balanced_rank_one_networks(W0, [5, 4, 1, 2, 3], 0)
    for b in range(20):
        w = [Wj[b] for Wj in nets]
        assert np.allclose(end_to_end(w), W0[b], atol=1e-14)
        assert balancedness(w) <= 1e-14
    with pytest.raises(ValueError, match="rank one"):
        balanced_rank_one_networks(np.stack([t.Z]), [5, 2, 3], 0)
    with pytest.raises(ValueError, match="rank one.*zero"):
        balanced_rank_one_networks(np.zeros((1, 3, 5)), [5, 2, 3], 0)
    with pytest.raises(ValueError, match="W0s must be finite"):
        balanced_rank_one_networks(np.full((1, 3, 5), np.nan), [5, 2, 3], 0)
    with pytest.raises(ValueError, match="widths must start with dx = 5"):
        balanced_rank_one_networks(W0, [4, 2, 3], 0)
    # one matrix gives one network (matrices, not stacks)
    single = balanced_rank_one_networks(W0[3], [5, 4, 1, 2, 3], 0)
    assert [Wj.shape for Wj in single] == [(4, 5), (1, 4), (2, 1), (3, 2)]
    assert np.allclose(end_to_end(single), W0[3], atol=1e-14)
