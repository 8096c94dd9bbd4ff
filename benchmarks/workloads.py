"""The benchmark workloads, the right-hand sides every method integrates, and the references.

Both workloads have a scalar output (``dy = 1``): the end-to-end matrix is a
row ``w`` in ``R^dx``, and the induced flow (17) with whitened data reads

``w' = -m A_W(w - z)``, ``A_W(D) = s^{2 - 2/N} [D + (N - 1) (D . v) v]``,

with ``s = ||w||``, ``v = w / s`` (the rank-1 closed form of ``A_W`` for a
row). This is "the matrix flow". linnet integrates instead the exact 2-D
reduction of it (:func:`linnet.flows.scalar_polar_flow`), "the polar
reduction": ``w = r (cos(theta) v_Z + sin(theta) u)`` in the plane of ``w0``
and ``z``, with

``r' = -m N r^{2-2/N} (r - s_Z cos theta)``, ``theta' = -m s_Z r^{1-2/N} sin theta``.

The formulas are written out here once more (not imported from linnet's
private functions) so that the baselines do not run linnet's code.

Workloads
---------
``figure1``
    The paper's Figure 1: depths 1, 2, 3, 4, 8; ``m = 50``, ``dx = 5``;
    data ``linnet.data.whitened_data(50, 5, 1, seed=0)``; ``W0`` is ``Z_1``
    rotated by 30 degrees (``rotate(Z1, pi/6, seed=1)``) with norm
    ``10 ||Z_1||``; ``T = 0.1``; 101 output times. A method's time is the sum
    over the five depths, its error the largest over them.
``batch``
    ``10^4`` starts for depth 4 on the same data: directions uniform on the
    sphere, norms log-uniform in ``[0.1, 10] ||Z_1||`` (from near the saddle
    at 0 to Figure 1's scale), seed 2020; same ``T`` and output times.

Error of a run: ``max_{b, t} ||W_b(t) - W_ref,b(t)|| / ||W_ref,b(t)||`` over
the output times and the trajectories of the evaluation set (all of Figure 1;
a fixed random subsample of the batch, the same for every method).

Reference: depth 1 is exact (``W(t) = Z + (W0 - Z) e^{-m t}``); otherwise
scipy's DOP853 on the matrix flow at ``rtol = 1e-13, atol = 1e-16``. Its own
error is estimated by its distance to linnet's polar reduction at the same
tolerances (a different right-hand side and a different integrator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

from linnet.data import Target, whitened_data
from linnet.flows import induced_flow
from linnet.init import rotate

T_END = 0.1
N_TIMES = 101
FIGURE1_DEPTHS = (1, 2, 3, 4, 8)
BATCH_DEPTH = 4
BATCH_SIZE = 10_000
BATCH_SUBSAMPLE = 64
REFERENCE_RTOL = 1e-13
REFERENCE_ATOL = 1e-16


@dataclass
class Case:
    """One depth and a stack of starts: the unit a method solves in one call."""

    depth: int
    w0: np.ndarray  # (B, dx)


@dataclass
class Workload:
    """A list of cases on shared data, the evaluation set and the reference."""

    name: str
    target: Target
    title: str
    description: str
    z: np.ndarray  # (dx,)
    m: float
    t: np.ndarray  # (T,)
    cases: list
    #: indices of the trajectories (per case) on which errors are measured
    #: and per-trajectory methods are run; None = all.
    subsample: np.ndarray | None = None
    reference: list = field(
        default_factory=list
    )  # per case, (b, T, dx) on the evaluation set
    reference_error: float = float("nan")

    @property
    def size(self) -> int:
        """Trajectories per case."""
        return self.cases[0].w0.shape[0]

    def eval_rows(self) -> np.ndarray:
        return np.arange(self.size) if self.subsample is None else self.subsample


def _data(seed: int = 0):
    X, Y = whitened_data(50, 5, 1, seed)
    return Target.from_data(X, Y)


def figure1_workload(depths=FIGURE1_DEPTHS) -> Workload:
    target = _data()
    W0 = 10 * rotate(target.Z1, np.pi / 6, 1)
    return Workload(
        name="figure1",
        target=target,
        title="Figure 1 workload",
        description=(
            f"The paper's Figure 1: depths {', '.join(map(str, depths))}; m = 50, dx = 5, dy = 1; "
            "W0 = Z1 rotated by 30 degrees with norm 10 ||Z1||; T = 0.1, 101 output times. "
            "Time: sum over the depths; error: the largest over them."
        ),
        z=target.Z.ravel().copy(),
        m=float(target.m),
        t=np.linspace(0.0, T_END, N_TIMES),
        cases=[Case(depth=N, w0=W0.reshape(1, -1).copy()) for N in depths],
    )


def batch_workload(
    size: int = BATCH_SIZE, subsample: int = BATCH_SUBSAMPLE, depth: int = BATCH_DEPTH
) -> Workload:
    target = _data()
    rng = np.random.default_rng(2020)
    directions = rng.standard_normal((size, 5))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    w0 = directions * (target.s_Z * 10 ** rng.uniform(-1, 1, size))[:, None]
    rows = np.sort(rng.choice(size, min(subsample, size), replace=False))
    return Workload(
        name="batch",
        target=target,
        title=f"{size} trajectories",
        description=(
            f"{size} scalar-output starts for depth {depth} (directions uniform, norms log-uniform in "
            "[0.1, 10] ||Z1||, seed 2020), same data, T = 0.1, 101 output times. Errors on a fixed random "
            f"subsample of {rows.size} trajectories (the same for every method); methods that integrate one "
            f"trajectory per call run on that subsample and their time is scaled by {size}/{rows.size}."
        ),
        z=target.Z.ravel().copy(),
        m=float(target.m),
        t=np.linspace(0.0, T_END, N_TIMES),
        cases=[Case(depth=depth, w0=w0)],
        subsample=rows,
    )


# --------------------------------------------------------------------------
# right-hand sides
# --------------------------------------------------------------------------


def matrix_rhs(z: np.ndarray, m: float, N: int):
    """Matrix flow for a stack of rows ``w`` (B, dx) (rank-1 closed form of ``A_W``)."""
    p = 1.0 - 1.0 / N

    def rhs(w):
        s2 = np.sum(w * w, axis=-1, keepdims=True)
        D = w - z
        return (
            (-m)
            * s2**p
            * (D + ((N - 1) * np.sum(D * w, axis=-1, keepdims=True) / s2) * w)
        )

    return rhs


def matrix_rhs_single(z: np.ndarray, m: float, N: int):
    """Matrix flow for one row ``w`` (dx,), in the signature of ``solve_ivp``."""
    p = 1.0 - 1.0 / N

    def rhs(_, w):
        s2 = w @ w
        D = w - z
        return (-m * s2**p) * (D + ((N - 1) * (D @ w) / s2) * w)

    return rhs


def polar_rhs_single(s_Z: float, m: float, N: int):
    """Polar reduction for one state ``(r, theta)``, in the signature of ``solve_ivp``."""
    a = 1.0 - 2.0 / N
    c_r, c_t = -m * N, -m * s_Z
    cos, sin = math.cos, math.sin

    def rhs(_, y):
        r = max(y[0], 0.0)
        q = r**a
        return np.array([c_r * r * q * (r - s_Z * cos(y[1])), c_t * q * sin(y[1])])

    return rhs


def to_polar(w0: np.ndarray, z: np.ndarray):
    """``(r0, theta0, v, u)`` of rows ``w0`` (B, dx): ``w0 = r0 (cos theta0 v + sin theta0 u)``."""
    s_Z = np.linalg.norm(z)
    v = z / s_Z
    along = w0 @ v
    perp = w0 - along[:, None] * v
    pn = np.linalg.norm(perp, axis=1)
    u = perp / np.where(pn > 0, pn, 1.0)[:, None]
    return np.linalg.norm(w0, axis=1), np.arctan2(pn, along), v, u


def from_polar(
    r: np.ndarray, theta: np.ndarray, v: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Rows ``(B, T, dx)`` from ``r, theta`` of shape (B, T)."""
    rows = np.multiply((r * np.cos(theta))[..., None], v)
    rows += (r * np.sin(theta))[..., None] * u[:, None, :]
    return rows


# --------------------------------------------------------------------------
# reference and error
# --------------------------------------------------------------------------


def relative_error(W: np.ndarray, W_ref: np.ndarray) -> float:
    """``max_{b,t} ||W - W_ref|| / ||W_ref||`` for stacks (b, T, dx)."""
    return float(
        np.max(np.linalg.norm(W - W_ref, axis=-1) / np.linalg.norm(W_ref, axis=-1))
    )


def _reference_case(z, m, N, w0, t) -> np.ndarray:
    if N == 1:
        return z + (w0 - z)[:, None, :] * np.exp(-m * t)[None, :, None]
    rhs = matrix_rhs_single(z, m, N)
    out = np.empty((w0.shape[0], t.size, w0.shape[1]))
    for b, start in enumerate(w0):
        sol = solve_ivp(
            rhs,
            (0.0, t[-1]),
            start,
            method="DOP853",
            t_eval=t,
            rtol=REFERENCE_RTOL,
            atol=REFERENCE_ATOL,
        )
        if not sol.success:
            raise RuntimeError(f"reference integration failed: {sol.message}")
        out[b] = sol.y.T
    return out


def attach_reference(work: Workload) -> None:
    """Compute the reference on the evaluation set and estimate its error."""
    rows = work.eval_rows()
    work.reference = []
    estimate = 0.0
    for case in work.cases:
        ref = _reference_case(work.z, work.m, case.depth, case.w0[rows], work.t)
        work.reference.append(ref)
        if case.depth > 1:
            check = induced_flow(
                case.w0[rows][:, None, :],
                work.target,
                case.depth,
                work.t,
                rtol=REFERENCE_RTOL,
                atol=REFERENCE_ATOL,
            ).W[:, :, 0, :]
            estimate = max(estimate, relative_error(check, ref))
    work.reference_error = estimate


def error_of(work: Workload, outputs: list) -> float:
    """Error of a run: ``outputs[i]`` holds case ``i`` on the evaluation set, shape (b, T, dx)."""
    return max(
        relative_error(W, ref) for W, ref in zip(outputs, work.reference, strict=True)
    )
