"""Beyond the paper, part 2: bottleneck width r > 1, unbalanced starts, gradient descent.

Computations for chapter 07. None of them is a result of Eftekhari (2020); they
measure three directions the paper names or assumes away. Building blocks come
from the core: gradient flow (13) of a stack of networks
(:func:`linnet.flows.gradient_flow`), the velocity of (17)
(:func:`linnet.flows.induced_velocity`), crossing times and distances
(:func:`linnet.measure.crossing_time`, :func:`linnet.measure.distance_to_Z1`),
the stack parser (:func:`linnet.validate.as_matrix_stack`); closed forms from
:mod:`linnet.theory` (:func:`~linnet.theory.escape_time`,
:func:`~linnet.theory.minimum_sharpness`).

* Width ``r > 1``: :func:`linnet.data.spectral_target` (a target with prescribed singular
  values) and :func:`linnet.data.target_data` (whitened data with that target),
  :func:`balanced_stack` (many balanced starts), :func:`linnet.theory.escape_time`
  (the plateau length of one decoupled mode, Saxe et al. 2013; a closed form, in the core),
  :func:`learning_times`, :func:`deflation_leakage` and :func:`deflated_set_margin`
  (a candidate stable set built from the rank-one set (28) after deflation),
  :func:`component_correlation`.
* Unbalanced starts: :func:`unbalanced_start` (a network with a prescribed
  product and a prescribed imbalance), :func:`gaussian_stack`.
* Gradient descent: :func:`sharpness` (largest Hessian eigenvalue of (4)),
  :func:`descent_outcome`, :func:`distance_to_flow`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ..data import Target, as_target
from ..flows import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    DivergenceError,
    gradient_descent,
    gradient_flow,
)
from ..init import balanced_init, check_widths
from ..measure import crossing_time, distance_to_Z1
from ..network import balancedness, check_weights, hessian, stack_networks
from ..validate import (
    as_matrix,
    as_matrix_stack,
    check_times,
    positive_float,
    positive_int,
)

__all__ = [
    "balanced_stack",
    "gaussian_stack",
    "learning_times",
    "deflation_leakage",
    "deflated_set_margin",
    "unbalanced_start",
    "sharpness",
    "DescentOutcome",
    "descent_outcome",
    "distance_to_flow",
    "component_correlation",
]


# --------------------------------------------------------------------------
# targets and starts
# --------------------------------------------------------------------------


def balanced_stack(W0s, widths, seed) -> list[np.ndarray]:
    """Balanced networks (14, corrected) with prescribed products, stacked.

    Calls :func:`linnet.init.balanced_init` once per start (Arora et al.'s
    Procedure 1), with seeds ``seed, seed + 1, ...``; the products are given
    (:func:`linnet.chapters.arora.balanced_gaussian_starts` draws them, and seeds
    start ``i`` with ``SeedSequence(seed).generate_state(n)[i]`` instead).

    Parameters
    ----------
    W0s : array_like, shape (B, dy, dx) or (dy, dx)
        End-to-end matrices (one matrix: ``B = 1``); each of rank ``<= min(widths)``,
        with ``dy = widths[-1]`` and ``dx = widths[0]``.
    widths : sequence of int
        ``[dx, d_1, ..., dy]``.
    seed : int

    Returns
    -------
    list of ndarray
        ``weights[j]`` has shape ``(B, d_{j+1}, d_j)``.
    """
    widths = check_widths(widths)
    W0s, _ = as_matrix_stack(W0s, "W0s", (widths[-1], widths[0]))
    if W0s.shape[0] == 0:
        raise ValueError("W0s must hold at least one matrix; got an empty stack")
    seed = positive_int(seed, "seed", minimum=0)
    return stack_networks(
        [balanced_init(W, widths, seed + b) for b, W in enumerate(W0s)],
        "balanced starts",
    )


def gaussian_stack(widths, product_scale: float, n: int, seed) -> list[np.ndarray]:
    """``n`` layer-wise Gaussian networks whose products have a typical norm ``product_scale``.

    ``(W_j)_{ab} ~ N(0, sigma_j^2)`` i.i.d. with ``sigma_j = c^{1/N} / sqrt(d_{j-1})``
    and ``c = product_scale / sqrt(dy)``: then ``E ||W_N ... W_1||_F^2 =
    c^2 dy`` exactly (each layer preserves the expected squared norm of a
    vector up to ``c^{2/N}``), so ``product_scale`` is the root-mean-square
    norm of the product. The layers are *not* balanced. The draws are those of
    :func:`linnet.chapters.arora.gaussian_starts` with the same ``seed`` (one
    generator, layers in order), scaled per layer instead of by one ``std``.

    Parameters
    ----------
    widths : sequence of int
    product_scale : float
        ``> 0``.
    n : int
        Number of networks.
    seed : int or None

    Returns
    -------
    list of ndarray
        ``weights[j]`` of shape ``(n, d_{j+1}, d_j)``.
    """
    widths = check_widths(widths)
    scale = positive_float(product_scale, "product_scale")
    n = positive_int(n, "n")
    N = len(widths) - 1
    c = scale / math.sqrt(widths[-1])
    rng = np.random.default_rng(seed)
    return [
        (c ** (1.0 / N) / math.sqrt(widths[j]))
        * rng.standard_normal((n, widths[j + 1], widths[j]))
        for j in range(N)
    ]


# --------------------------------------------------------------------------
# saddle-to-saddle: escape times, learning times, deflation
# --------------------------------------------------------------------------


def learning_times(t, W, target, level: float = 0.5):
    """First time the ``k``-th singular value of ``W(t)`` reaches ``level * s_k``.

    Parameters
    ----------
    t : array_like, shape (T,)
    W : array_like, shape (..., T, dy, dx)
        Trajectories (a stack is allowed).
    target : Target
    level : float in (0, 1]

    Returns
    -------
    ndarray, shape (..., k)
        ``k = min(dy, dx)`` modes; linear interpolation in ``t`` between output
        times; ``inf`` if never reached, ``nan`` for modes with ``s_k = 0``.
    """
    target = as_target(target)
    t = check_times(t, "t")
    W = np.asarray(W)
    if W.ndim < 3 or W.shape[-3] != t.size:
        raise ValueError(
            f"W must have shape (..., {t.size}, {target.dy}, {target.dx}) (one matrix per time); "
            f"got {W.shape}"
        )
    # the one stack parser (matrix shape, finite entries) on the flattened trajectories
    stack, _ = as_matrix_stack(W.reshape((-1,) + W.shape[-2:]), "W", target.Z.shape)
    W = stack.reshape(W.shape[:-2] + stack.shape[-2:])
    level = positive_float(level, "level")
    if level > 1:
        raise ValueError(f"level must lie in (0, 1]; got {level!r}")
    sv = np.linalg.svd(W, compute_uv=False)  # (..., T, k)
    thr = level * target.s
    out = np.full(sv.shape[:-2] + (sv.shape[-1],), np.inf)
    for k in range(sv.shape[-1]):
        if thr[k] == 0:
            out[..., k] = np.nan
            continue
        # sigma_k rises to thr_k: the first time thr_k - sigma_k <= 0 (a signed margin, interpolated linearly)
        out[..., k] = crossing_time(t, thr[k] - sv[..., k], 0.0)
    return out


def deflation_leakage(V, target, k: int):
    """Share of a velocity that moves the ``k`` directions already learned.

    With ``P_U``, ``P_V`` the projectors on the ``k`` leading left and right
    singular vectors of ``Z``, a velocity that "moves orthogonal to the principal
    directions previously discovered" lies in
    ``{D : P_U D = 0, D P_V = 0}``. The leakage is the sine of the angle between
    ``V`` and that subspace, ``||V - (I - P_U) V (I - P_V)||_F / ||V||_F``:
    0 for a perfectly deflated velocity, 1 for one entirely in the learned rows
    and columns.

    Parameters
    ----------
    V : array_like, shape (..., dy, dx)
        Velocities ``dW/dt``.
    target : Target
    k : int
        Number of learned directions, ``1 <= k < min(dy, dx)``.

    Returns
    -------
    ndarray, shape (...)
    """
    target = as_target(target)
    k = positive_int(k, "k")
    if k >= min(target.Z.shape):
        raise ValueError(f"k must be < min(dy, dx) = {min(target.Z.shape)}; got {k}")
    V = np.asarray(V)
    if V.ndim < 2:
        raise ValueError(
            f"V must have shape (..., {target.dy}, {target.dx}); got an array with {V.ndim} dimensions"
        )
    # the one stack parser (matrix shape, finite entries) on the flattened velocities
    stack, _ = as_matrix_stack(V.reshape((-1,) + V.shape[-2:]), "V", target.Z.shape)
    V = stack.reshape(V.shape[:-2] + stack.shape[-2:])
    Qu = np.eye(target.dy) - target.U[:, :k] @ target.U[:, :k].T
    Qv = np.eye(target.dx) - target.Vt[:k].T @ target.Vt[:k]
    inside = Qu @ V @ Qv
    norm = np.linalg.norm(V, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            norm > 0, np.linalg.norm(V - inside, axis=(-2, -1)) / norm, np.nan
        )


def deflated_set_margin(W, target, r: int, alpha: float):
    """Margin of ``W`` in a *candidate* stable set for width ``r`` (a conjecture of chapter 07).

    The book's rank-one correlation set ``N_alpha`` (:func:`linnet.theory.correlation_set_margin`,
    not the paper's (28)) applied after deflation: with the SVD ``W = sum_k sigma_k a_k b_k^T``
    (``sigma_1 >= ... >= sigma_r``) and the deflated targets
    ``Z^{(k)} = Z - sum_{i<k} s_i u_i v_i^T`` (whose leading singular values are
    ``s_k > s_{k+1}``), ask for every ``k <= r``

    ``a_k^T Z^{(k)} b_k >= s_{k+1} + alpha (s_k - s_{k+1})``,

    i.e. the ``k``-th component of ``W`` lies in the rank-one set of the
    ``k``-th deflated problem. Returns the smallest of the ``r`` margins
    ``(a_k^T Z^{(k)} b_k - s_{k+1} - alpha (s_k - s_{k+1})) / s_1``.
    Nothing here is proved: the chapter tests it on sampled trajectories.

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (B, dy, dx)
        Of rank ``r`` (the singular pairs beyond ``r`` are ignored).
    target : Target
        With ``s_1 > s_2 > ... > s_{r+1}`` (``s_{r+1} = 0`` if absent).
    r : int
    alpha : float in (0, 1]

    Returns
    -------
    float or ndarray, shape (B,)
    """
    target = as_target(target)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    r = positive_int(r, "r")
    if r > min(target.Z.shape):
        raise ValueError(f"r must be <= min(dy, dx) = {min(target.Z.shape)}; got {r}")
    alpha = positive_float(alpha, "alpha")
    if alpha > 1:
        raise ValueError(f"alpha must lie in (0, 1]; got {alpha!r}")
    s = np.concatenate([target.s, [0.0]])
    # distinct beyond round-off of the SVD (1e-12 relative)
    if not np.all(-np.diff(s[: r + 1]) > 1e-12 * s[0]):
        raise ValueError(
            f"target must have distinct singular values s_1 > ... > s_(r+1); got {s[: r + 1]}"
        )
    A, _, Bt = np.linalg.svd(stack)
    margins = np.empty((stack.shape[0], r))
    Zk = target.Z.copy()
    for k in range(r):
        corr = _pair_correlation(A, Bt, Zk, k)
        margins[:, k] = (corr - s[k + 1] - alpha * (s[k] - s[k + 1])) / s[0]
        Zk = Zk - s[k] * np.outer(target.U[:, k], target.Vt[k])
    out = margins.min(axis=1)
    return float(out[0]) if single else out


# --------------------------------------------------------------------------
# unbalanced starts
# --------------------------------------------------------------------------


def unbalanced_start(W0, widths, delta: float, seed) -> list[np.ndarray]:
    """Weights with end-to-end matrix exactly ``W0`` and imbalance exactly ``delta``.

    Starts from the balanced network of :func:`linnet.init.balanced_init` and
    moves it along the orbit that keeps the product: ``W_1 <- A W_1``,
    ``W_2 <- W_2 A^{-1}`` with ``A = expm(c S)``, ``S`` a random symmetric
    ``d_1 x d_1`` matrix of unit norm, and ``c`` chosen by root finding so that
    ``max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F = delta`` (Arora et al.'s
    Definition 1; :func:`linnet.network.balancedness`). Unlike
    :func:`linnet.chapters.arora.perturb_to_balancedness` (a random additive
    perturbation, which changes the product; ``delta`` to ``rtol``), the
    product stays exactly ``W0`` and ``delta`` is met to root-finding accuracy.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
    widths : sequence of int
        Depth ``N >= 2``.
    delta : float
        ``>= 0``.
    seed : int

    Returns
    -------
    list of ndarray
    """
    from scipy.linalg import expm

    W0 = as_matrix(W0, "W0")
    widths = check_widths(widths)
    if len(widths) < 3:
        raise ValueError(
            "widths must describe a network of depth >= 2 (at least three entries)"
        )
    delta = positive_float(delta, "delta", allow_zero=True)
    base = balanced_init(W0, widths, seed)
    if delta == 0:
        return base
    rng = np.random.default_rng(None if seed is None else seed + 10_000)
    S = rng.standard_normal((widths[1], widths[1]))
    S = (S + S.T) / np.linalg.norm(S + S.T)

    def moved(c):
        A = expm(c * S)
        return [A @ base[0], np.linalg.solve(A.T, base[1].T).T] + base[2:]

    def gap(c):
        return balancedness(moved(c)) - delta

    hi = 1.0
    while gap(hi) < 0:
        hi *= 2
        if hi > 1e6:
            raise ValueError(
                f"delta = {delta!r} cannot be reached along this orbit; use a smaller delta"
            )
    c = brentq(gap, 0.0, hi, xtol=1e-15, rtol=1e-14)
    return moved(c)


# --------------------------------------------------------------------------
# gradient descent
# --------------------------------------------------------------------------


def sharpness(weights, X, Y) -> float:
    """Largest eigenvalue of the Hessian of the loss (4) (:func:`linnet.network.hessian`).

    Gradient descent with step ``eta`` is linearly unstable at a minimum whose
    sharpness exceeds ``2 / eta``; at a balanced minimum it is
    :func:`linnet.theory.minimum_sharpness`.
    """
    return float(np.linalg.eigvalsh(hessian(weights, X, Y))[-1])


@dataclass(frozen=True)
class DescentOutcome:
    """What gradient descent did from one start.

    Attributes
    ----------
    status : str
        ``"converged"`` (``||W - Z_1||_F / s_Z <= rel_tol``), ``"diverged"``
        (loss blow-up, :class:`linnet.flows.DivergenceError`) or ``"stalled"``.
    steps : int
        Steps taken (the first step with ``||W - Z_1||_F / s_Z <= rel_tol`` if converged).
    rel_distance : float
        Final ``||W - Z_1||_F / s_Z`` (``inf`` if diverged).
    """

    status: str
    steps: int
    rel_distance: float


def descent_outcome(
    weights0, X, Y, lr, rel_tol: float, max_steps: int
) -> DescentOutcome:
    """Run gradient descent on (4) until ``||W - Z_1||_F / s_Z <= rel_tol``, blow-up, or ``max_steps``.

    Parameters
    ----------
    weights0 : list of array_like
    X, Y : array_like
        Whitened data (23); ``Z_1`` (27) and ``s_Z`` come from :meth:`linnet.data.Target.from_data`
        (which must have ``s_Z > s_Z2``, so that ``Z_1`` is unique); the distance is
        :func:`linnet.measure.distance_to_Z1`.
    lr : float
        Step size ``> 0``.
    rel_tol : float
        ``> 0``: the accuracy, relative to ``s_Z``.
    max_steps : int

    Returns
    -------
    DescentOutcome
    """
    weights0 = check_weights(weights0, "weights0")
    target = Target.from_data(X, Y)
    target.require_unique_Z1()  # Z_1 (27) of the data, the point descent should reach
    if (weights0[-1].shape[0], weights0[0].shape[1]) != target.Z.shape:
        raise ValueError(
            f"weights0 must map dx = {target.dx} to dy = {target.dy} (the data's shapes)"
        )
    rel_tol = positive_float(rel_tol, "rel_tol")
    max_steps = positive_int(max_steps, "max_steps")
    lr = positive_float(lr, "lr")
    # gradient_descent stops on the loss, not on the distance to Z_1: run in chunks and test the distance on
    # the recorded iterates instead.
    chunk = min(max_steps, 2000)
    ws, done = weights0, 0
    while done < max_steps:
        n = min(chunk, max_steps - done)
        try:
            res = gradient_descent(ws, X, Y, lr, n, record_every=1)
        except DivergenceError as err:
            return DescentOutcome("diverged", done + err.step, float("inf"))
        dist = distance_to_Z1(res.W, target) / target.s_Z
        hit = np.flatnonzero(dist <= rel_tol)
        if hit.size:
            return DescentOutcome(
                "converged", done + int(res.steps[hit[0]]), float(dist[hit[0]])
            )
        ws = [W[-1] for W in res.weights]
        done += n
    return DescentOutcome("stalled", done, float(dist[-1]))


def distance_to_flow(
    weights0,
    X,
    Y,
    lr,
    horizon: float,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> float:
    """``max_k ||W_GD(k) - W_GF(k lr)||_F`` over ``k lr <= horizon`` (Elkabetz & Cohen 2021).

    Gradient descent with step ``lr`` and gradient flow (13)
    (:func:`linnet.flows.gradient_flow`, tolerances ``rtol``, ``atol``) from
    the same weights, compared on their end-to-end matrices at equal times.

    Returns
    -------
    float
        ``inf`` if gradient descent diverges.
    """
    weights0 = check_weights(weights0, "weights0")
    lr = positive_float(lr, "lr")
    horizon = positive_float(horizon, "horizon")
    steps = max(1, round(horizon / lr))
    try:
        gd = gradient_descent(weights0, X, Y, lr, steps)
    except DivergenceError:
        return float("inf")
    with np.errstate(
        over="ignore", invalid="ignore"
    ):  # rejected trial steps may overflow
        gf = gradient_flow(
            weights0, X, Y, gd.t, rtol=rtol, atol=atol, keep_weights=False
        )
    return float(np.max(np.linalg.norm(gd.W - gf.W, axis=(1, 2))))


def component_correlation(W, target, k: int):
    """Correlation ``a_k^T Z b_k / s_k`` of the ``k``-th singular pair of ``W`` with the target.

    ``W = sum_i sigma_i a_i b_i^T`` (singular values non-increasing); the sign
    is that of the component ``sigma_k a_k b_k^T`` of ``W`` against ``Z`` (a joint
    flip of ``a_k`` and ``b_k`` leaves it unchanged). Negative values mean that
    the component points against the target, like the rank-one non-convergent
    ray ``W = -c Z_1`` (``-1`` exactly on that ray for ``k = 1``).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (B, dy, dx)
    target : Target
    k : int
        1-based index, ``<= min(dy, dx)``, with ``s_k > 0``.

    Returns
    -------
    float or ndarray, shape (B,)
    """
    target = as_target(target)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    k = positive_int(k, "k")
    if k > min(target.Z.shape) or target.s[k - 1] == 0:
        raise ValueError(
            f"k must index a positive singular value of Z (1..{np.count_nonzero(target.s)}); got {k}"
        )
    A, _, Bt = np.linalg.svd(stack)
    out = _pair_correlation(A, Bt, target.Z, k - 1) / target.s[k - 1]
    return float(out[0]) if single else out


def _pair_correlation(A, Bt, Z, k: int) -> np.ndarray:
    """``a_k^T Z b_k`` for each matrix of a stack, from its SVD ``(A, _, Bt)`` (0-based ``k``)."""
    return np.einsum("bi,ij,bj->b", A[:, :, k], Z, Bt[:, k, :])
