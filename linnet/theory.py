"""Formulas of the convergence theorems: stable sets, bounds, rates, constants.

Two groups of small pure functions.

**Eftekhari (networks with a one-neuron layer, whitened data).** The end-to-end
matrix ``W`` of such a network has rank one; under the induced flow (17) with
``X X^T = m I`` (23) it converges to ``Z_1 = s_Z u v^T`` (27) from the stable
sets below. Two kinds of statements live here, kept apart: the paper's own
formulas with its constants, cited by equation number ((28): ``set_28_margins``,
``in_set_28``; (31), (33), (35), (36), (38a)/(38b), remark 1 after Theorem 4.4:
``in_set_36``, ``bound_38a``, ``bound_38b``, ``theorem_4_4_applies`` and their
helpers), and results of this book (``theorem_4_4_bound``, ``theorem_3_8_bound``,
``time_to_accuracy``: a two-phase bound proved in ``notes/paper-statements.md``,
A.6, on a cone without an upper norm bound; ``nearby_modes``: the exact nearby
rates; ``faraway_halving_time``, ``far_phase_time``, ``time_scale_factor``,
``two_phase_time_estimate``, ``escape_time``: the phase laws of the rank-one
reduction of (17), chapters 06 and 07). The book's results are never presented
under the paper's numbers.

Quantities used throughout, for a rank-one ``W = s u v^T`` (``s = ||W||_F``):

* correlation with the target ``rho(W) = <W, Z> / ||W||_F = u^T Z v``
  (nondecreasing along (17));
* cosine with ``Z_1``: ``p(W) = <W, Z_1> / (||W||_F s_Z)`` (nondecreasing along
  (17) while positive).

**Arora, Cohen, Golowich & Hu (gradient descent, ICLR 2019).** Deficiency margin
(Definition 2), delta-balancedness (Definition 1) and the constants of
Theorem 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import quad

from .data import Target, as_target
from .measure import polar_distance
from .network import balancedness, check_weights, end_to_end
from .validate import (
    RANK_ONE_RTOL,
    as_matrix,
    as_matrix_stack,
    positive_float,
    positive_int,
    rank_one_svd,
    start_angle,
)

__all__ = [
    "PHASE_ONE_FACTOR",
    "max_beta",
    "min_alpha",
    "correlation_with_target",
    "cosine_with_Z1",
    "correlation_set_margin",
    "in_correlation_set",
    "stable_set_margin",
    "in_stable_set",
    "set_28_margins",
    "in_set_28",
    "RankOneBound",
    "theorem_3_8_bound",
    "theorem_4_4_bound",
    "time_to_accuracy",
    "deficiency_margin",
    "arora_step_bounds",
    "delta_balancedness",
    "AroraTheorem1",
    "arora_theorem_1",
]


#: Phase one of Theorem 4.4 lasts until ``||W(t)||_F <= sqrt(6) s_Z``.
PHASE_ONE_FACTOR = math.sqrt(6.0)


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def _require_rank_one(stack: np.ndarray, name: str) -> np.ndarray:
    """Singular values of each matrix; raise unless each has rank <= 1 (see :func:`linnet.validate.rank_one_svd`)."""
    return rank_one_svd(stack, name)[1]


def _alpha(alpha) -> float:
    a = positive_float(alpha, "alpha")
    if a > 1:
        raise ValueError(f"alpha must lie in (0, 1]; got {alpha!r}")
    return a


def max_beta(target: Target, alpha):
    """The largest ``beta`` for which ``N_alpha,beta(Z_1)`` (36) is invariant: ``(1 + gamma) alpha - gamma``.

    Positive only for ``alpha > gamma / (1 + gamma)`` (:func:`min_alpha`), which
    is where (37) can hold. ``alpha`` may be an array (the result broadcasts).
    """
    g = as_target(target, unique_Z1=True).gamma
    a = np.asarray(alpha, dtype=float)
    if not (np.all(np.isfinite(a)) and np.all(a > 0) and np.all(a <= 1)):
        raise ValueError(f"alpha must lie in (0, 1]; got {alpha!r}")
    out = (1 + g) * a - g
    return out.item() if out.ndim == 0 else out


def min_alpha(target: Target) -> float:
    """``gamma / (1 + gamma)``: below this cosine no ``beta > 0`` makes (36) invariant (see :func:`max_beta`)."""
    g = as_target(target, unique_Z1=True).gamma
    return g / (1 + g)


def _alpha_beta(target: Target, alpha, beta) -> tuple[float, float]:
    a = _alpha(alpha)
    b = positive_float(beta, "beta")
    g = target.gamma
    b_max = max_beta(target, a)
    if not b <= b_max:
        raise ValueError(
            f"beta must satisfy 0 < beta <= (1 + gamma) alpha - gamma = {b_max:.6g} (gamma = s_Z2/s_Z = {g:.6g}, "
            f"alpha = {a:.6g}) for N_alpha,beta(Z1) (36) to be invariant; got beta = {b:.6g}"
            + (
                "; no beta > 0 exists: increase alpha above gamma/(1+gamma)"
                if b_max <= 0
                else ""
            )
        )
    return a, b


def _depth(depth) -> int:
    return positive_int(depth, "depth", minimum=2)


def _times(t) -> np.ndarray:
    arr = np.atleast_1d(np.array(t, dtype=float))  # a copy: made read-only below
    if arr.ndim != 1:
        raise ValueError(
            f"t must be a number or a 1-D array of times; got an array with {arr.ndim} dimensions"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("t must be finite; it has NaN or infinite entries")
    if np.any(arr < 0):
        raise ValueError(
            f"t must be >= 0 (times after the start); got min(t) = {arr.min():.6g}"
        )
    return arr


def _scalars(
    W, target: Target, sv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``||W||_F``, ``rho = <W,Z>/||W||_F`` and ``p = <W,Z1>/(||W||_F s_Z)`` for a stack (NaN where W = 0).

    ``sv`` are the singular values of each matrix. ``W`` is divided by its
    largest singular value first, so nothing under- or overflows for tiny or
    huge ``W``.
    """
    top = sv[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        Wn = W / top[:, None, None]
        unit_norm = np.sqrt(
            np.sum((sv / top[:, None]) ** 2, axis=1)
        )  # ||W||_F / sigma_1
        rho = np.einsum("kij,ij->k", Wn, target.Z) / unit_norm
        p = np.einsum("kij,ij->k", Wn, target.Z1 / target.s_Z) / unit_norm
    norm = np.where(top > 0, top * unit_norm, 0.0)
    return norm, rho, p


def _out(values: np.ndarray, single: bool):
    return values[0].item() if single else values


# --------------------------------------------------------------------------
# Eftekhari: correlations and the stable sets (28), (36)
# --------------------------------------------------------------------------


def correlation_with_target(W, target: Target):
    """Correlation ``rho(W) = <W, Z> / ||W||_F`` of a rank-one ``W`` with the target.

    Nondecreasing along the induced flow (17) (Lemma R1 of the notes); equals
    ``s_Z`` exactly at ``W`` proportional to ``Z_1`` (27).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
        One end-to-end matrix or a stack of them, each of rank one.
    target : Target

    Returns
    -------
    float or ndarray of shape (k,)
        NaN where ``W = 0`` (no direction).
    """
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    sv = _require_rank_one(stack, "W")
    return _out(_scalars(stack, target, sv)[1], single)


def cosine_with_Z1(W, target: Target):
    """Cosine ``p(W) = <W, Z_1> / (||W||_F ||Z_1||_F)`` between ``W`` and ``Z_1`` (27).

    For ``W = s u v^T`` this is ``(u^T u_Z)(v^T v_Z)``; it is nondecreasing along
    (17) while positive. Same parameters and return convention as
    :func:`correlation_with_target`.
    """
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    sv = _require_rank_one(stack, "W")
    return _out(_scalars(stack, target, sv)[2], single)


def correlation_set_margin(W, target: Target, alpha: float):
    """Signed margin of ``W`` in the book's correlation set ``N_alpha`` (not the paper's (28)).

    ``N_alpha = {W of rank one : <W, Z>/||W||_F >= s_Z2 + alpha (s_Z - s_Z2)}``.
    The set is invariant under (17) for every depth ``N >= 2`` and the flow
    converges from it to ``Z_1`` (the book's own result; notes A.4). It is a
    different set from the paper's ``N_{N,alpha}`` (28), which asks a cosine
    with ``Z_1`` and a norm floor: see :func:`in_set_28`.

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
        Rank-one end-to-end matrix (or a stack).
    target : Target
        Must satisfy ``s_Z > s_Z2`` (Assumption 3.6).
    alpha : float in (0, 1]
        Fraction of the spectral gap ``s_Z - s_Z2`` by which the correlation must
        exceed ``s_Z2``; ``alpha = 1`` leaves only multiples of ``Z_1``.

    Returns
    -------
    float or ndarray of shape (k,)
        ``(rho(W) - s_Z2 - alpha (s_Z - s_Z2)) / s_Z``: ``>= 0`` exactly on the
        set; ``-inf`` for ``W = 0`` (the saddle at the origin is in no stable set).

    Raises
    ------
    ValueError
        If ``target`` is not a Target with unique ``Z_1``, ``alpha`` is not in
        (0, 1], ``W`` has the wrong shape, non-finite entries or rank two or more.
    """
    target = as_target(target, unique_Z1=True)
    a = _alpha(alpha)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    sv = _require_rank_one(stack, "W")
    norm, rho, _ = _scalars(stack, target, sv)
    threshold = target.s_Z2 + a * (target.s_Z - target.s_Z2)
    margin = np.where(norm > 0, (rho - threshold) / target.s_Z, -np.inf)
    return _out(margin, single)


def in_correlation_set(W, target: Target, alpha: float):
    """Whether ``W`` lies in the book's ``N_alpha`` (not (28); see :func:`in_set_28`); see :func:`correlation_set_margin`.

    Returns a bool for one matrix and a boolean array for a stack.
    """
    margin = correlation_set_margin(W, target, alpha)
    return bool(margin >= 0) if np.isscalar(margin) else margin >= 0


def stable_set_margin(W, target: Target, alpha: float, beta: float):
    """Signed margin of ``W`` in ``N_alpha,beta(Z_1)`` (role of (36); re-derived).

    ``N_alpha,beta(Z_1) = {W of rank one : <W, Z_1> >= alpha s_Z ||W||_F and
    ||W||_F >= beta s_Z}``: a cone of half-angle ``arccos(alpha)`` around ``Z_1``
    minus a ball of radius ``beta s_Z`` around the origin. It is invariant under
    (17) (role of Lemma 4.3) when ``0 < beta <= (1 + gamma) alpha - gamma``,
    ``gamma = s_Z2/s_Z``; far-away starts are allowed (there is no upper bound
    on the norm).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
    target : Target
    alpha : float in (0, 1]
        Minimal cosine between ``W`` and ``Z_1``.
    beta : float
        Minimal norm in units of ``s_Z``; ``0 < beta <= (1 + gamma) alpha - gamma``.

    Returns
    -------
    float or ndarray of shape (k,)
        ``min(p(W) - alpha, ||W||_F / s_Z - beta)``: ``>= 0`` exactly on the
        set, ``-inf`` for ``W = 0``.

    Raises
    ------
    ValueError
        As :func:`correlation_set_margin`, and if ``beta`` is not positive or
        exceeds ``(1 + gamma) alpha - gamma``.
    """
    target = as_target(target, unique_Z1=True)
    a, b = _alpha_beta(target, alpha, beta)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    sv = _require_rank_one(stack, "W")
    norm, _, p = _scalars(stack, target, sv)
    margin = np.where(norm > 0, np.minimum(p - a, norm / target.s_Z - b), -np.inf)
    return _out(margin, single)


def in_stable_set(W, target: Target, alpha: float, beta: float):
    """Whether ``W`` lies in ``N_alpha,beta(Z_1)`` (role of (36)); see :func:`stable_set_margin`."""
    margin = stable_set_margin(W, target, alpha, beta)
    return bool(margin >= 0) if np.isscalar(margin) else margin >= 0


# --------------------------------------------------------------------------
# Eftekhari: the set N_{N,alpha} (28) exactly as the paper defines it
# --------------------------------------------------------------------------


def _alpha_28(target: Target, alpha) -> float:
    """``alpha`` checked against the range ``[gamma_Z, 1)`` that the text before (28) fixes."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(
            f"alpha must be a real number in [gamma_Z, 1); got {alpha!r}"
        ) from None
    g = target.gamma
    if not (math.isfinite(a) and g <= a < 1):
        raise ValueError(
            f"alpha must lie in [gamma_Z, 1) = [{g:.6g}, 1) (the range fixed before (28)); got {alpha!r}"
        )
    return a


def _rank_one_svd(
    stack: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``s, u, v`` of ``s u v^T`` for each matrix of a stack, raising unless each has rank exactly one."""
    U, sv, Vt = rank_one_svd(stack, name, nonzero=True)
    return sv[:, 0], U[:, :, 0], Vt[:, 0, :]


def set_28_margins(W, target: Target, alpha: float):
    """The two margins of the end-to-end matrix ``W`` in ``N_{N,alpha}`` (28), in units of ``s_Z``.

    With the thin SVD ``W = u_W s_W v_W^T`` (rank one), (28) asks

    * ``u_W^T Z_1 v_W > alpha s_Z`` (correlation with ``Z_1`` (27)), and
    * ``s_W > (alpha - gamma_Z) s_Z`` (norm floor, ``gamma_Z`` of (26)).

    The first quantity does not depend on the sign convention of the SVD
    (flipping ``u_W`` and ``v_W`` together leaves it unchanged).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
        End-to-end matrix ``W_N ... W_1`` (or a stack), of rank exactly one.
    target : Target
        ``Z`` with ``s_Z > s_Z2`` (Assumption 3.6).
    alpha : float in [gamma_Z, 1)

    Returns
    -------
    (correlation, norm) : floats or ndarrays of shape (k,)
        ``(u_W^T Z_1 v_W - alpha s_Z) / s_Z`` and ``(s_W - (alpha - gamma_Z) s_Z) / s_Z``;
        ``W`` is in (28) exactly when both are ``> 0``.

    Raises
    ------
    ValueError
        If ``target`` is not a Target with unique ``Z_1``; ``alpha`` is not in
        ``[gamma_Z, 1)``; ``W`` has the wrong shape, non-finite entries, rank 0
        or rank 2 or more.
    """
    target = as_target(target, unique_Z1=True)
    a = _alpha_28(target, alpha)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    s, u, v = _rank_one_svd(stack, "W")
    corr = (u @ target.u) * (v @ target.v)  # u_W^T Z_1 v_W / s_Z
    corr_margin = corr - a
    norm_margin = s / target.s_Z - (a - target.gamma)
    return _out(corr_margin, single), _out(norm_margin, single)


def in_set_28(W, target: Target, alpha: float):
    """Whether the end-to-end matrix ``W`` lies in ``N_{N,alpha}`` (28).

    ``W = u_W s_W v_W^T`` (thin SVD, rank one) is in the set when
    ``u_W^T Z_1 v_W > alpha s_Z`` and ``s_W > (alpha - gamma_Z) s_Z`` (both strict,
    as printed). ``alpha`` must lie in ``[gamma_Z, 1)``, the range fixed before
    (28) (Lemma 3.7 and Theorem 3.8 take ``alpha in (gamma_Z, 1)``; see the errata).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
    target : Target
    alpha : float

    Returns
    -------
    bool for a single matrix, ndarray of bool of shape (k,) for a stack.

    Raises
    ------
    ValueError
        As :func:`set_28_margins`: rank 0 or rank >= 2, ``alpha`` outside
        ``[gamma_Z, 1)``, non-finite entries, wrong shape.
    """
    corr, norm = set_28_margins(W, target, alpha)
    inside = np.logical_and(np.asarray(corr) > 0, np.asarray(norm) > 0)
    return bool(inside) if np.isscalar(corr) else inside


# --------------------------------------------------------------------------
# Eftekhari: the two-phase bound (38a)/(38b) and the epsilon-time (remark 1)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RankOneBound:
    """Right-hand sides of the two-phase bound on ``||W(t) - Z_1||_F^2`` (notes A.6).

    Attributes
    ----------
    t : ndarray
        The times asked for.
    bound : ndarray
        Upper bound on ``||W(t) - Z_1||_F^2`` at each time: (38a) where
        ``t <= tau_bar``, (38b) after.
    phase_one : ndarray of bool
        ``t <= tau_bar``: where (38a) was used.
    tau_bar : float
        Upper bound on ``tau``, the first time ``||W(t)||_F <= sqrt(6) s_Z``
        (0 when the start already satisfies it).
    rate_cosine : float
        ``lambda``: ``1 - p(W(t)) <= (1 - p(W(0))) exp(-lambda t)``.
    rate_norm : float
        ``k_lo``: the contraction rate of ``| ||W(t)||_F - s_Z |``.
    asymptotic_rate : float
        ``min(2 k_lo, lambda)``: the bound decays like ``exp(-asymptotic_rate t)``
        (up to a factor ``t`` when ``k_lo == lambda``).
    s_low, p_low : float
        The lower bounds on ``||W(t)||_F`` and on ``p(W(t))`` the rates use.
    s0, p0 : float
        ``||W(0)||_F`` and ``p(W(0))``.
    """

    t: np.ndarray
    bound: np.ndarray
    phase_one: np.ndarray
    tau_bar: float
    rate_cosine: float
    rate_norm: float
    asymptotic_rate: float
    s_low: float
    p_low: float
    s0: float
    p0: float


@dataclass(frozen=True)
class _Constants:
    s_Z: float
    gamma: float
    s0: float
    p0: float
    p_low: float
    s_low: float
    lam: float  # rate of 1 - p
    k_lo: float  # contraction rate of |s - s_Z|
    A: float  # forcing of |s - s_Z| by 1 - p
    tau_bar: float
    phase_rate: float  # 2 (N-1) m (1 - 1/sqrt 6)
    kappa: float  # 2 - 2/N
    D0: float
    s_hi: float


def _constants(
    target: Target, N: int, s0: float, p0: float, p_low: float, s_low: float
) -> _Constants:
    m, s_Z, g = float(target.m), target.s_Z, target.gamma
    lam = 2 * m * s_Z * (1 - g) * p_low * s_low ** (1 - 2 / N)
    k_lo = (
        m * N * s_low ** kappa(N)
    )  # radial_rate at s_low, which may underflow: checked here
    for name, rate in (("cosine", lam), ("norm", k_lo)):
        if not (np.isfinite(rate) and rate > 0):
            raise ValueError(
                f"the exponent of the {name} decay in (38) must be negative and finite; its rate evaluated to "
                f"{rate!r} (s_Z = {s_Z:.3g}, m = {m}, depth = {N}: rescale Z so that s_Z is not near under/overflow)"
            )
    k_Z = radial_rate(s_Z, m, N)
    sigma = PHASE_ONE_FACTOR * s_Z
    k = kappa(N)
    phase_rate = 2 * (N - 1) * m * (1 - 1 / PHASE_ONE_FACTOR)
    tau_bar = (sigma**-k - s0**-k) / phase_rate if s0 > sigma else 0.0
    return _Constants(
        s_Z=s_Z,
        gamma=g,
        s0=s0,
        p0=p0,
        p_low=p_low,
        s_low=s_low,
        lam=lam,
        k_lo=k_lo,
        A=k_Z * s_Z * (1 + g) * (1 - p0),
        tau_bar=tau_bar,
        phase_rate=phase_rate,
        kappa=k,
        D0=abs(min(s0, sigma) - s_Z),
        s_hi=min(sigma, max(s0, s_Z)),
    )


def _bound(c: _Constants, t: np.ndarray) -> RankOneBound:
    q0 = 1 - c.p0
    cos_decay = q0 * np.exp(-c.lam * t)
    phase_one = t <= c.tau_bar
    bound = np.empty_like(t)
    # (38a): ||W|| <= S(t) while t <= tau_bar, and ||W|| >= s_low always.
    S = (c.s0**-c.kappa + c.phase_rate * t[phase_one]) ** (-1 / c.kappa)
    bound[phase_one] = (
        np.maximum((S - c.s_Z) ** 2, (c.s_Z - c.s_low) ** 2)
        + 2 * S * c.s_Z * cos_decay[phase_one]
    )
    # (38b): Gronwall for |s - s_Z| from tau <= tau_bar, forced by 1 - p.
    tb = t[~phase_one]
    nu, x = min(c.k_lo, c.lam), abs(c.k_lo - c.lam)
    g = np.exp(-nu * tb) * (-np.expm1(-x * tb) / x if x > 0 else tb)
    d = c.D0 * np.exp(-c.k_lo * (tb - c.tau_bar)) + c.A * g
    bound[~phase_one] = d**2 + 2 * c.s_hi * c.s_Z * cos_decay[~phase_one]
    for arr in (t, bound, phase_one):
        arr.setflags(write=False)
    return RankOneBound(
        t=t,
        bound=bound,
        phase_one=phase_one,
        tau_bar=float(c.tau_bar),
        rate_cosine=float(c.lam),
        rate_norm=float(c.k_lo),
        asymptotic_rate=float(min(2 * c.k_lo, c.lam)),
        s_low=float(c.s_low),
        p_low=float(c.p_low),
        s0=float(c.s0),
        p0=float(c.p0),
    )


def _start(W0, target: Target) -> tuple[float, float, float]:
    stack, _ = as_matrix_stack(W0, "W0", target.Z.shape)
    if stack.shape[0] != 1:
        raise ValueError(
            f"W0 must be a single matrix of shape {target.Z.shape}; got a stack of {stack.shape[0]}"
        )
    sv = _require_rank_one(stack, "W0")
    norm, rho, p = _scalars(stack, target, sv)
    if not norm[0] > 0:
        raise ValueError(
            "W0 must be nonzero: W = 0 is a saddle point of (17) and the flow stays there"
        )
    return float(norm[0]), float(rho[0]), float(p[0])


def _theorem_4_4_constants(W0, target, depth, alpha, beta) -> _Constants:
    target = as_target(target, unique_Z1=True)
    N = _depth(depth)
    a, b = _alpha_beta(target, alpha, beta)
    s0, _, p0 = _start(W0, target)
    if not (p0 >= a and s0 >= b * target.s_Z):
        raise ValueError(
            "W0 must satisfy (37), W0 in N_alpha,beta(Z1): cosine <W0,Z1>/(||W0|| s_Z) >= alpha and "
            f"||W0||_F >= beta s_Z; got cosine {p0:.6g} (alpha = {a:.6g}) and ||W0||/s_Z = {s0 / target.s_Z:.6g} "
            f"(beta = {b:.6g})"
        )
    return _constants(target, N, s0=s0, p0=p0, p_low=a, s_low=b * target.s_Z)


def theorem_4_4_bound(
    W0, target: Target, depth: int, alpha: float, beta: float, t
) -> RankOneBound:
    """Two-phase linear-convergence bound from ``N_alpha,beta(Z_1)`` (role of Theorem 4.4; re-derived).

    For the induced flow (17) of a depth-``N`` network with a one-neuron layer
    and whitened data, started at ``W0`` satisfying (37)
    (``W0 in N_alpha,beta(Z_1)``, see :func:`stable_set_margin`):

    * phase one, ``0 <= t <= tau_bar`` (38a):
      ``||W(t)-Z_1||^2 <= max((S(t)-s_Z)^2, (1-beta)^2 s_Z^2) + 2 S(t) s_Z (1-p0) e^{-lambda t}``
      with ``S(t) = (s0^{-kappa} + 2(N-1) m (1-1/sqrt 6) t)^{-1/kappa}``, ``kappa = 2-2/N``;
    * phase two, ``t >= tau_bar`` (38b):
      ``||W(t)-Z_1||^2 <= (D0 e^{-k_lo (t-tau_bar)} + A g(t))^2 + 2 s_hi s_Z (1-p0) e^{-lambda t}``,

    with ``lambda = 2 m s_Z (1-gamma) alpha (beta s_Z)^{1-2/N}``,
    ``k_lo = m N (beta s_Z)^{2-2/N}``, ``A = m N s_Z^{2-2/N} s_Z (1+gamma)(1-p0)``,
    ``g(t) = int_0^t e^{-k_lo (t-r)} e^{-lambda r} dr``, ``D0 = |min(s0, sqrt6 s_Z) - s_Z|``,
    ``s_hi = min(sqrt6 s_Z, max(s0, s_Z))``, and ``tau_bar >= tau``, the first
    time ``||W(t)||_F <= sqrt(6) s_Z``. Derivation: notes A.6.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
        Rank-one start (end-to-end matrix of a balanced network).
    target : Target
        ``Z`` with ``s_Z > s_Z2`` (Assumption 3.6); ``target.m`` is the ``m`` of (17).
    depth : int
        ``N >= 2``.
    alpha, beta : float
        ``0 < alpha <= 1`` and ``0 < beta <= (1 + gamma) alpha - gamma``.
    t : float or array_like
        Times ``>= 0``.

    Returns
    -------
    RankOneBound

    Raises
    ------
    ValueError
        If ``target`` has no unique ``Z_1``; ``depth`` is not an integer >= 2;
        ``alpha`` or ``beta`` is out of range; ``W0`` has the wrong shape, is not
        finite, not rank one, zero, or violates (37); ``t`` is not finite or
        negative; or an exponent is not negative (rates under/overflowed).
    """
    c = _theorem_4_4_constants(W0, target, depth, alpha, beta)
    return _bound(c, _times(t))


def theorem_3_8_bound(W0, target: Target, depth: int, t) -> RankOneBound:
    """Convergence to ``Z_1`` from the correlation set (role of Theorem 3.8 and rate (29); re-derived).

    Requires ``rho(W0) = <W0, Z>/||W0||_F > s_Z2``, i.e. ``W0 in N_alpha`` for
    some ``alpha > 0`` (see :func:`correlation_set_margin`). Then ``W(t) -> Z_1``
    and ``||W(t) - Z_1||_F^2`` obeys the bound of :func:`theorem_4_4_bound`
    with the start's own constants: ``p_low = p(W0)`` (which is at least
    ``(rho(W0) - s_Z2)/(s_Z - s_Z2) > 0``) and ``s_low = min(||W0||_F, rho(W0))``.
    Its ``asymptotic_rate`` plays the role of the rate (29). Notes A.4.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
        Rank-one, nonzero start.
    target : Target
    depth : int
        ``N >= 2``.
    t : float or array_like
        Times ``>= 0``.

    Returns
    -------
    RankOneBound

    Raises
    ------
    ValueError
        As :func:`theorem_4_4_bound`, and if ``rho(W0) <= s_Z2``.
    """
    target = as_target(target, unique_Z1=True)
    N = _depth(depth)
    s0, rho0, p0 = _start(W0, target)
    if not rho0 > target.s_Z2:
        raise ValueError(
            f"W0 must lie in N_alpha for some alpha > 0: <W0, Z>/||W0||_F = {rho0:.6g} must exceed "
            f"s_Z2 = {target.s_Z2:.6g}"
        )
    return _bound(
        _constants(target, N, s0=s0, p0=p0, p_low=p0, s_low=min(s0, rho0)), _times(t)
    )


def _log_plus(x: float) -> float:
    return math.log(x) if x > 1 else 0.0


def time_to_accuracy(
    W0, target: Target, depth: int, alpha: float, beta: float, sq_tol: float
) -> float:
    """Time after which ``||W(t) - Z_1||_F^2 <= sq_tol`` (role of remark 1 after Theorem 4.4; re-derived).

    ``T_eps = max(tau_bar, t1, t2, t3)`` with (notes A.6)
    ``t1 = tau_bar + log+(6 D0^2 / eps) / (2 k_lo)``,
    ``t3 = log+(6 s_hi s_Z (1-p0) / eps) / lambda`` and
    ``t2 = min(log+(6 A^2 / (x^2 eps)) / (2 nu), log+(6 A^2 (2/(e nu))^2 / eps) / nu)``,
    ``nu = min(k_lo, lambda)``, ``x = |k_lo - lambda|`` (first entry only if
    ``x > 0``). Each makes one of the three terms of (38b) at most ``eps/3``
    after splitting ``(a+b)^2 <= 2a^2 + 2b^2``; so the bound (38b), hence the
    error, is at most ``eps`` for every ``t >= T_eps``. For far-away starts
    ``T_eps`` grows only through ``tau_bar``, which stays below
    ``1 / (2 (N-1) m (1-1/sqrt6) (sqrt6 s_Z)^{2-2/N})``.

    Parameters
    ----------
    W0, target, depth, alpha, beta
        As in :func:`theorem_4_4_bound`.
    sq_tol : float
        Accuracy ``> 0``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As :func:`theorem_4_4_bound`, and if ``sq_tol`` is not a finite positive number.
    """
    c = _theorem_4_4_constants(W0, target, depth, alpha, beta)
    eps = positive_float(sq_tol, "sq_tol")
    q0 = 1 - c.p0
    t1 = c.tau_bar + _log_plus(6 * c.D0**2 / eps) / (2 * c.k_lo)
    t3 = _log_plus(6 * c.s_hi * c.s_Z * q0 / eps) / c.lam
    nu, x = min(c.k_lo, c.lam), abs(c.k_lo - c.lam)
    t2 = _log_plus(6 * c.A**2 * (2 / (math.e * nu)) ** 2 / eps) / nu
    if x > 0:
        t2 = min(t2, _log_plus(6 * c.A**2 / (x**2 * eps)) / (2 * nu))
    return float(max(c.tau_bar, t1, t2, t3))


# --------------------------------------------------------------------------
# Eftekhari Section 4 as printed: (31), (33), (35), (36), (38a)/(38b), remark 1
# --------------------------------------------------------------------------
#
# The functions below implement the paper's own statements, with its constants.
# (The two-phase bound above, theorem_4_4_bound, is this book's own proposition,
# book:rates.two-phase-bound; it is not the paper's Theorem 4.4.) Notation:
# kappa = 2 - 2/N, gamma = gamma_Z = s_Z2 / s_Z (26), W = s u v^T (32) and
# c = u^T Z_1 v = s_Z (u^T u_Z)(v^T v_Z).

__all__ += [
    "loss_31",
    "terms_33",
    "bound_33",
    "rhs_35",
    "in_set_36",
    "exponent_38a",
    "exponent_38b",
    "theorem_4_4_applies",
    "bound_38a",
    "bound_38b",
    "time_from_38",
    "remark_1_time",
]


def _alpha_36(target: Target, alpha, *, closed: bool) -> float:
    """``alpha`` in ``[gamma_Z, 1)`` (``closed``: (36), Lemma 4.3) or ``(gamma_Z, 1)`` (Theorem 4.4)."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a real number; got {alpha!r}") from None
    g = target.gamma
    low_ok = a >= g if closed else a > g
    if not (math.isfinite(a) and low_ok and a < 1):
        interval = (
            "[gamma_Z, 1) (set (36), Lemma 4.3)"
            if closed
            else "(gamma_Z, 1) (Theorem 4.4)"
        )
        raise ValueError(
            f"alpha must lie in {interval}, gamma_Z = s_Z2/s_Z = {g:.6g}; got alpha = {alpha!r}"
        )
    return a


def _beta_36(beta) -> float:
    try:
        b = float(beta)
    except (TypeError, ValueError):
        raise ValueError(f"beta must be a real number; got {beta!r}") from None
    if not (math.isfinite(b) and b > 1):
        raise ValueError(
            f"beta must be a finite number > 1 ((36) and Theorem 4.4 fix beta > 1); got beta = {beta!r}"
        )
    return b


def _depth_any(depth) -> int:
    return positive_int(depth, "depth", minimum=1)


def _rank_one_parts(W, target: Target, name: str = "W"):
    """``(s, c, single)`` for a rank-one matrix or stack: ``s = ||W||_F``, ``c = u^T Z_1 v`` (32)."""
    stack, single = as_matrix_stack(W, name, target.Z.shape)
    sv = _require_rank_one(stack, name)
    if np.any(sv[:, 0] == 0):
        raise ValueError(
            f"{name} must have rank one; the zero matrix has rank 0 and no thin SVD (32)"
        )
    norm, _, p = _scalars(stack, target, sv)
    return norm, target.s_Z * p, single


def loss_31(W, target: Target):
    """``L_{1,1}(W) = 1/2 ||Z_1 - W||_F^2`` (31), for a matrix or a stack (any rank)."""
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    return _out(0.5 * np.sum((target.Z1 - stack) ** 2, axis=(1, 2)), single)


def terms_33(W, target: Target):
    """``(T_1, T_2)`` of (33): ``T_1 = (s - u^T Z_1 v)^2`` and ``T_2 = s_Z - u^T Z_1 v``.

    ``W = s u v^T`` (32) must have rank one. Both are nonnegative. Returns two
    floats for one matrix, two arrays of shape ``(k,)`` for a stack.
    """
    target = as_target(target, unique_Z1=True)
    s, c, single = _rank_one_parts(W, target)
    return _out((s - c) ** 2, single), _out(target.s_Z - c, single)


def bound_33(W, target: Target):
    """The right-hand side of (33), ``1/2 T_1 + s_Z T_2``, an upper bound on ``L_{1,1}(W)`` (31).

    For rank one the identity ``L_{1,1} = 1/2 T_1 + s_Z T_2 - 1/2 T_2^2`` holds
    (expand ``||Z_1 - s u v^T||^2 = s^2 - 2 s c + s_Z^2``), so (33) has slack
    ``T_2^2 / 2``.
    """
    T1, T2 = terms_33(W, target)
    return 0.5 * T1 + target.s_Z * T2


def rhs_35(W, target: Target, depth: int):
    """The right-hand side of (35) (Lemma 4.2), an upper bound on ``dL_{1,1}(W_t)/dt`` along (17).

    ``-2 m N s^k T_1 - 2 m s^k (u^T Z_1 v) T_2 + sqrt(2) m N s^k gamma_Z sqrt(T_1 T_2)
    + 2 m s^k s_{Z,2} T_2`` with ``k = 2 - 2/N``, as printed in the paper.

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
        Rank-one matrices (32).
    target : Target
    depth : int
        ``N >= 1``.

    Returns
    -------
    float or ndarray of shape (k,)
    """
    target = as_target(target, unique_Z1=True)
    N = _depth_any(depth)
    s, c, single = _rank_one_parts(W, target)
    m, g = float(target.m), target.gamma
    T1, T2 = (s - c) ** 2, np.maximum(target.s_Z - c, 0.0)
    sk = s ** (2 - 2 / N)
    out = (
        m
        * sk
        * (
            -2 * N * T1
            - 2 * c * T2
            + math.sqrt(2) * N * g * np.sqrt(T1 * T2)
            + 2 * target.s_Z2 * T2
        )
    )
    return _out(out, single)


def gap_35_rank_one_target(W, target: Target, depth: int):
    """``d||Z_1 - W||_F^2/dt`` minus the right-hand side of (35), for a rank-one ``Z`` (``gamma_Z = 0``).

    A result of this book (chapter 04, the erratum on (35)). With ``W = s u v^T`` (32),
    ``a = u^T u_Z``, ``b = v^T v_Z`` (so ``u^T Z_1 v = s_Z a b``) and ``k = 2 - 2/N``,
    the rank-one reduction of (17) gives

    ``2 dL_{1,1}/dt - (35) = -2 m s^k (s_Z T_2 - s_Z^2 (1 - a^2)(1 - b^2))``,

    which is ``-2 m s^k s_Z T_2`` for ``d_y = 1`` (``a = +-1``) and is ``<= 0`` whenever
    ``a b >= 0`` (as on (36)), since ``1 - ab - (1 - a^2)(1 - b^2) = (a - b)^2 + ab(1 - ab)``.

    Raises ``ValueError`` if ``target.gamma`` is not zero up to round-off (then ``Z != Z_1`` and the identity
    does not apply).
    """
    target = as_target(target, unique_Z1=True)
    if not target.gamma <= RANK_ONE_RTOL:
        raise ValueError(
            f"target must have gamma_Z = 0 (rank-one Z, up to round-off {RANK_ONE_RTOL:g}) for this "
            f"identity; got gamma_Z = {target.gamma!r}"
        )
    N = _depth_any(depth)
    if N == 1 and min(target.Z.shape) > 1:
        raise ValueError(
            "depth must be >= 2 unless d_y = 1 or d_x = 1 (depth 1 does not keep a matrix rank one)"
        )
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    s, c, _ = _rank_one_parts(stack, target)
    U, _, Vt = np.linalg.svd(stack)
    a = np.abs(U[:, :, 0] @ target.u)
    b = np.abs(Vt[:, 0, :] @ target.v)
    sZ = target.s_Z
    T2 = np.maximum(sZ - c, 0.0)
    out = (
        -2
        * float(target.m)
        * s ** (2 - 2 / N)
        * (sZ * T2 - sZ**2 * (1 - a**2) * (1 - b**2))
    )
    return _out(out, single)


def in_set_36(W, target: Target, alpha: float, beta: float):
    """Membership in the set ``N_alpha,beta(Z_1)`` of (36).

    ``W`` is in (36) when ``W = u_W s_W v_W^T`` (thin SVD, rank one) with
    ``(alpha - gamma_Z) s_Z < s_W < beta s_Z`` and ``u_W^T Z_1 v_W > alpha s_Z``
    (all strict, as printed). (36) is defined for ``alpha in [gamma_Z, 1)``
    (the paper fixes that interval before (36) and in Lemma 4.3; Theorem 4.4
    asks for the open interval ``(gamma_Z, 1)``) and ``beta > 1``.

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
        Rank-one matrices (a zero matrix is rank 0 and raises).
    target : Target
        ``Z`` with ``s_Z > s_Z2`` (Assumption 3.6).
    alpha : float
        In ``[gamma_Z, 1)``.
    beta : float
        ``> 1``.

    Returns
    -------
    bool, or ndarray of bool of shape (k,)

    Raises
    ------
    ValueError
        If ``alpha`` is outside ``[gamma_Z, 1)``, ``beta <= 1``, ``W`` has the
        wrong shape, non-finite entries, or a rank other than one.
    """
    target = as_target(target, unique_Z1=True)
    a = _alpha_36(target, alpha, closed=True)
    b = _beta_36(beta)
    s, c, single = _rank_one_parts(W, target)
    s_Z = target.s_Z
    inside = ((a - target.gamma) * s_Z < s) & (s < b * s_Z) & (c > a * s_Z)
    return bool(inside[0]) if single else inside


def _exponent_args(target, depth, alpha, beta):
    target = as_target(target, unique_Z1=True)
    N = _depth_any(depth)
    a = _alpha_36(target, alpha, closed=False)
    b = _beta_36(beta)
    return target, N, a, b, 2 - 2 / N


def exponent_38a(target: Target, depth: int, alpha: float, beta: float) -> float:
    """The coefficient of ``t`` in the exponent of (38a), as printed:

    ``-m N s_Z^k ((alpha - gamma_Z)^k - 2 gamma_Z beta^k)``, ``k = 2 - 2/N``.
    Negative exactly when ``(alpha - gamma_Z)^k > 2 gamma_Z beta^k``.
    Raises ValueError for ``alpha`` outside ``(gamma_Z, 1)``, ``beta <= 1`` or ``depth < 1``.
    """
    target, N, a, b, k = _exponent_args(target, depth, alpha, beta)
    g = target.gamma
    return float(-target.m * N * target.s_Z**k * ((a - g) ** k - 2 * g * b**k))


def exponent_38b(target: Target, depth: int, alpha: float, beta: float) -> float:
    """The coefficient of ``t - tau`` in the exponent of (38b), as printed:

    ``-m s_Z^k (alpha (alpha - gamma_Z)^k - 2 gamma_Z N beta^k)``, ``k = 2 - 2/N``.
    Raises as :func:`exponent_38a`.
    """
    target, N, a, b, k = _exponent_args(target, depth, alpha, beta)
    g = target.gamma
    return float(-target.m * target.s_Z**k * (a * (a - g) ** k - 2 * g * N * b**k))


def theorem_4_4_applies(target: Target, depth: int, alpha: float, beta: float) -> bool:
    """Whether the hypothesis of Theorem 4.4 holds: ``N >= 2`` and both exponents of (38) negative.

    The theorem fixes ``alpha in (gamma_Z, 1)``, ``beta > 1`` and asks that
    ``gamma_Z`` be "small enough so that the exponents below are both
    negative": :func:`exponent_38a` ``< 0`` and :func:`exponent_38b` ``< 0``.
    Assumption 3.6 (in force) asks for depth ``N >= 2``; for ``depth = 1`` this
    returns False (the exponents are still defined and are returned by the
    exponent functions).

    Raises
    ------
    ValueError
        If ``alpha`` is outside ``(gamma_Z, 1)``, ``beta <= 1`` or ``depth < 1``
        (or ``target`` has no unique ``Z_1``).
    """
    ea = exponent_38a(target, depth, alpha, beta)
    eb = exponent_38b(target, depth, alpha, beta)
    return bool(int(depth) >= 2 and ea < 0 and eb < 0)


def _bound_38(W, target, t, exponent, name):
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, name, target.Z.shape)
    _require_rank_one(stack, name)
    if stack.shape[0] != 1:
        raise ValueError(
            f"{name} must be a single matrix of shape {target.Z.shape}; got a stack of {stack.shape[0]}"
        )
    if not np.linalg.norm(stack[0]) > 0:
        raise ValueError(f"{name} must have rank one; the zero matrix has rank 0")
    times = _times(t)
    d2 = float(np.sum((target.Z1 - stack[0]) ** 2))
    with np.errstate(over="ignore"):
        out = d2 * np.exp(exponent * times)
    out.setflags(write=False)
    return out


def bound_38a(
    W0, target: Target, depth: int, alpha: float, beta: float, t
) -> np.ndarray:
    """The right-hand side of (38a): ``||Z_1 - W_0||_F^2 exp(exponent_38a * t)`` at times ``t``.

    Theorem 4.4 asserts ``||Z_1 - W(t)||_F^2 <=`` this for ``0 <= t <= tau``
    (``tau``: the first time ``s(tau) <= sqrt(6) s_Z``) when (37) and the
    hypothesis (:func:`theorem_4_4_applies`) hold; the function evaluates the
    formula for any rank-one ``W0`` and does not check (37).

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
        Rank-one end-to-end start.
    target : Target
    depth : int
        ``N >= 1``.
    alpha : float
        In ``(gamma_Z, 1)``.
    beta : float
        ``> 1``.
    t : float or array_like
        Times ``>= 0``.

    Returns
    -------
    ndarray, shape of ``np.atleast_1d(t)``

    Raises
    ------
    ValueError
        Bad ``alpha``, ``beta``, ``depth``, ``t``, or ``W0`` not of rank one.
    """
    return _bound_38(W0, target, t, exponent_38a(target, depth, alpha, beta), "W0")


def bound_38b(
    W_tau, target: Target, depth: int, alpha: float, beta: float, t
) -> np.ndarray:
    """The right-hand side of (38b): ``||Z_1 - W(tau)||_F^2 exp(exponent_38b * t)``, ``t`` measured from ``tau``.

    Theorem 4.4 asserts ``||Z_1 - W(tau + t)||_F^2 <=`` this for ``t >= 0``.
    Same parameters and errors as :func:`bound_38a`, with ``W_tau = W(tau)``.
    """
    return _bound_38(
        W_tau, target, t, exponent_38b(target, depth, alpha, beta), "W_tau"
    )


def time_from_38(
    target: Target,
    depth: int,
    alpha: float,
    beta: float,
    d0_sq: float,
    tau: float,
    sq_tol: float,
):
    """Time after which (38) guarantees ``||Z_1 - W(t)||_F^2 <= sq_tol`` (inverting (38) as printed).

    With ``E_a = -exponent_38a``, ``E_b = -exponent_38b`` (both > 0 under the
    hypothesis), ``C = d0_sq = ||Z_1 - W_0||^2`` and ``eps_0 = C exp(-E_a tau)``
    (the right-hand side of (38a) at ``tau``, an upper bound on that of (38b) at ``tau``):

    * ``sq_tol > eps_0``: ``log(C / sq_tol) / E_a``;
    * ``sq_tol <= eps_0``: ``tau + log(eps_0 / sq_tol) / E_b
      = log(C / sq_tol) / E_b - tau (E_a / E_b - 1)``.

    This is the structure of remark 1 after Theorem 4.4, with the exponents
    of (38) (compare :func:`remark_1_time`).

    Raises
    ------
    ValueError
        If the hypothesis of Theorem 4.4 fails, or ``d0_sq``, ``sq_tol`` are
        not positive, or ``tau`` is negative.
    """
    if not theorem_4_4_applies(target, depth, alpha, beta):
        raise ValueError(
            "the hypothesis of Theorem 4.4 fails (depth >= 2 and both exponents of (38) negative)"
        )
    C = positive_float(d0_sq, "d0_sq")
    eps = positive_float(sq_tol, "sq_tol")
    tau = positive_float(tau, "tau", allow_zero=True)
    Ea = -exponent_38a(target, depth, alpha, beta)
    Eb = -exponent_38b(target, depth, alpha, beta)
    eps0 = C * math.exp(-Ea * tau)
    if eps > eps0:
        return max(math.log(C / eps), 0.0) / Ea
    return tau + math.log(eps0 / eps) / Eb


def remark_1_time(
    target: Target,
    depth: int,
    alpha: float,
    beta: float,
    d0_sq: float,
    tau: float,
    sq_tol: float,
):
    """Remark 1 after Theorem 4.4, as printed, with ``C = d0_sq`` and ``eps_0`` as in :func:`time_from_38`.

    * ``sq_tol > eps_0``: ``log(C/eps) / (m N s_Z ((alpha-gamma)^2 - 2 gamma beta^2))``;
    * ``sq_tol <= eps_0``: ``log(C/eps) / (m s_Z^2 (alpha (alpha-gamma)^2 - 2 gamma N beta^2))
      - tau (N ((alpha-gamma)^2 - 2 gamma beta^2) / (alpha (alpha-gamma)^2 - 2 gamma N beta^2) - 1)``.

    The printed remark has the powers ``2`` (and ``s_Z`` to the first power in
    its first case) where (38) has ``2 - 2/N``; :func:`time_from_38` inverts (38)
    itself. The remark says "in the order of": no constant is implied; this
    function takes the constant as 1. ``eps_0`` is computed from (38a) at
    ``tau`` as in :func:`time_from_38`.
    """
    if not theorem_4_4_applies(target, depth, alpha, beta):
        raise ValueError(
            "the hypothesis of Theorem 4.4 fails (depth >= 2 and both exponents of (38) negative)"
        )
    target = as_target(target, unique_Z1=True)
    N = int(depth)
    C = positive_float(d0_sq, "d0_sq")
    eps = positive_float(sq_tol, "sq_tol")
    tau = positive_float(tau, "tau", allow_zero=True)
    a, b, g, m, s_Z = (
        float(alpha),
        float(beta),
        target.gamma,
        float(target.m),
        target.s_Z,
    )
    fa = (a - g) ** 2 - 2 * g * b**2
    fb = a * (a - g) ** 2 - 2 * g * N * b**2
    if not (fa > 0 and fb > 0):
        raise ValueError(
            "remark 1's denominators (with the powers 2 as printed) must be positive for these alpha, beta"
        )
    eps0 = C * math.exp(exponent_38a(target, N, a, b) * tau)
    if eps > eps0:
        return max(math.log(C / eps), 0.0) / (m * N * s_Z * fa)
    return math.log(C / eps) / (m * s_Z**2 * fb) - tau * (N * fa / fb - 1)


# --------------------------------------------------------------------------
# Arora, Cohen, Golowich & Hu (2019)
# --------------------------------------------------------------------------


def deficiency_margin(W, Phi):
    """``c = sigma_min(Phi) - ||W - Phi||_F`` (Arora et al., Definition 2).

    ``W`` has a deficiency margin ``c > 0`` w.r.t. ``Phi`` iff
    ``||W - Phi||_F <= sigma_min(Phi) - c``; this returns the largest such
    ``c``. **A value ``<= 0`` means ``W`` has no deficiency margin** (the
    function never returns None). ``sigma_min`` is the ``min(dy, dx)``-th
    largest singular value, so a rank-deficient ``Phi`` gives no margin for any
    ``W``. Eftekhari's (39) is the same condition in his notation,
    ``||Z - W_0||_F < s_min(Z)``, which he names as the requirement of Claim 1
    of Arora et al.; by that claim a positive margin implies ``sigma_min(W) >= c``.

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (B, dy, dx)
        End-to-end matrix, or a stack of them.
    Phi : array_like, shape (dy, dx)
        Target (``Lambda_yx`` for whitened data; ``Z`` of eq. 25).

    Returns
    -------
    float, or ndarray (B,) for a stack

    Raises
    ------
    ValueError
        If an input is not finite or the shapes differ.
    """
    Phi = as_matrix(Phi, "Phi")
    sigma_min = float(np.linalg.svd(Phi, compute_uv=False)[-1])
    arr = np.asarray(W, dtype=float) if not isinstance(W, np.ndarray) else W
    if arr.ndim == 3:
        if arr.shape[1:] != Phi.shape or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"W must be a finite stack of shape (B, {Phi.shape[0]}, {Phi.shape[1]}); got {arr.shape}"
            )
        return sigma_min - np.linalg.norm(arr - Phi, axis=(1, 2))
    W = as_matrix(W, "W", shape=Phi.shape)
    return sigma_min - float(np.linalg.norm(W - Phi))


def arora_step_bounds(margin, depth: int, phi_norm: float):
    """Theorem 1's largest admissible imbalance and step for a margin ``c`` (vectorised).

    ``delta_max = c^2 / (256 N^3 ||Phi||_F^{2(N-1)/N})`` (the form shown on the
    summary page of Arora et al.) and ``eta_max = c^{(4N-2)/N} / (6144 N^3
    ||Phi||_F^{(6N-4)/N})`` (from the project brief; not confirmed by the
    sources the book has).

    Parameters
    ----------
    margin : float or array_like
        Deficiency margins ``c > 0``.
    depth : int
        ``N >= 1``.
    phi_norm : float
        ``||Phi||_F > 0``.

    Returns
    -------
    (delta_max, eta_max)
        Floats or arrays of the shape of ``margin``.
    """
    c = np.asarray(margin, dtype=float)
    if not np.all(np.isfinite(c)) or np.any(c <= 0):
        raise ValueError(
            "margin must be finite and > 0 (Theorem 1 needs a deficiency margin)"
        )
    N = positive_int(depth, "depth")
    f = positive_float(phi_norm, "phi_norm")
    delta_max = c**2 / (256 * N**3 * f ** (2 * (N - 1) / N))
    eta_max = c ** ((4 * N - 2) / N) / (6144 * N**3 * f ** ((6 * N - 4) / N))
    if c.ndim == 0:
        return float(delta_max), float(eta_max)
    return delta_max, eta_max


def delta_balancedness(weights) -> float:
    """Smallest ``delta`` for which ``weights`` are delta-balanced (Arora et al., Definition 1).

    ``max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F`` (0.0 for depth 1); computed
    by :func:`linnet.network.balancedness`.

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``.

    Returns
    -------
    float
    """
    return balancedness(weights)


@dataclass(frozen=True)
class AroraTheorem1:
    """What Theorem 1 of Arora et al. says about one initialisation.

    Attributes
    ----------
    depth : int
        ``N``.
    margin : float or None
        Deficiency margin ``c`` of the initial end-to-end matrix; None when it
        has none (``sigma_min(Phi) - ||W(0) - Phi||_F <= 0``).
    delta : float
        Balancedness of the initial weights (Definition 1).
    delta_max : float or None
        ``c^2 / (256 N^3 ||Phi||_F^{2(N-1)/N})``; None without a margin.
    balanced_enough : bool
        ``delta <= delta_max``.
    eta_max : float or None
        ``c^{(4N-2)/N} / (6144 N^3 ||Phi||_F^{(6N-4)/N})``; None without a margin.
    eta : float or None
        Step size used for ``iterations``: the one given, else ``eta_max``.
    initial_loss : float
        ``l(0) = 1/2 ||W(0) - Phi||_F^2`` (loss above its optimum, whitened data).
    loss_tol : float
        Accuracy of the loss: ``l(T) <= loss_tol``.
    applies : bool
        Margin, balancedness and step size all meet the hypotheses.
    iterations : int or None
        Smallest integer ``T >= log(l(0)/loss_tol) / (eta c^{2(N-1)/N})`` (0 when
        ``l(0) <= loss_tol``); None when the theorem does not apply.
    """

    depth: int
    margin: float | None
    delta: float
    delta_max: float | None
    balanced_enough: bool
    eta_max: float | None
    eta: float | None
    initial_loss: float
    loss_tol: float
    applies: bool
    iterations: int | None


def arora_theorem_1(
    weights, Phi, loss_tol: float, eta: float | None = None
) -> AroraTheorem1:
    """Check the hypotheses of Arora et al.'s Theorem 1 and give its iteration bound.

    Theorem 1 as the book states it (chapter 05): the margin, the ``delta``
    bound and the setting are confirmed by the summary page of Arora et al. and
    by Eftekhari's (29), (30), (39); the step bound ``eta_max`` and the
    iteration count are from the project brief (:func:`arora_step_bounds`).
    If the initial end-to-end matrix has deficiency margin ``c > 0`` w.r.t.
    ``Phi``, the initial weights are delta-balanced with
    ``delta <= c^2 / (256 N^3 ||Phi||_F^{2(N-1)/N})`` and
    ``eta <= c^{(4N-2)/N} / (6144 N^3 ||Phi||_F^{(6N-4)/N})``, then gradient
    descent with step ``eta`` has ``l(T) <= loss_tol`` for every
    ``T >= log(l(0)/loss_tol) / (eta c^{2(N-1)/N})``.

    Parameters
    ----------
    weights : list of array_like
        Initial ``[W_1, ..., W_N]``; the depth ``N`` is ``len(weights)``.
    Phi : array_like, shape (dy, dx)
        Target.
    loss_tol : float
        Target loss ``> 0``: the bound is on the iterations until ``l(T) <= loss_tol``.
    eta : float, optional
        Step size; defaults to the largest admissible one.

    Returns
    -------
    AroraTheorem1

    Raises
    ------
    ValueError
        If ``Phi`` or a weight is not a finite matrix, the weights do not chain,
        the end-to-end matrix does not have the shape of ``Phi``, or
        ``loss_tol`` / ``eta`` is not a finite positive number.
    """
    Phi = as_matrix(Phi, "Phi")
    ws = check_weights(weights)
    W = end_to_end(ws)
    if W.shape != Phi.shape:
        raise ValueError(
            f"the end-to-end matrix of weights must have the shape of Phi {Phi.shape}; got {W.shape}"
        )
    eps = positive_float(loss_tol, "loss_tol")
    eta_given = None if eta is None else positive_float(eta, "eta")
    N = len(ws)
    c = deficiency_margin(W, Phi)
    delta = delta_balancedness(ws)
    loss0 = 0.5 * float(np.linalg.norm(W - Phi)) ** 2
    if not c > 0:
        return AroraTheorem1(
            N, None, delta, None, False, None, eta_given, loss0, eps, False, None
        )
    delta_max, eta_max = arora_step_bounds(c, N, float(np.linalg.norm(Phi)))
    eta_used = eta_max if eta_given is None else eta_given
    balanced_enough = delta <= delta_max
    applies = balanced_enough and eta_used <= eta_max
    iterations = None
    if applies:
        iterations = (
            0
            if loss0 <= eps
            else math.ceil(math.log(loss0 / eps) / (eta_used * c ** (2 * (N - 1) / N)))
        )
    return AroraTheorem1(
        N,
        c,
        delta,
        delta_max,
        balanced_enough,
        eta_max,
        eta_used,
        loss0,
        eps,
        applies,
        iterations,
    )


# --- Exact nearby rates (beyond the paper) ---
#
# The linearisation of the induced flow (17) at Z_1 on the manifold of rank-one
# matrices, in closed form. Not a result of the paper: Eftekhari leaves the
# precise nearby rates open after Theorem 4.4; chapter 06 derives and checks
# them. Derivation (notes A.3 gives the rank-one reduction): with
# W = s u v^T and c = m s_Z^{1-2/N},
#   s' = -m N s^{2-2/N} (s - u^T Z v)          -> radial rate  m N s_Z^{2-2/N},
#   u' = m s^{1-2/N} (I - u u^T) Z v,  v' = m s^{1-2/N} (I - v v^T) Z^T u.
# Put u = u_Z + a, v = v_Z + b (a _|_ u_Z, b _|_ v_Z) and Z = sum_i s_i u_i v_i^T:
#   a' = c (sum_{i>=2} s_i (v_i^T b) u_i - s_Z a),  b' = c (sum_{i>=2} s_i (u_i^T a) v_i - s_Z b),
# so each pair (u_i^T a, v_i^T b) decays at c (s_Z - s_i) (symmetric mode) and
# c (s_Z + s_i) (antisymmetric mode), and the components of a (b) orthogonal to
# every u_i (v_i) at c s_Z. u^T Z v = s_Z + O(|a|^2 + |b|^2), so the radial
# equation decouples at first order.

__all__ += [
    "NearbyModes",
    "nearby_modes",
    "kappa",
    "radial_rate",
    "slowest_nearby_rate",
]


@dataclass(frozen=True)
class NearbyModes:
    """Eigen-decomposition of the induced flow (17) linearised at ``Z_1`` on the rank-one matrices.

    The tangent space of the rank-one matrices at ``Z_1`` has dimension
    ``n = dy + dx - 1``; ``directions`` is an orthonormal (Frobenius) basis of
    it made of eigenvectors of the linearisation, and a perturbation
    ``sum_k x_k directions[k]`` of ``Z_1`` decays like
    ``sum_k x_k exp(-rates[k] t) directions[k]`` to first order.

    Attributes
    ----------
    depth : int
    names : tuple of str
        ``"radial"``; ``"rotation+ i"`` / ``"rotation- i"`` for the symmetric /
        antisymmetric rotation pairing the ``i``-th singular pair of ``Z``
        (``i >= 2``, 1-based); ``"left k"`` / ``"right k"`` for rotations of
        ``u`` (``v``) towards directions orthogonal to every left (right)
        singular vector of ``Z``.
    kinds : tuple of str
        ``"radial"``, ``"symmetric"``, ``"antisymmetric"``, ``"left"``, ``"right"``.
    rates : ndarray, shape (n,)
        Decay rates (minus the eigenvalues): ``m N s_Z^{2-2/N}`` (radial),
        ``c (s_Z - s_i)``, ``c (s_Z + s_i)`` (rotations), ``c s_Z`` (left, right),
        ``c = m s_Z^{1-2/N}``.
    directions : ndarray, shape (n, dy, dx)
        ``u_Z v_Z^T``; ``(u_i v_Z^T +- u_Z v_i^T)/sqrt 2``; ``u_perp v_Z^T``; ``u_Z v_perp^T``.
    slowest : float
        ``min(rates) = m s_Z^{1-2/N} (s_Z - s_Z2)``.
    """

    depth: int
    names: tuple
    kinds: tuple
    rates: np.ndarray
    directions: np.ndarray
    slowest: float


def _nearby_depth(target: Target, depth) -> int:
    N = positive_int(depth, "depth")
    if N == 1 and min(target.Z.shape) > 1:
        raise ValueError(
            f"depth 1 has no one-neuron layer for Z of shape {target.Z.shape}: the flow W' = -m (W - Z) leaves the "
            "rank-one matrices and converges to Z, not Z_1, at rate m; use depth >= 2 (or dy = 1 or dx = 1)"
        )
    return N


def _complement(q: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the orthogonal complement of the columns of ``basis`` in R^q."""
    if basis.shape[1] == q:
        return np.zeros((q, 0))
    full = np.linalg.svd(basis, full_matrices=True)[0]
    return full[:, basis.shape[1] :]


def nearby_modes(target: Target, depth: int) -> NearbyModes:
    """Exact decay rates and eigen-directions of (17) at ``Z_1`` (beyond the paper; chapter 06).

    Linearising the rank-one reduction of the induced flow (17) (notes A.3) at
    ``(s, u, v) = (s_Z, u_Z, v_Z)`` with ``c = m s_Z^{1-2/N}``:

    * radial, ``W = s u_Z v_Z^T``: rate ``m N s_Z^{2-2/N}``;
    * for each further singular pair ``(s_i, u_i, v_i)`` of ``Z``
      (``2 <= i <= min(dy, dx)``, zero singular values included): a symmetric
      rotation ``u_i v_Z^T + u_Z v_i^T`` at rate ``c (s_Z - s_i)`` and an
      antisymmetric one ``u_i v_Z^T - u_Z v_i^T`` at rate ``c (s_Z + s_i)``;
    * ``dy - min(dy, dx)`` left and ``dx - min(dy, dx)`` right rotations towards
      the null spaces, at rate ``c s_Z``.

    The slowest rate is ``c (s_Z - s_Z2) = m s_Z^{2-2/N} (1 - gamma)``: it is
    the asymptotic rate of ``||W(t) - Z_1||`` from a generic start.

    Parameters
    ----------
    target : Target
        ``Z`` with ``s_Z > s_Z2`` (Assumption 3.6) and ``m``.
    depth : int
        ``N >= 1``; ``N = 1`` only when ``dy = 1`` or ``dx = 1`` (otherwise a
        depth-1 network has no one-neuron layer and the flow leaves the
        rank-one matrices).

    Returns
    -------
    NearbyModes

    Raises
    ------
    ValueError
        If ``target`` is not a Target with ``s_Z > s_Z2`` or ``depth`` is not
        admissible.
    """
    target = as_target(target, unique_Z1=True)
    N = _nearby_depth(target, depth)
    m, s_Z = float(target.m), target.s_Z
    dy, dx = target.Z.shape
    r = min(dy, dx)
    U, s, V = target.U, target.s, target.Vt.T  # U (dy, r), s (r,), V (dx, r)
    u, v = U[:, 0], V[:, 0]
    c = m * s_Z ** (1 - 2 / N)
    names, kinds, rates, dirs = (
        ["radial"],
        ["radial"],
        [radial_rate(s_Z, m, N)],
        [np.outer(u, v)],
    )
    for i in range(1, r):
        for sign, kind, label in (
            (1.0, "symmetric", "+"),
            (-1.0, "antisymmetric", "-"),
        ):
            names.append(f"rotation{label} {i + 1}")
            kinds.append(kind)
            rates.append(c * (s_Z - sign * s[i]))
            dirs.append(
                (np.outer(U[:, i], v) + sign * np.outer(u, V[:, i])) / math.sqrt(2.0)
            )
    for k, w in enumerate(_complement(dy, U).T, start=1):
        names.append(f"left {k}")
        kinds.append("left")
        rates.append(c * s_Z)
        dirs.append(np.outer(w, v))
    for k, w in enumerate(_complement(dx, V).T, start=1):
        names.append(f"right {k}")
        kinds.append("right")
        rates.append(c * s_Z)
        dirs.append(np.outer(u, w))
    rates_arr = np.array(rates)
    dirs_arr = np.array(dirs)
    for arr in (rates_arr, dirs_arr):
        arr.setflags(write=False)
    return NearbyModes(
        depth=N,
        names=tuple(names),
        kinds=tuple(kinds),
        rates=rates_arr,
        directions=dirs_arr,
        slowest=float(rates_arr.min()),
    )


def _rate_args(s_Z, m, depth):
    s = np.asarray(s_Z, dtype=float)
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("s_Z must be finite and > 0 (the leading singular value of Z)")
    m = positive_float(m, "m")
    N = np.asarray(depth)
    if N.dtype.kind not in "iu" or np.any(N < 1):
        raise ValueError(
            f"depth must be an integer (or an integer array) >= 1; got {depth!r}"
        )
    return s, m, N


def kappa(depth):
    """``kappa = 2 - 2/N``: the degree of homogeneity of ``A_W`` (16) in ``W`` (arrays allowed).

    Every rate of (17) scales with ``s^kappa``: see :func:`radial_rate`.
    """
    N = np.asarray(depth)
    if N.dtype.kind not in "iu" or np.any(N < 1):
        raise ValueError(
            f"depth must be an integer (or an integer array) >= 1; got {depth!r}"
        )
    out = 2.0 - 2.0 / N
    return out.item() if out.ndim == 0 else out


def radial_rate(s_Z, m, depth):
    """Radial nearby rate ``m N s_Z^{2-2/N}`` of (17) at ``Z_1`` (beyond the paper; see :func:`nearby_modes`).

    ``s_Z`` and ``depth`` broadcast against each other (arrays allowed).
    """
    s, m, N = _rate_args(s_Z, m, depth)
    out = m * N * s ** kappa(N)
    return out.item() if out.ndim == 0 else out


def slowest_nearby_rate(s_Z, m, depth, gamma=0.0):
    """Slowest nearby rate ``m s_Z^{2-2/N} (1 - gamma)`` of (17) at ``Z_1`` (beyond the paper).

    The asymptotic exponential rate of ``||W(t) - Z_1||_F`` from a generic
    start; ``gamma = s_Z2 / s_Z`` (0 for a scalar output). See
    :func:`nearby_modes`. As a function of the depth it decreases when
    ``s_Z < 1``, is constant when ``s_Z = 1`` and increases when ``s_Z > 1``.

    Parameters
    ----------
    s_Z : float or array_like
        ``> 0``.
    m : float
        ``> 0``.
    depth : int or array_like of int
        ``N >= 1`` (``N = 1`` describes a rank-one problem only for a scalar
        output or input, see :func:`nearby_modes`).
    gamma : float or array_like
        In ``[0, 1)``.

    Returns
    -------
    float or ndarray
        Broadcast over the arguments.
    """
    s, m, N = _rate_args(s_Z, m, depth)
    g = np.asarray(gamma, dtype=float)
    if not (np.all(np.isfinite(g)) and np.all(g >= 0) and np.all(g < 1)):
        raise ValueError(
            "gamma must lie in [0, 1) (gamma = s_Z2/s_Z < 1 is Assumption 3.6)"
        )
    out = m * s ** kappa(N) * (1.0 - g)
    return out.item() if out.ndim == 0 else out


# --------------------------------------------------------------------------
# The book's phase laws of the rank-one reduction of (17) (beyond the paper)
# --------------------------------------------------------------------------
#
# Closed forms derived in this book (chapters 06 and 07), not results of
# Eftekhari (2020). For a rank-one W = s u v^T the induced flow (17) reduces to
# (notes A.3) s' = -m N s^{2-2/N} (s - rho), rho = u^T Z v, with
# |rho| <= s_Z and rho nondecreasing. Far from Z_1 (s >> s_Z) this is
# d(s^{-kappa})/dt ~ kappa m N (the far-away phase, chapter 06); near Z_1 the
# nearby rates above take over; along one decoupled mode of an aligned
# balanced start (rho = the target singular value) it integrates to the escape
# time of that mode (chapter 07; Saxe et al. 2013).

__all__ += [
    "reduced_radial_velocity",
    "escape_time",
    "faraway_halving_time",
    "far_phase_time",
    "time_scale_factor",
    "two_phase_time_estimate",
]


def _positive_array(value, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
        raise ValueError(f"{name} must be finite and > 0 (a number or an array)")
    return arr


def reduced_radial_velocity(s, rho, m, depth):
    """``ds/dt = -m N s^{2-2/N} (s - rho)``: the norm's equation in the rank-one reduction of (17).

    For ``W = s u v^T`` (``||u|| = ||v|| = 1``) and ``rho = u^T Z v`` (notes
    A.3, this book's derivation). ``m N s^{2-2/N}`` is :func:`radial_rate`;
    ``s > 0`` and ``depth`` broadcast with ``rho`` (arrays allowed).
    """
    return -radial_rate(s, m, depth) * (s - rho)


def escape_time(sigma0, s, m, depth, level: float = 0.5):
    """Time for one decoupled mode to grow from ``sigma0`` to ``level * s`` (chapter 07; beyond the paper).

    For a balanced start aligned with the singular vectors of ``Z`` (Saxe et
    al. 2013's decoupled solutions), the singular value ``sigma`` of ``W``
    along a mode with target singular value ``s`` obeys the rank-one reduction
    of (17) (notes A.3) with ``rho = s``:
    ``dsigma/dt = m N sigma^{2-2/N} (s - sigma)`` (:func:`reduced_radial_velocity`).
    The time is
    ``int_{sigma0}^{level s} dsigma / (m N sigma^{2-2/N} (s - sigma))``; for
    ``N = 2`` it is ``[ln(x/(s-x))]_{sigma0}^{level s} / (2 m s)`` (logistic growth),
    ``N = 1`` gives ``ln((s - sigma0)/(s - level s)) / m``; deeper networks
    by quadrature (relative accuracy ``1e-11``).

    Parameters
    ----------
    sigma0 : float or array_like
        Initial singular value, ``0 < sigma0 < level * s``.
    s : float or array_like
        Target singular value ``> 0``.
    m : float
    depth : int
    level : float in (0, 1)

    Returns
    -------
    float or ndarray
    """
    m = positive_float(m, "m")
    N = positive_int(depth, "depth")
    level = positive_float(level, "level")
    if level >= 1:
        raise ValueError(f"level must lie in (0, 1); got {level!r}")
    s0, sv = np.broadcast_arrays(
        np.asarray(sigma0, dtype=float), np.asarray(s, dtype=float)
    )
    if not (np.all(sv > 0) and np.all(s0 > 0) and np.all(s0 < level * sv)):
        raise ValueError("sigma0 and s must satisfy 0 < sigma0 < level * s")
    out = np.empty(s0.shape)
    for idx in np.ndindex(s0.shape):
        a, b = s0[idx], level * sv[idx]
        if N == 1:
            out[idx] = math.log((sv[idx] - a) / (sv[idx] - b)) / m
        elif N == 2:
            out[idx] = (math.log(b / (sv[idx] - b)) - math.log(a / (sv[idx] - a))) / (
                2 * m * sv[idx]
            )
        else:
            # dt = dsigma / sigma'; substitute sigma = e^x
            def f(x, ss=sv[idx]):
                sigma = math.exp(x)
                return sigma / reduced_radial_velocity(sigma, ss, m, N)

            out[idx] = quad(
                f, math.log(a), math.log(b), epsabs=0, epsrel=1e-11, limit=200
            )[0]
    return out.item() if out.ndim == 0 else out


def faraway_halving_time(r0, m, depth):
    """Far-away time for ``||W||`` to halve: ``(2^kappa - 1) r0^{-kappa} / (kappa m N)`` (``ln 2 / m`` for N = 1).

    The far-away law of chapter 06 (beyond the paper). Far from ``Z_1``
    (``r = ||W|| >> s_Z``) the radial equation of (17),
    ``r' = -m N r^{2-2/N} (r - rho)`` with ``|rho| <= s_Z``, is
    ``r' = -m N r^{1+kappa} (1 + O(s_Z/r))``, i.e.
    ``d(r^{-kappa})/dt = kappa m N (1 + O(s_Z/r))``. Solving from ``r0`` to
    ``r0/2`` gives the formula, with relative error ``O(s_Z / r0)``; for
    ``N = 1`` (``kappa = 0``) it is the limit ``ln 2 / m``. The exponent of
    ``r0`` is ``-kappa = -(2 - 2/N)``.

    ``r0`` and ``depth`` broadcast (arrays allowed); ``r0 > 0``, ``m > 0``.
    ``m N r0^{kappa}`` is :func:`radial_rate`.
    """
    r = _positive_array(r0, "r0")
    m = positive_float(m, "m")
    k = np.asarray(kappa(depth), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        far = np.expm1(k * math.log(2.0)) / (
            np.where(k > 0, k, 1.0) * radial_rate(r, m, depth)
        )
    out = np.where(k > 0, far, math.log(2.0) / m + 0.0 * r)
    return out.item() if out.ndim == 0 else out


def far_phase_time(s0, s_Z, m, depth) -> float:
    """Upper estimate of the time for ``||W||`` to fall from ``s0`` to ``2 s_Z`` (0 if already below).

    Chapter 06's far-away phase (beyond the paper): while ``s > 2 s_Z >= 2 rho``
    the radial equation of (17) gives ``s' <= -m N s^{3-2/N} / 2``, so the time
    is at most ``2 ((2 s_Z)^{-kappa} - s0^{-kappa}) / (kappa m N)``; for
    ``N = 1``, ``ln(s0 / s_Z) / m``. Used to size integration horizons.

    Parameters
    ----------
    s0 : float
        Initial norm ``||W0||_F >= 0``.
    s_Z, m : float
        ``> 0``.
    depth : int
        ``N >= 1``.
    """
    s0 = positive_float(s0, "s0", allow_zero=True)
    s_Z = positive_float(s_Z, "s_Z")
    m = positive_float(m, "m")
    N = positive_int(depth, "depth")
    if s0 <= 2 * s_Z:
        return 0.0
    if N == 1:
        return math.log(s0 / s_Z) / m
    k = kappa(N)
    # While s > 2 s_Z >= 2 rho, s' <= -m N s^{3-2/N} / 2.
    return 2.0 * ((2 * s_Z) ** -k - s0**-k) / (k * m * N)


def time_scale_factor(scale, depth):
    """``scale^{-kappa}``: rescaling ``Z`` (and ``W0``) by ``scale`` multiplies every time of (17) by this.

    The scale law of chapter 06 (beyond the paper): ``A_W`` (16) is
    homogeneous of degree ``kappa = 2 - 2/N`` in ``W``, so if ``W(t)`` solves
    (17) for ``Z`` then ``scale W(scale^kappa t)`` solves it for ``scale Z``.
    ``scale > 0``; arrays broadcast.
    """
    s = np.asarray(scale, dtype=float)
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("scale must be finite and > 0")
    out = s ** (-np.asarray(kappa(depth), dtype=float))
    return out.item() if out.ndim == 0 else out


def two_phase_time_estimate(s_Z, m, depth, norm_ratio, angle, rel_tol):
    """Time to reach ``||W - Z_1|| <= rel_tol s_Z`` predicted by the far-away and nearby analyses (scalar output).

    Chapter 06's estimate (beyond the paper; not the paper's (38a)/(38b)).
    ``N = 1`` is exact: ``W(t) - Z_1 = (W0 - Z_1) e^{-m t}``, so
    ``T = log(d0 / rel_tol) / m`` with ``d0 = ||W0 - Z_1|| / s_Z``. For ``N >= 2``
    the two phases are added: the far-away law (:func:`faraway_halving_time`)
    brings ``||W||`` from ``norm_ratio s_Z`` down to ``max(rel_tol, 1) s_Z`` in
    ``(max(rel_tol,1)^{-kappa} - norm_ratio^{-kappa}) s_Z^{-kappa} / (kappa m N)``, and the
    nearby rate ``mu_N = m s_Z^{2-2/N}`` (:func:`slowest_nearby_rate`) takes the
    distance from ``s_Z`` to ``rel_tol s_Z`` in ``log(1/rel_tol) / mu_N`` (when
    ``rel_tol < 1``). Constants of order one (the angle left after the far
    phase, the hand-over between the phases) are ignored, so the estimate is
    asymptotic in both directions.

    ``s_Z``, ``depth``, ``norm_ratio`` and ``rel_tol`` broadcast (arrays
    allowed; ``s_Z``, ``norm_ratio``, ``rel_tol`` finite and ``> 0``; ``angle``
    in ``[0, pi/2)``); returns 0 where the start already satisfies the accuracy.
    """
    s = _positive_array(s_Z, "s_Z")
    m = positive_float(m, "m")
    N = np.asarray(depth)
    k = np.asarray(kappa(depth), dtype=float)
    R = _positive_array(norm_ratio, "norm_ratio")
    e = _positive_array(rel_tol, "rel_tol")
    a = start_angle(angle)
    d0 = polar_distance(R, a, 1.0)  # ||W0 - Z_1|| / s_Z, without cancellation
    exact1 = np.log(np.maximum(d0 / e, 1.0)) / m
    with np.errstate(invalid="ignore", divide="ignore"):
        kk = np.where(k > 0, k, 1.0)
        far = (np.maximum(e, 1.0) ** (-kk) - R ** (-kk)) / (kk * radial_rate(s, m, N))
        near = np.log(np.maximum(1.0 / e, 1.0)) / slowest_nearby_rate(s, m, N)
    deep = np.maximum(far, 0.0) + near
    out = np.where(N == 1, exact1, deep)
    out = np.where(e >= d0, 0.0, out)
    return out.item() if out.ndim == 0 else out


# ==========================================================================
# Closed forms of chapter 01 (Section 2; linnet.chapters.landscape)
# ==========================================================================

__all__ += ["zero_escape_loss_decrease"]


def zero_escape_loss_decrease(scale, X, Y, depth):
    """``L_N(0) - L_N(scale D)`` along the escape direction ``D`` of the zero network (chapter 01; this book).

    ``D`` is the unit direction of
    :func:`linnet.chapters.landscape.escape_direction_at_zero`:
    ``D_1 = e_1 v_1^T / sqrt(N)``, ``D_j = e_1 e_1^T / sqrt(N)``,
    ``D_N = u_1 e_1^T / sqrt(N)`` with ``(s_1, u_1, v_1)`` the leading singular
    triplet of ``Y X^T``, so ``sum_j ||D_j||_F^2 = 1`` and the end-to-end
    matrix of ``scale D`` is ``a^N u_1 v_1^T`` with ``a = scale / sqrt(N)``.
    The loss (6) there is that of (4), and expanding the square,

    ``L_N(0) - L_N(scale D) = s_1 a^N - 1/2 a^{2N} ||u_1 v_1^T X||_F^2``.

    The decrease is of order ``scale^N``: of second order only for ``N = 2``
    (the zero network is a strict saddle), of order ``N >= 3`` otherwise
    (remark 2 after Theorem 2.8: zero is then a non-strict saddle).

    Parameters
    ----------
    scale : float or array_like
        Finite step sizes ``eps`` along ``D`` (any sign).
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)
    depth : int
        ``N >= 2``.

    Returns
    -------
    float or ndarray
        Of the shape of ``scale``.
    """
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y", shape=(None, X.shape[1]))
    N = positive_int(depth, "depth", minimum=2)
    eps = np.asarray(scale, dtype=float)
    if not np.all(np.isfinite(eps)):
        raise ValueError(f"scale must be finite; got {scale!r}")
    U, s, Vt = np.linalg.svd(Y @ X.T)
    tail = 0.5 * np.linalg.norm(np.outer(U[:, 0], Vt[0]) @ X) ** 2
    a = eps / np.sqrt(N)
    out = s[0] * a**N - tail * a ** (2 * N)
    return out.item() if out.ndim == 0 else out


# (end of the closed forms of chapter 01)


# ==========================================================================
# Closed forms of chapters 02-03 (Section 3; linnet.chapters.stable_set)
# ==========================================================================
#
# Laws of this book (beyond the paper) for the induced flow (17) with whitened
# data: the decay of a singular value without a target component (chapter 02),
# and for a scalar output the flow in closed form along its angle clock, the
# opposite ray and the lingering laws near the failing starts (chapter 03).

__all__ += [
    "induced_operator_holder_exponent",
    "vanishing_singular_value_exponent",
    "polar_angle_clock",
    "scalar_polar_path",
    "opposite_ray_exponent",
    "opposite_ray_clock",
    "lingering_slopes",
]


def induced_operator_holder_exponent(depth) -> float:
    """``min(1, 2/N)``: the Hölder exponent of the operator ``A_W`` (16) at a rank drop (chapter 02; this book).

    For ``W_k = Z_1 + e_k u_2 v_2^T`` (rank two, tending to the rank-one
    ``Z_1``), ``(W_k W_k^T)^{p/N} = s_Z^{2p/N} u_1 u_1^T + e_k^{2p/N} u_2 u_2^T``
    for ``p >= 1``, and likewise on the right, so ``A_{W_k} - A_{Z_1}`` is a sum
    of terms ``e_k^{2p/N}``, ``p = 1, ..., N-1``, and their products:
    ``||A_{W_k}(Delta) - A_{Z_1}(Delta)||_F ~ e_k^{min(1, 2/N)}`` for a generic
    ``Delta``, Lipschitz for ``N <= 2`` and only Hölder for ``N >= 3``.
    """
    N = positive_int(depth, "depth")
    return min(1.0, 2 / N)


def vanishing_singular_value_exponent(depth) -> float:
    """``-N/(2N-2)``: the power of ``t`` in the decay of a singular value with no target component (chapter 02).

    Along (17) with whitened data the singular values move by (19) (Arora et
    al. 2019a, Theorem 3): ``ds_i/dt = -m N s_i^{2-2/N} (s_i - u_i^T Z v_i)``.
    For one whose target component ``u_i^T Z v_i`` vanishes (e.g. ``s_2`` when
    ``Z`` has rank one) this is ``ds/dt = -m N s^{3-2/N}``, so ``s^{-kappa}``
    grows at the constant rate ``kappa m N`` (:func:`kappa`) and
    ``s(t) = (s_0^{-kappa} + kappa m N t)^{-1/kappa} ~ t^{-N/(2N-2)}``: a power
    law, never zero in finite time (Lemma 3.3's role). ``N = 1`` decays
    exponentially, so ``depth >= 2``.
    """
    N = positive_int(depth, "depth", minimum=2)
    return -N / (2 * N - 2)


def polar_angle_clock(theta):
    """The angle clock ``x = -log tan(theta / 2)`` of the scalar-output flow (chapter 03), capped at 40.

    ``cos(theta) = tanh(x)``; ``theta = 0`` gives the cap ``x = 40``
    (``tanh(40) = 1`` in floating point), ``theta -> pi`` gives ``x -> -inf``.
    See :func:`scalar_polar_path`. ``theta`` in ``[0, pi)`` (arrays allowed).
    """
    th = np.asarray(theta, dtype=float)
    if not (np.all(np.isfinite(th)) and np.all(th >= 0) and np.all(th < np.pi)):
        raise ValueError(
            "theta must lie in [0, pi) (on the opposite ray theta = pi the clock is -inf)"
        )
    with np.errstate(divide="ignore"):
        out = np.minimum(-np.log(np.tan(th / 2)), 40.0)
    return out.item() if out.ndim == 0 else out


def _polar_log_cosh(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(x, -x) - np.log(2.0)


def _polar_log_binom(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def scalar_polar_path(r0, theta0, s_Z, m, depth, span, *, points: int = 2000):
    """The scalar-output flow (17) in closed form along its angle clock (chapter 03; this book).

    In the polar coordinates of :func:`linnet.flows.scalar_polar_flow`
    (``d_y = 1``, whitened data),
    ``r' = -m N r^{2-2/N} (r - s_Z cos theta)``, ``theta' = -m s_Z r^{1-2/N} sin theta``.
    With the clock ``x = -log tan(theta / 2)`` (:func:`polar_angle_clock`),
    ``dx/dt = m s_Z r^{1-2/N}`` and:

    * ``cos theta = tanh x``, i.e. ``theta = 2 arctan(e^{-x})``;
    * ``q = 1/r`` obeys the linear equation ``dq/dx = N/s_Z - N tanh(x) q``, so
      ``q(x) cosh^N x = q_0 cosh^N x_0 + (N/s_Z) int_{x_0}^x cosh^N y dy``, the
      integral in closed form (binomial expansion of ``cosh^N``);
    * ``t(x) = (1/(m s_Z)) int_{x_0}^x q(y)^{1-2/N} dy``, by the trapezoid rule
      for ``log`` of the integrand (exact for exponentials) on the nodes
      ``x = x_0 + span * linspace(0, 1, points)``.

    Parameters
    ----------
    r0, theta0 : array_like, shape (k,)
        Initial norms ``> 0`` and angles to ``Z`` in ``[0, pi)`` (the opposite
        ray ``theta0 = pi`` never leaves it: the clock starts at ``-inf``).
    s_Z, m : float
        ``> 0``.
    depth : int
        ``N >= 2``.
    span : array_like, shape (k,)
        Length ``> 0`` of each start's clock interval.
    points : int
        Nodes per start, ``>= 2``.

    Returns
    -------
    t, r, theta : ndarray, shape (k, points)
        Time, norm and angle at the nodes (``t[:, 0] = 0``).
    """
    r0 = np.asarray(r0, dtype=float)
    span = np.asarray(span, dtype=float)
    if r0.ndim != 1 or r0.size == 0:
        raise ValueError(f"r0 must be a non-empty 1-D array; got shape {r0.shape}")
    if not (np.all(np.isfinite(r0)) and np.all(r0 > 0)):
        raise ValueError("r0 must be finite and > 0 (W = 0 is a fixed point)")
    x0 = np.asarray(polar_angle_clock(theta0), dtype=float).reshape(-1)
    if x0.shape != r0.shape or span.shape != r0.shape:
        raise ValueError(
            f"theta0 and span must have the shape of r0 {r0.shape}; got {np.shape(theta0)} and {span.shape}"
        )
    if not (np.all(np.isfinite(span)) and np.all(span > 0)):
        raise ValueError("span must be finite and > 0")
    s_Z = positive_float(s_Z, "s_Z")
    m = positive_float(m, "m")
    N = positive_int(depth, "depth", minimum=2)
    K = positive_int(points, "points", minimum=2)
    lq0 = -np.log(r0)
    u = np.linspace(0.0, 1.0, K)
    x = x0[:, None] + span[:, None] * u[None]
    lcx = _polar_log_cosh(x)
    # q cosh^N x = q0 cosh^N x0 + (N/s_Z) [F(x) - F(x0)], F' = cosh^N, all divided by cosh^N x.
    first = np.exp(lq0[:, None] + N * (_polar_log_cosh(x0)[:, None] - lcx))
    integral = np.zeros_like(x)
    for k in range(N + 1):
        c = np.exp(_polar_log_binom(N, k) - N * np.log(2.0))
        e = N - 2 * k
        if e == 0:
            integral += c * (x - x0[:, None]) * np.exp(-N * lcx)
        else:
            integral += (c / e) * (
                np.exp(e * x - N * lcx) - np.exp(e * x0[:, None] - N * lcx)
            )
    q = first + (N / s_Z) * integral
    g = (1.0 - 2.0 / N) * np.log(q)
    h = span[:, None] / (K - 1)
    dg = np.diff(g, axis=1)
    small = np.abs(dg) < 1e-8
    ratio = np.where(small, 1.0 + dg / 2, np.expm1(dg) / np.where(small, 1.0, dg))
    t = np.concatenate(
        [np.zeros((x.shape[0], 1)), np.cumsum(h * np.exp(g[:, :-1]) * ratio, axis=1)],
        axis=1,
    ) / (m * s_Z)
    return t, 1.0 / q, 2.0 * np.arctan(np.exp(-x))


def opposite_ray_exponent(depth) -> float:
    """``-N/(N-2)``: the power of ``t`` in the decay of ``||W(t)||`` on the opposite ray (chapter 03; this book).

    On the ray ``theta = pi`` of the scalar-output flow (remark 3 after
    Theorem 3.8: a start there never converges) the angle stays ``pi`` and
    ``r' = -m N r^{2-2/N} (r + s_Z)``. For ``N >= 3``,
    ``||W(t)|| ~ s_Z ((N-2) m s_Z^{2-2/N} t)^{-N/(N-2)}`` (exactly:
    :func:`opposite_ray_clock`); ``N = 2`` decays exponentially, so ``depth >= 3``.
    """
    N = positive_int(depth, "depth", minimum=3)
    return -N / (N - 2)


def opposite_ray_clock(r, s_Z, depth):
    """``(r/s_Z)^{-(N-2)/N} / (N-2)``: the clock of the opposite ray (chapter 03; this book).

    With ``rho = r/s_Z`` and ``tau = m s_Z^{2-2/N} t``
    (:func:`slowest_nearby_rate` times ``t``), the radial equation on the ray
    ``theta = pi``, ``r' = -m N r^{2-2/N} (r + s_Z)``, gives exactly
    ``d/dtau [rho^{-(N-2)/N} / (N-2)] = 1 + rho``: this clock runs at unit
    speed in ``tau`` up to the relative excess ``rho``, whence the power law of
    :func:`opposite_ray_exponent`. ``r > 0``, ``s_Z > 0`` (arrays allowed),
    ``depth >= 3``.
    """
    rho = _positive_array(r, "r") / positive_float(s_Z, "s_Z")
    N = positive_int(depth, "depth", minimum=3)
    out = rho ** (-(N - 2) / N) / (N - 2)
    return out.item() if out.ndim == 0 else out


def lingering_slopes(depth) -> tuple[float, float]:
    """Slopes of the lingering laws of the scalar-output flow near its failing starts (chapter 03; this book).

    The time ``T`` to reach a fixed accuracy (e.g. ``||W - Z_1|| <= 10^-3 s_Z``):

    * ``N = 2``: from a small norm ``r_0`` at a fixed angle inside the cone,
      ``T ~ log(1/r_0) / (2 m s_Z)`` (``r`` grows like ``e^{2 m s_Z t}``
      once the angle, which moves at a rate independent of ``r``, has closed);
      from a distance ``delta`` to the opposite ray,
      ``T ~ 2 log(1/delta) / (m s_Z)`` (the angle leaves the ray like
      ``e^{m s_Z t}`` while the norm collapses to order ``delta^2``, then grows
      back). Returned: ``(1/2, 2)``, the slopes of ``m s_Z T`` against
      ``log(1/r_0)`` and ``log(1/delta)``.
    * ``N >= 3``: the angle moves at the rate ``m s_Z r^{1-2/N} sin theta``,
      which vanishes with ``r``; growing from ``r_0`` takes
      ``T ~ r_0^{-(1-2/N)}``, and near the opposite ray the norm first
      collapses to order ``delta^N``, so ``T ~ delta^{-(N-2)}``. Returned:
      ``(-(1-2/N), N-2)``, the slopes of ``log T`` against ``log r_0`` and
      ``log(1/delta)``.

    Asymptotic laws (small ``r_0``, small ``delta``), not bounds.
    """
    N = positive_int(depth, "depth", minimum=2)
    if N == 2:
        return 0.5, 2.0
    return -(1 - 2 / N), float(N - 2)


# (end of the closed forms of chapters 02-03)


# ==========================================================================
# Closed forms of chapters 04 and 06 (Section 4; linnet.chapters.rates, depth)
# ==========================================================================
#
# The rank-one reduction of (17) and its consequences, results of this book
# (notes/paper-statements.md, A.3: the boxed reduced equations, Lemma R1 and the
# two-sided bound (R2)), not the paper's (33)/(35), which are ``bound_33`` and
# ``rhs_35`` above; Arora et al.'s deficiency margin (Definition 2) of the best
# rank-one matrix; the depth thresholds of the faraway exponent of (38a); the
# forward Euler iterates of the paper's Figure 1 at depth 1.

__all__ += [
    "rank_one_reduced_rates",
    "cosine_rate_lower_bound",
    "correlation_bounds",
    "best_rank_one_margin",
    "exponent_38a_step_threshold",
    "euler_relative_error_depth_1",
]


def _unit_rows(x, name: str, dim: int, k: int) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.shape != (k, dim):
        raise ValueError(f"{name} must have shape ({k}, {dim}); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if not np.allclose(np.linalg.norm(arr, axis=1), 1.0, rtol=0, atol=RANK_ONE_RTOL):
        raise ValueError(
            f"{name} must hold unit vectors (norm 1 up to {RANK_ONE_RTOL:g})"
        )
    return arr


def rank_one_reduced_rates(s, u, v, target: Target, depth: int):
    """``rho``, ``p`` and ``ds/dt``, ``drho/dt``, ``dp/dt`` of ``W = s u v^T`` by the reduced equations.

    A result of this book (notes/paper-statements.md, A.3; the role of the
    paper's Lemma 4.1): for ``W = s u v^T`` (``||u|| = ||v|| = 1``) the induced
    flow (17) with whitened data reduces to

    ``ds/dt = -m N s^{2-2/N} (s - rho)`` (:func:`reduced_radial_velocity`),
    ``du/dt = m s^{1-2/N} (I - u u^T) Z v``,  ``dv/dt = m s^{1-2/N} (I - v v^T) Z^T u``,

    with ``rho = u^T Z v``; hence (Lemma R1)
    ``drho/dt = m s^{1-2/N} (||(I - u u^T) Z v||^2 + ||(I - v v^T) Z^T u||^2) >= 0`` and
    ``dp/dt = m s^{1-2/N} (s_Z (a^2 + b^2) - 2 p rho)``, where ``a = u^T u_Z``,
    ``b = v^T v_Z`` and ``p = a b`` (the cosine with ``Z_1``).

    Parameters
    ----------
    s : array_like, shape (k,)
        ``||W||_F > 0``.
    u : array_like, shape (k, dy)
    v : array_like, shape (k, dx)
        Unit vectors (the factors of a thin SVD of each ``W``).
    target : Target
        ``Z`` with ``s_Z > s_Z2`` (Assumption 3.6).
    depth : int
        ``N >= 2``.

    Returns
    -------
    rho, p, ds, drho, dp : ndarray, shape (k,)
    """
    target = as_target(target, unique_Z1=True)
    N = _depth(depth)
    s = np.asarray(s, dtype=float)
    if s.ndim != 1 or not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError(
            f"s must be a 1-D array of norms > 0 (finite); got shape {s.shape}"
        )
    u = _unit_rows(u, "u", target.dy, s.size)
    v = _unit_rows(v, "v", target.dx, s.size)
    m, Z = target.m, target.Z
    Zv = np.einsum("ij,kj->ki", Z, v)
    Ztu = np.einsum("ij,ki->kj", Z, u)
    rho = np.sum(u * Zv, axis=1)
    a = u @ target.u
    b = v @ target.v
    p = a * b
    clock = m * s ** (kappa(N) - 1)
    ds = reduced_radial_velocity(s, rho, m, N)
    du = Zv - rho[:, None] * u  # (I - u u^T) Z v
    dv = Ztu - rho[:, None] * v  # (I - v v^T) Z^T u
    drho = clock * (np.sum(du * du, axis=1) + np.sum(dv * dv, axis=1))
    dp = clock * (target.s_Z * (a * a + b * b) - 2 * p * rho)
    return rho, p, ds, drho, dp


def cosine_rate_lower_bound(W, target: Target, depth: int):
    """Lemma R1's lower bound on ``dp/dt`` along (17): ``2 m s^{1-2/N} s_Z (1 - gamma) p (1 - p)``.

    A result of this book (notes/paper-statements.md, A.3, Lemma R1; it plays
    the role of the paper's Lemma 4.2 but is not the paper's (35), which is
    :func:`rhs_35`): for rank-one ``W`` with ``s = ||W||_F`` and cosine
    ``p = <W, Z_1>/(s s_Z) >= 0``, ``dp/dt`` is at least this. It follows from
    ``a^2 + b^2 >= 2 p`` and the upper bound of (R2) (:func:`correlation_bounds`).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
        Nonzero rank-one matrices.
    target : Target
    depth : int
        ``N >= 2``.

    Returns
    -------
    float or ndarray of shape (k,)
    """
    target = as_target(target, unique_Z1=True)
    N = _depth(depth)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    rank_one_svd(stack, "W", nonzero=True)
    s = np.linalg.norm(stack, axis=(1, 2))
    p = np.asarray(cosine_with_Z1(stack, target))
    out = (
        2
        * target.m
        * s ** (kappa(N) - 1)
        * target.s_Z
        * (1 - target.gamma)
        * p
        * (1 - p)
    )
    return _out(out, single)


def correlation_bounds(W, target: Target):
    """The two-sided bound (R2) on the correlation ``rho`` by the cosine ``p`` (a result of this book).

    notes/paper-statements.md, A.3: for rank-one ``W`` with
    ``p = <W, Z_1>/(||W|| s_Z) >= 0``,
    ``s_Z ((1 + gamma) p - gamma) <= rho <= s_Z (p + gamma (1 - p))``, from
    ``u^T (Z - Z_1) v <= s_Z2 sqrt((1 - a^2)(1 - b^2)) <= s_Z2 (1 - p)``.
    (Not the paper's (33), which bounds the loss (31): :func:`bound_33`.)

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
        Nonzero rank-one matrices.
    target : Target

    Returns
    -------
    lower, upper : float or ndarray of shape (k,)
    """
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    rank_one_svd(stack, "W", nonzero=True)
    p = np.asarray(cosine_with_Z1(stack, target))
    g = target.gamma
    lower = target.s_Z * ((1 + g) * p - g)
    upper = target.s_Z * (p + g * (1 - p))
    return _out(lower, single), _out(upper, single)


def best_rank_one_margin(target: Target) -> float:
    """The largest deficiency margin (Arora et al., Definition 2) of any rank-one ``W``.

    Arora et al.'s condition asks ``||W0 - Z||_F < sigma_min(Z)``, with
    ``sigma_min`` the ``min(dy, dx)``-th singular value. By Eckart-Young,
    every rank-one ``W`` has ``||W - Z||_F >= ||Z_1 - Z||_F = (sum_{i>=2} s_{Z,i}^2)^{1/2}``,
    so its margin ``sigma_min(Z) - ||W - Z||_F`` is at most

    ``sigma_min(Z) - (sum_{i >= 2} s_{Z,i}^2)^{1/2}``,

    attained at ``W = Z_1``. When ``min(dy, dx) >= 2`` this is ``<= 0``
    (``sigma_min <= s_Z2``): no rank-one start has a margin (remark 4 after
    Theorem 4.4).

    Parameters
    ----------
    target : Target

    Returns
    -------
    float
    """
    s = as_target(target).s
    return float(s[-1] - np.sqrt(np.sum(s[1:] ** 2)))


def exponent_38a_step_threshold(depth):
    """The scale ``x = alpha s_Z`` above which the faraway exponent of (38a) grows from ``N`` to ``N + 1``.

    For ``gamma_Z = 0`` the exponent of (38a) is ``-E_a`` with
    ``E_a / m = N x^{2-2/N}`` (:func:`exponent_38a`), so
    ``E_a(N + 1) / E_a(N) = ((N + 1)/N) x^{2/(N(N+1))} >= 1`` iff
    ``x >= (N/(N+1))^{N(N+1)/2}``. Over the depths ``N >= 2`` of Theorem 4.4
    the threshold is largest at ``N = 2``,
    ``(2/3)^3 = 8/27``: ``E_a`` increases over all integer depths ``N >= 2``
    iff ``x >= 8/27`` (chapter 04, remark 3 after Theorem 4.4).

    Parameters
    ----------
    depth : int or array_like of int
        ``N >= 1``.

    Returns
    -------
    float or ndarray
    """
    N = np.asarray(depth)
    if N.dtype.kind not in "iu" or np.any(N < 1):
        raise ValueError(
            f"depth must be an integer >= 1 (or an array of them); got {depth!r}"
        )
    N = N.astype(float)
    out = (N / (N + 1)) ** (N * (N + 1) / 2)
    return out.item() if out.ndim == 0 else out


def euler_relative_error_depth_1(m, step, n_steps):
    """Relative error of ``n`` forward Euler steps of (17) at depth 1 against the exact flow.

    At depth 1 with whitened data (17) is ``dW/dt = -m (W - Z)``, so
    ``W(t) - Z = e^{-m t}(W_0 - Z)`` while ``n`` Euler steps of size ``h`` give
    ``W_n - Z = (1 - h m)^n (W_0 - Z)``: the error relative to ``||W(n h) - Z||``
    is ``|(1 - h m)^n e^{m n h} - 1|`` for every start (the paper's Figure 1
    scheme at depth 1).

    Parameters
    ----------
    m : float
        ``> 0``.
    step : float
        ``h > 0``.
    n_steps : int or array_like of int
        ``>= 0``.

    Returns
    -------
    float or ndarray
    """
    m = positive_float(m, "m")
    h = positive_float(step, "step")
    n = np.asarray(n_steps)
    if n.dtype.kind not in "iu" or np.any(n < 0):
        raise ValueError(f"n_steps must be integers >= 0; got {n_steps!r}")
    out = np.abs((1 - h * m) ** n * np.exp(m * (n * h)) - 1)
    return out.item() if out.ndim == 0 else out


# (end of the closed forms of chapters 04 and 06)


# ==========================================================================
# Closed forms of chapter 05 (Arora et al. 2018a; linnet.chapters.arora)
# ==========================================================================
#
# Arora et al.'s Lemma 1 and Claim 2 in the forms chapter 05 states them (both
# marked [brief] there: the sources the book has do not give their statements
# or constants), and two closed forms of this book: the second moment of the
# imbalance of Gaussian layers (which proves Claim 2 as stated: a corollary in
# chapter 05) and the exact probability that a one-output Procedure-1 start
# has a deficiency margin (Claim 3's event). The Monte Carlo checks are in
# tests/test_theory_ch05.py.


def _widths_05(widths) -> list[int]:
    from .init import check_widths  # local: theory's module imports stay as they are

    return check_widths(widths)


def _nonnegative_05(value, name: str, *, strict: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or (strict and np.any(arr == 0)):
        cond = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be finite and {cond} (a number or an array)")
    return arr


def arora_lemma_1_decrease(sigma_min, residual_sq, depth: int, lr):
    """Lemma 1's lower bound on one step's decrease of the loss (Arora et al., Lemma 1; [brief]).

    Under the assumptions of Theorem 1, a step of gradient descent with step
    ``eta`` on ``l = 1/2 ||W_N ... W_1 - Phi||_F^2`` decreases the loss by at
    least

    ``l(t) - l(t+1) >= (eta / 2) sigma_min(W(t))^{2(N-1)/N} ||W(t) - Phi||_F^2``,

    with ``2(N-1)/N = kappa(N)`` (:func:`kappa`) and ``W(t) - Phi`` the
    gradient of the one-layer loss. Chapter 05 states the lemma in this form
    [brief]: the summary page of Arora et al. lists a Lemma 1 with the proof of
    Theorem 1, not its statement.

    Parameters
    ----------
    sigma_min : float or array_like
        ``sigma_min(W(t)) >= 0``, the ``min(d_N, d_0)``-th singular value of the
        end-to-end matrix.
    residual_sq : float or array_like
        ``||W(t) - Phi||_F^2 >= 0`` (twice the loss).
    depth : int
        ``N >= 1``.
    lr : float or array_like
        Step sizes ``eta > 0``.

    Returns
    -------
    float or ndarray
        The bound, the arguments broadcast against each other.
    """
    s = _nonnegative_05(sigma_min, "sigma_min")
    r = _nonnegative_05(residual_sq, "residual_sq")
    eta = _nonnegative_05(lr, "lr", strict=True)
    N = positive_int(depth, "depth")
    out = 0.5 * eta * s ** kappa(N) * r
    return out.item() if out.ndim == 0 else out


def arora_claim_2_scale(widths, std: float) -> float:
    """``10 N std^4 d_max^3``: the numerator of Claim 2's bound (Arora et al., Claim 2; [brief]).

    Claim 2 as chapter 05 states it: layer-wise Gaussian starts with entries
    i.i.d. ``N(0, std^2)``, ``N`` layers and ``d_max = max_j d_j`` (inputs and
    outputs included) are delta-balanced with probability at least
    ``1 - (this) / delta^2`` (:func:`arora_claim_2_bound`). The form and the
    constant 10 are from the project brief (not re-read in the paper; notes,
    Part B); chapter 05 proves the claim in this form from
    :func:`expected_imbalance_sq`, which never exceeds ``6 (N-1) std^4 d_max^3``.

    Parameters
    ----------
    widths : sequence of int
        ``[d_0, ..., d_N]``.
    std : float
        Standard deviation ``> 0`` of the entries.

    Returns
    -------
    float
    """
    widths = _widths_05(widths)
    std = positive_float(std, "std")
    N = len(widths) - 1
    return 10.0 * N * std**4 * max(widths) ** 3


def arora_claim_2_bound(widths, std: float, delta: float) -> float:
    """``max(0, 1 - 10 delta^{-2} N std^4 d_max^3)``: Claim 2's lower bound on P(delta-balanced) (Arora et al., Claim 2; [brief]).

    For a layer-wise Gaussian start with entries i.i.d. ``N(0, std^2)``, ``N``
    layers and ``d_max = max_j d_j``; the numerator is
    :func:`arora_claim_2_scale`. Form and constant as given by the project
    brief (chapter 05 marks them [brief] and proves the claim in this form).

    Parameters
    ----------
    widths : sequence of int
        ``[d_0, ..., d_N]``.
    std : float
        Standard deviation ``> 0`` of the entries.
    delta : float
        Balancedness level ``> 0`` (Definition 1).

    Returns
    -------
    float
        In ``[0, 1)``.
    """
    scale = arora_claim_2_scale(widths, std)
    delta = positive_float(delta, "delta")
    return max(0.0, 1.0 - scale / delta**2)


def expected_imbalance_sq(widths, std: float) -> float:
    """``E sum_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F^2`` for i.i.d. ``N(0, std^2)`` layers (this book, chapter 05).

    For an ``a x b`` matrix ``G`` with i.i.d. ``N(0, s^2)`` entries,
    ``E ||G^T G||_F^2 = s^4 a b (a + b + 1)``, and for independent layers
    ``E tr(W_{j+1}^T W_{j+1} W_j W_j^T) = s^4 d_{j-1} d_j d_{j+1}``, so

    ``E ||D_j||_F^2 = s^4 [d_{j+1} d_j (d_{j+1} + d_j + 1) + d_j d_{j-1} (d_j + d_{j-1} + 1) - 2 d_{j-1} d_j d_{j+1}]``.

    By Markov's inequality and a union bound, ``P(not delta-balanced) <=
    (this) / delta^2``: the form of Claim 2's bound. Each pair contributes at
    most ``6 s^4 d_max^3``, so the bound with constant 10
    (:func:`arora_claim_2_bound`) holds for every widths: a corollary in
    chapter 05.

    Parameters
    ----------
    widths : sequence of int
        ``[d_0, ..., d_N]`` (0.0 for depth 1: there is no pair of layers).
    std : float
        Standard deviation ``> 0`` of the entries.

    Returns
    -------
    float
    """
    widths = _widths_05(widths)
    s4 = positive_float(std, "std") ** 4
    total = 0.0
    for j in range(1, len(widths) - 1):
        a, b, c = widths[j - 1], widths[j], widths[j + 1]
        total += c * b * (c + b + 1) + b * a * (b + a + 1) - 2 * a * b * c
    return float(s4 * total)


def margin_probability_exact(std: float, d0: int, phi_norm: float = 1.0) -> float:
    """P(``A`` has a deficiency margin) for ``A in R^{1 x d0}`` with i.i.d. ``N(0, std^2)`` entries (this book, chapter 05).

    For a scalar output, Procedure 1 with ``D = N(0, std^2 I)`` gives the
    end-to-end matrix ``A`` itself, and ``sigma_min(Phi) = ||Phi||_F``, so
    (Definition 2) ``A`` has a margin iff ``||A - Phi||_F < ||Phi||_F``, i.e.
    ``||A||^2 < 2 <A, Phi>``. With ``A = std * g``, ``g_1`` the component of
    ``g`` along ``Phi``, ``u = ||g_perp||`` (chi-distributed with ``d0 - 1``
    degrees of freedom, independent of ``g_1``) and ``k = ||Phi||_F / std``,
    this is ``g_1^2 - 2 k g_1 + u^2 < 0``: ``g_1`` between
    ``k -+ sqrt(k^2 - u^2)``, which needs ``u < k``. Hence

    ``P = E_u[ Phi_N(k + sqrt(k^2 - u^2)) - Phi_N(k - sqrt(k^2 - u^2)) ; u < k ]``,

    integrated by adaptive quadrature (absolute error ``< 1e-10``); for
    ``d0 = 1`` it is ``Phi_N(2k) - 1/2``. It never exceeds 1/2 (the event
    needs ``g_1 > 0``) and depends on ``std`` and ``||Phi||_F`` only through
    ``k``. It is the probability of the event of Arora et al.'s Claim 3.

    Parameters
    ----------
    std : float
        Standard deviation ``> 0`` of the entries of ``A``.
    d0 : int
        Input dimension ``>= 1``.
    phi_norm : float
        ``||Phi||_F > 0``.

    Returns
    -------
    float
    """
    from scipy.special import gammaln, ndtr

    std = positive_float(std, "std")
    d0 = positive_int(d0, "d0")
    k = positive_float(phi_norm, "phi_norm") / std
    if d0 == 1:
        return float(ndtr(2 * k) - 0.5)
    dof = d0 - 1
    # chi density: u^(dof-1) e^(-u^2/2) 2^(1-dof/2) / Gamma(dof/2)
    log_norm = (1 - dof / 2) * math.log(2) - float(gammaln(dof / 2))

    def inside(u):
        if u <= 0.0:
            return 0.0 if dof > 1 else math.exp(log_norm) * float(0.5 - ndtr(-2 * k))
        root = math.sqrt(max(k * k - u * u, 0.0))
        lo = u * u / (k + root)  # = k - root, without cancellation
        density = math.exp(log_norm + (dof - 1) * math.log(u) - 0.5 * u * u)
        return float(ndtr(-lo) - ndtr(-(k + root))) * density

    # the chi distribution has its mass within centre +- 10 (tails < 1e-20)
    centre = math.sqrt(dof)
    lo = max(0.0, centre - 10.0)
    hi = min(k, centre + 10.0)
    if hi <= lo:
        return 0.0
    mode = math.sqrt(max(dof - 1, 0))
    pts = [mode] if lo < mode < hi else None
    val, _ = quad(inside, lo, hi, points=pts, epsabs=1e-12, epsrel=1e-10, limit=200)
    return float(min(max(val, 0.0), 0.5))


__all__ += [
    "arora_lemma_1_decrease",
    "arora_claim_2_scale",
    "arora_claim_2_bound",
    "expected_imbalance_sq",
    "margin_probability_exact",
]

# (end of the closed forms of chapter 05)


# ==========================================================================
# Closed forms of chapter 07 (beyond the paper; linnet.chapters.beyond)
# ==========================================================================


def minimum_sharpness(s_Z, m, depth):
    """Sharpness ``m N s_Z^{2-2/N}`` of the loss (4) at a balanced minimum (chapter 07; beyond the paper).

    The largest eigenvalue of the Hessian of (4) (Definition 2.2) at a
    balanced network (14, corrected) whose end-to-end matrix is ``Z_1`` (27),
    for whitened data (23) whose target is of rank one (``Z = Z_1``, e.g. a
    scalar output), any widths. There the loss is zero, so the Hessian is
    ``m J^T J`` with ``J`` the derivative of ``W_N ... W_1`` in the layers;
    with rank-one layers ``W_j = s_Z^{1/N} u_j u_{j-1}^T`` each term
    ``W_N ... dW_j ... W_1`` of ``J`` lies along ``Z_1``, so
    ``||J||^2 = N s_Z^{2(N-1)/N}``. The same number as the
    radial rate of (17) at ``Z_1`` (:func:`radial_rate`). Gradient descent
    with step ``eta`` is linearly unstable at that minimum when
    ``eta > 2 / minimum_sharpness``.

    Parameters
    ----------
    s_Z : float or array_like
        ``> 0``.
    m : float
        ``> 0``, the number of examples.
    depth : int or array_like of int
        ``N >= 1`` (``N = 1``: the sharpness is ``m``).

    Returns
    -------
    float or ndarray
    """
    return radial_rate(s_Z, m, depth)


__all__ += ["minimum_sharpness"]

# (end of the closed forms of chapter 07)
