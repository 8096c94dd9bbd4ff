"""The stable set of the induced flow and what happens outside it (paper Section 3).

Computations of the chapters on gradient flow and the stable set that are not
solvers themselves (those are in :mod:`linnet.flows`):

* :func:`conservation_drift`: how far gradient flow (13) moves the conserved
  quantities ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` (15).
* :func:`singular_value_velocity`: the velocities of the singular values of
  ``W`` along the induced flow (17), eq. (19) (our formulation).
* :func:`tangent_residual`, :func:`rank_drop_sequence`: the manifold
  ``M_{N,r}`` of rank-``r`` end-to-end matrices (20), that ``A_W`` maps into its
  tangent space, and a sequence in it whose limit drops rank (Lemma 3.4 role).
* :func:`rank_one_with`, :func:`sample_set_28`: random rank-one end-to-end
  matrices with a prescribed norm ratio ``s_W / s_Z`` and cosine ``u^T Z_1 v / s_Z``, and
  samples of the paper's set ``N_{N,alpha}`` (28) (membership:
  :func:`linnet.theory.in_set_28`), including its two edges;
  :func:`balanced_rank_one_networks`: balanced weights with those products.
* :func:`sample_at_correlation`: random rank-one starts with a prescribed
  norm ratio ``||W||_F / s_Z`` and correlation ``<W, Z> / (||W||_F s_Z)``.
* :func:`polar_coordinates`, :func:`time_to_accuracy_polar`: the polar
  coordinates of scalar-output starts, and the time after which the
  scalar-output flow stays within ``||W(t) - Z_1||_F <= rel_tol s_Z`` (the
  time-to-accuracy maps), from the book's closed form of the flow
  (:func:`linnet.theory.scalar_polar_path`).

Provenance: (28) is the paper's set, implemented in :func:`linnet.theory.in_set_28`.
:func:`singular_value_velocity`, :func:`tangent_residual` and
:func:`rank_drop_sequence` are the book's own computations about end-to-end
matrices; they illustrate (19) and Lemma 3.4 but are not the paper's statements
(the paper's ``M_{N,r}`` (20) is a set of weight tuples).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ..data import Target, as_target
from ..init import check_widths, numerical_rank, unit_orthogonal
from ..measure import angle_to_Z1, crossing_time, polar_distance
from ..network import as_weight_stack
from ..theory import polar_angle_clock, reduced_radial_velocity, scalar_polar_path
from ..validate import (
    as_matrix,
    as_matrix_stack,
    freeze_fields,
    positive_float,
    positive_int,
    positive_vector,
    rank_one_svd,
)

__all__ = [
    "conservation_drift",
    "printed_15_gap",
    "singular_value_velocity",
    "tangent_residual",
    "rank_drop_sequence",
    "rank_one_with",
    "sample_set_28",
    "Set28Sample",
    "balanced_rank_one_networks",
    "sample_at_correlation",
    "polar_coordinates",
    "time_to_accuracy_polar",
]


# --------------------------------------------------------------------------
# gradient flow: the conservation law (15)
# --------------------------------------------------------------------------


def _weight_trajectory(weights) -> list[np.ndarray]:
    """``[W_1(t), ..., W_N(t)]`` as arrays ``(T, d_j, d_{j-1})`` (one trajectory), depth ``N >= 2``.

    Parsed by :func:`linnet.network.as_weight_stack` with the ``T`` times as the stack axis.
    """
    if not isinstance(weights, (list, tuple)) or any(
        np.ndim(Wj) != 3 for Wj in weights
    ):
        raise ValueError(
            "weights must be a list of arrays (T, d_j, d_{j-1}): W_j at T times"
        )
    arrays = as_weight_stack(weights, "weights")
    if len(arrays) < 2:
        raise ValueError(
            f"weights must have depth N >= 2 (D_j pairs neighbouring layers); got N = {len(arrays)}"
        )
    return arrays


def conservation_drift(weights) -> np.ndarray:
    """``max_j ||D_j(t) - D_j(0)||_F`` along a trajectory of the weights (eq. 15).

    ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` is conserved by gradient flow (13)
    for every initialisation; balancedness (14, corrected) is ``D_j = 0``.

    Parameters
    ----------
    weights : list of ndarray
        ``weights[j - 1]`` of shape ``(T, d_j, d_{j-1})``: ``W_j`` at ``T`` times
        (the ``.weights`` of :func:`linnet.flows.gradient_flow`); depth ``N >= 2``.

    Returns
    -------
    ndarray, shape (T,)
        The drift at each time (0 at the first).
    """
    arrays = _weight_trajectory(weights)
    drift = np.zeros(arrays[0].shape[0])
    for lower, upper in pairwise(arrays):
        D = np.swapaxes(upper, 1, 2) @ upper - lower @ np.swapaxes(lower, 1, 2)
        drift = np.maximum(drift, np.linalg.norm(D - D[0], axis=(1, 2)))
    return drift


def printed_15_gap(weights) -> np.ndarray:
    """``max_j ||W_{j+1}^T W_{j+1} - W_j^T W_j||_F`` along a trajectory: (15) *as printed*.

    The paper prints (14)/(15) with ``W_j^T W_j`` on the right (see the errata);
    that expression type-checks only when all widths agree. This measures it,
    so that a chapter can show the printed conclusion of (15) failing from a
    start that satisfies the printed hypothesis (e.g. ``W_1 = W_2``).

    Parameters
    ----------
    weights : list of ndarray
        ``weights[j - 1]`` of shape ``(T, d, d)``, all widths equal; depth ``N >= 2``.

    Returns
    -------
    ndarray, shape (T,)
    """
    arrays = _weight_trajectory(weights)
    if len({a.shape for a in arrays}) != 1 or arrays[0].shape[1] != arrays[0].shape[2]:
        raise ValueError(
            "weights must hold arrays of one shape (T, d, d): (15) as printed needs equal widths"
        )
    gap = np.zeros(arrays[0].shape[0])
    for lower, upper in pairwise(arrays):
        P = np.swapaxes(upper, 1, 2) @ upper - np.swapaxes(lower, 1, 2) @ lower
        gap = np.maximum(gap, np.linalg.norm(P, axis=(1, 2)))
    return gap


# --------------------------------------------------------------------------
# the analytic SVD (19) and the manifold M_{N,r} (20)
# --------------------------------------------------------------------------


def singular_value_velocity(W, target: Target, depth: int) -> np.ndarray:
    """Velocities of the singular values of ``W`` along the induced flow (17), eq. (19).

    With the analytic SVD ``W(t) = U(t) S(t) V(t)^T`` (simple singular values),
    ``d s_i / dt = u_i^T W' v_i`` and, by (16)-(17) with whitened data,

    ``d s_i / dt = -N s_i^{2 - 2/N} u_i^T grad L_1(W) v_i = -m N s_i^{2 - 2/N} (s_i - u_i^T Z v_i)``

    (our formulation of (19)): a singular value ``s_i > 0`` moves at most like
    ``s_i^{2-2/N}``, ``2 - 2/N >= 1``, so it cannot reach 0 in finite time (Lemma 3.3 role).

    Parameters
    ----------
    W : array_like, shape (dy, dx)
    target : Target
        ``Z`` and ``m``.
    depth : int
        ``N >= 1``.

    Returns
    -------
    ndarray, shape (min(dy, dx),)
        ``d s_i / dt`` for the singular values in non-increasing order (0 where ``s_i = 0``).
    """
    target = as_target(target)
    W = as_matrix(W, "W", shape=target.Z.shape)
    N = positive_int(depth, "depth")
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    proj = np.einsum("ai,ab,ib->i", U, target.Z, Vt)
    positive = s > 0
    # -m N s^(2-2/N) (s - u^T Z v): the rank-one reduction of (17) for each singular value
    # (0 where s_i = 0, where the rate m N s^(2-2/N) vanishes).
    return np.where(
        positive,
        reduced_radial_velocity(np.where(positive, s, 1.0), proj, target.m, N),
        0.0,
    )


def tangent_residual(W, Delta, rank: int) -> float:
    """Part of ``Delta`` normal to the manifold of rank-``r`` matrices at ``W`` (eq. 20).

    ``M_r = {rank W = r}`` is a smooth submanifold of dimension
    ``r (dy + dx - r)``; with the SVD ``W = U_r S_r V_r^T`` its tangent space is
    ``{U_r A + B V_r^T}`` and the normal part of ``Delta`` is
    ``(I - U_r U_r^T) Delta (I - V_r V_r^T)``.

    Parameters
    ----------
    W : array_like, shape (dy, dx)
        Of rank at least ``rank``.
    Delta : array_like, shape (dy, dx)
    rank : int
        ``r >= 1``, at most ``min(dy, dx)``.

    Returns
    -------
    float
        ``||(I - U_r U_r^T) Delta (I - V_r V_r^T)||_F / ||Delta||_F`` (0 for ``Delta = 0``).
    """
    W = as_matrix(W, "W")
    Delta = as_matrix(Delta, "Delta", shape=W.shape)
    r = positive_int(rank, "rank")
    if r > min(W.shape):
        raise ValueError(f"rank must be at most min(dy, dx) = {min(W.shape)}; got {r}")
    U, _, Vt = np.linalg.svd(W)
    Ur, Vr = U[:, :r], Vt[:r].T
    normal = (Delta - Ur @ (Ur.T @ Delta)) - (Delta - Ur @ (Ur.T @ Delta)) @ Vr @ Vr.T
    size = np.linalg.norm(Delta)
    return float(np.linalg.norm(normal) / size) if size > 0 else 0.0


def rank_drop_sequence(W_limit, direction, scales) -> np.ndarray:
    """Matrices ``W_k = W_limit + e_k * direction`` of rank ``rank(W_limit) + 1`` tending to ``W_limit``.

    Shows that ``M_{N,r}`` (20) is not closed (Lemma 3.4 role): every ``W_k``
    with ``e_k > 0`` has rank ``r + 1`` when ``direction = x y^T`` with ``x``
    orthogonal to the column space and ``y`` to the row space of ``W_limit``, and
    the limit has rank ``r``.

    Parameters
    ----------
    W_limit : array_like, shape (dy, dx)
    direction : array_like, shape (dy, dx)
        Rank one (:func:`linnet.validate.rank_one_svd`), with
        ``(I - P) direction (I - Q) = direction`` for the projections ``P``,
        ``Q`` onto the column and row spaces of ``W_limit`` (checked to 1e-12
        relative).
    scales : array_like, shape (K,)
        Positive ``e_k``.

    Returns
    -------
    ndarray, shape (K, dy, dx)
    """
    W_limit = as_matrix(W_limit, "W_limit")
    direction = as_matrix(direction, "direction", shape=W_limit.shape)
    scales = positive_vector(scales, "scales")
    norm = np.linalg.norm(direction)
    if norm == 0:
        raise ValueError("direction must be nonzero")
    r = numerical_rank(W_limit)
    if r > 0 and tangent_residual(W_limit, direction, r) < 1 - 1e-12:
        raise ValueError(
            "direction must be orthogonal to the column and row spaces of W_limit (its normal part)"
        )
    rank_one_svd(direction[None], "direction")
    return W_limit[None] + scales[:, None, None] * direction[None]


# --------------------------------------------------------------------------
# the set N_{N,alpha} (28): sampling it, its edges and just outside
# --------------------------------------------------------------------------


def _norms_and_levels(
    target: Target, norm_ratios, levels, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate the two arrays of a rank-one sampler: norms ``k s_Z`` (``k > 0``) and levels in ``[-1, 1]``."""
    if not target.s_Z > 0:
        raise ValueError(
            "target must have Z != 0 (s_Z > 0): norms are given in units of s_Z"
        )
    c = np.atleast_1d(np.asarray(levels, dtype=float))
    k = np.atleast_1d(np.asarray(norm_ratios, dtype=float))
    if (
        c.ndim != 1
        or c.size == 0
        or not np.all(np.isfinite(c))
        or np.any(np.abs(c) > 1)
    ):
        raise ValueError(f"{name} must be a non-empty 1-D array of numbers in [-1, 1]")
    if k.shape != c.shape or not np.all(np.isfinite(k)) or np.any(k <= 0):
        raise ValueError(
            f"norm_ratios must be finite positive numbers with the shape of {name} {c.shape}"
        )
    return k * target.s_Z, c


def rank_one_with(target: Target, norm_ratios, cosines, seed) -> np.ndarray:
    """Random rank-one ``W = s u v^T`` with ``s_W = s = k s_Z`` and ``u^T Z_1 v / s_Z = c`` exactly.

    ``c`` is the cosine of :func:`linnet.theory.cosine_with_Z1`:
    ``u^T Z_1 v / s_Z = (u^T u_Z)(v^T v_Z)`` for unit ``u, v``. For ``d_y = 1``
    ``u = u_Z`` and ``v^T v_Z = c``; otherwise ``u^T u_Z = c^lam``,
    ``v^T v_Z = c^(1 - lam)`` with ``lam`` uniform in ``[0, 1]`` (for ``c > 0``;
    ``c <= 0`` puts all of ``c`` on ``v``), and the components orthogonal to
    ``u_Z``, ``v_Z`` are uniformly random directions
    (:func:`linnet.init.unit_orthogonal`).

    Not :func:`linnet.init.rank_one_start`, which makes one start at a
    prescribed *angle* with the split fixed (``cos a = cos b``, by
    :func:`linnet.init.rotate`, the same direction for ``d_y = 1`` as the
    paper's Figure 1 start): this draws a batch at prescribed *cosines*
    with a random split ``lam`` between ``u`` and ``v`` (a variety of
    directions for a Monte Carlo over the set (28)). Calling one from the
    other would change the distribution or the draws.

    Parameters
    ----------
    target : Target
    norm_ratios : array_like, shape (n,)
        ``k = s_W / s_Z > 0``.
    cosines : array_like, shape (n,)
        ``c`` in ``[-1, 1]``.
    seed : int or None

    Returns
    -------
    ndarray, shape (n, dy, dx)
    """
    target = as_target(target)
    s, c = _norms_and_levels(target, norm_ratios, cosines, "cosines")
    rng = np.random.default_rng(seed)
    n = c.size
    if target.dy == 1:
        a = np.ones(n)
    else:
        lam = rng.uniform(size=n)
        a = np.where(c > 0, np.abs(c) ** lam, 1.0)
    b = c / a
    u = a[:, None] * target.u[None] + np.sqrt(np.maximum(1 - a * a, 0.0))[
        :, None
    ] * unit_orthogonal(target.u, n, rng)
    v = b[:, None] * target.v[None] + np.sqrt(np.maximum(1 - b * b, 0.0))[
        :, None
    ] * unit_orthogonal(target.v, n, rng)
    return s[:, None, None] * u[:, :, None] * v[:, None, :]


@dataclass(frozen=True)
class Set28Sample:
    """Random end-to-end matrices in ``N_{N,alpha}`` (28), from :func:`sample_set_28`.

    Attributes
    ----------
    W : ndarray, shape (n, dy, dx)
        Rank-one matrices in the set.
    near_cosine_edge : ndarray of bool, shape (n,)
        Draws placed just above the cosine edge ``c = alpha``.
    near_norm_floor : ndarray of bool, shape (n,)
        Draws placed just above the norm floor ``s_W = (alpha - gamma_Z) s_Z``.

    The arrays are read-only.
    """

    W: np.ndarray
    near_cosine_edge: np.ndarray
    near_norm_floor: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("W", "near_cosine_edge", "near_norm_floor"))


def sample_set_28(
    target: Target,
    alpha: float,
    n: int,
    seed,
    *,
    edge_fraction: float = 0.25,
    max_norm_ratio: float = 10.0,
):
    """Random end-to-end matrices in ``N_{N,alpha}`` (28), covering all of it and its two edges.

    The set asks ``c = u_W^T Z_1 v_W / s_Z > alpha`` and ``s_W > f s_Z`` with the
    floor ``f = alpha - gamma_Z``. Each draw takes

    * its correlation ``c``: with probability ``edge_fraction`` just above the
      edge, ``c = alpha + (1 - alpha) 10^U``, ``U`` uniform in ``[-6, -2]``;
      otherwise uniform in ``(alpha, 1)``;
    * its norm ``s_W``: with probability ``edge_fraction`` just above the floor,
      ``s_W = f s_Z (1 + 10^U)``; otherwise log-uniform between the floor and
      ``max_norm_ratio s_Z`` (between ``1e-3 s_Z`` and ``max_norm_ratio s_Z`` when ``f = 0``);

    the two choices independent, the direction as in :func:`rank_one_with`.

    Parameters
    ----------
    target : Target
    alpha : float in (gamma_Z, 1)
    n : int
    seed : int or None
    edge_fraction : float in [0, 1]
    max_norm_ratio : float > 1
        Largest ``s_W / s_Z`` of the bulk draws.

    Returns
    -------
    Set28Sample
        ``.W`` (n, dy, dx) and which draws were placed just above the cosine
        edge (``.near_cosine_edge``) and just above the norm floor
        (``.near_norm_floor``).
    """
    target = as_target(target, unique_Z1=True)
    a = float(alpha)
    g = target.gamma
    if not (np.isfinite(a) and g < a < 1):
        raise ValueError(
            f"alpha must lie in (gamma_Z, 1) = ({g:.6g}, 1); got {alpha!r}"
        )
    n = positive_int(n, "n")
    if not 0 <= edge_fraction <= 1:
        raise ValueError(f"edge_fraction must be in [0, 1]; got {edge_fraction!r}")
    max_norm_ratio = positive_float(max_norm_ratio, "max_norm_ratio")
    if max_norm_ratio <= 1:
        raise ValueError(
            f"max_norm_ratio must be > 1 (s_W / s_Z); got {max_norm_ratio!r}"
        )
    rng = np.random.default_rng(seed)
    near_c = rng.uniform(size=n) < edge_fraction
    near_s = rng.uniform(size=n) < edge_fraction
    c = np.where(
        near_c,
        a + (1 - a) * 10 ** rng.uniform(-6, -2, n),
        a + (1 - a) * rng.uniform(size=n),
    )
    c = np.minimum(c, 1.0)
    floor = a - g
    low = np.log(floor) if floor > 0 else np.log(1e-3)
    bulk = np.exp(rng.uniform(low, np.log(max_norm_ratio), n))
    ratio = np.where(
        near_s & (floor > 0), floor * (1 + 10 ** rng.uniform(-6, -2, n)), bulk
    )
    W = rank_one_with(target, ratio, c, int(rng.integers(2**31)))
    return Set28Sample(
        W=W, near_cosine_edge=near_c, near_norm_floor=near_s & (floor > 0)
    )


def balanced_rank_one_networks(W0s, widths, seed) -> list[np.ndarray]:
    """Balanced networks (14, corrected) with rank-one end-to-end matrices ``W0s``, vectorised.

    For ``W0 = s u v^T``: ``W_1 = s^{1/N} q_1 v^T``, ``W_j = s^{1/N} q_j q_{j-1}^T``,
    ``W_N = s^{1/N} u q_{N-1}^T`` with ``q_j`` uniformly random unit vectors of
    length ``d_j``. Then ``W_N ... W_1 = W0`` and
    ``W_{j+1}^T W_{j+1} = s^{2/N} q_j q_j^T = W_j W_j^T``.

    Parameters
    ----------
    W0s : array_like, shape (B, dy, dx) or (dy, dx)
        Each of rank one (:func:`linnet.validate.rank_one_svd`, ``RANK_ONE_RTOL``).
    widths : sequence of int
        ``[dx, d_1, ..., dy]``.
    seed : int or None

    Returns
    -------
    list of ndarray
        ``weights[j - 1]`` of shape ``(B, d_j, d_{j-1})`` (``(d_j, d_{j-1})``
        for one matrix).
    """
    widths = check_widths(widths)
    dy, dx = widths[-1], widths[0]
    if np.ndim(W0s) in (2, 3) and np.shape(W0s)[-2:] != (dy, dx):
        got_dy, got_dx = np.shape(W0s)[-2:]
        raise ValueError(
            f"widths must start with dx = {got_dx} and end with dy = {got_dy} (the shape of W0s); got {widths}"
        )
    W0s, single = as_matrix_stack(W0s, "W0s", (dy, dx))
    if W0s.shape[0] == 0:
        raise ValueError("W0s must hold at least one matrix (B >= 1)")
    U, sv, Vt = rank_one_svd(W0s, "W0s", nonzero=True)
    B = W0s.shape[0]
    N = len(widths) - 1
    rng = np.random.default_rng(seed)
    root = sv[:, 0] ** (1.0 / N)
    q = (
        [Vt[:, 0, :]]
        + [_unit(rng.standard_normal((B, d))) for d in widths[1:-1]]
        + [U[:, :, 0]]
    )
    weights = [
        root[:, None, None] * q[j][:, :, None] * q[j - 1][:, None, :]
        for j in range(1, N + 1)
    ]
    return [Wj[0] for Wj in weights] if single else weights


# --------------------------------------------------------------------------
# sampling starts
# --------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def sample_at_correlation(
    target: Target, norm_ratios, correlations, seed
) -> np.ndarray:
    """Random rank-one matrices ``W = s u v^T`` with ``s = k s_Z`` and ``<W, Z> = c s s_Z`` exactly.

    ``c`` is the correlation of :func:`linnet.theory.correlation_with_target`.
    For each correlation ``c`` and norm ``s`` a random pair ``(u_r, v_r)`` of unit
    vectors is drawn (uniform on the spheres); ``u_r`` is flipped if needed to
    lie on the side of ``u_e = sign(c) u_Z`` and ``v_r`` so that
    ``u_r^T Z v_r`` and ``c`` have opposite signs. Along the path
    ``u(l) ~ (1 - l) u_e + l u_r``, ``v(l) ~ (1 - l) v_Z + l v_r`` from the
    extreme point ``u_e = sign(c) u_Z`` (correlation ``sign(c)``) the correlation
    ``u^T Z v / s_Z`` passes through ``c``; bisection (60 halvings) finds it.
    Correlations ``c = +-1`` give ``+-s Z_1 / s_Z``.

    Parameters
    ----------
    target : Target
        ``s_Z > 0``.
    norm_ratios : array_like, shape (n,)
        ``k = ||W||_F / s_Z > 0``.
    correlations : array_like, shape (n,)
        ``c in [-1, 1]`` (``rho(W) / s_Z``).
    seed : int or None

    Returns
    -------
    ndarray, shape (n, dy, dx)
        Rank one, ``<W, Z> / (||W||_F s_Z) = c`` to about 1e-15.
    """
    target = as_target(target)
    s, c = _norms_and_levels(target, norm_ratios, correlations, "correlations")
    rng = np.random.default_rng(seed)
    n, (dy, dx) = c.size, target.Z.shape
    Z, s_Z = target.Z, target.s_Z
    ur = _unit(rng.standard_normal((n, dy)))
    vr = _unit(rng.standard_normal((n, dx)))
    sign = np.where(c >= 0, 1.0, -1.0)
    ue = sign[:, None] * target.u[None]
    # u_r on the side of u_e (the u-path never passes through 0); v_r flipped so
    # that the correlation at the far end has the sign opposite to c.
    ur = np.where((np.sum(ur * ue, axis=1) < 0)[:, None], -ur, ur)
    rho_r = np.einsum("na,ab,nb->n", ur, Z, vr) / s_Z
    vr = np.where((rho_r * sign > 0)[:, None], -vr, vr)
    ve = np.broadcast_to(target.v, (n, dx))

    def at(lam):
        u = _unit((1 - lam)[:, None] * ue + lam[:, None] * ur)
        v = _unit((1 - lam)[:, None] * ve + lam[:, None] * vr)
        return u, v, np.einsum("na,ab,nb->n", u, Z, v) / s_Z

    lo, hi = (
        np.zeros(n),
        np.ones(n),
    )  # f(lo) has the sign of c (or is 0), f(hi) the other sign
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        f = at(mid)[2] - c
        same = f * sign > 0
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    u, v, _ = at(0.5 * (lo + hi))
    extreme = np.abs(c) == 1
    u[extreme] = ue[extreme]
    v[extreme] = ve[extreme]
    return s[:, None, None] * u[:, :, None] * v[:, None, :]


# --------------------------------------------------------------------------
# scalar output: time to accuracy
# --------------------------------------------------------------------------


def polar_coordinates(W, target: Target):
    """``(r, theta)`` of end-to-end matrices ``W`` for ``d_y = 1``: ``r = ||W||_F``, ``theta`` the angle to ``Z``.

    A thin call of the core: ``theta`` is :func:`linnet.measure.angle_to_Z1`
    (``atan2``, accurate near 0 and ``pi``; for ``d_y = 1``, ``Z = Z_1``). It is
    the inverse of the polar coordinates of :func:`linnet.flows.scalar_polar_flow`
    (``W = r (cos(theta) v_Z^T + sin(theta) w^T)``), for feeding random starts to
    :func:`time_to_accuracy_polar`; it only adds the check ``d_y = 1``.

    Parameters
    ----------
    W : array_like, shape (k, 1, dx) or (1, dx)
        Nonzero, finite.
    target : Target
        With ``d_y = 1`` and ``Z != 0``.

    Returns
    -------
    r, theta : ndarray, shape (k,) (floats for one matrix)
    """
    target = as_target(target)
    if target.dy != 1:
        raise ValueError(
            f"target must have d_y = 1 (polar coordinates are for scalar outputs); got d_y = {target.dy}"
        )
    if not target.s_Z > 0:
        raise ValueError(
            "target must have Z != 0 (s_Z > 0): the angle to Z is undefined for Z = 0"
        )
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    theta = angle_to_Z1(stack, target)
    r = np.linalg.norm(stack, axis=(1, 2))
    return (float(r[0]), float(theta[0])) if single else (r, theta)


def time_to_accuracy_polar(
    r0, theta0, s_Z, m, depth, *, rel_tol, points: int = 2000, max_time: float = np.inf
):
    """Time after which ``||W(t) - Z_1||_F <= rel_tol s_Z`` for the scalar-output flow (17).

    Semi-analytic, so that times of any size come out accurately (an explicit
    integrator needs ``~ m s_Z t`` steps to reach time ``t`` once a trajectory
    has converged): the flow in closed form along its angle clock
    ``x = -log tan(theta/2)`` (:func:`linnet.theory.scalar_polar_path`: ``r(x)``
    and ``theta(x)`` exactly, ``t(x)`` by a quadrature) on ``points`` nodes,
    the distance ``||W - Z_1||_F`` at the nodes by
    :func:`linnet.measure.polar_distance`, and the time by
    :func:`linnet.measure.crossing_time` with ``stay=True`` (the convention of
    :func:`linnet.measure.polar_time_to_accuracy`), interpolating ``log`` of the
    distance linearly in ``t`` between the bracketing nodes.

    For ``d_y = 1``, ``Z = Z_1`` and, with whitened data,
    ``||W - Z_1||_F^2 = 2 L_1(W) / m + const``; (17) is the gradient flow of
    ``L_1`` preconditioned by the positive semi-definite ``A_W``, so the
    distance never increases along the flow: the time after which the accuracy
    holds is also the first time it is reached, except at round-off of ``r``
    near ``s_Z`` (tests/test_theory_ch0103.py: increments at the nodes below
    ``1e-13 s_Z``), where ``stay=True`` is the robust reading.

    The clock interval of each start is
    ``|x_0| + max(0, log(s_Z/r_0))/N + 2 log(4/rel_tol) + 5``: long enough for
    the angle to close far below ``rel_tol`` and, for small starts, for the
    norm to grow back.

    Parameters
    ----------
    r0, theta0 : array_like, same shape
        Initial norms ``> 0`` and angles to ``Z`` in ``[0, pi]`` (radians).
        ``theta0 = pi`` (the ray opposite to ``Z``) never converges: ``inf``.
    s_Z, m : float
        ``||Z|| > 0`` and the number of examples.
    depth : int
        ``N >= 2``.
    rel_tol : float
        ``0 < rel_tol < 1``: the accuracy ``||W - Z_1||_F / s_Z`` to reach.
    points : int
        Nodes of the quadrature per start (relative error of the times
        ``~1e-5`` at the default; see the tests).
    max_time : float
        Times above it are reported as ``inf``.

    Returns
    -------
    ndarray, shape of ``r0``
        The times (0 for starts already within ``rel_tol s_Z``).

    See Also
    --------
    linnet.measure.polar_time_to_accuracy : the same time read off a trajectory
        integrated by :func:`linnet.flows.scalar_polar_flow` at given output times.
    """
    r0 = np.asarray(r0, dtype=float)
    theta0 = np.asarray(theta0, dtype=float)
    if theta0.shape != r0.shape or r0.size == 0:
        raise ValueError("r0 and theta0 must be non-empty arrays of the same shape")
    if not np.all(np.isfinite(r0)) or np.any(r0 <= 0):
        raise ValueError("r0 must be finite and > 0 (W = 0 is a fixed point)")
    if not np.all(np.isfinite(theta0)) or np.any(theta0 < 0) or np.any(theta0 > np.pi):
        raise ValueError("theta0 must be in [0, pi]")
    s_Z = positive_float(s_Z, "s_Z")
    m = positive_float(m, "m")
    N = positive_int(depth, "depth", minimum=2)
    rel_tol = positive_float(rel_tol, "rel_tol")
    if rel_tol >= 1:
        raise ValueError(f"rel_tol must be in (0, 1); got {rel_tol!r}")
    K = positive_int(points, "points", minimum=100)
    max_time = positive_float(max_time, "max_time") if np.isfinite(max_time) else np.inf

    flat_r, flat_th = r0.ravel(), theta0.ravel()
    out = np.full(flat_r.size, np.inf)
    ok = flat_th < np.pi  # the opposite ray theta0 = pi never converges
    rr, th = flat_r[ok], flat_th[ok]
    if rr.size:
        x0 = np.asarray(polar_angle_clock(th), dtype=float).reshape(-1)
        span = (
            np.abs(x0)
            + np.maximum(0.0, np.log(s_Z) - np.log(rr)) / N
            + 2 * np.log(4 / rel_tol)
            + 5.0
        )
        t, r, theta = scalar_polar_path(rr, th, s_Z, m, N, span, points=K)
        d = polar_distance(r, theta, s_Z) / s_Z
        # The time after which d <= rel_tol holds at every later node, by linnet's
        # crossing time on the node parameter u, common to every start (0 if the start
        # is within rel_tol, inf if not reached, log-linear interpolation of d between
        # the bracketing nodes), then mapped to time by interpolating t(u) linearly on
        # that interval: log-linear interpolation of d in t.
        u = np.linspace(0.0, 1.0, K)
        u_cross = crossing_time(u, d, rel_tol, stay=True)
        res = np.full(rr.size, np.inf)
        rows = np.flatnonzero(np.isfinite(u_cross))
        if rows.size:
            j = np.clip(np.searchsorted(u, u_cross[rows], side="right"), 1, K - 1)
            frac = (u_cross[rows] - u[j - 1]) / (u[j] - u[j - 1])
            res[rows] = t[rows, j - 1] + frac * (t[rows, j] - t[rows, j - 1])
        res[res > max_time] = np.inf
        out[ok] = res
    return out.reshape(r0.shape)
