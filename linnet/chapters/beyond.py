"""Beyond the paper, part 2: bottleneck width r > 1, unbalanced starts, gradient descent.

Computations for chapter 07. None of them is a result of Eftekhari (2020); they
measure three directions the paper names or assumes away.

* Width ``r > 1``: :func:`spectral_target` (a target with prescribed singular
  values), :func:`balanced_stack` (many balanced starts), :func:`network_flow_batch`
  (gradient flow (13) of a whole stack of networks, batched), :func:`escape_time`
  (the plateau length of one decoupled mode, Saxe et al. 2013),
  :func:`learning_times`, :func:`deflation_leakage` and :func:`deflated_set_margin`
  (a candidate stable set built from the rank-one set (28) after deflation).
* Unbalanced starts: :func:`unbalanced_start` (a network with a prescribed
  product and a prescribed imbalance), :func:`gaussian_stack`.
* Gradient descent: :func:`sharpness` (largest Hessian eigenvalue of (4)),
  :func:`descent_outcome`, :func:`distance_to_flow`.
* Shared: :func:`first_time_within` (the time after which a distance stays
  below a level).

The batched network flow uses the vectorised DOP853 integrator of
:mod:`linnet.flows` (:func:`linnet.flows.integrate_stacked`; each trajectory
keeps its own step size and error control). From starts with a large
initial velocity that integrator can accept an over-long step whose trial
states blow up (its acceptance test does not look at the velocity at the new
state); :func:`network_flow_batch` guards against it (see there) and redoes
failing rows alone, with scipy's DOP853 as the last resort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import quad, solve_ivp
from scipy.optimize import brentq

from ..validate import as_matrix, positive_float, positive_int
from ..data import Target
from ..theory import _as_stack  # one parser for single matrices and stacks
from ..flows import DEFAULT_ATOL, DEFAULT_RTOL, MAX_STEPS, DivergenceError, FlowIntegrationError
from ..flows import check_times
from ..flows import integrate_stacked
from ..flows import gradient_descent, gradient_flow, induced_operator
from ..init import _haar_orthogonal, balanced_init, check_widths
from ..network import balancedness, check_weights, hessian

__all__ = [
    "spectral_target",
    "balanced_stack",
    "gaussian_stack",
    "NetworkBatchResult",
    "network_flow_batch",
    "escape_time",
    "learning_times",
    "first_time_within",
    "induced_velocity",
    "deflation_leakage",
    "deflated_set_margin",
    "unbalanced_start",
    "sharpness",
    "DescentOutcome",
    "descent_outcome",
    "distance_to_flow",
    "component_correlation",
]


def _mT(A):
    return np.swapaxes(A, -1, -2)


def _read_only(x) -> np.ndarray:
    """A read-only copy (what result records hold; the caller's array is not touched)."""
    a = np.array(x)
    a.setflags(write=False)
    return a


def _target(target) -> Target:
    if not isinstance(target, Target):
        raise ValueError(f"target must be a linnet.data.Target; got {type(target).__name__}")
    return target


# --------------------------------------------------------------------------
# targets and starts
# --------------------------------------------------------------------------


def spectral_target(singular_values, dy: int, dx: int, m: int, seed) -> Target:
    """A target ``Z = U diag(s) V^T`` (25) with prescribed singular values.

    ``U`` and ``V`` are the leading columns of Haar-random orthogonal matrices,
    so the singular vectors are in general position; ``s`` is given, which
    makes the gaps between consecutive singular values controllable.

    Parameters
    ----------
    singular_values : array_like, shape (k,)
        Non-increasing, ``>= 0``, ``k <= min(dy, dx)``; missing ones are 0.
    dy, dx : int
        Shape of ``Z``.
    m : int
        Number of examples (the flows read ``dW/dt = -m A_W(W - Z)``).
    seed : int or None

    Returns
    -------
    Target
    """
    dy = positive_int(dy, "dy")
    dx = positive_int(dx, "dx")
    m = positive_int(m, "m")
    s = np.asarray(singular_values, dtype=float)
    if s.ndim != 1 or s.size == 0 or s.size > min(dy, dx):
        raise ValueError(f"singular_values must be a 1-D array of length 1..min(dy, dx) = {min(dy, dx)}; got shape {s.shape}")
    if not (np.all(np.isfinite(s)) and np.all(s >= 0) and np.all(np.diff(s) <= 0)):
        raise ValueError("singular_values must be finite, >= 0 and non-increasing")
    rng = np.random.default_rng(seed)
    U = _haar_orthogonal(dy, rng)[:, : s.size]
    V = _haar_orthogonal(dx, rng)[:, : s.size]
    return Target.from_matrix((U * s) @ V.T, m)


def balanced_stack(W0s, widths, seed) -> list[np.ndarray]:
    """Balanced networks (14, corrected) with prescribed products, stacked.

    Calls :func:`linnet.init.balanced_init` once per start (Arora et al.'s
    Procedure 1), with seeds ``seed, seed + 1, ...``.

    Parameters
    ----------
    W0s : array_like, shape (B, dy, dx)
        End-to-end matrices; each of rank ``<= min(widths)``.
    widths : sequence of int
        ``[dx, d_1, ..., dy]``.
    seed : int

    Returns
    -------
    list of ndarray
        ``weights[j]`` has shape ``(B, d_{j+1}, d_j)``.
    """
    W0s = np.asarray(W0s, dtype=float)
    if W0s.ndim != 3 or W0s.shape[0] == 0:
        raise ValueError(f"W0s must have shape (B >= 1, dy, dx); got {W0s.shape}")
    widths = check_widths(widths)
    seed = positive_int(seed, "seed", minimum=0)
    nets = [balanced_init(W, widths, seed + b) for b, W in enumerate(W0s)]
    return [np.stack([net[j] for net in nets]) for j in range(len(widths) - 1)]


def gaussian_stack(widths, product_scale: float, n: int, seed) -> list[np.ndarray]:
    """``n`` layer-wise Gaussian networks whose products have a typical norm ``product_scale``.

    ``(W_j)_{ab} ~ N(0, sigma_j^2)`` i.i.d. with ``sigma_j = c^{1/N} / sqrt(d_{j-1})``
    and ``c = product_scale / sqrt(dy)``: then ``E ||W_N ... W_1||_F^2 =
    c^2 dy`` exactly (each layer preserves the expected squared norm of a
    vector up to ``c^{2/N}``), so ``product_scale`` is the root-mean-square
    norm of the product. The layers are *not* balanced.

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
        (c ** (1.0 / N) / math.sqrt(widths[j])) * rng.standard_normal((n, widths[j + 1], widths[j])) for j in range(N)
    ]


def _check_stack(weights, name: str = "weights") -> list[np.ndarray]:
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)) or len(weights) == 0:
        raise ValueError(f"{name} must be a non-empty list of stacks [W_1, ..., W_N], W_j of shape (B, d_j, d_(j-1))")
    ws = [np.asarray(W, dtype=float) for W in weights]
    B = ws[0].shape[0] if ws[0].ndim == 3 else None
    for j, W in enumerate(ws):
        if W.ndim != 3 or W.shape[0] != B or B == 0:
            raise ValueError(f"{name}[{j}] must have shape (B, d_{j + 1}, d_{j}) with the same B >= 1; got {W.shape}")
        if not np.all(np.isfinite(W)):
            raise ValueError(f"{name}[{j}] must be finite")
        if j and W.shape[2] != ws[j - 1].shape[1]:
            raise ValueError(f"{name}[{j}] must have {ws[j - 1].shape[1]} columns; got shape {W.shape}")
    return ws


def _product(ws):
    W = ws[0]
    for Wj in ws[1:]:
        W = Wj @ W
    return W


def _stack_gradients(ws, G):
    """``dL/dW_j = (W_N..W_{j+1})^T G (W_{j-1}..W_1)^T`` for stacks."""
    N = len(ws)
    below = [None] * N
    acc = None
    for j in range(N):
        below[j] = acc
        acc = ws[j] if acc is None else ws[j] @ acc
    out = [None] * N
    above = None  # W_N ... W_{j+1}
    for j in range(N - 1, -1, -1):
        left = G if above is None else _mT(above) @ G
        out[j] = left if below[j] is None else left @ _mT(below[j])
        above = ws[j] if above is None else above @ ws[j]
    return out


# --------------------------------------------------------------------------
# batched gradient flow (13)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkBatchResult:
    """Gradient-flow trajectories of a stack of networks.

    Attributes
    ----------
    t : ndarray, shape (T,)
    W : ndarray, shape (B, T, dy, dx)
        End-to-end matrices.
    weights : tuple of ndarray or None
        ``weights[j]`` of shape ``(B, T, d_{j+1}, d_j)`` when requested.

    The arrays are read-only.
    """

    t: np.ndarray
    W: np.ndarray
    weights: tuple | None


def network_flow_batch(
    weights0,
    target,
    t_eval,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    keep_weights: bool = False,
    max_steps: int = MAX_STEPS,
) -> NetworkBatchResult:
    """Gradient flow (13) of many networks at once, for whitened data.

    With ``X X^T = m I`` (23) the gradient of (4) with respect to the product is
    ``m (W - Z)``, so ``dW_j/dt = -m (W_N..W_{j+1})^T (W - Z) (W_{j-1}..W_1)^T``.
    All networks share the widths; each is integrated with its own DOP853
    step size and error control (:mod:`linnet.flows`), so batching changes no
    trajectory. Use it instead of looping :func:`linnet.flows.gradient_flow`.

    Parameters
    ----------
    weights0 : list of array_like
        ``[W_1, ..., W_N]`` with ``W_j`` of shape ``(B, d_j, d_{j-1})``.
    target : Target
        ``Z`` (25) and ``m``.
    t_eval : array_like, shape (T,)
        Strictly increasing output times ``>= 0``.
    rtol, atol : float
        DOP853 tolerances.
    keep_weights : bool
        Also return every layer at every output time.
    max_steps : int

    Returns
    -------
    NetworkBatchResult
    """
    target = _target(target)
    ws = _check_stack(weights0, "weights0")
    if ws[0].shape[2] != target.dx or ws[-1].shape[1] != target.dy:
        raise ValueError(f"weights0 must map dx = {target.dx} to dy = {target.dy}")
    t = check_times(t_eval)
    rtol = positive_float(rtol, "rtol")
    atol = positive_float(atol, "atol")
    max_steps = positive_int(max_steps, "max_steps")
    B = ws[0].shape[0]
    shapes = [W.shape[1:] for W in ws]
    sizes = [int(np.prod(s)) for s in shapes]
    cuts = np.cumsum(sizes)[:-1]
    Z, m = target.Z, float(target.m)

    def unpack(y):
        return [p.reshape((y.shape[0],) + s) for p, s in zip(np.split(y, cuts, axis=1), shapes)]

    y0 = np.concatenate([W.reshape(B, -1) for W in ws], axis=1)
    # The loss never increases along (13), so ||W(t) - Z||_F <= ||W(0) - Z||_F on every true trajectory.
    # A trial state far outside that ball comes from an over-long step; its velocity is returned as NaN
    # so that the step is rejected (or, if it was already accepted, the batch stops and the rows are
    # redone below) instead of silently continuing from a blown-up state.
    radius = 2.0 * np.linalg.norm(_product(ws) - Z, axis=(1, 2)) + 0.1 * np.linalg.norm(Z) + 1e-12

    def rhs(y, rows):
        layers = unpack(y)
        R = _product(layers) - Z
        out = -np.concatenate([g.reshape(y.shape[0], -1) for g in _stack_gradients(layers, m * R)], axis=1)
        wild = ~(np.linalg.norm(R, axis=(1, 2)) <= radius[rows])
        if np.any(wild):
            out[wild] = np.nan
        return out

    def solve(idx):
        """Integrate rows ``idx`` together; on failure split them, and integrate a lone failing row with scipy."""
        try:
            return integrate_stacked(lambda y, rows: rhs(y, idx[rows]), y0[idx], t, rtol=rtol, atol=atol,
                                     max_steps=max_steps)
        except FlowIntegrationError:
            if idx.size == 1:
                with np.errstate(over="ignore", invalid="ignore"):  # rejected trial steps may overflow
                    sol = solve_ivp(lambda _, y: rhs(y[None], idx)[0], (0.0, t[-1]), y0[idx[0]], method="DOP853",
                                    t_eval=t, rtol=rtol, atol=atol)
                if not sol.success or not np.all(np.isfinite(sol.y)):
                    raise FlowIntegrationError(f"network flow of start {int(idx[0])} failed: {sol.message}") from None
                return sol.y.T[None]
            half = idx.size // 2
            return np.concatenate([solve(idx[:half]), solve(idx[half:])])

    Y = solve(np.arange(B))
    traj = [p.reshape((B, t.size) + s) for p, s in zip(np.split(Y, cuts, axis=2), shapes)]
    W = _product([_w for _w in traj])
    return NetworkBatchResult(
        t=_read_only(t), W=_read_only(W), weights=tuple(_read_only(w) for w in traj) if keep_weights else None
    )


# --------------------------------------------------------------------------
# saddle-to-saddle: escape times, learning times, deflation
# --------------------------------------------------------------------------


def escape_time(sigma0, s, m, depth, level: float = 0.5):
    """Time for one decoupled mode to grow from ``sigma0`` to ``level * s``.

    For a balanced start aligned with the singular vectors of ``Z`` (Saxe et
    al. 2013's decoupled solutions), the singular value ``sigma`` of ``W``
    along a mode with target singular value ``s`` obeys the rank-one reduction
    of (17) (notes A.3) with ``rho = s``:
    ``dsigma/dt = m N sigma^{2-2/N} (s - sigma)``. The time is
    ``int_{sigma0}^{level s} dsigma / (m N sigma^{2-2/N} (s - sigma))``; for
    ``N = 2`` it is ``[ln(x/(s-x))]_{sigma0}^{level s} / (2 m s)`` (logistic growth),
    ``N = 1`` gives ``ln((s - sigma0)/(s - level s)) / m``.

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
    s0, sv = np.broadcast_arrays(np.asarray(sigma0, dtype=float), np.asarray(s, dtype=float))
    if not (np.all(sv > 0) and np.all(s0 > 0) and np.all(s0 < level * sv)):
        raise ValueError("sigma0 and s must satisfy 0 < sigma0 < level * s")
    out = np.empty(s0.shape)
    for idx in np.ndindex(s0.shape):
        a, b = s0[idx], level * sv[idx]
        if N == 1:
            out[idx] = math.log((sv[idx] - a) / (sv[idx] - b)) / m
        elif N == 2:
            out[idx] = (math.log(b / (sv[idx] - b)) - math.log(a / (sv[idx] - a))) / (2 * m * sv[idx])
        else:
            # substitute sigma = e^x: integrand e^{x (2/N - 1)} / (m N (s - e^x))
            def f(x, ss=sv[idx]):
                return math.exp(x * (2.0 / N - 1.0)) / (m * N * (ss - math.exp(x)))

            out[idx] = quad(f, math.log(a), math.log(b), epsabs=0, epsrel=1e-11, limit=200)[0]
    return out.item() if out.ndim == 0 else out


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
    target = _target(target)
    t = check_times(t, "t")
    W = np.asarray(W, dtype=float)
    if W.ndim < 3 or W.shape[-3] != t.size or W.shape[-2:] != target.Z.shape:
        raise ValueError(f"W must have shape (..., {t.size}, {target.dy}, {target.dx}); got {W.shape}")
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
        out[..., k] = first_time_within(t, thr[k] - sv[..., k], 0.0, stay=False)
    return out


def first_time_within(t, distance, level, *, stay: bool = True):
    """First output time at which ``distance <= level`` (and stays, if ``stay``).

    Between output times the crossing is located by linear interpolation.

    Parameters
    ----------
    t : array_like, shape (T,)
    distance : array_like, shape (..., T)
    level : float or array_like broadcasting against ``distance[..., 0]``
    stay : bool
        If True, the time after which ``distance <= level`` at every later
        output time (the convergence time to accuracy ``level``).

    Returns
    -------
    ndarray, shape (...)
        ``inf`` where the level is not reached (for good) by ``t[-1]``; ``t[0]``
        where it holds from the start.
    """
    t = check_times(t, "t")
    d = np.asarray(distance, dtype=float)
    if d.shape[-1] != t.size:
        raise ValueError(f"distance must have last axis of length {t.size}; got {d.shape}")
    lev = np.asarray(level, dtype=float)[..., None]
    below = d <= lev
    if stay:
        # index of the first sample of the final run of True values
        last_false = np.where(~below, np.arange(t.size), -1).max(axis=-1)
        idx = last_false + 1
    else:
        idx = np.where(below.any(axis=-1), np.argmax(below, axis=-1), t.size)
    out = np.full(d.shape[:-1], np.inf)
    ok = idx < t.size
    i = np.where(ok, idx, 0)
    prev = np.maximum(i - 1, 0)
    d1 = np.take_along_axis(d, i[..., None], axis=-1)[..., 0]
    d0 = np.take_along_axis(d, prev[..., None], axis=-1)[..., 0]
    lv = np.broadcast_to(lev[..., 0], d1.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(d0 != d1, (d0 - lv) / (d0 - d1), 1.0)
    tt = t[prev] + np.clip(frac, 0, 1) * (t[i] - t[prev])
    out = np.where(ok, np.where(i == 0, t[0], tt), np.inf)
    return out


def induced_velocity(W, target, depth) -> np.ndarray:
    """Velocity ``dW/dt = -m A_W(W - Z)`` of the induced flow (17) at ``W`` (or a stack).

    Calls :func:`linnet.flows.induced_operator` (powers taken in the range of
    ``W``).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
    target : Target
    depth : int

    Returns
    -------
    ndarray of the shape of ``W``
    """
    target = _target(target)
    arr = np.asarray(W, dtype=float)
    if arr.ndim == 2:
        return -target.m * induced_operator(arr, depth, arr - target.Z)
    if arr.ndim != 3:
        raise ValueError(f"W must be a matrix or a stack of matrices; got {arr.ndim} dimensions")
    return np.stack([-target.m * induced_operator(Wk, depth, Wk - target.Z) for Wk in arr])


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
    target = _target(target)
    k = positive_int(k, "k")
    if k >= min(target.Z.shape):
        raise ValueError(f"k must be < min(dy, dx) = {min(target.Z.shape)}; got {k}")
    V = np.asarray(V, dtype=float)
    if V.shape[-2:] != target.Z.shape:
        raise ValueError(f"V must end with shape {target.Z.shape}; got {V.shape}")
    Qu = np.eye(target.dy) - target.U[:, :k] @ target.U[:, :k].T
    Qv = np.eye(target.dx) - target.Vt[:k].T @ target.Vt[:k]
    inside = Qu @ V @ Qv
    norm = np.linalg.norm(V, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norm > 0, np.linalg.norm(V - inside, axis=(-2, -1)) / norm, np.nan)


def deflated_set_margin(W, target, r: int, alpha: float):
    """Margin of ``W`` in a *candidate* stable set for width ``r`` (a conjecture of chapter 07).

    The rank-one set (28) (our reconstruction, :func:`linnet.theory.correlation_set_margin`)
    applied after deflation: with the SVD ``W = sum_k sigma_k a_k b_k^T``
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
    target = _target(target)
    stack, single = _as_stack(W, "W", target.Z.shape)
    r = positive_int(r, "r")
    if r > min(target.Z.shape):
        raise ValueError(f"r must be <= min(dy, dx) = {min(target.Z.shape)}; got {r}")
    alpha = positive_float(alpha, "alpha")
    if alpha > 1:
        raise ValueError(f"alpha must lie in (0, 1]; got {alpha!r}")
    s = np.concatenate([target.s, [0.0]])
    # distinct beyond round-off of the SVD (1e-12 relative)
    if not np.all(-np.diff(s[: r + 1]) > 1e-12 * s[0]):
        raise ValueError(f"target must have distinct singular values s_1 > ... > s_(r+1); got {s[: r + 1]}")
    A, _, Bt = np.linalg.svd(stack)
    margins = np.empty((stack.shape[0], r))
    Zk = target.Z.copy()
    for k in range(r):
        corr = np.einsum("bi,ij,bj->b", A[:, :, k], Zk, Bt[:, k, :])
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
    Definition 1; :func:`linnet.network.balancedness`).

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
        raise ValueError("widths must describe a network of depth >= 2 (at least three entries)")
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
            raise ValueError(f"delta = {delta!r} cannot be reached along this orbit; use a smaller delta")
    c = brentq(gap, 0.0, hi, xtol=1e-15, rtol=1e-14)
    return moved(c)


# --------------------------------------------------------------------------
# gradient descent
# --------------------------------------------------------------------------


def sharpness(weights, X, Y) -> float:
    """Largest eigenvalue of the Hessian of the loss (4) (:func:`linnet.network.hessian`).

    Gradient descent with step ``eta`` is linearly unstable at a minimum whose
    sharpness exceeds ``2 / eta``.
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


def descent_outcome(weights0, X, Y, lr, rel_tol: float, max_steps: int) -> DescentOutcome:
    """Run gradient descent on (4) until ``||W - Z_1||_F / s_Z <= rel_tol``, blow-up, or ``max_steps``.

    Parameters
    ----------
    weights0 : list of array_like
    X, Y : array_like
        Whitened data (23); ``Z_1`` (27) and ``s_Z`` come from :meth:`linnet.data.Target.from_data`.
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
    if (weights0[-1].shape[0], weights0[0].shape[1]) != target.Z.shape:
        raise ValueError(f"weights0 must map dx = {target.dx} to dy = {target.dy} (the data's shapes)")
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
        dist = np.linalg.norm(res.W - target.Z1, axis=(1, 2)) / target.s_Z
        hit = np.flatnonzero(dist <= rel_tol)
        if hit.size:
            return DescentOutcome("converged", done + int(res.steps[hit[0]]), float(dist[hit[0]]))
        ws = [W[-1] for W in res.weights]
        done += n
    return DescentOutcome("stalled", done, float(dist[-1]))


def distance_to_flow(weights0, X, Y, lr, horizon: float, *, rtol: float = 1e-12, atol: float = 1e-14) -> float:
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
    with np.errstate(over="ignore", invalid="ignore"):  # scipy's rejected trial steps may overflow
        gf = gradient_flow(weights0, X, Y, gd.t, rtol=rtol, atol=atol)
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
    target = _target(target)
    stack, single = _as_stack(W, "W", target.Z.shape)
    k = positive_int(k, "k")
    if k > min(target.Z.shape) or target.s[k - 1] == 0:
        raise ValueError(f"k must index a positive singular value of Z (1..{np.count_nonzero(target.s)}); got {k}")
    A, _, Bt = np.linalg.svd(stack)
    out = np.einsum("bi,ij,bj->b", A[:, :, k - 1], target.Z, Bt[:, k - 1, :]) / target.s[k - 1]
    return float(out[0]) if single else out
