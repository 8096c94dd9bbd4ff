"""Benchmarks of linnet's solvers: ``python -m linnet.bench``.

Prints, from one run on the current machine:

1. The paper's Figure 1 workload (depths 1, 2, 3, 4, 8; ``m = 50``, ``dx = 5``,
   ``dy = 1``; ``W0`` is ``Z_1`` rotated by 30 degrees with norm ``10 ||Z_1||``;
   ``T = 0.1``; 101 output times): :func:`linnet.flows.induced_flow` against
   the paper's scheme (:func:`linnet.flows.forward_euler`, step ``1e-6``,
   ``10^5`` steps), speed and accuracy. The reference is the matrix induced
   flow with the rank-1 form of ``A_W`` at ``rtol = 1e-13`` (a code path
   independent of the polar reduction that ``induced_flow`` uses for
   ``dy = 1``), or the exact solution for depth 1; its own error is estimated
   by its distance to the polar reduction at the same tolerance.
2. ``10^4`` scalar-output trajectories from random starts, batched, against
   single runs on a subsample and against the reference.
3. :func:`linnet.flows.gradient_flow` for depth 8 with a bottleneck.

Targets: (1) speed >= 100x, accuracy >= 1000x; (2) <= 10 s; (3) <= 2 s.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from .data import Target, whitened_data
from .flows import forward_euler, gradient_flow, induced_flow, induced_flow_batch, induced_flow_target
from .init import balanced_init, rotate

FIGURE1_DEPTHS = (1, 2, 3, 4, 8)
T_END = 0.1
N_TIMES = 101
EULER_STEP = 1e-6
REFERENCE_RTOL = 1e-13
REFERENCE_ATOL = 1e-16
BATCH_SIZE = 10_000
BATCH_DEPTHS = (2, 4, 8)
BATCH_SUBSAMPLE = 20
BOTTLENECK_WIDTHS = [5, 5, 4, 4, 3, 3, 2, 2, 1]


def figure1_problem(seed: int = 0):
    """Data, target and start of the paper's Figure 1."""
    X, Y = whitened_data(50, 5, 1, seed)
    target = Target.from_data(X, Y)
    W0 = 10 * rotate(target.Z1, np.pi / 6, seed + 1)
    return X, Y, target, W0


def max_rel_error(W, W_ref) -> float:
    """``max_t ||W(t) - W_ref(t)||_F / ||W_ref(t)||_F`` over the leading time axis."""
    axes = tuple(range(1, W.ndim))
    return float(np.max(np.linalg.norm(W - W_ref, axis=axes) / np.linalg.norm(W_ref, axis=axes)))


def reference_flow(W0, target: Target, depth: int, t: np.ndarray, method: str = "rank1") -> np.ndarray:
    """High-accuracy trajectory: exact for depth 1, else the matrix flow at ``rtol = 1e-13``."""
    if depth == 1:
        return target.Z + (W0 - target.Z) * np.exp(-target.m * t)[:, None, None]
    return induced_flow_target(W0, target, depth, t, rtol=REFERENCE_RTOL, atol=REFERENCE_ATOL, method=method).W


def best_time(fn, repeats: int = 5) -> tuple[float, object]:
    """Smallest wall time of ``repeats`` calls (after one warm-up call) and the last result."""
    result = fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_figure1() -> list[dict]:
    X, Y, target, W0 = figure1_problem()
    t = np.linspace(0, T_END, N_TIMES)
    steps = round(T_END / EULER_STEP)
    rows = []
    for depth in FIGURE1_DEPTHS:
        ref = reference_flow(W0, target, depth, t)
        ref_check = reference_flow(W0, target, depth, t, method="polar") if depth > 1 else ref
        t_linnet, fast = best_time(lambda: induced_flow(W0, X, Y, depth, t))
        start = time.perf_counter()
        euler = forward_euler(W0, X, Y, depth, EULER_STEP, steps, record_every=steps // (N_TIMES - 1))
        t_euler = time.perf_counter() - start
        assert np.allclose(euler.t, t, rtol=1e-12, atol=0)
        rows.append(
            {
                "depth": depth,
                "t_linnet": t_linnet,
                "t_euler": t_euler,
                "err_linnet": max_rel_error(fast.W, ref),
                "err_euler": max_rel_error(euler.W, ref),
                "err_reference": max_rel_error(ref_check, ref),
            }
        )
    return rows


def bench_batch() -> list[dict]:
    _, _, target, _ = figure1_problem()
    t = np.linspace(0, T_END, N_TIMES)
    rng = np.random.default_rng(2020)
    directions = rng.standard_normal((BATCH_SIZE, 1, 5))
    directions /= np.linalg.norm(directions, axis=(1, 2), keepdims=True)
    # Norms log-uniform over [0.1, 10] ||Z_1||: from near the saddle at 0 to Figure 1's scale.
    W0s = directions * (target.s_Z * 10 ** rng.uniform(-1, 1, BATCH_SIZE))[:, None, None]
    sample = rng.choice(BATCH_SIZE, BATCH_SUBSAMPLE, replace=False)
    rows = []
    for depth in BATCH_DEPTHS:
        start = time.perf_counter()
        batch = induced_flow_batch(W0s, target, depth, t)
        elapsed = time.perf_counter() - start
        vs_single = max(max_rel_error(batch.W[b], induced_flow_target(W0s[b], target, depth, t).W) for b in sample)
        vs_reference = max(max_rel_error(batch.W[b], reference_flow(W0s[b], target, depth, t)) for b in sample)
        rows.append({"depth": depth, "seconds": elapsed, "vs_single": vs_single, "vs_reference": vs_reference})
    return rows


def bench_gradient_flow() -> dict:
    X, Y, target, W0 = figure1_problem()
    t = np.linspace(0, T_END, N_TIMES)
    weights0 = balanced_init(W0, BOTTLENECK_WIDTHS, seed=3)
    depth = len(BOTTLENECK_WIDTHS) - 1
    start = time.perf_counter()
    flow = gradient_flow(weights0, X, Y, t)
    elapsed = time.perf_counter() - start
    return {
        "depth": depth,
        "seconds": elapsed,
        "vs_reference": max_rel_error(flow.W, reference_flow(W0, target, depth, t)),
    }


def main() -> None:
    print(f"linnet benchmarks -- {time.strftime('%Y-%m-%d')} -- {platform.platform()}, {os.cpu_count()} CPUs")
    print()
    print(f"1. Figure 1 workload: induced_flow vs forward Euler (step {EULER_STEP:g}, {round(T_END / EULER_STEP)} steps)")
    print("   errors: max_t ||W - W_ref|| / ||W_ref||; reference: rtol 1e-13 rank-1 matrix flow (exact for depth 1)")
    header = f"   {'depth':>5} {'linnet s':>10} {'Euler s':>9} {'speed-up':>9} {'linnet err':>11} {'Euler err':>10} {'acc. ratio':>11} {'ref. err':>9}"
    print(header)
    rows = bench_figure1()
    for r in rows:
        # Depth 1 is solved in closed form by both linnet and the reference.
        ratio = f"{r['err_euler'] / r['err_linnet']:>10.1e}x" if r["err_linnet"] > 0 else f"{'exact':>11}"
        print(
            f"   {r['depth']:>5} {r['t_linnet']:>10.4f} {r['t_euler']:>9.3f} {r['t_euler'] / r['t_linnet']:>8.0f}x "
            f"{r['err_linnet']:>11.1e} {r['err_euler']:>10.1e} {ratio} {r['err_reference']:>9.1e}"
        )
    total_fast = sum(r["t_linnet"] for r in rows)
    total_euler = sum(r["t_euler"] for r in rows)
    print(f"   all depths: linnet {total_fast:.3f} s, Euler {total_euler:.2f} s, speed-up {total_euler / total_fast:.0f}x")
    print()
    print(f"2. {BATCH_SIZE} scalar-output trajectories batched (T = {T_END}, {N_TIMES} output times)")
    print(f"   {'depth':>5} {'seconds':>8} {'max err vs single runs':>23} {'max err vs reference':>21}  (subsample of {BATCH_SUBSAMPLE})")
    for r in bench_batch():
        print(f"   {r['depth']:>5} {r['seconds']:>8.2f} {r['vs_single']:>23.1e} {r['vs_reference']:>21.1e}")
    print()
    g = bench_gradient_flow()
    print(f"3. gradient_flow, depth {g['depth']}, widths {BOTTLENECK_WIDTHS}, T = {T_END}, {N_TIMES} output times")
    print(f"   {g['seconds']:.3f} s; end-to-end matrix vs reference: {g['vs_reference']:.1e}")


if __name__ == "__main__":
    main()
