"""Tests of linnet.chapters.rates: hand-computed cases, agreement between independent
routes (matrix velocity against reduced equations, measured against predicted
rates, batch against single runs), the inequalities on random rank-one
matrices, and every ValueError.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from linnet import theory as th
from linnet.chapters import rates as R
from linnet.data import Target
from linnet.flows import induced_flow
from linnet.init import rank_one_start
from linnet.measure import distance_to_Z1


def rank_one(rng, shape, scale=1.0):
    return scale * np.outer(
        rng.standard_normal(shape[0]), rng.standard_normal(shape[1])
    )


@pytest.fixture(scope="module")
def general():
    """A 3 x 4 target with gamma ~ 0.5, m = 5."""
    return R.random_target(3, 4, 1.3, 0.5, 5, seed=7)


# --------------------------------------------------------------------------
# velocities and rates
# --------------------------------------------------------------------------


def test_solver_noise_on_a_rank_one_matrix_does_not_change_its_rates(general):
    # sigma_2 / sigma_1 = 1e-11, as the solver leaves it (above flows.RANGE_RTOL = 1e-12): the
    # rank-one quantities are those of the rank-one part (the general A_W would raise 1e-11 to 2/N).
    rng = np.random.default_rng(1)
    W = rank_one(rng, general.Z.shape)
    U, _, Vt = np.linalg.svd(W)
    noisy = W + 1e-11 * np.linalg.norm(W) * np.outer(U[:, 1], Vt[1])
    for N in (3, 8):
        assert R.dloss_34(noisy, general, N) == pytest.approx(
            R.dloss_34(W, general, N), rel=1e-9
        )
        assert R.decay_rate(noisy, general, N) == pytest.approx(
            R.decay_rate(W, general, N), rel=1e-9
        )
        assert R.rank_one_rates(noisy, general, N).dp == pytest.approx(
            R.rank_one_rates(W, general, N).dp, rel=1e-9
        )


def test_decay_rate_of_depth_one_is_m(figure1_data):
    _, _, tgt = figure1_data  # dy = 1: Z = Z1 and W - Z1 = (W0 - Z) e^{-m t}
    W = rank_one_start(tgt, 3.0, 0.7, seed=0)
    assert R.decay_rate(W, tgt, 1) == pytest.approx(tgt.m, rel=1e-12)
    assert math.isnan(float(R.decay_rate(tgt.Z1, tgt, 2)))


def test_decay_rate_matches_the_slope_of_the_distance(general):
    rng = np.random.default_rng(2)
    W0 = rank_one(rng, general.Z.shape, 2.0)
    if th.cosine_with_Z1(W0, general) < 0:
        W0 = -W0
    t = np.array([0.0, 0.3 - 1e-5, 0.3, 0.3 + 1e-5])
    W = induced_flow(W0, general, 3, t, rtol=1e-13).W
    d = distance_to_Z1(W, general)
    slope = -(math.log(d[3]) - math.log(d[1])) / 2e-5
    assert R.decay_rate(W[2], general, 3) == pytest.approx(slope, rel=1e-6)


def test_decay_rate_of_depth_one_is_the_nearby_rate_m(figure1_data):
    # dy = 1, N = 1: W(t) - Z1 = (W0 - Z1) e^{-m t}, the slowest nearby rate of linnet.theory.
    _, _, tgt = figure1_data
    assert th.nearby_modes(tgt, 1).slowest == pytest.approx(tgt.m)
    with pytest.raises(ValueError, match="depth"):
        R.decay_rate(tgt.Z1 * 2, tgt, 0)


@pytest.mark.parametrize("N", [2, 3, 6])
def test_decay_rate_tends_to_the_slowest_nearby_rate(N):
    # dy = 2: the next slowest mode decays at m s_Z^{1-2/N} s_Z, twice the slowest rate for gamma = 0.5,
    # so after 12 time constants the measured rate is the slowest one to ~e^{-12}.
    general = R.random_target(2, 4, 1.3, 0.5, 5, seed=7)
    rng = np.random.default_rng(N)
    W0 = general.Z1 + 0.3 * rank_one(rng, general.Z.shape)
    W0 = np.linalg.svd(W0)[1][0] * np.outer(
        np.linalg.svd(W0)[0][:, 0], np.linalg.svd(W0)[2][0]
    )
    rate = th.nearby_modes(general, N).slowest
    W = induced_flow(W0, general, N, [0.0, 12.0 / rate], rtol=1e-12).W
    assert R.decay_rate(W[-1], general, N) == pytest.approx(rate, rel=1e-4)


def test_rank_one_rates_agree_with_the_reduced_equations(general):
    rng = np.random.default_rng(3)
    W = np.stack([rank_one(rng, general.Z.shape, s) for s in (0.1, 1.0, 30.0)])
    for N in (2, 3, 7):
        a, b = R.rank_one_rates(W, general, N), R.reduced_rates(W, general, N)
        for name in ("s", "rho", "p", "ds", "drho", "dp"):
            x, y = getattr(a, name), getattr(b, name)
            assert np.allclose(x, y, rtol=1e-10, atol=1e-12 * np.max(np.abs(y))), name
        with pytest.raises(ValueError):
            a.dp[0] = 0.0  # read-only


def test_rank_one_rates_match_finite_differences_of_a_trajectory(general):
    rng = np.random.default_rng(4)
    W0 = rank_one(rng, general.Z.shape)
    h = 1e-5
    t = np.array([0.0, 0.2 - h, 0.2, 0.2 + h])
    W = induced_flow(W0, general, 4, t, rtol=1e-13).W
    rates = R.rank_one_rates(W, general, 4)
    for name, dname in (("s", "ds"), ("rho", "drho"), ("p", "dp")):
        fd = (getattr(rates, name)[3] - getattr(rates, name)[1]) / (2 * h)
        assert getattr(rates, dname)[2] == pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_single_matrix_gives_scalars(general):
    W = general.Z1 * 2.0
    r = R.rank_one_rates(W, general, 2)
    assert (
        r.s.shape == ()
        and r.p == pytest.approx(1.0)
        and r.rho == pytest.approx(general.s_Z)
    )
    assert r.ds == pytest.approx(
        -general.m * 2 * (2 * general.s_Z) * (general.s_Z), rel=1e-12
    )


def test_rank_one_functions_reject_bad_input(general):
    with pytest.raises(ValueError, match="rank one"):
        R.rank_one_rates(np.eye(3, 4), general, 2)
    with pytest.raises(ValueError, match="nonzero"):
        R.reduced_rates(np.zeros((3, 4)), general, 2)
    with pytest.raises(ValueError, match="depth"):
        R.reduced_rates(general.Z1, general, 1)
    with pytest.raises(ValueError, match="shape"):
        R.reduced_rates(np.ones((4, 3)), general, 2)
    with pytest.raises(ValueError, match="at least one"):
        R.rank_one_rates(np.zeros((0, 3, 4)), general, 2)
    with pytest.raises(ValueError, match="s_Z > s_Z2"):
        R.rank_one_rates(
            np.eye(2)[:1].T @ np.eye(2)[:1], Target.from_matrix(np.eye(2)), 2
        )


# --------------------------------------------------------------------------
# compare_depths
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figure1_comparison():
    from linnet.data import whitened_data

    X, Y = whitened_data(50, 5, 1, seed=0)
    tgt = Target.from_data(X, Y)
    W0 = rank_one_start(tgt, 10.0, math.pi / 6, seed=1)
    return tgt, W0, R.compare_depths(W0, tgt, [1, 2, 8], t_end=0.1, n_times=200)


def test_compare_depths_measures_what_it_says(figure1_comparison):
    tgt, W0, cmp = figure1_comparison
    assert (
        cmp.depths == (1, 2, 8)
        and cmp.t.shape == (3, 200)
        and np.all(cmp.end_time == 0.1)
    )
    for i, N in enumerate(cmp.depths):
        W = induced_flow(W0, tgt, N, [cmp.tau[i]], rtol=1e-12).W[0]
        assert np.linalg.norm(W) == pytest.approx(
            math.sqrt(6) * tgt.s_Z, rel=1e-7
        )  # tau, refined
        assert np.allclose(
            cmp.distance[i], distance_to_Z1(induced_flow(W0, tgt, N, cmp.t[i]).W, tgt)
        )
    assert cmp.early_time == pytest.approx(0.5 * np.min(cmp.tau))
    d8 = distance_to_Z1(induced_flow(W0, tgt, 8, [cmp.early_time]).W[0], tgt)
    assert cmp.early_distance[2] == pytest.approx(d8, rel=1e-9)
    # the Figure 1 claims on the paper's data and time interval
    assert cmp.faraway_ordered and cmp.end_rates_reversed and not cmp.tau_ordered
    assert cmp.end_rate[0] == pytest.approx(tgt.m)
    with pytest.raises(ValueError):
        cmp.tau[0] = 0.0


def test_compare_depths_default_horizon_reaches_the_nearby_rate(figure1_comparison):
    tgt, W0, _ = figure1_comparison
    cmp = R.compare_depths(W0, tgt, [2, 5], n_times=100)
    assert np.allclose(cmp.end_rate, cmp.nearby_rate, rtol=1e-6)
    assert np.allclose(cmp.end_time * cmp.nearby_rate, 15.0)


def test_compare_depths_rejects_bad_input(figure1_comparison, general):
    tgt, W0, _ = figure1_comparison
    with pytest.raises(ValueError, match="faraway start"):
        R.compare_depths(tgt.Z1 * 2, tgt, [1, 2])
    with pytest.raises(ValueError, match="increasing"):
        R.compare_depths(W0, tgt, [2, 2])
    with pytest.raises(ValueError, match="at least two"):
        R.compare_depths(W0, tgt, [2])
    with pytest.raises(ValueError, match="single matrix"):
        R.compare_depths(np.stack([W0, W0]), tgt, [1, 2])
    with pytest.raises(ValueError, match="rank one"):
        R.compare_depths(np.eye(3, 4) * 10, general, [2, 3])
    with pytest.raises(ValueError, match="n_times"):
        R.compare_depths(W0, tgt, [1, 2], n_times=2)
    with pytest.raises(ValueError, match="t_end"):
        R.compare_depths(W0, tgt, [1, 2], t_end=-1.0)
    with pytest.raises(ValueError, match="no depth reached"):
        R.compare_depths(W0, tgt, [2, 3], t_end=1e-6)


# --------------------------------------------------------------------------
# random instances
# --------------------------------------------------------------------------


def test_random_target_has_the_requested_spectrum():
    tgt = R.random_target(3, 5, 2.5, 0.6, 7, seed=0)
    assert tgt.Z.shape == (3, 5) and tgt.m == 7
    assert tgt.s_Z == pytest.approx(2.5) and tgt.gamma == pytest.approx(0.6)
    assert tgt.s[2] <= tgt.s_Z2
    scalar = R.random_target(1, 4, 0.3, 0.0, 2, seed=1)
    assert scalar.s_Z == pytest.approx(0.3) and scalar.gamma == 0.0
    assert np.allclose(R.random_target(3, 5, 2.5, 0.6, 7, seed=0).Z, tgt.Z)


@pytest.mark.parametrize(
    "args, match",
    [
        ((1, 4, 1.0, 0.3, 1, 0), "gamma must be 0"),
        ((2, 4, 1.0, 1.0, 1, 0), r"gamma must be in \[0, 1\)"),
        ((2, 4, 0.0, 0.3, 1, 0), "s_Z"),
        ((0, 4, 1.0, 0.3, 1, 0), "dy"),
        ((2, 4, 1.0, -0.1, 1, 0), "gamma"),
    ],
)
def test_random_target_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        R.random_target(*args)


@pytest.mark.parametrize(
    "shape, gamma", [((1, 5), 0.0), ((3, 4), 0.8), ((4, 1), 0.0), ((2, 2), 0.3)]
)
def test_random_stable_starts_satisfy_37(shape, gamma):
    tgt = R.random_target(*shape, 0.7, gamma, 4, seed=3)
    starts = R.random_stable_starts(tgt, 3, 50, seed=4, norm_ratio_range=(0.5, 20.0))
    assert starts.W0.shape == (50,) + shape and starts.depth == 3
    margins = np.array(
        [
            th.stable_set_margin(W, tgt, a, b)
            for W, a, b in zip(starts.W0, starts.alpha, starts.beta, strict=True)
        ]
    )
    assert np.all(margins > 0)
    assert np.all(starts.beta <= (1 + tgt.gamma) * starts.alpha - tgt.gamma)
    ratio = np.linalg.norm(starts.W0, axis=(1, 2)) / tgt.s_Z
    assert np.all((ratio >= 0.5 * (1 - 1e-12)) & (ratio <= 20 * (1 + 1e-12)))
    assert np.all(
        np.linalg.svd(starts.W0, compute_uv=False)[:, 1:]
        <= 1e-12 * ratio[:, None] * tgt.s_Z
    )


def test_random_stable_starts_rejects_bad_input(general):
    with pytest.raises(ValueError, match="depth"):
        R.random_stable_starts(general, 1, 5, 0)
    with pytest.raises(ValueError, match="count"):
        R.random_stable_starts(general, 2, 0, 0)
    with pytest.raises(ValueError, match="norm_ratio_range"):
        R.random_stable_starts(general, 2, 5, 0, norm_ratio_range=(3.0, 1.0))
    with pytest.raises(ValueError, match="norm_ratio_range"):
        R.random_stable_starts(general, 2, 5, 0, norm_ratio_range=3.0)


def test_random_instances_cover_the_requested_ranges():
    groups = R.random_instances(
        9, 4, seed=0, depth_range=(2, 10), s_Z_range=(0.1, 10.0), gamma_max=0.9
    )
    assert len(groups) == 9 and all(len(g.W0) == 4 for g in groups)
    assert [g.target.dy for g in groups] == [1, 2, 3] * 3
    assert all(2 <= g.depth <= 10 and 0.1 <= g.target.s_Z <= 10 for g in groups)
    assert all(max(2, g.target.dy) <= g.target.dx <= 6 for g in groups)
    assert all(g.target.gamma == 0 for g in groups if g.target.dy == 1)
    assert all(0 <= g.target.gamma <= 0.9 for g in groups)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dys=()), "dys"),
        (dict(dx_max=2, dys=(3,)), "dx_max"),
        (dict(depth_range=(1, 3)), "depth_range"),
        (dict(depth_range=(4, 3)), "depth_range"),
        (dict(gamma_max=1.0), "gamma_max"),
        (dict(s_Z_range=(0.0, 1.0)), "s_Z_range"),
    ],
)
def test_random_instances_reject_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        R.random_instances(2, 2, 0, **kwargs)


def test_theorem_4_4_check_holds_on_random_groups():
    for g in R.random_instances(3, 4, seed=11):
        run = R.theorem_4_4_check(g, n_times=60)
        assert run.W.shape[:2] == (4, 60) and run.bound.shape == (4, 60)
        assert np.all(run.dist2[:, 1:] <= run.bound[:, 1:] * (1 + 1e-9))
        assert np.all(run.margin >= 0)  # Lemma 4.3
        assert np.all(run.tau <= run.tau_bar + 1e-12)
        # the batch reproduces a single run
        single = induced_flow(g.W0[0], g.target, g.depth, run.t).W
        assert np.max(np.abs(single - run.W[0])) <= 1e-12 * np.max(np.abs(single))
        with pytest.raises(ValueError):
            run.bound[0, 0] = 0.0


def test_theorem_4_4_check_rejects_bad_input():
    g = R.random_instances(1, 2, seed=0)[0]
    with pytest.raises(ValueError, match="StableStarts"):
        R.theorem_4_4_check(g.W0)
    with pytest.raises(ValueError, match="settle"):
        R.theorem_4_4_check(g, settle=0.0)
    with pytest.raises(ValueError, match="n_times"):
        R.theorem_4_4_check(g, n_times=1)


# --------------------------------------------------------------------------
# results are read-only copies; inputs are never changed
# --------------------------------------------------------------------------


def test_results_are_read_only_copies_and_inputs_stay_writeable(figure1_data):
    _, _, tgt = figure1_data
    W0 = rank_one_start(tgt, 10.0, math.pi / 6, seed=1)
    before = W0.copy()
    cmp = R.compare_depths(W0, tgt, [1, 2], t_end=0.1, n_times=20)
    for name in (
        "t",
        "distance",
        "norm",
        "tau",
        "early_distance",
        "end_time",
        "end_rate",
        "nearby_rate",
    ):
        with pytest.raises(ValueError):
            getattr(cmp, name).flat[0] = 1.0
    assert isinstance(cmp.depths, tuple)
    assert np.array_equal(W0, before) and W0.flags.writeable
    W0[0, 0] += 0.0  # the caller's array stays writeable
    rates = R.rank_one_rates(np.stack([W0, 2 * W0]), tgt, 3)
    with pytest.raises(ValueError):
        rates.s[0] = 1.0
    # A result built from a caller's array holds its own copy.
    alpha = np.array([0.5])
    starts = R.StableStarts(
        target=tgt, depth=2, W0=W0[None], alpha=alpha, beta=np.array([1.0])
    )
    alpha[0] = 0.9
    assert starts.alpha[0] == 0.5 and not np.shares_memory(starts.W0, W0)
    with pytest.raises(ValueError):
        starts.W0[0, 0, 0] = 1.0


def test_check_38_and_sample_set_36_results_are_read_only():
    tgt = R.random_target(2, 3, 1.0, 0.2, 5, seed=3)
    W = R.sample_set_36(tgt, 0.6, 2.0, 3, seed=0)
    with pytest.raises(ValueError):
        W[0, 0, 0] = 1.0
    W0 = np.array(W)  # writeable copy of the caller
    run = R.check_38(W0, tgt, 2, 0.6, 2.0, n_times=20)
    assert W0.flags.writeable and np.array_equal(W0, W)
    for name in ("t", "dist2", "tau", "dist2_tau", "ratio_a", "ratio_b", "in_36"):
        with pytest.raises(ValueError):
            getattr(run, name).flat[0] = 0
    v = R.search_35_violation(tgt, 3, 0.6, 2.0, 50, seed=1)
    with pytest.raises(ValueError):
        v.W[0, 0] = 1.0
