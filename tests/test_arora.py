"""linnet.chapters.arora: batched gradient descent, Procedure 1, the Monte Carlo estimates of Claims 2-3."""

from __future__ import annotations

import numpy as np
import pytest

from linnet.chapters import arora
from linnet.data import whitened_data
from linnet.flows import gradient_descent
from linnet.init import balanced_init
from linnet.network import (
    as_weight_stack,
    end_to_end,
    end_to_end_stack,
    gradients,
    layer_gradients_stack,
)
from linnet.network import balancedness_stack as delta_balancedness_stack
from linnet.theory import (
    arora_claim_2_bound,
    arora_theorem_1,
    deficiency_margin,
    delta_balancedness,
)


def _net(rng, widths, scale=0.5):
    return [
        scale * rng.standard_normal((widths[j + 1], widths[j]))
        for j in range(len(widths) - 1)
    ]


def _stack(nets):
    return [np.stack([n[j] for n in nets]) for j in range(len(nets[0]))]


# --- gradients -------------------------------------------------------------


@pytest.mark.parametrize(
    "widths", [[4, 3], [4, 5, 3], [6, 2, 3, 1], [3, 4, 4, 4, 2], [8, 3, 3, 1]]
)
def test_gradient_through_phi_is_the_gradient_of_4_over_m(widths):
    """Whitened data: the chain rule applied to G = W - Phi (the descent's step) is the gradient of (4) over m."""
    m = 40
    X, Y = whitened_data(m, widths[0], widths[-1], seed=3)
    Phi = Y @ X.T / m
    rng = np.random.default_rng(0)
    nets = [_net(rng, widths) for _ in range(3)]
    ws = as_weight_stack(_stack(nets))
    got = layer_gradients_stack(ws, end_to_end_stack(ws) - Phi)
    for b, net in enumerate(nets):
        for g_ref, g in zip(gradients(net, X, Y), got, strict=True):
            assert np.allclose(
                g[b], g_ref / m, rtol=1e-12, atol=1e-13 * np.abs(g_ref / m).max()
            )


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
        assert np.allclose(
            res.weights[j][0], ref.weights[j][-1], rtol=1e-11, atol=1e-13
        )
    assert np.isclose(
        res.final_loss[0],
        ref.loss_curve[-1] / m - (0.5 * np.sum(Y**2) / m - 0.5 * np.sum(Phi**2)),
    )


def test_reduced_inputs_give_the_same_iterates():
    rng = np.random.default_rng(3)
    Phi = rng.standard_normal((1, 40))
    Phi /= np.linalg.norm(Phi)
    starts = arora.gaussian_starts([40, 6, 6, 1], 0.2, 5, seed=1)
    a = arora.batched_descent(starts, Phi, 0.2, 1e-6, 5000, loss_every=7)
    b = arora.batched_descent(
        starts, Phi, 0.2, 1e-6, 5000, loss_every=7, reduce_inputs=False
    )
    assert np.all(a.converged) and np.array_equal(a.iterations, b.iterations)
    assert (
        np.nanmax(
            np.abs(a.records.loss.values - b.records.loss.values)
            / b.records.loss.values
        )
        < 1e-9
    )
    for wa, wb in zip(a.weights, b.weights, strict=True):
        assert np.allclose(wa, wb, atol=1e-10)


def test_statuses_and_first_hitting_iteration():
    Phi = np.array([[1.0, 0.5, -0.2]])
    net = balanced_init(Phi * 0.6, [3, 2, 1], seed=0)
    res = arora.batched_descent(
        _stack([net] * 4), Phi, [0.1, 0.1, 50.0, 1e-6], [1e-8, 0.0, 1e-8, 1e-8], 3000
    )
    assert list(res.status) == ["converged", "capped", "diverged", "capped"]
    # the iteration reported is the first one at or below loss_tol
    curve = arora.batched_descent(
        net, Phi, 0.1, 0.0, res.iterations[0], loss_every=1
    ).records.loss.values[0]
    assert curve[-1] <= 1e-8 < curve[-2]
    assert res.iterations[1] == -1 and res.stop_iteration[1] == 3000
    assert res.final_loss[2] > 1e6 * 0.5 * np.sum(Phi**2) or not np.isfinite(
        res.final_loss[2]
    )
    assert res.steps_taken < 4 * 3000


def test_groups_prune_slower_runs():
    Phi = np.array([[1.0, 0.5, -0.2]])
    net = balanced_init(Phi * 0.6, [3, 2, 1], seed=0)
    lrs = [0.01, 0.1, 0.3]
    alone = arora.batched_descent(_stack([net] * 3), Phi, lrs, 1e-8, 10_000)
    grouped = arora.batched_descent(
        _stack([net] * 3), Phi, lrs, 1e-8, 10_000, group=np.zeros(3, dtype=int)
    )
    best = int(np.argmin(alone.iterations))
    assert (
        grouped.status[best] == "converged"
        and grouped.iterations[best] == alone.iterations.min()
    )
    assert all(
        s == "pruned"
        for k, s in enumerate(grouped.status)
        if k != best and alone.iterations[k] > alone.iterations[best]
    )
    assert grouped.steps_taken < alone.steps_taken
    fast = arora.fastest_over_learning_rates(net, Phi, lrs, 1e-8, 10_000)
    assert fast.iterations[0] == alone.iterations.min() and fast.best_lr[0] == lrs[best]
    assert fast.outcome[0] == "converged"


def test_fastest_reports_capped_and_diverged_starts():
    Phi = np.array([[1.0, 0.0]])
    tiny = [np.full((2, 2), 1e-6), np.full((1, 2), 1e-6)]
    huge = [np.full((2, 2), 30.0), np.full((1, 2), 30.0)]
    res = arora.fastest_over_learning_rates(
        _stack([tiny, huge]), Phi, [0.1, 1.0], 1e-5, 50
    )
    assert list(res.outcome) == ["capped", "diverged"]
    assert list(res.iterations) == [-1, -1] and np.all(np.isnan(res.best_lr))


def test_lemma_1_ratio_on_an_admissible_run():
    Phi = np.array([[0.8, 0.3, 0.1]])
    net = arora.margin_start(Phi, [3, 2, 1], 0.1, seed=1)
    th = arora_theorem_1(
        net, Phi, 0.5 * np.linalg.norm(end_to_end(net) - Phi) ** 2 / np.e
    )
    assert th.applies
    res = arora.batched_descent(
        net, Phi, th.eta, th.loss_tol, th.iterations, lemma1_every=101
    )
    assert res.converged[0] and res.iterations[0] <= th.iterations
    assert res.records.lemma1.checks[0] > 10 and res.records.lemma1.ratio[0] >= 1.0
    none = arora.batched_descent(net, Phi, th.eta, th.loss_tol, 3)
    assert none.records == arora.DescentRecords()


def test_record_balance_matches_delta_balancedness():
    rng = np.random.default_rng(5)
    Phi = rng.standard_normal((1, 12))
    starts = arora.gaussian_starts([12, 4, 3, 1], 0.1, 2, seed=2)
    res = arora.batched_descent(
        starts, Phi, 0.05, 1e-6, 400, loss_every=50, balance_every=50
    )
    for b in range(2):
        assert np.isclose(
            res.records.balance.delta[b, 0], delta_balancedness([w[b] for w in starts])
        )
        assert np.isclose(
            res.records.balance.min_gram[b, 0],
            min(np.linalg.norm(w[b] @ w[b].T) for w in starts),
        )
        assert np.isclose(
            res.records.loss.values[b, 0],
            0.5 * np.linalg.norm(end_to_end([w[b] for w in starts]) - Phi) ** 2,
        )
    assert (
        list(res.records.loss.steps)
        == list(res.records.balance.steps)
        == list(range(0, 401, 50))
    )


def test_pad_networks_padding_is_exact():
    rng = np.random.default_rng(6)
    nets, Phis = [], []
    for widths in ([3, 2, 2, 1], [5, 1, 4, 1], [4, 3, 2, 1]):
        P = rng.standard_normal((1, widths[0]))
        nets.append(arora.margin_start(P, widths, 0.3, rng.integers(100)))
        Phis.append(P)
    stack, Phi = arora.pad_networks(nets, Phis)
    assert [w.shape for w in stack] == [
        (3, 3, 5),
        (3, 4, 3),
        (3, 1, 4),
    ] and Phi.shape == (3, 1, 5)
    padded = arora.batched_descent(stack, Phi, 0.05, 1e-9, 20_000)
    for b, (net, P) in enumerate(zip(nets, Phis, strict=True)):
        alone = arora.batched_descent(net, P, 0.05, 1e-9, 20_000)
        assert padded.iterations[b] == alone.iterations[0] > 0
        for j, w in enumerate(alone.weights):
            r, c = w.shape[1:]
            assert np.allclose(padded.weights[j][b, :r, :c], w[0], atol=1e-12)
            assert not np.any(padded.weights[j][b][r:, :]) and not np.any(
                padded.weights[j][b][:, c:]
            )
    with pytest.raises(ValueError, match="depth"):
        arora.pad_networks([nets[0], nets[0][:2]], Phis[:2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=0.0), "lr must be finite and > 0"),
        (dict(lr=[0.1, 0.2]), r"lr must be a number or an array of shape \(1,\)"),
        (dict(loss_tol=-1.0), "loss_tol must be finite and >= 0"),
        (dict(max_iter=0), "max_iter"),
        (dict(group=[0.5]), "group must be an integer array"),
        (dict(divergence_factor=1.0), "divergence_factor"),
        (dict(Phi=np.ones((2, 3))), "Phi must have matrices of shape"),
        (dict(Phi=np.ones((2, 1, 3))), "Phi must be one matrix"),
        (dict(loss_every=0), "loss_every"),
        (dict(balance_every=1.5), "balance_every"),
        (dict(lemma1_every=-2), "lemma1_every"),
    ],
)
def test_descent_validates_its_inputs(kwargs, match):
    args = dict(
        weights0=[np.ones((2, 3)), np.ones((1, 2))],
        Phi=np.ones((1, 3)),
        lr=0.1,
        loss_tol=1e-3,
        max_iter=10,
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        arora.batched_descent(**args)


def test_descent_names_weights0_in_its_errors():
    with pytest.raises(ValueError, match=r"weights0\[1\] must have 2 columns"):
        arora.batched_descent(
            [np.ones((2, 3)), np.ones((1, 4))], np.ones((1, 3)), 0.1, 1e-3, 10
        )
    with pytest.raises(ValueError, match=r"weights0\[0\] must be finite"):
        arora.batched_descent([np.full((2, 3), np.nan)], np.ones((2, 3)), 0.1, 1e-3, 10)


# --- initialisations ---------------------------------------------------------


@pytest.mark.parametrize(
    "shape, widths",
    [((3, 5), [5, 4, 6, 3, 3]), ((1, 4), [4, 1, 2, 1]), ((4, 2), [2, 2, 4])],
)
def test_procedure_1_product_padding_and_balance(shape, widths):
    A = np.random.default_rng(7).standard_normal(shape)
    ws = arora.procedure_1(A, widths)
    assert [w.shape for w in ws] == [
        (widths[j + 1], widths[j]) for j in range(len(widths) - 1)
    ]
    assert np.allclose(end_to_end(ws), A, atol=1e-13)
    assert delta_balancedness(ws) < 1e-13
    r = min(shape)
    for w in ws[1:-1]:  # middle layers: Sigma^{1/N} then zeros
        assert np.allclose(
            np.diag(w)[:r],
            np.linalg.svd(A, compute_uv=False) ** (1 / (len(widths) - 1)),
        )
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
    assert np.max(delta_balancedness_stack(bal)) < 1e-12
    A = end_to_end_stack(bal)
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


def test_claim_2_estimate():
    widths = [16, 8, 8, 1]
    tiny = arora.balancedness_probability(widths, 1e-4, 1e-2, 300, seed=1)
    big = arora.balancedness_probability(widths, 1.0, 1e-2, 300, seed=1)
    assert tiny.probability == 1.0 and big.probability == 0.0
    assert tiny.bound == arora_claim_2_bound(widths, 1e-4, 1e-2) and tiny.samples == 300
    mid = arora.balancedness_probability(widths, 0.02, 1e-2, 2000, seed=2)
    assert mid.probability >= mid.bound and 0 < mid.stderr < 0.02


def test_balancedness_probability_counts_gaussian_starts_in_chunks():
    # re-derived with numpy: chunks of 256, 256, 188 starts drawn from one stream, layer
    # by layer, entries std * N(0, 1)
    widths, std, delta = [4, 3, 3, 1], 0.3, 0.2
    rng = np.random.default_rng(9)
    hits = 0
    for n in (256, 256, 188):
        ws = [
            std * rng.standard_normal((n, widths[j], widths[j - 1])) for j in (1, 2, 3)
        ]
        hits += int(np.sum(delta_balancedness_stack(ws) <= delta))
    expected = hits / 700
    est = arora.balancedness_probability(widths, std, delta, 700, 9, chunk=256)
    assert est.probability == expected and 0 < expected < 1
    with pytest.raises(ValueError, match="delta"):
        arora.balancedness_probability(widths, std, 0.0, 10, 9)


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
    assert arora.margin_probability(
        Phi, 0.01, 5000, seed=3
    ).probability == pytest.approx(expected)


# --- additions for issue 19 -------------------------------------------------
# (the tests of the closed forms moved with them: tests/test_theory_ch05.py)


def test_claim_1_margin_bounds_sigma_min_and_persists():
    # Claim 1 as chapter 05 states it (proved there by Weyl): margin c > 0 gives sigma_min(W) >= c,
    # and any W' no farther from Phi has margin >= c; here a test of deficiency_margin against it
    rng = np.random.default_rng(8)
    for dy, dx in [(1, 4), (2, 3), (3, 3)]:
        Phi = rng.standard_normal((dy, dx)) + 3 * np.eye(dy, dx)
        smin = np.linalg.svd(Phi, compute_uv=False)[-1]
        D = rng.standard_normal((400, dy, dx))
        D *= (smin * rng.uniform(0.0, 1.0, 400) / np.linalg.norm(D, axis=(1, 2)))[
            :, None, None
        ]
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
    run = arora.batched_descent(
        ws, Phi, 0.05, 0.0, 60, track_sigma_min=True, reduce_inputs=False
    )
    # re-derive by plain iteration
    Ws, smins = [w.copy() for w in ws], []
    for _ in range(61):
        W = Ws[1] @ Ws[0]
        smins.append(np.linalg.svd(W, compute_uv=False)[-1])
        G = W - Phi
        g1, g2 = Ws[1].T @ G, G @ Ws[0].T
        Ws = [Ws[0] - 0.05 * g1, Ws[1] - 0.05 * g2]
    assert run.records.min_sigma_min[0] == pytest.approx(min(smins), rel=1e-9)


def test_deficiency_margin_stack_and_step_bounds():
    from linnet.theory import arora_step_bounds, deficiency_margin

    Phi = np.array([[3.0, 0.0], [0.0, 1.0]])
    Ws = np.stack([Phi, Phi + 0.5, 2 * Phi])
    got = deficiency_margin(Ws, Phi)
    assert np.allclose(got, [deficiency_margin(W, Phi) for W in Ws]) and got[
        0
    ] == pytest.approx(1.0)
    d, e = arora_step_bounds(np.array([0.5, 1.0]), 3, 2.0)
    assert d[1] == pytest.approx(1 / (256 * 27 * 2 ** (4 / 3)))
    assert e[0] == pytest.approx(0.5 ** (10 / 3) / (6144 * 27 * 2 ** (14 / 3)))
    with pytest.raises(ValueError, match="margin"):
        arora_step_bounds(0.0, 2, 1.0)


def test_imbalance_sq_stack():
    ws = arora.gaussian_starts([3, 4, 2, 1], 0.5, 5, 2)
    for b in range(5):
        net = [w[b] for w in ws]
        expect = sum(
            np.linalg.norm(net[j + 1].T @ net[j + 1] - net[j] @ net[j].T) ** 2
            for j in range(2)
        )
        assert arora.imbalance_sq_stack(ws)[b] == pytest.approx(expect, rel=1e-12)


# --- batched_descent against a frozen reference ------------------------------------
#
# Issue 20 split batched_descent into parts (prepare_descent, one step, stop_reasons,
# the records). Before the split, the old implementation was run on the seeded cases
# below and a summary of every output was frozen here (integers and statuses exactly,
# floats to 17 digits). The split, still on the old kernel, reproduced every output
# bit for bit on the machine where the numbers were taken. Moving the step to the
# core's chain rule (network.end_to_end_stack, layer_gradients_stack) changes the
# order of the products, hence the round-off: the largest relative deviation from
# the reference is then 1.1e-12. The floats are compared to rtol 1e-9 (other BLAS
# kernels add round-off of order 1e-15 per step, contracted by converging runs);
# a step size changed by 1e-7 relative fails every case (checked once by hand).


def _reference_cases():
    """name -> (args, keyword arguments) of batched_descent; starts and targets from seeded numpy draws."""

    def stack(rng, widths, B, scale):
        return [
            scale * rng.standard_normal((B, widths[j + 1], widths[j]))
            for j in range(len(widths) - 1)
        ]

    def unit(rng, shape):
        P = rng.standard_normal(shape)
        return P / np.linalg.norm(P)

    out = {}
    rng = np.random.default_rng(
        2024
    )  # scalar output, reduced inputs (6 + 1 < 40), every record
    out["records"] = (
        (stack(rng, [40, 6, 6, 1], 5, 0.2), unit(rng, (1, 40)), 0.2, 1e-6, 5000),
        dict(loss_every=7, balance_every=7, lemma1_every=13, track_sigma_min=True),
    )
    rng = np.random.default_rng(
        2025
    )  # converged, capped (loss_tol = 0), diverged, capped (tiny step)
    w = stack(rng, [3, 2, 1], 1, 0.5)
    out["statuses"] = (
        (
            [np.repeat(x, 4, axis=0) for x in w],
            np.array([[1.0, 0.5, -0.2]]),
            [0.1, 0.1, 50.0, 1e-6],
            [1e-8, 0.0, 1e-8, 1e-8],
            3000,
        ),
        dict(),
    )
    rng = np.random.default_rng(
        2026
    )  # two outputs (matmul kernel), one Phi per run, groups of 4 rates
    S, L = 3, 4
    w = stack(rng, [5, 4, 3, 2], S, 0.5)
    P = np.stack([unit(rng, (2, 5)) * 2 for _ in range(S)])
    out["groups"] = (
        (
            [np.repeat(x, L, axis=0) for x in w],
            np.repeat(P, L, axis=0),
            np.tile([0.01, 0.05, 0.2, 3.0], S),
            1e-7,
            20_000,
        ),
        dict(
            group=np.repeat(np.arange(S), L),
            lemma1_every=7,
            track_sigma_min=True,
            loss_every=100,
        ),
    )
    rng = np.random.default_rng(
        2027
    )  # layers of >= 256 entries (einsum kernel), with and without reduction
    w = stack(rng, [64, 16, 16, 1], 6, 0.1)
    P = unit(rng, (1, 64))
    for reduce in (True, False):
        out[f"einsum-reduce-{reduce}"] = (
            (w, P, np.array([0.05, 0.1, 0.2, 0.4, 0.8, 1.6]), 1e-5, 4000),
            dict(
                loss_every=25,
                balance_every=25,
                reduce_inputs=reduce,
                group=np.array([0, 0, 0, 1, 1, 1]),
            ),
        )
    return out


def _summary(res):
    """The frozen summary of a DescentBatch: statuses and integers, and floats of the runs that did not diverge."""
    alive = res.status != "diverged"

    def layer(w):  # sum, norm and a patterned sum of each run's layer
        flat = w[alive].reshape(int(alive.sum()), -1)
        return np.stack(
            [
                flat.sum(axis=1),
                np.linalg.norm(flat, axis=1),
                flat @ np.cos(np.arange(flat.shape[1])),
            ],
            axis=1,
        ).ravel()

    out = dict(
        status=" ".join(res.status),
        iterations=list(res.iterations),
        stop_iteration=list(res.stop_iteration),
        steps_taken=res.steps_taken,
        initial_loss=res.initial_loss,
        final_loss=res.final_loss[alive],
        weights=[layer(w) for w in res.weights],
    )
    rec = res.records
    traces = {}
    if rec.loss is not None:
        traces["loss"] = rec.loss.values
    if rec.balance is not None:
        traces["delta"], traces["min_gram"] = rec.balance.delta, rec.balance.min_gram
    for key, a in traces.items():
        a = a[alive]
        out[key], out[key + "_count"] = (
            a[np.isfinite(a)],
            list(np.isfinite(a).sum(axis=1)),
        )
    if rec.lemma1 is not None:
        out["lemma1_ratio"], out["lemma1_checks"] = (
            rec.lemma1.ratio,
            list(rec.lemma1.checks),
        )
    if rec.min_sigma_min is not None:
        out["min_sigma_min"] = rec.min_sigma_min[alive]
    return out


# frozen from the implementation before the split (main at ea668dc)
_FROZEN_REFERENCE = {
    "einsum-reduce-False": {
        "delta": [
            2.662773739621558,
            2.662848159972465,
            2.3174470447001574,
            2.317824513127994,
            2.2902320743610507,
            2.29683571949976,
            2.469097892576131,
            2.493016867463751,
            2.3768274542679704,
            2.32286134063066,
        ],
        "delta_count": [2, 2, 2, 2, 2],
        "final_loss": [
            0.19101210007178746,
            0.06473593998897684,
            8.05410539328301e-06,
            5.293110707885375e-06,
            0.083182928961963,
        ],
        "initial_loss": [
            0.4669511949084482,
            0.5020801979172407,
            0.5193805851994343,
            0.5038303998230123,
            0.5143365712685088,
            0.528350483722607,
        ],
        "iterations": [-1, -1, 44, 25, -1, -1],
        "loss": [
            0.4669511949084482,
            0.356562938660945,
            0.5020801979172407,
            0.36628321429044725,
            0.5193805851994343,
            0.0037156339676011414,
            0.5038303998230123,
            5.293110707885375e-06,
            0.5143365712685088,
            0.083182928961963,
        ],
        "loss_count": [2, 2, 2, 2, 2],
        "min_gram": [
            0.16438310090813643,
            0.30463740168715514,
            0.10012674295776886,
            0.2754658873169735,
            0.25279136039099415,
            0.8561068880704106,
            0.16318378719619067,
            0.7769676850668799,
            0.1842540478026657,
            0.6199436688958518,
        ],
        "min_gram_count": [2, 2, 2, 2, 2],
        "status": "pruned pruned converged converged pruned diverged",
        "steps_taken": 198,
        "stop_iteration": [44, 44, 44, 25, 25, 16],
        "weights": [
            [
                1.6089294532776,
                3.4267785890887357,
                0.7118136764101259,
                -3.529952943369964,
                3.190080352936101,
                -0.4070094613581927,
                1.692648643694187,
                3.246810282843287,
                -2.0416765909399217,
                4.207406698746766,
                3.3638485532432596,
                0.9936193144853669,
                1.5494735577885743,
                3.2110439187271425,
                1.8909794408626555,
            ],
            [
                0.4030098943799707,
                1.7338858684700686,
                0.7136659908537051,
                2.5358790064756795,
                1.7181259412198528,
                1.4071889493792542,
                -0.49414687814558955,
                1.7909007668462198,
                0.012359629266905814,
                2.3772573952207177,
                1.7242554836791812,
                -2.1344577198314574,
                -1.0292993089731577,
                1.7152887753496067,
                1.008947794883765,
            ],
            [
                -0.16336903899469377,
                0.7304967219875591,
                0.4221428941562315,
                0.9595001208891425,
                0.8495719184966842,
                -0.15290382965979923,
                -0.053308030270550505,
                0.9287929104853151,
                -0.7599999131743402,
                -0.24560845252593672,
                0.881457704638674,
                -0.5646776334074792,
                0.7640681085217802,
                0.7873650163017479,
                -0.8837772001369864,
            ],
        ],
    },
    "einsum-reduce-True": {
        "delta": [
            2.6627737396215574,
            2.6628481599724645,
            2.3174470447001574,
            2.317824513127994,
            2.2902320743610503,
            2.2968357194997595,
            2.469097892576132,
            2.493016867463752,
            2.3768274542679695,
            2.322861340630659,
        ],
        "delta_count": [2, 2, 2, 2, 2],
        "final_loss": [
            0.19101210007178737,
            0.06473593998897677,
            8.05410539328292e-06,
            5.293110707885438e-06,
            0.08318292896196275,
        ],
        "initial_loss": [
            0.4669511949084482,
            0.5020801979172408,
            0.5193805851994345,
            0.5038303998230125,
            0.5143365712685088,
            0.5283504837226065,
        ],
        "iterations": [-1, -1, 44, 25, -1, -1],
        "loss": [
            0.4669511949084482,
            0.35656293866094496,
            0.5020801979172408,
            0.3662832142904472,
            0.5193805851994345,
            0.003715633967601142,
            0.5038303998230125,
            5.293110707885438e-06,
            0.5143365712685088,
            0.08318292896196275,
        ],
        "loss_count": [2, 2, 2, 2, 2],
        "min_gram": [
            0.16438310090813643,
            0.30463740168715514,
            0.10012674295776886,
            0.2754658873169735,
            0.25279136039099415,
            0.8561068880704108,
            0.16318378719619067,
            0.7769676850668801,
            0.1842540478026657,
            0.6199436688958524,
        ],
        "min_gram_count": [2, 2, 2, 2, 2],
        "status": "pruned pruned converged converged pruned diverged",
        "steps_taken": 198,
        "stop_iteration": [44, 44, 44, 25, 25, 16],
        "weights": [
            [
                1.6089294532775966,
                3.4267785890887357,
                0.7118136764101222,
                -3.5299529433699663,
                3.190080352936101,
                -0.4070094613581936,
                1.6926486436941846,
                3.2468102828432865,
                -2.041676590939922,
                4.207406698746768,
                3.3638485532432605,
                0.9936193144853663,
                1.5494735577885752,
                3.2110439187271425,
                1.8909794408626555,
            ],
            [
                0.4030098943799698,
                1.7338858684700686,
                0.7136659908537049,
                2.53587900647568,
                1.7181259412198528,
                1.4071889493792544,
                -0.4941468781455899,
                1.7909007668462196,
                0.01235962926690537,
                2.377257395220718,
                1.7242554836791812,
                -2.134457719831457,
                -1.029299308973159,
                1.7152887753496069,
                1.0089477948837655,
            ],
            [
                -0.1633690389946939,
                0.7304967219875591,
                0.4221428941562314,
                0.9595001208891427,
                0.8495719184966842,
                -0.1529038296597991,
                -0.05330803027055009,
                0.9287929104853152,
                -0.75999991317434,
                -0.24560845252593655,
                0.8814577046386741,
                -0.5646776334074792,
                0.7640681085217811,
                0.7873650163017484,
                -0.8837772001369865,
            ],
        ],
    },
    "groups": {
        "final_loss": [
            0.3141198395684891,
            0.016128711606747097,
            8.61245784591863e-08,
            1.3037124984125397,
            0.051324240007293735,
            9.14088987280571e-08,
            1.6389102835841436,
            0.19223232810985846,
            8.869020746330511e-08,
        ],
        "initial_loss": [
            1.916885309728734,
            1.916885309728734,
            1.916885309728734,
            1.916885309728734,
            2.223325977376963,
            2.223325977376963,
            2.223325977376963,
            2.223325977376963,
            4.909470810910527,
            4.909470810910527,
            4.909470810910527,
            4.909470810910527,
        ],
        "iterations": [-1, -1, 43, -1, -1, -1, 65, -1, -1, -1, 36, -1],
        "lemma1_checks": [7, 7, 7, 1, 10, 10, 10, 1, 6, 6, 6, 1],
        "lemma1_ratio": [
            34.87900098647329,
            2.5043598073534583,
            2.219060391112417,
            -875.0921875815413,
            18.79840997529075,
            1.2179435574749715,
            1.0258039018627165,
            -209.61962283592476,
            12.132225782658967,
            2.0381964519478575,
            1.6547713372239732,
            -115292.96636439938,
        ],
        "loss": [
            1.916885309728734,
            1.916885309728734,
            1.916885309728734,
            2.223325977376963,
            2.223325977376963,
            2.223325977376963,
            4.909470810910527,
            4.909470810910527,
            4.909470810910527,
        ],
        "loss_count": [1, 1, 1, 1, 1, 1, 1, 1, 1],
        "min_sigma_min": [
            0.09178131786781102,
            0.09012374705624451,
            0.09953363555670325,
            0.014582914303112843,
            0.015084641157138048,
            0.015091737254131758,
            0.11373998964205576,
            0.1088300718962965,
            0.05223691788340904,
        ],
        "status": "pruned pruned converged diverged pruned pruned converged diverged pruned pruned converged "
        "diverged",
        "steps_taken": 438,
        "stop_iteration": [43, 43, 43, 2, 65, 65, 65, 2, 36, 36, 36, 2],
        "weights": [
            [
                -0.045432187707060145,
                1.7308787544654947,
                -1.5666812946559328,
                0.6965182294328993,
                1.8543362845112503,
                -1.6058150032051293,
                1.2253447402303614,
                1.8662899032462725,
                -1.5842019095554747,
                2.952447294466272,
                2.0164523595624573,
                2.272909914801982,
                4.120427430655213,
                2.2619557985464462,
                2.2900956322754027,
                4.177623993311459,
                2.289348926720454,
                1.8337843765732136,
                5.425772121017599,
                2.7476526692294403,
                -1.475064924434303,
                6.352567653351539,
                2.8927150869244693,
                -0.8125762226574437,
                4.53229216572316,
                2.7129676141496404,
                0.9073593739793606,
            ],
            [
                -3.75475122200789,
                1.8896051146940016,
                1.0412482392807603,
                -3.658553224226933,
                1.9991869351751395,
                0.9345412297502927,
                -3.5727753821402146,
                1.9915367134378623,
                0.9534953180575134,
                2.7399952941080716,
                1.7355068750007763,
                1.0496830693268362,
                2.7794886278261703,
                2.0074732716487302,
                1.860202413528353,
                2.912076020198592,
                2.002349367903201,
                1.8770830780434646,
                -0.9300902185636138,
                1.852889339727635,
                0.8104057186384802,
                -0.0253188606262309,
                2.066900030583697,
                0.5883767081464484,
                0.8075157389752335,
                2.058912730470958,
                0.646351349658931,
            ],
            [
                -2.5508357220676476,
                1.3814905709783745,
                1.1123202988191938,
                -2.7018419850899233,
                1.527121648297002,
                1.1104831817563257,
                -2.641061413309921,
                1.5145245430698064,
                1.0760370313920602,
                1.13766349722721,
                0.90057316858886,
                0.3365812258848186,
                1.0480504697890791,
                1.3588769242864676,
                0.6188961350879413,
                1.0932716784420546,
                1.3744581043437945,
                0.610164455268075,
                -0.544481126861447,
                1.1155916041703569,
                1.4928519084657295,
                -0.44854775613582515,
                1.4321924167501037,
                1.7278682756472028,
                2.199230324377911,
                1.3416093187152176,
                1.2778558941217286,
            ],
        ],
    },
    "records": {
        "delta": [
            3.619317067689226,
            3.6203990760070477,
            3.624219225131666,
            3.630130751978961,
            3.633146322749999,
            3.6337279650055554,
            3.633816006052391,
            3.633828850362902,
            3.633830714250884,
            3.633830984519157,
            3.8435248485197313,
            3.8439814209073635,
            3.8510265769464884,
            3.8545437284819366,
            3.85534050509834,
            3.855481479665901,
            3.855505287504828,
            3.8555092774304227,
            3.8555099452573485,
            3.8017994395498107,
            3.8031098786915387,
            3.810515597946435,
            3.8195894159734425,
            3.824983172680067,
            3.827123704418816,
            3.8278403288688625,
            3.8280665223173966,
            3.8281365944503745,
            3.828158177191182,
            3.828164813131766,
            3.8281668523554266,
            3.8281674789057596,
            3.8281676714033517,
            3.929808268651626,
            3.9268706850842308,
            3.9314052885855246,
            3.9387410445606332,
            3.942795054012959,
            3.943894511570269,
            3.9441266059320643,
            3.944172872204693,
            3.944181989822665,
            3.9441837825895396,
            3.944184134941005,
            3.8371976999548782,
            3.8338333924199475,
            3.8354170266698926,
            3.842535081340482,
            3.848414464989,
            3.850389422601488,
            3.8508642447721955,
            3.850969205855164,
            3.850991995720001,
            3.8509969262124444,
            3.850997992156431,
            3.8509982225768975,
        ],
        "delta_count": [10, 9, 14, 11, 12],
        "final_loss": [
            7.90029515723539e-07,
            8.276106270658306e-07,
            8.731484379681955e-07,
            8.329780233246509e-07,
            8.101143804122502e-07,
        ],
        "initial_loss": [
            0.6588097904557069,
            0.536527533436573,
            0.515950466993652,
            0.5676380458883465,
            0.5646608374316715,
        ],
        "iterations": [64, 61, 92, 73, 78],
        "lemma1_checks": [5, 5, 8, 6, 6],
        "lemma1_ratio": [
            1.2054868483620644,
            1.1269511533576133,
            0.7464227647676484,
            0.9775525157686145,
            0.9826955369203494,
        ],
        "loss": [
            0.6588097904557069,
            0.43593938385135456,
            0.29589547464448307,
            0.09210633487241293,
            0.015756180577545013,
            0.002345464404370217,
            0.000341365928044545,
            4.9519684974209383e-05,
            7.180105341715482e-06,
            1.0410094833162358e-06,
            0.536527533436573,
            0.29121156684130817,
            0.10615219002249043,
            0.02177232329312423,
            0.003763822972493209,
            0.0006328195732188375,
            0.00010596677355448445,
            1.7733928435470094e-05,
            2.9675827785976882e-06,
            0.515950466993652,
            0.3703637339657878,
            0.2331943930370208,
            0.10734829315428907,
            0.03901425012477952,
            0.01269197509713681,
            0.003969545149758301,
            0.0012261560505538015,
            0.0003773191140137845,
            0.00011597897384999975,
            3.56370911165935e-05,
            1.0949165598807361e-05,
            3.363926623243843e-06,
            1.0334940936099406e-06,
            0.5676380458883465,
            0.4199532143394968,
            0.2852328505124524,
            0.11257203548212671,
            0.02739966059991852,
            0.005641789811087069,
            0.0011190833008174212,
            0.0002203199428588757,
            4.3312340788112825e-05,
            8.512302806628705e-06,
            1.6728570097679937e-06,
            0.5646608374316715,
            0.4442034339474088,
            0.3197307465844261,
            0.1456068635526049,
            0.04172617382397372,
            0.009702346784488676,
            0.0021295440832290913,
            0.00046160730984008675,
            9.982433010351055e-05,
            2.157903213049314e-05,
            4.66450779536428e-06,
            1.0082743563243915e-06,
        ],
        "loss_count": [10, 9, 14, 11, 12],
        "min_gram": [
            0.40614427558875604,
            0.26869170639476875,
            0.43573379851010985,
            0.700507791635686,
            0.7942081821369549,
            0.80889845196806,
            0.8110382164253409,
            0.8113489979225845,
            0.811394142013002,
            0.811400699263437,
            0.5031137670425286,
            0.5754572911078495,
            0.7589187221624711,
            0.8498323896704065,
            0.8701713225817868,
            0.8737698099595332,
            0.8743834515253402,
            0.8744873495211921,
            0.8745048782439366,
            0.05136626415601675,
            0.1470216765503507,
            0.27869772565309636,
            0.37649703356420106,
            0.4235036376642067,
            0.440869291645896,
            0.44658883008130035,
            0.4483963765921337,
            0.44895943890764795,
            0.4491338759997649,
            0.44918778134020376,
            0.44920441569681074,
            0.4492095438804307,
            0.44921112371743593,
            0.322242888607319,
            0.3214155879117411,
            0.46646012273418425,
            0.6427332813779099,
            0.7276733494954,
            0.748648050232836,
            0.7529237754452116,
            0.7537681747465601,
            0.753934226324915,
            0.7539668673243356,
            0.7539732835427596,
            0.22513037682967782,
            0.17593167961189393,
            0.331969894825565,
            0.5470303330974166,
            0.6566302595063728,
            0.6873484843071157,
            0.6945269410085647,
            0.6961342436091184,
            0.6964905322964039,
            0.6965692701214725,
            0.6965866412772426,
            0.6965904682972812,
        ],
        "min_gram_count": [10, 9, 14, 11, 12],
        "min_sigma_min": [
            0.23900388702323888,
            0.3088749627786612,
            0.1441765311270969,
            0.16274760600395133,
            0.17419609006115575,
        ],
        "status": "converged converged converged converged converged",
        "steps_taken": 368,
        "stop_iteration": [64, 61, 92, 73, 78],
        "weights": [
            [
                3.1025596319361,
                3.1123531626464875,
                0.29962339194929355,
                1.3804936833401458,
                3.1903282718699453,
                -0.045513775436951676,
                4.243678702479269,
                3.3280257269421125,
                2.046660248244531,
                0.7689271218710245,
                3.235599858635483,
                -2.533769656737986,
                -0.9788319727780492,
                3.162120237013054,
                0.41064899841448255,
            ],
            [
                1.9261848450455163,
                1.3831246013893277,
                0.25081237980457766,
                -1.4551218333585174,
                1.333418070433435,
                0.7599499226190298,
                1.579713376619291,
                1.5217272309555152,
                1.9632761560155083,
                -0.6461659723578235,
                1.44266224059041,
                1.4850187195910496,
                0.29579245868664844,
                1.2407765698229767,
                0.7739902048023568,
            ],
            [
                -0.8253677427630868,
                0.900777979114917,
                0.11166218724743249,
                1.725588989757216,
                0.9351510209197706,
                -0.7159757761076618,
                -0.4747990495468949,
                0.6702322228779006,
                0.20788239096050612,
                0.725028063111637,
                0.8683168037018397,
                -0.05283805380764778,
                0.8542455631101056,
                0.8346200802203164,
                0.32778541402391476,
            ],
        ],
    },
    "statuses": {
        "final_loss": [
            9.105432965527071e-09,
            9.860761315262648e-32,
            0.49223593572014535,
        ],
        "initial_loss": [
            0.49905867894593453,
            0.49905867894593453,
            0.49905867894593453,
            0.49905867894593453,
        ],
        "iterations": [135, -1, -1, -1],
        "status": "converged capped diverged capped",
        "steps_taken": 6137,
        "stop_iteration": [135, 3000, 2, 3000],
        "weights": [
            [
                -2.567524706203194,
                1.89601763779135,
                0.25145202023976254,
                -2.567194524458203,
                1.896017641305532,
                0.25142524824878054,
                -2.7706662542883724,
                1.806257275641316,
                0.47231200087107905,
            ],
            [
                -1.0123484012728925,
                0.733296443155953,
                -0.8313635176676705,
                -1.012348410814838,
                0.733296451604245,
                -0.8313635278064266,
                -0.2521613554242288,
                0.4031008737233852,
                -0.31171678903439104,
            ],
        ],
    },
}


@pytest.mark.parametrize("name", sorted(_FROZEN_REFERENCE))
def test_batched_descent_reproduces_the_frozen_reference(name):
    args, kwargs = _reference_cases()[name]
    got, ref = _summary(arora.batched_descent(*args, **kwargs)), _FROZEN_REFERENCE[name]
    assert sorted(got) == sorted(ref)
    for key, value in ref.items():
        if (
            isinstance(value, (str, int))
            or key.endswith(("_count", "_checks"))
            or key in ("iterations", "stop_iteration")
        ):
            assert got[key] == value, key
        elif key == "weights":
            for g, r in zip(got[key], value, strict=True):
                np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-10, err_msg=key)
        else:
            np.testing.assert_allclose(got[key], value, rtol=1e-9, atol=0, err_msg=key)


# --- the parts of batched_descent ----------------------------------------------------


def test_stop_reasons_rules_and_their_order():
    loss = np.array([1e-9, 2.0, np.nan, 0.5, 0.5, 1e-9])
    tol = np.full(6, 1e-8)
    ceiling = np.full(6, 1.0)
    assert list(arora.stop_reasons(loss, tol, ceiling, None, False)) == [
        "converged",
        "diverged",
        "diverged",
        "",
        "",
        "converged",
    ]
    # groups: run 3 shares a group with the converged run 0, run 4 does not
    group = np.array([0, 1, 2, 0, 3, 3])
    got = arora.stop_reasons(loss, tol, ceiling, group, False)
    assert list(got) == [
        "converged",
        "diverged",
        "diverged",
        "pruned",
        "pruned",
        "converged",
    ]
    # at the cap every run stops; converged and diverged keep their reason, the others are capped
    got = arora.stop_reasons(loss, tol, ceiling, group, True)
    assert list(got) == [
        "converged",
        "diverged",
        "diverged",
        "capped",
        "capped",
        "converged",
    ]
    # two runs of a group converging at the same iteration both count as converged
    both = arora.stop_reasons(
        np.array([0.0, 0.0, 0.3]), np.full(3, 1e-8), np.ones(3), np.zeros(3, int), False
    )
    assert list(both) == ["converged", "converged", "pruned"]


def test_prepare_descent_repeats_settings_and_reduces_inputs():
    rng = np.random.default_rng(11)
    starts = [
        0.3 * rng.standard_normal((4, 3, 20)),
        0.3 * rng.standard_normal((4, 1, 3)),
    ]
    Phi = rng.standard_normal((1, 20))
    setup = arora.prepare_descent(
        starts, Phi, 0.1, [1e-3, 1e-4, 0.0, 1.0], 50, divergence_factor=10.0
    )
    assert (
        setup.runs == 4
        and list(setup.lr) == [0.1] * 4
        and list(setup.loss_tol) == [1e-3, 1e-4, 0.0, 1.0]
    )
    assert (
        setup.basis.shape == (4, 20, 4)
        and setup.weights[0].shape == (4, 3, 4)
        and setup.Phi.shape == (4, 1, 4)
    )
    # the basis holds W_1(0) and Phi: mapping back recovers them
    assert np.allclose(
        setup.to_input_coordinates(setup.weights[0]), starts[0], atol=1e-14
    )
    assert np.allclose(setup.Phi @ np.swapaxes(setup.basis, 1, 2), Phi, atol=1e-14)
    for b in range(4):
        l0 = 0.5 * np.linalg.norm(end_to_end([w[b] for w in starts]) - Phi) ** 2
        assert setup.initial_loss[b] == pytest.approx(l0, rel=1e-12)
        assert setup.ceiling[b] == pytest.approx(
            10.0 * max(l0, 0.5 * np.sum(Phi**2)), rel=1e-12
        )
    plain = arora.prepare_descent(starts, Phi, 0.1, 1e-3, 50, reduce_inputs=False)
    assert plain.basis is None and plain.weights[0].shape == (4, 3, 20)
    assert arora.reduced_input_basis(starts, Phi).shape == (4, 20, 4)
    assert (
        arora.reduced_input_basis(
            [w[:, :, :3] for w in starts[:1]] + starts[1:], Phi[:, :3]
        )
        is None
    )


def test_descent_results_are_read_only_copies_and_inputs_untouched():
    rng = np.random.default_rng(12)
    starts = [
        0.3 * rng.standard_normal((3, 4, 12)),
        0.3 * rng.standard_normal((3, 1, 4)),
    ]
    Phi = rng.standard_normal((3, 1, 12))
    lr = np.array([0.05, 0.1, 0.2])
    kept = [w.copy() for w in starts], Phi.copy(), lr.copy()
    setup = arora.prepare_descent(starts, Phi, lr, 1e-6, 100)
    res = arora.batched_descent(
        starts,
        Phi,
        lr,
        1e-6,
        100,
        loss_every=10,
        balance_every=10,
        lemma1_every=5,
        track_sigma_min=True,
    )
    fast = arora.fastest_over_learning_rates(starts, Phi, lr, 1e-6, 100)
    for w, k in zip(starts, kept[0], strict=True):
        assert np.array_equal(w, k) and w.flags.writeable
    assert np.array_equal(Phi, kept[1]) and Phi.flags.writeable
    assert np.array_equal(lr, kept[2]) and lr.flags.writeable
    rec = res.records
    arrays = [
        res.lr,
        res.loss_tol,
        res.status,
        res.iterations,
        res.stop_iteration,
        res.initial_loss,
        res.final_loss,
        *res.weights,
    ]
    arrays += [
        rec.loss.steps,
        rec.loss.values,
        rec.balance.steps,
        rec.balance.delta,
        rec.balance.min_gram,
    ]
    arrays += [rec.lemma1.ratio, rec.lemma1.checks, rec.min_sigma_min]
    arrays += [
        *setup.weights,
        setup.Phi,
        setup.basis,
        setup.lr,
        setup.loss_tol,
        setup.initial_loss,
        setup.ceiling,
    ]
    arrays += [fast.lrs, fast.iterations, fast.best_lr, fast.outcome, fast.status]
    for a in arrays:
        with pytest.raises(ValueError):
            a.flat[0] = a.flat[0]
    assert isinstance(res.weights, tuple) and isinstance(setup.weights, tuple)
    with pytest.raises(AttributeError):
        res.status = None
    lr[0] = 1.0  # the result does not share memory with the caller's array
    assert res.lr[0] == 0.05 and fast.lrs[0] == 0.05


def test_records_against_a_plain_loop():
    """Loss trace, Lemma 1 ratio and min sigma_min re-derived by a loop over one network at a time."""
    rng = np.random.default_rng(13)
    Phi = np.array([[1.0, 0.4, -0.3]])
    starts = [
        0.4 * rng.standard_normal((3, 4, 3)),
        0.4 * rng.standard_normal((3, 1, 4)),
    ]
    lr, tol, every, l1_every = np.array([0.05, 0.1, 0.02]), 1e-6, 3, 4
    res = arora.batched_descent(
        starts,
        Phi,
        lr,
        tol,
        500,
        loss_every=every,
        lemma1_every=l1_every,
        track_sigma_min=True,
    )
    rec = res.records
    assert list(rec.loss.steps) == list(range(0, 501, every))
    for b in range(3):
        Ws = [w[b].copy() for w in starts]
        losses, ratios, smins = [], [], []
        for t in range(res.stop_iteration[b] + 1):
            W = Ws[1] @ Ws[0]
            l_t = 0.5 * np.sum((W - Phi) ** 2)
            losses.append(l_t)
            smins.append(np.linalg.norm(W))  # one output: sigma_min is the norm
            if t > 0 and (t - 1) % l1_every == 0:
                ratios.append(
                    (losses[t - 1] - l_t)
                    / (0.5 * lr[b] * smins[t - 1] ** 1.0 * 2 * losses[t - 1])
                )
            G = W - Phi
            Ws = [Ws[0] - lr[b] * Ws[1].T @ G, Ws[1] - lr[b] * G @ Ws[0].T]
        assert res.status[b] == "converged" and losses[-1] <= tol < losses[-2]
        kept = rec.loss.values[b]
        n = res.stop_iteration[b] // every + 1
        assert np.allclose(kept[:n], losses[::every], rtol=1e-10) and np.all(
            np.isnan(kept[n:])
        )
        assert rec.lemma1.checks[b] == len(ratios) and rec.lemma1.ratio[
            b
        ] == pytest.approx(min(ratios), rel=1e-8)
        assert rec.min_sigma_min[b] == pytest.approx(min(smins), rel=1e-10)
