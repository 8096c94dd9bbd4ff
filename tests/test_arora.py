"""linnet.chapters.arora: batched gradient descent, Procedure 1, the Monte Carlo estimates of Claims 2-3."""

from __future__ import annotations

import numpy as np
import pytest

from linnet.chapters import arora
from linnet.data import Target, whitened_data
from linnet.flows import gradient_descent, scalar_polar_flow
from linnet.init import balanced_init
from linnet.network import end_to_end, gradients
from linnet.theory import arora_theorem_1, deficiency_margin, delta_balancedness


def _net(rng, widths, scale=0.5):
    return [scale * rng.standard_normal((widths[j + 1], widths[j])) for j in range(len(widths) - 1)]


def _stack(nets):
    return [np.stack([n[j] for n in nets]) for j in range(len(nets[0]))]


# --- gradients -------------------------------------------------------------


@pytest.mark.parametrize("widths", [[4, 3], [4, 5, 3], [6, 2, 3, 1], [3, 4, 4, 4, 2], [8, 3, 3, 1]])
def test_batched_gradients_match_network_gradients(widths):
    """The gradient of l is the gradient of (4) over m for whitened data (one formula, two implementations)."""
    m = 40
    X, Y = whitened_data(m, widths[0], widths[-1], seed=3)
    Phi = Y @ X.T / m
    rng = np.random.default_rng(0)
    nets = [_net(rng, widths) for _ in range(3)]
    got = arora.batched_gradients(_stack(nets), Phi)
    for b, net in enumerate(nets):
        for g_ref, g in zip(gradients(net, X, Y), got):
            assert np.allclose(g[b], g_ref / m, rtol=1e-12, atol=1e-13 * np.abs(g_ref / m).max())


def test_end_to_end_and_balancedness_stacks():
    rng = np.random.default_rng(1)
    nets = [_net(rng, [5, 3, 4, 2]) for _ in range(4)]
    W = arora.end_to_end_stack(_stack(nets))
    delta, gram = arora.balancedness_stack(_stack(nets))
    for b, net in enumerate(nets):
        assert np.allclose(W[b], end_to_end(net))
        assert np.isclose(delta[b], delta_balancedness(net))
        assert np.isclose(gram[b], min(np.linalg.norm(w @ w.T) for w in net))


# --- batched gradient descent ----------------------------------------------


def test_descent_matches_flows_gradient_descent():
    """Step eta on l is step eta/m on (4): same iterates as linnet.flows.gradient_descent."""
    m = 30
    X, Y = whitened_data(m, 4, 2, seed=5)
    Phi = Y @ X.T / m
    rng = np.random.default_rng(2)
    net = _net(rng, [4, 3, 3, 2], 0.6)
    ref = gradient_descent(net, X, Y, 0.05 / m, 200)
    res = arora.batched_descent(net, Phi, 0.05, 0.0, 200)
    assert res.status[0] == "capped" and res.stop_iteration[0] == 200
    for j in range(3):
        assert np.allclose(res.weights[j][0], ref.weights[j][-1], rtol=1e-11, atol=1e-13)
    assert np.isclose(res.final_loss[0], ref.loss_curve[-1] / m - (0.5 * np.sum(Y**2) / m - 0.5 * np.sum(Phi**2)))


def test_reduced_inputs_give_the_same_iterates():
    rng = np.random.default_rng(3)
    Phi = rng.standard_normal((1, 40))
    Phi /= np.linalg.norm(Phi)
    starts = arora.gaussian_starts([40, 6, 6, 1], 0.2, 5, seed=1)
    a = arora.batched_descent(starts, Phi, 0.2, 1e-6, 5000, record_every=7)
    b = arora.batched_descent(starts, Phi, 0.2, 1e-6, 5000, record_every=7, reduce_inputs=False)
    assert np.all(a.converged) and np.array_equal(a.iterations, b.iterations)
    assert np.nanmax(np.abs(a.record_loss - b.record_loss) / b.record_loss) < 1e-9
    for wa, wb in zip(a.weights, b.weights):
        assert np.allclose(wa, wb, atol=1e-10)


def test_statuses_and_first_hitting_iteration():
    rng = np.random.default_rng(4)
    Phi = np.array([[1.0, 0.5, -0.2]])
    net = balanced_init(Phi * 0.6, [3, 2, 1], seed=0)
    res = arora.batched_descent(_stack([net] * 4), Phi, [0.1, 0.1, 50.0, 1e-6], [1e-8, 0.0, 1e-8, 1e-8], 3000)
    assert list(res.status) == ["converged", "capped", "diverged", "capped"]
    # the iteration reported is the first one at or below epsilon
    curve = arora.batched_descent(net, Phi, 0.1, 0.0, res.iterations[0], record_every=1).record_loss[0]
    assert curve[-1] <= 1e-8 < curve[-2]
    assert res.iterations[1] == -1 and res.stop_iteration[1] == 3000
    assert res.final_loss[2] > 1e6 * 0.5 * np.sum(Phi**2) or not np.isfinite(res.final_loss[2])
    assert res.steps_taken < 4 * 3000


def test_groups_prune_slower_runs():
    Phi = np.array([[1.0, 0.5, -0.2]])
    net = balanced_init(Phi * 0.6, [3, 2, 1], seed=0)
    lrs = [0.01, 0.1, 0.3]
    alone = arora.batched_descent(_stack([net] * 3), Phi, lrs, 1e-8, 10_000)
    grouped = arora.batched_descent(_stack([net] * 3), Phi, lrs, 1e-8, 10_000, group=np.zeros(3, dtype=int))
    best = int(np.argmin(alone.iterations))
    assert grouped.status[best] == "converged" and grouped.iterations[best] == alone.iterations.min()
    assert all(s == "pruned" for k, s in enumerate(grouped.status) if k != best and alone.iterations[k] > alone.iterations[best])
    assert grouped.steps_taken < alone.steps_taken
    fast = arora.fastest_over_learning_rates(net, Phi, lrs, 1e-8, 10_000)
    assert fast.iterations[0] == alone.iterations.min() and fast.best_lr[0] == lrs[best]
    assert fast.outcome[0] == "converged"


def test_fastest_reports_capped_and_diverged_starts():
    Phi = np.array([[1.0, 0.0]])
    tiny = [np.full((2, 2), 1e-6), np.full((1, 2), 1e-6)]
    huge = [np.full((2, 2), 30.0), np.full((1, 2), 30.0)]
    res = arora.fastest_over_learning_rates(_stack([tiny, huge]), Phi, [0.1, 1.0], 1e-5, 50)
    assert list(res.outcome) == ["capped", "diverged"]
    assert list(res.iterations) == [-1, -1] and np.all(np.isnan(res.best_lr))


def test_lemma_1_ratio_on_an_admissible_run():
    Phi = np.array([[0.8, 0.3, 0.1]])
    net = arora.margin_start(Phi, [3, 2, 1], 0.1, seed=1)
    th = arora_theorem_1(Phi, net, 0.5 * np.linalg.norm(end_to_end(net) - Phi) ** 2 / np.e)
    assert th.applies
    res = arora.batched_descent(net, Phi, th.eta, th.epsilon, th.iterations, lemma1_every=101)
    assert res.converged[0] and res.iterations[0] <= th.iterations
    assert res.lemma1_checks[0] > 10 and res.lemma1_ratio[0] >= 1.0
    none = arora.batched_descent(net, Phi, th.eta, th.epsilon, 3)
    assert none.lemma1_ratio is None


def test_record_balance_matches_delta_balancedness():
    rng = np.random.default_rng(5)
    Phi = rng.standard_normal((1, 12))
    starts = arora.gaussian_starts([12, 4, 3, 1], 0.1, 2, seed=2)
    res = arora.batched_descent(starts, Phi, 0.05, 1e-6, 400, record_every=50, record_balance=True)
    for b in range(2):
        assert np.isclose(res.record_delta[b, 0], delta_balancedness([w[b] for w in starts]))
        assert np.isclose(res.record_loss[b, 0], 0.5 * np.linalg.norm(end_to_end([w[b] for w in starts]) - Phi) ** 2)


def test_stack_networks_padding_is_exact():
    rng = np.random.default_rng(6)
    nets, Phis = [], []
    for widths in ([3, 2, 2, 1], [5, 1, 4, 1], [4, 3, 2, 1]):
        P = rng.standard_normal((1, widths[0]))
        nets.append(arora.margin_start(P, widths, 0.3, rng.integers(100)))
        Phis.append(P)
    stack, Phi = arora.stack_networks(nets, Phis)
    assert [w.shape for w in stack] == [(3, 3, 5), (3, 4, 3), (3, 1, 4)] and Phi.shape == (3, 1, 5)
    padded = arora.batched_descent(stack, Phi, 0.05, 1e-9, 20_000)
    for b, (net, P) in enumerate(zip(nets, Phis)):
        alone = arora.batched_descent(net, P, 0.05, 1e-9, 20_000)
        assert padded.iterations[b] == alone.iterations[0] > 0
        for j, w in enumerate(alone.weights):
            r, c = w.shape[1:]
            assert np.allclose(padded.weights[j][b, :r, :c], w[0], atol=1e-12)
            assert not np.any(padded.weights[j][b][r:, :]) and not np.any(padded.weights[j][b][:, c:])
    with pytest.raises(ValueError, match="depth"):
        arora.stack_networks([nets[0], nets[0][:2]], Phis[:2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=0.0), "lr must be finite and > 0"),
        (dict(lr=[0.1, 0.2]), r"lr must be a number or an array of shape \(1,\)"),
        (dict(epsilon=-1.0), "epsilon must be finite and >= 0"),
        (dict(max_iter=0), "max_iter"),
        (dict(group=[0.5]), "group must be an integer array"),
        (dict(divergence_factor=1.0), "divergence_factor"),
        (dict(Phi=np.ones((2, 3))), "Phi must have shape"),
    ],
)
def test_descent_validates_its_inputs(kwargs, match):
    args = dict(weights0=[np.ones((2, 3)), np.ones((1, 2))], Phi=np.ones((1, 3)), lr=0.1, epsilon=1e-3, max_iter=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        arora.batched_descent(**args)


def test_weight_stacks_must_chain():
    with pytest.raises(ValueError, match="columns"):
        arora.as_weight_stack([np.ones((2, 3)), np.ones((1, 4))])
    with pytest.raises(ValueError, match="stack 2"):
        arora.as_weight_stack([np.ones((2, 2, 3)), np.ones((3, 1, 2))])
    with pytest.raises(ValueError, match="finite"):
        arora.as_weight_stack([np.full((2, 3), np.nan)])


# --- initialisations ---------------------------------------------------------


@pytest.mark.parametrize("shape, widths", [((3, 5), [5, 4, 6, 3, 3]), ((1, 4), [4, 1, 2, 1]), ((4, 2), [2, 2, 4])])
def test_procedure_1_product_padding_and_balance(shape, widths):
    A = np.random.default_rng(7).standard_normal(shape)
    ws = arora.procedure_1(A, widths)
    assert [w.shape for w in ws] == [(widths[j + 1], widths[j]) for j in range(len(widths) - 1)]
    assert np.allclose(end_to_end(ws), A, atol=1e-13)
    assert delta_balancedness(ws) < 1e-13
    r = min(shape)
    for w in ws[1:-1]:  # middle layers: Sigma^{1/N} then zeros
        assert np.allclose(np.diag(w)[:r], np.linalg.svd(A, compute_uv=False) ** (1 / (len(widths) - 1)))
        assert not np.any(w[r:, :]) and not np.any(w[:, r:])


def test_procedure_1_rejects_narrow_widths():
    with pytest.raises(ValueError, match="min"):
        arora.procedure_1(np.ones((2, 3)), [3, 1, 2])
    with pytest.raises(ValueError, match="start with d_0"):
        arora.procedure_1(np.ones((2, 3)), [4, 2, 2])


def test_gaussian_and_balanced_gaussian_starts():
    ws = arora.gaussian_starts([50, 40, 1], 0.3, 20, seed=1)
    assert [w.shape for w in ws] == [(20, 40, 50), (20, 1, 40)]
    assert abs(ws[0].std() - 0.3) < 0.01
    bal = arora.balanced_gaussian_starts([30, 8, 8, 1], 0.2, 200, seed=2)
    assert np.max(arora.balancedness_stack(bal)[0]) < 1e-12
    A = arora.end_to_end_stack(bal)
    assert abs(A.std() - 0.2) < 0.01 and abs(A.mean()) < 0.01


def test_perturb_to_balancedness_and_margin_start():
    Phi = np.array([[1.0, 0.2, 0.0], [0.0, 0.7, 0.1]])
    net = arora.margin_start(Phi, [3, 2, 4, 2], 0.3, seed=3)
    smin = np.linalg.svd(Phi, compute_uv=False)[-1]
    assert np.isclose(deficiency_margin(end_to_end(net), Phi), 0.7 * smin)
    pert = arora.perturb_to_balancedness(net, 1e-3, seed=4)
    assert abs(delta_balancedness(pert) - 1e-3) <= 1e-6
    with pytest.raises(ValueError, match="already"):
        arora.perturb_to_balancedness(pert, 1e-4, seed=4)


# --- Claims 2 and 3 ------------------------------------------------------------


def test_claim_2_bound_and_estimate():
    widths = [16, 8, 8, 1]
    assert arora.claim_2_bound(widths, 1e-3, 1e-2) == pytest.approx(1 - 10 * 3 * 1e-12 * 16**3 / 1e-4)
    assert arora.claim_2_bound(widths, 1.0, 1e-2) == 0.0
    tiny = arora.balancedness_probability(widths, 1e-4, 1e-2, 300, seed=1)
    big = arora.balancedness_probability(widths, 1.0, 1e-2, 300, seed=1)
    assert tiny.probability == 1.0 and big.probability == 0.0
    assert tiny.bound == arora.claim_2_bound(widths, 1e-4, 1e-2) and tiny.samples == 300
    mid = arora.balancedness_probability(widths, 0.02, 1e-2, 2000, seed=2)
    assert mid.probability >= mid.bound and 0 < mid.stderr < 0.02


def test_margin_probability_ceiling_and_limits():
    Phi = np.zeros((1, 64))
    Phi[0, 0] = 1.0
    tiny = arora.margin_probability(Phi, 1e-6, 40_000, seed=3)
    assert abs(tiny.probability - 0.5) < 4 * tiny.stderr + 1e-3
    assert arora.margin_probability(Phi, 1.0, 2000, seed=3).probability == 0.0
    # exact for this Phi: margin > 0 iff s ||g||^2 < 2 g_1 (scalar output)
    rng = np.random.default_rng(3)
    g = rng.standard_normal((5000, 1, 64))
    expected = np.mean(0.01 * np.sum(g**2, axis=(1, 2)) < 2 * g[:, 0, 0])
    assert arora.margin_probability(Phi, 0.01, 5000, seed=3).probability == pytest.approx(expected)


# --- gradient flow, time to accuracy -----------------------------------------------


def test_polar_time_to_accuracy():
    X, Y = whitened_data(50, 5, 1, seed=0)
    tg = Target.from_data(X, Y)
    t = arora.polar_time_to_accuracy(np.array([1.0, 10.0, 0.5]), np.array([0.0, np.pi / 6, 1.0]), tg.s_Z, 50, 3, 1e-4, 200.0)
    assert t[0] == 0.0 and 0 < t[1] < 200 and 0 < t[2] < 200
    # consistent with the trajectory it reads
    grid = np.concatenate([[0.0], np.geomspace(200.0 * 1e-6, 200.0, 400)])
    flow = scalar_polar_flow(10.0 * tg.s_Z, np.pi / 6, tg.s_Z, 50, 3, grid)
    err = (flow.r**2 - 2 * flow.r * tg.s_Z * np.cos(flow.theta) + tg.s_Z**2) / tg.s_Z**2
    k = np.searchsorted(grid, t[1])
    assert err[k] <= 1e-4 < err[k - 1]
    assert np.isinf(arora.polar_time_to_accuracy(np.array([10.0]), np.array([3.0]), tg.s_Z, 50, 3, 1e-8, 1e-3))[0]
    with pytest.raises(ValueError, match="ratio"):
        arora.polar_time_to_accuracy(np.array([0.0]), np.array([0.0]), tg.s_Z, 50, 3, 1e-4, 1.0)


# --- additions for issue 19 -------------------------------------------------


@pytest.mark.parametrize("d0", [1, 2, 8, 128])
@pytest.mark.parametrize("k", [0.02, 0.5, 2.0])
def test_margin_probability_exact_matches_monte_carlo(d0, k):
    # re-derivation by sampling: A = std g, margin iff ||A - Phi|| < ||Phi|| (Definition 2, scalar output)
    std = k / d0
    Phi = np.zeros((1, d0))
    Phi[0, -1] = 2.0  # ||Phi|| = 2: the probability depends on ||Phi|| / std only
    exact = arora.margin_probability_exact(2 * std, d0, phi_norm=2.0)
    assert exact == pytest.approx(arora.margin_probability_exact(std, d0), abs=1e-9)
    mc = arora.margin_probability(Phi, 2 * std, 60_000, 7)
    assert abs(mc.probability - exact) <= 4.5 * max(mc.stderr, 1 / 60_000)
    assert 0.0 <= exact <= 0.5


def test_margin_probability_exact_limits():
    from scipy.stats import norm

    assert arora.margin_probability_exact(1.0, 1) == pytest.approx(norm.cdf(2.0) - 0.5, abs=1e-14)
    assert arora.margin_probability_exact(1e-6, 50) == pytest.approx(0.5, abs=1e-4)  # tiny starts: 1/2
    assert arora.margin_probability_exact(10.0, 50) < 1e-12  # large starts: none
    with pytest.raises(ValueError, match="d0"):
        arora.margin_probability_exact(0.1, 0)


@pytest.mark.parametrize("widths", [[3, 4, 1], [5, 2, 6, 1], [8, 8, 8, 8, 1]])
def test_expected_imbalance_sq_matches_monte_carlo(widths):
    std = 0.7
    ws = arora.gaussian_starts(widths, std, 40_000, 11)
    sq = sum(
        np.square(np.swapaxes(ws[j + 1], 1, 2) @ ws[j + 1] - ws[j] @ np.swapaxes(ws[j], 1, 2)).sum(axis=(1, 2))
        for j in range(len(ws) - 1)
    )
    exact = arora.expected_imbalance_sq(widths, std)
    assert abs(sq.mean() - exact) <= 4.5 * sq.std() / np.sqrt(sq.size)
    # the corollary of chapter 05: each pair contributes at most 6 std^4 d_max^3, so the Markov form
    # of Claim 2 holds with 6 (N - 1) < 10 N for every widths
    assert exact <= 6 * (len(widths) - 2) * std**4 * max(widths) ** 3


def test_expected_imbalance_sq_per_pair_bound_over_random_widths():
    rng = np.random.default_rng(5)
    for _ in range(500):
        widths = list(rng.integers(1, 60, size=rng.integers(3, 9)))
        N = len(widths) - 1
        assert arora.expected_imbalance_sq(widths, 1.0) <= 6 * (N - 1) * max(widths) ** 3


def test_claim_1_margin_bounds_sigma_min_and_persists():
    # Claim 1 as chapter 05 states it (proved there by Weyl): margin c > 0 gives sigma_min(W) >= c,
    # and any W' no farther from Phi has margin >= c; here a test of deficiency_margin against it
    rng = np.random.default_rng(8)
    for dy, dx in [(1, 4), (2, 3), (3, 3)]:
        Phi = rng.standard_normal((dy, dx)) + 3 * np.eye(dy, dx)
        smin = np.linalg.svd(Phi, compute_uv=False)[-1]
        D = rng.standard_normal((400, dy, dx))
        D *= (smin * rng.uniform(0.0, 1.0, 400) / np.linalg.norm(D, axis=(1, 2)))[:, None, None]
        c = deficiency_margin(Phi + D, Phi)
        assert np.all(c > 0)
        sig = np.linalg.svd(Phi + D, compute_uv=False)[:, -1]
        assert np.all(sig >= c - 1e-12)
        closer = Phi + D * rng.uniform(0.0, 1.0, 400)[:, None, None]
        assert np.all(deficiency_margin(closer, Phi) >= c - 1e-12)


def test_track_sigma_min_over_all_iterates():
    rng = np.random.default_rng(3)
    Phi = np.array([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2]])
    ws = [0.5 * rng.standard_normal((4, 3)), 0.5 * rng.standard_normal((2, 4))]
    run = arora.batched_descent(ws, Phi, 0.05, 0.0, 60, track_sigma_min=True, reduce_inputs=False)
    # re-derive by plain iteration
    Ws, smins = [w.copy() for w in ws], []
    for _ in range(61):
        W = Ws[1] @ Ws[0]
        smins.append(np.linalg.svd(W, compute_uv=False)[-1])
        G = W - Phi
        g1, g2 = Ws[1].T @ G, G @ Ws[0].T
        Ws = [Ws[0] - 0.05 * g1, Ws[1] - 0.05 * g2]
    assert run.min_sigma_min[0] == pytest.approx(min(smins), rel=1e-9)


def test_deficiency_margin_stack_and_step_bounds():
    from linnet.theory import arora_step_bounds, deficiency_margin

    Phi = np.array([[3.0, 0.0], [0.0, 1.0]])
    Ws = np.stack([Phi, Phi + 0.5, 2 * Phi])
    got = deficiency_margin(Ws, Phi)
    assert np.allclose(got, [deficiency_margin(W, Phi) for W in Ws]) and got[0] == pytest.approx(1.0)
    d, e = arora_step_bounds(np.array([0.5, 1.0]), 3, 2.0)
    assert d[1] == pytest.approx(1 / (256 * 27 * 2 ** (4 / 3)))
    assert e[0] == pytest.approx(0.5 ** (10 / 3) / (6144 * 27 * 2 ** (14 / 3)))
    with pytest.raises(ValueError, match="margin"):
        arora_step_bounds(0.0, 2, 1.0)


def test_imbalance_sq_stack():
    ws = arora.gaussian_starts([3, 4, 2, 1], 0.5, 5, 2)
    for b in range(5):
        net = [w[b] for w in ws]
        expect = sum(np.linalg.norm(net[j + 1].T @ net[j + 1] - net[j] @ net[j].T) ** 2 for j in range(2))
        assert arora.imbalance_sq_stack(ws)[b] == pytest.approx(expect, rel=1e-12)
