"""Convergence rates of the induced flow (17), measured (paper Section 4).

What the rates chapter measures on trajectories, and the random problems it
measures them on:

* the distance curves ``||W(t) - Z_1||_F`` from one start (e.g. the paper's
  Figure 1 start, :func:`linnet.init.rank_one_start`), compared across depths
  (:func:`compare_depths`): the time ``tau`` to enter the ball
  ``||W||_F <= sqrt(6) s_Z``, the distance at an early time, the decay rate at
  the end of a run;
* the instantaneous decay rate ``-d/dt log ||W(t) - Z_1||_F`` along (17)
  (:func:`decay_rate`) and its limit near ``Z_1``
  (:func:`linnet.theory.slowest_nearby_rate`);
* the rank-one quantities ``s = ||W||_F``, ``rho = <W, Z>/s``,
  ``p = <W, Z_1>/(s s_Z)`` and their time derivatives along (17), computed
  from the matrix velocity (:func:`rank_one_rates`) and from the reduced
  equations (:func:`reduced_rates`, role of Lemma 4.1); the closed forms of
  this book's rank-one reduction (notes A.3: the reduced equations, Lemma R1's
  lower bound on ``dp/dt``, the bound (R2) on ``rho``) are in
  :mod:`linnet.theory` (:func:`~linnet.theory.rank_one_reduced_rates`,
  :func:`~linnet.theory.cosine_rate_lower_bound`,
  :func:`~linnet.theory.correlation_bounds`);
* random targets and random starts satisfying (37) (:func:`random_target`,
  :func:`random_stable_starts`, :func:`random_instances`) and the comparison of
  their trajectories with the bound (38a)/(38b) (:func:`theorem_4_4_check`).

Building blocks come from the core: the velocity of (17)
(:func:`linnet.flows.induced_velocity`), crossing times and distances
(:mod:`linnet.measure`), the rank-one reduced equations
(:func:`linnet.theory.rank_one_reduced_rates`), the random directions of the
starts (:func:`linnet.init.unit_orthogonal`).

Provenance. The paper's Section 4 formulas ((33)-(38), with its constants)
are in :mod:`linnet.theory`; the functions at the end of this module
(:func:`dloss_34`, :func:`sample_set_36`, :func:`check_38`) test them on
trajectories. :func:`theorem_4_4_check` evaluates this book's own two-phase
bound (:func:`linnet.theory.theorem_4_4_bound`), not the paper's (38).
``gamma = s_Z2 / s_Z`` throughout.

Every trajectory is integrated by :func:`linnet.flows.induced_flow` (batched
where the starts share a target and a depth); the bounds come from
:mod:`linnet.theory`. Functions of ``W`` take a matrix ``(dy, dx)`` (and then
return numbers) or a stack ``(k, dy, dx)`` (and return arrays of shape
``(k,)``), as in the core.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..data import Target, as_target, spectral_target
from ..flows import DEFAULT_RTOL, induced_flow, induced_velocity
from ..init import unit_orthogonal
from ..measure import crossing_time
from ..theory import (
    PHASE_ONE_FACTOR,
    bound_38a,
    bound_38b,
    cosine_with_Z1,
    in_set_36,
    max_beta,
    min_alpha,
    nearby_modes,
    rank_one_reduced_rates,
    rhs_35,
    stable_set_margin,
    theorem_4_4_bound,
)
from ..validate import (
    as_matrix_stack,
    freeze_fields,
    positive_float,
    positive_int,
    rank_one_svd,
    read_only,
)

__all__ = [
    "decay_rate",
    "RankOneRates",
    "rank_one_rates",
    "reduced_rates",
    "DepthComparison",
    "compare_depths",
    "random_target",
    "StableStarts",
    "random_stable_starts",
    "random_instances",
    "BoundCheck",
    "theorem_4_4_check",
]


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def _tilted(axis: np.ndarray, cosine, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at the given cosines to the unit vector ``axis``, towards random directions.

    ``c axis + sqrt(1 - c^2) e`` with ``e`` from :func:`linnet.init.unit_orthogonal`
    (one Gaussian row per cosine, drawn from ``rng``). Returns shape ``(n, d)``
    for ``n`` cosines.
    """
    c = np.asarray(cosine, dtype=float).reshape(-1)
    e = unit_orthogonal(axis, c.size, rng)
    return c[:, None] * axis + np.sqrt(np.maximum(1 - c * c, 0.0))[:, None] * e


def _rank_one_factors(W: np.ndarray, name: str):
    """``s, u, v`` with ``W = s u v^T`` for each matrix of a stack ``(k, dy, dx)`` (nonzero, rank one)."""
    U, _, Vt = rank_one_svd(W, name, nonzero=True)
    return np.linalg.norm(W, axis=(1, 2)), U[:, :, 0], Vt[:, 0, :]


def _range(value, name: str, *, integer: bool = False) -> tuple:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high); got {value!r}") from None
    if integer:
        lo, hi = positive_int(lo, f"{name}[0]"), positive_int(hi, f"{name}[1]")
    else:
        lo, hi = positive_float(lo, f"{name}[0]"), positive_float(hi, f"{name}[1]")
    if lo > hi:
        raise ValueError(f"{name} must have low <= high; got {value!r}")
    return lo, hi


# --------------------------------------------------------------------------
# velocities and rates along (17)
# --------------------------------------------------------------------------


def decay_rate(W, target: Target, depth: int) -> np.ndarray:
    """Instantaneous decay rate ``-d/dt log ||W(t) - Z_1||_F`` along (17).

    ``= -<W - Z_1, dW/dt> / ||W - Z_1||_F^2`` with ``dW/dt`` from
    :func:`linnet.flows.induced_velocity`. Near ``Z_1`` it tends to the
    slowest nearby rate (:func:`linnet.theory.nearby_modes`).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
    target : Target
    depth : int

    Returns
    -------
    float or ndarray of shape (k,)
        NaN where ``W = Z_1``.
    """
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    V = induced_velocity(stack, target, depth)
    E = stack - target.Z1
    e2 = np.sum(E * E, axis=(-2, -1))
    num = -np.sum(E * V, axis=(-2, -1))
    out = np.where(e2 > 0, num / np.where(e2 > 0, e2, 1.0), np.nan)
    return float(out[0]) if single else out


@dataclass(frozen=True)
class RankOneRates:
    """Rank-one quantities of ``W = s u v^T`` and their time derivatives along (17).

    Attributes
    ----------
    s : ndarray
        ``||W||_F``.
    rho : ndarray
        ``<W, Z> / ||W||_F`` (correlation with the target).
    p : ndarray
        ``<W, Z_1> / (||W||_F s_Z)`` (cosine with ``Z_1``).
    ds, drho, dp : ndarray
        Their time derivatives.
    """

    s: np.ndarray
    rho: np.ndarray
    p: np.ndarray
    ds: np.ndarray
    drho: np.ndarray
    dp: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("s", "rho", "p", "ds", "drho", "dp"))


def _rank_one_stack(W, target: Target, depth, name: str = "W"):
    """Validated ``target``, depth, whether ``W`` was one matrix, the stack and its factors ``s, u, v``."""
    target = as_target(target, unique_Z1=True)
    flat, single = as_matrix_stack(W, name, target.Z.shape)
    N = positive_int(depth, "depth", minimum=2)
    if flat.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one matrix")
    s, u, v = _rank_one_factors(flat, name)
    return target, N, single, flat, s, u, v


def _out(values: np.ndarray, single: bool):
    return float(values[0]) if single else values


def _frozen_rates(single: bool, **values) -> RankOneRates:
    return RankOneRates(
        **{key: val[0] if single else val for key, val in values.items()}
    )


def rank_one_rates(W, target: Target, depth: int) -> RankOneRates:
    """``s``, ``rho``, ``p`` and their derivatives from the matrix velocity of (17).

    With ``V = dW/dt`` from :func:`linnet.flows.induced_velocity` (the
    operator (16) itself, not the reduced equations), by the chain rule:
    ``ds = <W, V>/s``, ``drho = <V, Z>/s - rho ds/s``,
    ``dp = <V, Z_1>/(s s_Z) - p ds/s``.
    Compare with :func:`reduced_rates` (role of Lemma 4.1).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
        Nonzero rank-one matrices.
    target : Target
    depth : int
        ``N >= 2``.

    Returns
    -------
    RankOneRates
        Arrays of shape ``(k,)`` (of shape ``()`` for one matrix).
    """
    target, N, single, flat, s, _, _ = _rank_one_stack(W, target, depth)
    V = induced_velocity(flat, target, N)
    inner = lambda A, B: np.einsum("kij,kij->k", A, np.broadcast_to(B, A.shape))  # noqa: E731
    ds = inner(flat, V) / s
    rho = inner(flat, target.Z) / s
    p = inner(flat, target.Z1) / (s * target.s_Z)
    drho = inner(V, target.Z) / s - rho * ds / s
    dp = inner(V, target.Z1) / (s * target.s_Z) - p * ds / s
    return _frozen_rates(single, s=s, rho=rho, p=p, ds=ds, drho=drho, dp=dp)


def reduced_rates(W, target: Target, depth: int) -> RankOneRates:
    """``s``, ``rho``, ``p`` and their derivatives from the reduced equations (role of Lemma 4.1).

    Factors each ``W = s u v^T`` (thin SVD) and evaluates the reduced
    equations of the rank-one flow, :func:`linnet.theory.rank_one_reduced_rates`
    (notes A.3, Lemma R1; this book's derivation). Compare with
    :func:`rank_one_rates`, which differentiates the matrix velocity of (17).

    Parameters, Returns
        As :func:`rank_one_rates`.
    """
    target, N, single, flat, s, u, v = _rank_one_stack(W, target, depth)
    rho, p, ds, drho, dp = rank_one_reduced_rates(s, u, v, target, N)
    return _frozen_rates(single, s=s, rho=rho, p=p, ds=ds, drho=drho, dp=dp)


# --------------------------------------------------------------------------
# comparing depths (Figure 1)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthComparison:
    """The induced flow (17) from one start at several depths.

    Attributes
    ----------
    depths : tuple of int
    t : ndarray, shape (D, T)
        Output times of each depth's run.
    distance : ndarray, shape (D, T)
        ``||W(t) - Z_1||_F``.
    norm : ndarray, shape (D, T)
        ``||W(t)||_F``.
    tau : ndarray, shape (D,)
        First time ``||W(t)||_F <= sqrt(6) s_Z`` (end of the faraway phase of
        Theorem 4.4); ``inf`` if not reached in the run (:func:`linnet.measure.crossing_time`).
    early_time : float
        Half the smallest ``tau``: every depth is still in its faraway phase.
    early_distance : ndarray, shape (D,)
        ``||W(early_time) - Z_1||_F``.
    end_time : ndarray, shape (D,)
        Last output time of each run.
    end_rate : ndarray, shape (D,)
        :func:`decay_rate` at ``end_time``.
    nearby_rate : ndarray, shape (D,)
        Slowest nearby rate of each depth (:func:`linnet.theory.nearby_modes`).
    """

    depths: tuple
    t: np.ndarray
    distance: np.ndarray
    norm: np.ndarray
    tau: np.ndarray
    early_time: float
    early_distance: np.ndarray
    end_time: np.ndarray
    end_rate: np.ndarray
    nearby_rate: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        freeze_fields(
            self,
            (
                "t",
                "distance",
                "norm",
                "tau",
                "early_distance",
                "end_time",
                "end_rate",
                "nearby_rate",
            ),
        )

    @property
    def faraway_ordered(self) -> bool:
        """The distance at ``early_time`` strictly decreases with depth."""
        return bool(np.all(np.diff(self.early_distance) < 0))

    @property
    def tau_ordered(self) -> bool:
        """``tau`` strictly decreases with depth."""
        return bool(np.all(np.diff(self.tau) < 0))

    @property
    def end_rates_reversed(self) -> bool:
        """The decay rate at the end of the runs strictly decreases with depth."""
        return bool(np.all(np.diff(self.end_rate) < 0))


def _check_depths(depths) -> tuple:
    if (
        isinstance(depths, (str, bytes))
        or not hasattr(depths, "__len__")
        or len(depths) < 2
    ):
        raise ValueError(
            f"depths must be a list of at least two increasing integers >= 1; got {depths!r}"
        )
    ds = tuple(positive_int(d, f"depths[{i}]") for i, d in enumerate(depths))
    if any(b <= a for a, b in itertools.pairwise(ds)):
        raise ValueError(f"depths must be strictly increasing; got {list(ds)}")
    return ds


def compare_depths(
    W0,
    target: Target,
    depths,
    *,
    t_end: float | None = None,
    settle: float = 15.0,
    n_times: int = 400,
    rtol: float = DEFAULT_RTOL,
) -> DepthComparison:
    """Run (17) from ``W0`` at several depths and measure the faraway and nearby phases.

    Each depth is integrated by :func:`linnet.flows.induced_flow` on
    ``[0]`` and ``n_times - 1`` geometrically spaced times from
    ``1e-9 t_N`` to ``t_N``, where ``t_N = t_end`` if given, else
    ``settle / mu_N`` with ``mu_N`` the slowest nearby rate (so every depth ends the same number of
    its own nearby time constants from the start). Then:

    * ``tau_N``: first time ``||W(t)||_F <= sqrt(6) s_Z`` (:func:`linnet.measure.crossing_time`
      on the output times, refined by a second integration on 101 equally
      spaced times of the bracketing interval);
    * ``early_time = min_N tau_N / 2``, and the distance to ``Z_1`` there, from
      a second integration that lands exactly on it;
    * ``end_rate``: :func:`decay_rate` at ``t_N``.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
        Rank-one start with ``||W0||_F > sqrt(6) s_Z`` (a faraway start).
    target : Target
    depths : sequence of int
        Strictly increasing, ``>= 1`` (depth 1 only for a rank-one ``Z``).
    t_end : float, optional
        Common final time; default: per-depth ``settle / mu_N``.
    settle : float
        Number of nearby time constants per run when ``t_end`` is None.
    n_times : int
        Output times per run (``>= 3``).
    rtol : float
        Solver tolerance.

    Returns
    -------
    DepthComparison

    Raises
    ------
    ValueError
        On invalid parameters, a start inside the ball ``||W||_F <= sqrt(6) s_Z``,
        or when no depth leaves the faraway phase within its run.
    """
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W0, "W0", target.Z.shape)
    if not single:
        raise ValueError(
            f"W0 must be a single matrix of shape {target.Z.shape}; got shape {stack.shape}"
        )
    _rank_one_factors(stack, "W0")
    W0 = stack[0]
    ds = _check_depths(depths)
    settle = positive_float(settle, "settle")
    n_times = positive_int(n_times, "n_times", minimum=3)
    if t_end is not None:
        t_end = positive_float(t_end, "t_end")
    sigma = PHASE_ONE_FACTOR * target.s_Z
    if not np.linalg.norm(W0) > sigma:
        raise ValueError(
            f"W0 must be a faraway start, ||W0||_F > sqrt(6) s_Z = {sigma:.6g}; got ||W0||_F = {np.linalg.norm(W0):.6g}"
        )
    rates = np.array([nearby_modes(target, N).slowest for N in ds])
    ts, dist, norms, taus, end_rates = [], [], [], [], []
    for N, rate in zip(ds, rates, strict=True):
        T = t_end if t_end is not None else settle / rate
        t = np.concatenate([[0.0], np.geomspace(1e-9 * T, T, n_times - 1)])
        W = induced_flow(W0, target, N, t, rtol=rtol).W
        ts.append(t)
        dist.append(np.linalg.norm(W - target.Z1, axis=(1, 2)))
        norms.append(np.linalg.norm(W, axis=(1, 2)))
        tau = crossing_time(t, norms[-1], sigma)
        if np.isfinite(tau):
            # refine: integrate again on 101 points of the bracketing interval
            k = int(np.searchsorted(t, tau))
            fine = np.linspace(t[k - 1], t[k], 101)
            grid = fine if fine[0] > 0 else fine[1:]
            Wf = induced_flow(W0, target, N, grid, rtol=rtol).W
            fine_norm = np.linalg.norm(Wf, axis=(1, 2))
            if fine[0] == 0:
                grid, fine_norm = (
                    fine,
                    np.concatenate([[np.linalg.norm(W0)], fine_norm]),
                )
            tau = crossing_time(grid, fine_norm, sigma)
        taus.append(tau)
        end_rates.append(float(decay_rate(W[-1], target, N)))
    taus = np.array(taus)
    if not np.any(np.isfinite(taus)):
        raise ValueError(
            "no depth reached ||W||_F <= sqrt(6) s_Z within its run; increase t_end or settle"
        )
    early = 0.5 * float(np.min(taus))
    early_d = np.array(
        [
            np.linalg.norm(
                induced_flow(W0, target, N, [0.0, early], rtol=rtol).W[-1] - target.Z1
            )
            for N in ds
        ]
    )
    arrays = dict(
        t=np.array(ts),
        distance=np.array(dist),
        norm=np.array(norms),
        tau=taus,
        early_distance=early_d,
        end_time=np.array([t[-1] for t in ts]),
        end_rate=np.array(end_rates),
        nearby_rate=rates,
    )
    return DepthComparison(depths=ds, early_time=early, **arrays)


# --------------------------------------------------------------------------
# random instances of Theorem 4.4
# --------------------------------------------------------------------------


def random_target(dy: int, dx: int, s_Z: float, gamma: float, m: int, seed) -> Target:
    """A random target ``Z`` with prescribed ``s_Z`` and ``gamma = s_Z2 / s_Z`` (26).

    ``Z = U diag(s) V^T`` with Haar-random orthonormal ``U`` (``dy x r``), ``V``
    (``dx x r``), ``r = min(dy, dx)``, ``s_1 = s_Z``, ``s_2 = gamma s_Z`` and
    ``s_3, ...`` uniform in ``[0, gamma s_Z]``. Equivalent to whitened data
    (23) with ``Y X^T / m = Z`` (25); ``m`` is the ``m`` of (17).

    Parameters
    ----------
    dy, dx : int
    s_Z : float
        ``> 0``.
    gamma : float
        In ``[0, 1)``; must be 0 when ``min(dy, dx) = 1``.
    m : int
    seed : int or None

    Returns
    -------
    Target
    """
    dy, dx = positive_int(dy, "dy"), positive_int(dx, "dx")
    s_Z = positive_float(s_Z, "s_Z")
    g = positive_float(gamma, "gamma", allow_zero=True)
    m = positive_int(m, "m")
    if not g < 1:
        raise ValueError(
            f"gamma must be in [0, 1) (s_Z > s_Z2, Assumption 3.6); got {gamma!r}"
        )
    r = min(dy, dx)
    if r == 1 and g != 0:
        raise ValueError(
            f"gamma must be 0 when min(dy, dx) = 1 (Z has a single singular value); got {gamma!r}"
        )
    rng = np.random.default_rng(seed)
    s = np.concatenate([[1.0, g][:r], rng.uniform(0, g, size=max(r - 2, 0))]) * s_Z
    return spectral_target(s, dy, dx, m, rng)  # the same generator: the draws of before


@dataclass(frozen=True)
class StableStarts:
    """Starts satisfying (37) for one target and one depth.

    Attributes
    ----------
    target : Target
    depth : int
        ``N >= 2``.
    W0 : ndarray, shape (k, dy, dx)
        Rank-one starts.
    alpha, beta : ndarray, shape (k,)
        Parameters of ``N_alpha,beta(Z_1)`` (36) with ``W0[i]`` inside.
    """

    target: Target
    depth: int
    W0: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("W0", "alpha", "beta"))


def random_stable_starts(
    target: Target, depth: int, count: int, seed, *, norm_ratio_range=(0.3, 100.0)
) -> StableStarts:
    """Random rank-one starts with parameters ``(alpha, beta)`` for which (37) holds.

    With ``g = gamma`` and ``p_min = g / (1 + g)`` (below it no ``beta > 0``
    satisfies ``beta <= (1 + g) alpha - g``), each start is drawn as:

    * cosine with ``Z_1``: ``p0 = p_min + (1 - p_min) U(0.02, 1)``, split as
      ``p0 = a b`` with ``a = p0^w``, ``b = p0^{1-w}``, ``w ~ U(0, 1)`` (``a = 1``
      when ``dy = 1``, ``b = 1`` when ``dx = 1``);
    * ``W0 = s0 u v^T`` with ``u = a u_Z + sqrt(1 - a^2) u_perp``,
      ``v = b v_Z + sqrt(1 - b^2) v_perp`` (random unit ``u_perp``, ``v_perp``),
      ``s0 / s_Z`` log-uniform in ``norm_ratio_range``;
    * ``alpha = p_min + (p(W0) - p_min) U(0.3, 0.999)`` and
      ``beta = min((1 + g) alpha - g, ||W0|| / s_Z) U(0.3, 0.999)``,

    so that ``W0`` lies strictly inside ``N_alpha,beta(Z_1)`` (36).

    The random directions come from :func:`linnet.init.unit_orthogonal`. Not
    :func:`linnet.init.rank_one_start`: it splits the cosine evenly
    (``a = b``) and draws each start's directions from a seed of its own,
    whereas here the split ``w`` is random (so the starts cover unequal
    tilts of ``u`` and ``v``) and every draw comes from one generator; using it
    would change both the distribution and the draws of chapter 04.

    Parameters
    ----------
    target : Target
    depth : int
        ``N >= 2``.
    count : int
        Number of starts.
    seed : int or None
    norm_ratio_range : (float, float)
        Range of ``||W0||_F / s_Z``.

    Returns
    -------
    StableStarts
    """
    target = as_target(target, unique_Z1=True)
    N = positive_int(depth, "depth", minimum=2)
    count = positive_int(count, "count")
    lo, hi = _range(norm_ratio_range, "norm_ratio_range")
    rng = np.random.default_rng(seed)
    p_min = min_alpha(target)
    dy, dx = target.Z.shape
    W0 = np.empty((count, dy, dx))
    for k in range(count):
        p0 = p_min + (1 - p_min) * rng.uniform(0.02, 1.0)
        w = 0.0 if dy == 1 else 1.0 if dx == 1 else rng.uniform()
        a, b = p0**w, p0 ** (1 - w)
        u = target.u if a >= 1 else _tilted(target.u, a, rng)[0]
        v = target.v if b >= 1 else _tilted(target.v, b, rng)[0]
        s0 = target.s_Z * math.exp(rng.uniform(math.log(lo), math.log(hi)))
        W0[k] = s0 * np.outer(u, v)
    p = np.asarray(cosine_with_Z1(W0, target))
    alpha = p_min + (p - p_min) * rng.uniform(0.3, 0.999, size=count)
    ratio = np.linalg.norm(W0, axis=(1, 2)) / target.s_Z
    beta = np.minimum(max_beta(target, alpha), ratio) * rng.uniform(
        0.3, 0.999, size=count
    )
    return StableStarts(target=target, depth=N, W0=W0, alpha=alpha, beta=beta)


def random_instances(
    n_groups: int,
    starts_per_group: int,
    seed,
    *,
    dys=(1, 2, 3),
    dx_max: int = 6,
    depth_range=(2, 10),
    gamma_max: float = 0.9,
    s_Z_range=(0.1, 10.0),
    m: int = 50,
    norm_ratio_range=(0.3, 100.0),
) -> list[StableStarts]:
    """Random targets and starts satisfying (37), for testing Theorem 4.4 at scale.

    Group ``i`` has ``dy = dys[i % len(dys)]``, ``dx`` uniform in
    ``[max(2, dy), dx_max]``, a depth uniform in ``depth_range``, ``s_Z``
    log-uniform in ``s_Z_range``, ``gamma`` uniform in ``[0, gamma_max]`` (0
    when ``dy = 1``) and ``starts_per_group`` starts from
    :func:`random_stable_starts`. Starts of a group share the target and the
    depth, so :func:`theorem_4_4_check` integrates them in one batch.

    Parameters
    ----------
    n_groups, starts_per_group : int
    seed : int or None
    dys : sequence of int
        Output dimensions to cycle through.
    dx_max : int
        ``>= max(2, max(dys))``.
    depth_range : (int, int)
        Inclusive, ``>= 2``.
    gamma_max : float
        In ``[0, 1)``.
    s_Z_range : (float, float)
    m : int
    norm_ratio_range : (float, float)

    Returns
    -------
    list of StableStarts
    """
    n_groups = positive_int(n_groups, "n_groups")
    starts_per_group = positive_int(starts_per_group, "starts_per_group")
    if isinstance(dys, (str, bytes)) or not hasattr(dys, "__len__") or len(dys) == 0:
        raise ValueError(
            f"dys must be a non-empty list of output dimensions; got {dys!r}"
        )
    dys = [positive_int(d, f"dys[{i}]") for i, d in enumerate(dys)]
    dx_max = positive_int(dx_max, "dx_max")
    if dx_max < max(2, max(dys)):
        raise ValueError(
            f"dx_max must be >= max(2, max(dys)) = {max(2, max(dys))}; got {dx_max}"
        )
    d_lo, d_hi = _range(depth_range, "depth_range", integer=True)
    if d_lo < 2:
        raise ValueError(
            f"depth_range must start at >= 2 (Theorem 4.4 needs N >= 2); got {depth_range!r}"
        )
    g_max = positive_float(gamma_max, "gamma_max", allow_zero=True)
    if not g_max < 1:
        raise ValueError(f"gamma_max must be in [0, 1); got {gamma_max!r}")
    s_lo, s_hi = _range(s_Z_range, "s_Z_range")
    rng = np.random.default_rng(seed)
    groups = []
    for i in range(n_groups):
        dy = dys[i % len(dys)]
        dx = int(rng.integers(max(2, dy), dx_max + 1))
        depth = int(rng.integers(d_lo, d_hi + 1))
        s_Z = math.exp(rng.uniform(math.log(s_lo), math.log(s_hi)))
        gamma = 0.0 if min(dy, dx) == 1 else float(rng.uniform(0, g_max))
        target = random_target(dy, dx, s_Z, gamma, m, int(rng.integers(2**31)))
        groups.append(
            random_stable_starts(
                target,
                depth,
                starts_per_group,
                int(rng.integers(2**31)),
                norm_ratio_range=norm_ratio_range,
            )
        )
    return groups


@dataclass(frozen=True)
class BoundCheck:
    """Trajectories of one :class:`StableStarts` group against the bound (38a)/(38b).

    Attributes
    ----------
    t : ndarray, shape (T,)
    W : ndarray, shape (k, T, dy, dx)
        Trajectories of (17).
    dist2 : ndarray, shape (k, T)
        ``||W(t) - Z_1||_F^2``.
    bound : ndarray, shape (k, T)
        (38a) for ``t <= tau_bar``, (38b) after (:func:`linnet.theory.theorem_4_4_bound`).
    tau : ndarray, shape (k,)
        Measured first time ``||W(t)||_F <= sqrt(6) s_Z`` (0 for starts already inside).
    tau_bar : ndarray, shape (k,)
        The theorem's upper bound on ``tau``.
    margin : ndarray, shape (k, T)
        :func:`linnet.theory.stable_set_margin` of ``W(t)`` (``>= 0``: inside (36)).
    """

    t: np.ndarray
    W: np.ndarray
    dist2: np.ndarray
    bound: np.ndarray
    tau: np.ndarray
    tau_bar: np.ndarray
    margin: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("t", "W", "dist2", "bound", "tau", "tau_bar", "margin"))


def theorem_4_4_check(
    starts: StableStarts,
    *,
    settle: float = 10.0,
    n_times: int = 200,
    rtol: float = DEFAULT_RTOL,
):
    """Integrate a group of starts and evaluate the bound (38a)/(38b) along each trajectory.

    One batched integration (:func:`linnet.flows.induced_flow`) on
    ``[0]`` and ``n_times - 1`` geometric times from ``1e-7 T`` to
    ``T = settle / mu_N`` (``mu_N``: :func:`linnet.theory.slowest_nearby_rate`).

    Parameters
    ----------
    starts : StableStarts
    settle : float
        Length of the run in nearby time constants.
    n_times : int
        ``>= 3``.
    rtol : float

    Returns
    -------
    BoundCheck
    """
    if not isinstance(starts, StableStarts):
        raise ValueError(
            f"starts must be a StableStarts (see random_stable_starts); got {type(starts).__name__}"
        )
    settle = positive_float(settle, "settle")
    n_times = positive_int(n_times, "n_times", minimum=3)
    target, N = starts.target, starts.depth
    T = settle / nearby_modes(target, N).slowest
    t = np.concatenate([[0.0], np.geomspace(1e-7 * T, T, n_times - 1)])
    W = induced_flow(starts.W0, target, N, t, rtol=rtol).W
    k = W.shape[0]
    dist2 = np.sum((W - target.Z1) ** 2, axis=(2, 3))
    bound = np.empty_like(dist2)
    tau_bar = np.empty(k)
    margin = np.empty_like(dist2)
    tau = crossing_time(
        t, np.linalg.norm(W, axis=(2, 3)), PHASE_ONE_FACTOR * target.s_Z
    )
    for i in range(k):
        res = theorem_4_4_bound(
            starts.W0[i], target, N, starts.alpha[i], starts.beta[i], t
        )
        bound[i] = res.bound
        tau_bar[i] = res.tau_bar
        margin[i] = stable_set_margin(W[i], target, starts.alpha[i], starts.beta[i])
    return BoundCheck(
        t=t, W=W, dist2=dist2, bound=bound, tau=tau, tau_bar=tau_bar, margin=margin
    )


# --------------------------------------------------------------------------
# Section 4 as printed: (34), the set (36), Lemma 4.3 and (38a)/(38b)
# --------------------------------------------------------------------------

__all__ += [
    "dloss_34",
    "sample_set_36",
    "Paper38Check",
    "check_38",
    "Violation35",
    "search_35_violation",
]


def dloss_34(W, target: Target, depth: int) -> np.ndarray:
    """``dL_{1,1}(W_t)/dt`` along (17) by (34): ``-m <W - Z_1, A_W(W - Z)>`` (whitened data).

    ``-m A_W(W - Z)`` is :func:`linnet.flows.induced_velocity` (16), (17).
    ``W`` is a matrix (returns a float) or a stack ``(k, dy, dx)`` (returns shape ``(k,)``).
    """
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    V = induced_velocity(stack, target, depth)  # = -m A_W(W - Z)
    return _out(np.sum((stack - target.Z1) * V, axis=(-2, -1)), single)


@dataclass(frozen=True)
class Violation35:
    """The point of a seeded sample of (36) where ``d||Z_1 - W||^2/dt`` most exceeds (35)."""

    W: np.ndarray  # the rank-one point, shape (dy, dx)
    excess: float  # (2 dL/dt - rhs_35) / (|2 dL/dt| + |rhs_35|) at W, by (34)
    n_sampled: int
    n_exceeding: int  # sampled points whose relative excess is above 1e-10 (round-off of four terms)

    def __post_init__(self):
        freeze_fields(self, ("W",))


def search_35_violation(
    target: Target, depth: int, alpha: float, beta: float, count: int, seed
) -> Violation35:
    """Search ``count`` points of (36) (:func:`sample_set_36`) for the largest relative excess of
    ``d||Z_1 - W||_F^2/dt = 2 dL_{1,1}/dt`` (by (34)) over the right-hand side of (35).

    Used by chapter 04 to exhibit a point of (36) where even the doubled form of (35) fails.
    """
    W = sample_set_36(target, alpha, beta, count, seed)
    d2 = 2 * dloss_34(W, target, depth)
    R = rhs_35(W, target, depth)
    rel = (d2 - R) / (np.abs(d2) + np.abs(R))
    i = int(np.argmax(rel))
    return Violation35(
        W=W[i],
        excess=float(rel[i]),
        n_sampled=int(count),
        n_exceeding=int(np.sum(rel > 1e-10)),
    )


def sample_set_36(
    target: Target, alpha: float, beta: float, count: int, seed
) -> np.ndarray:
    """Random rank-one matrices covering the whole set (36), ``N_alpha,beta(Z_1)``.

    ``s_W`` is uniform on ``((alpha - gamma_Z) s_Z, beta s_Z)`` and the cosine
    ``p = u_W^T Z_1 v_W / s_Z`` uniform on ``(alpha, 1)``, both open intervals
    (endpoints redrawn), so every part of (36) is hit, its boundaries
    included in the limit. ``p = a b`` with ``a = u^T u_Z``, ``b = v^T v_Z``
    split at a random power (``a = 1`` when ``d_y = 1``, ``b = 1`` when
    ``d_x = 1``); the remaining directions are random
    (:func:`linnet.init.unit_orthogonal`; not :func:`linnet.init.rank_one_start`,
    which splits evenly, as in :func:`random_stable_starts`).

    Returns
    -------
    ndarray, shape (count, dy, dx)
    """
    target = as_target(target, unique_Z1=True)
    in_set_36(
        target.Z1, target, alpha, beta
    )  # validates alpha in [gamma_Z, 1) and beta > 1
    count = positive_int(count, "count")
    a_, b_ = float(alpha), float(beta)
    rng = np.random.default_rng(seed)
    dy, dx = target.Z.shape
    lo = (a_ - target.gamma) * target.s_Z
    s = rng.uniform(lo, b_ * target.s_Z, size=count)
    p = rng.uniform(a_, 1.0, size=count)
    for arr, low, high in ((s, lo, b_ * target.s_Z), (p, a_, 1.0)):
        bad = (arr <= low) | (arr >= high)
        while np.any(bad):
            arr[bad] = rng.uniform(low, high, size=int(bad.sum()))
            bad = (arr <= low) | (arr >= high)
    w = (
        np.zeros(count)
        if dy == 1
        else np.ones(count)
        if dx == 1
        else rng.uniform(size=count)
    )
    a, b = p**w, p ** (1 - w)
    u = _tilted(target.u, a, rng) if dy > 1 else np.tile(target.u, (count, 1))
    v = _tilted(target.v, b, rng) if dx > 1 else np.tile(target.v, (count, 1))
    return read_only(s[:, None, None] * u[:, :, None] * v[:, None, :])


@dataclass(frozen=True)
class Paper38Check:
    """Trajectories of (17) against the paper's (38a)/(38b), one target and depth.

    Attributes
    ----------
    t : ndarray, shape (T,)
    dist2 : ndarray, shape (k, T)
        ``||Z_1 - W(t)||_F^2``.
    tau : ndarray, shape (k,)
        First time ``s(tau) <= sqrt(6) s_Z`` (0 for starts already there),
        located to the solver's accuracy.
    dist2_tau : ndarray, shape (k,)
        ``||Z_1 - W(tau)||_F^2``.
    ratio_a : ndarray, shape (k, T)
        ``dist2 / (38a)`` for ``0 < t <= tau``, NaN elsewhere.
    ratio_b : ndarray, shape (k, T)
        ``dist2 / (38b)`` for ``t > tau``, NaN elsewhere.
    in_36 : ndarray of bool, shape (k, T)
        ``W(t)`` in (36) (Lemma 4.3).
    """

    t: np.ndarray
    dist2: np.ndarray
    tau: np.ndarray
    dist2_tau: np.ndarray
    ratio_a: np.ndarray
    ratio_b: np.ndarray
    in_36: np.ndarray

    def __post_init__(self):
        freeze_fields(
            self, ("t", "dist2", "tau", "dist2_tau", "ratio_a", "ratio_b", "in_36")
        )


def check_38(
    W0,
    target: Target,
    depth: int,
    alpha: float,
    beta: float,
    *,
    settle: float = 10.0,
    n_times: int = 300,
    rtol: float = DEFAULT_RTOL,
) -> Paper38Check:
    """Integrate starts ``W0`` (a stack) by (17) and compare with (38a) before ``tau`` and (38b) after.

    One batched integration on ``[0]`` and ``n_times - 1`` geometric times from
    ``1e-6 T`` to ``T = settle / mu_N`` (``mu_N``: :func:`linnet.theory.slowest_nearby_rate`). For a start with
    ``s_0 > sqrt(6) s_Z``, ``tau`` is bracketed on that grid, located on 201
    points of the bracket by a second integration and ``W(tau)`` computed by a
    third, so (38b) is evaluated from ``W(tau)`` itself, as the theorem states.
    (38a), (38b) come from :func:`linnet.theory.bound_38a`, :func:`~linnet.theory.bound_38b`.
    """
    target = as_target(target, unique_Z1=True)
    N = positive_int(depth, "depth", minimum=2)
    W0, single = as_matrix_stack(W0, "W0", target.Z.shape)
    if single:
        raise ValueError(
            f"W0 must be a stack of shape (k, dy, dx); got one matrix of shape {W0.shape[1:]}"
        )
    in_set_36(
        target.Z1, target, alpha, beta
    )  # validates alpha in [gamma_Z, 1) and beta > 1
    settle = positive_float(settle, "settle")
    n_times = positive_int(n_times, "n_times", minimum=3)
    T = settle / nearby_modes(target, N).slowest
    t = np.concatenate([[0.0], np.geomspace(1e-6 * T, T, n_times - 1)])
    W = induced_flow(W0, target, N, t, rtol=rtol).W
    k = W.shape[0]
    dist2 = np.sum((W - target.Z1) ** 2, axis=(2, 3))
    norms = np.linalg.norm(W, axis=(2, 3))
    sigma = PHASE_ONE_FACTOR * target.s_Z
    tau = np.zeros(k)
    d2_tau = dist2[:, 0].copy()
    ratio_a = np.full_like(dist2, np.nan)
    ratio_b = np.full_like(dist2, np.nan)
    for i in range(k):
        if norms[i, 0] > sigma:
            j = (
                int(np.flatnonzero(norms[i] <= sigma)[0])
                if np.any(norms[i] <= sigma)
                else -1
            )
            if j < 1:
                raise ValueError(
                    f"start {i} did not reach ||W|| <= sqrt(6) s_Z within the run; increase settle"
                )
            fine = np.linspace(0.0, t[j] - t[j - 1], 201)
            Wf = induced_flow(W[i, j - 1], target, N, fine, rtol=rtol).W
            dt = crossing_time(fine, np.linalg.norm(Wf, axis=(1, 2)), sigma)
            tau[i] = t[j - 1] + dt
            W_tau = induced_flow(W[i, j - 1], target, N, [0.0, dt], rtol=rtol).W[-1]
        else:
            W_tau = W[i, 0]
        d2_tau[i] = float(np.sum((W_tau - target.Z1) ** 2))
        a = (t > 0) & (t <= tau[i])
        if np.any(a):
            ratio_a[i, a] = dist2[i, a] / bound_38a(W0[i], target, N, alpha, beta, t[a])
        b = t > tau[i]
        ratio_b[i, b] = dist2[i, b] / bound_38b(
            W_tau, target, N, alpha, beta, t[b] - tau[i]
        )
    inside = in_set_36(W.reshape((-1,) + target.Z.shape), target, alpha, beta).reshape(
        k, -1
    )
    return Paper38Check(
        t=t,
        dist2=dist2,
        tau=tau,
        dist2_tau=d2_tau,
        ratio_a=ratio_a,
        ratio_b=ratio_b,
        in_36=inside,
    )
