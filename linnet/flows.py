"""Gradient flow, the induced flow and their discretisations (paper Section 3).

* :func:`gradient_flow`: gradient flow (13) on all layers,
  ``dW_j/dt = -dL/dW_j``, for any data, of one network or a stack of networks
  (every weight a state variable; no rank, balancedness or induced flow imposed).
* :func:`induced_operator`: the operator ``A_W`` of eq. (16),
  ``A_W(Delta) = sum_{j=1}^N (W W^T)^{(N-j)/N} Delta (W^T W)^{(j-1)/N}``.
* :func:`induced_flow`: the induced flow (17) of the end-to-end matrix of a
  balanced network, from one start or a stack. With whitened data (23) it
  reads ``dW/dt = -A_W(grad L_1(W)) = -m A_W(W - Z)``;
  :func:`induced_velocity` is its right-hand side.
* :func:`scalar_polar_flow`: the exact two-dimensional reduction of (17) for a
  scalar output (``dy = 1``).
* :func:`forward_euler`: the paper's discretisation of (17).
* :func:`gradient_descent`: discrete gradient descent on the loss (4).

Numerics of ``A_W``
-------------------
Fractional powers of a rank-deficient PSD matrix must never be taken of its
round-off eigenvalues: an eigenvalue ``1e-17`` raised to ``1/4`` is ``6e-5``, a
spurious mass in directions where ``W W^T`` is zero. It adds a
non-smooth forcing to (17) that changes the trajectory and stalls adaptive
solvers (see :func:`induced_operator_naive`). Here powers are taken in the
range of ``W`` only: with the thin SVD ``W = U S V^T`` restricted to its
``r`` leading singular values, ``(W W^T)^p = U S^{2p} U^T`` for ``p > 0`` and
the identity for ``p = 0``. For a single evaluation, ``r`` counts the singular
values above ``RANGE_RTOL * s_max``. Along a flow, ``r = rank(W0)`` is fixed:
(17) keeps the rank (``A_W(Delta)`` is tangent to the rank-``r`` matrices and
no positive singular value reaches 0 in finite time), while the solver's own
``O(rtol)`` errors off the rank-``r`` manifold would otherwise pass a relative
threshold and be raised to powers ``2/N < 1`` -- the same failure, caused by
truncation instead of round-off. For ``rank(W) = 1`` the closed form
``A_W(Delta) = s^{2-2/N} [u u^T Delta + Delta v v^T + (N-2) u u^T Delta v v^T]``
needs no SVD at all and is Lipschitz in ``W``.

Integration
-----------
Both flows are integrated by :func:`_dop853_stacked`, a vectorised
Dormand-Prince 8(5,3) scheme (the tableau of :mod:`linnet.dop853`, from
Hairer, Norsett & Wanner, and the step-size controller of
``scipy.integrate.DOP853``) that advances a whole stack of trajectories
together, each with its own step size and its own error control: a
trajectory in a batch is integrated exactly as it would be alone. Output times
inside a step come from DOP853's dense output (order 7), as in ``solve_ivp``.
The tests check the integrator against ``scipy.integrate.solve_ivp``; the two
flows share it but not their right-hand sides (all layers by the chain rule,
against the end-to-end matrix by ``A_W``), so each still checks the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import dop853 as _dop853
from .data import Target, as_target
from .network import (
    as_weight_stack,
    check_data,
    check_weights,
    end_to_end_stack,
    layer_gradients_stack,
)
from .validate import (
    RANK_ONE_RTOL,
    as_matrix,
    as_matrix_stack,
    check_times,
    check_tolerances,
    freeze,
    positive_float,
    positive_int,
)

__all__ = [
    "DEFAULT_RTOL",
    "DEFAULT_ATOL",
    "RANGE_RTOL",
    "DIVERGENCE_FACTOR",
    "DivergenceError",
    "FlowIntegrationError",
    "MAX_STEPS",
    "FlowResult",
    "NetworkFlowResult",
    "PolarFlowResult",
    "GradientDescentResult",
    "induced_operator",
    "induced_operator_naive",
    "induced_velocity",
    "gradient_flow",
    "induced_flow",
    "scalar_polar_flow",
    "integrate_stacked",
    "forward_euler",
    "gradient_descent",
]

#: Default relative tolerance of the ODE solvers. The global error of DOP853 at
#: this setting is ~1e-10 relative on the paper's workloads, far below anything
#: a figure or a theorem check can resolve, at a cost of a few hundred steps.
DEFAULT_RTOL = 1e-11
#: Default absolute tolerance; only matters for state components near zero.
DEFAULT_ATOL = 1e-13
#: Singular values of ``W`` below ``RANGE_RTOL * s_max`` count as zero when
#: ``rank(W)`` is decided (in ``A_W`` and for the ``W0`` of a flow). Round-off
#: singular values of a rank-deficient ``W`` are ``~ eps * s_max`` (1e-16), far
#: below; a genuine singular value below the threshold contributes at most
#: ``(1e-12)^{2-2/N} <= 1e-12`` (relative, N >= 2) to ``A_W``, below the
#: solver tolerance.
RANGE_RTOL = 1e-12
#: Gradient descent stops with :class:`DivergenceError` when the loss exceeds
#: this factor times ``max(L(0-th step), ||Y||_F^2 / 2)`` (the latter is the
#: loss of the zero network), or becomes non-finite.
DIVERGENCE_FACTOR = 1e6
#: Default cap on the number of step attempts of the stacked integrator.
MAX_STEPS = 100_000

_METHODS = ("auto", "exact", "polar", "rank1", "range", "naive")


class DivergenceError(ArithmeticError):
    """A discrete scheme blew up (non-finite values or a loss blow-up).

    Attributes
    ----------
    step : int
        The step at which the blow-up was detected.
    loss : float
        The loss (or ``nan``/``inf``) at that step.
    """

    def __init__(self, message: str, step: int, loss: float):
        super().__init__(message)
        self.step = step
        self.loss = loss


class FlowIntegrationError(RuntimeError):
    """The ODE solver could not reach the final time (step size underflow or step cap)."""


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowResult:
    """Trajectories of the end-to-end matrix (one start, or a stack of starts).

    Attributes
    ----------
    t : ndarray, shape (T,)
        Output times.
    W : ndarray, shape (T, dy, dx) or (B, T, dy, dx)
        ``W(t)`` at each output time; ``W[b, k]`` is start ``b`` at ``t[k]``
        when the flow was given a stack of ``B`` starts. Read-only.
    """

    t: np.ndarray
    W: np.ndarray


@dataclass(frozen=True)
class NetworkFlowResult:
    """Trajectories of all layers of a network (or of a stack of networks).

    Attributes
    ----------
    t : ndarray, shape (T,)
    W : ndarray, shape (T, dy, dx) or (B, T, dy, dx)
        End-to-end matrices ``W_N(t) ... W_1(t)``.
    weights : tuple of ndarray, or None
        ``weights[j - 1]`` has shape ``(T, d_j, d_{j-1})`` (or
        ``(B, T, d_j, d_{j-1})``): ``W_j(t)``. None when the flow was asked
        not to keep them (``keep_weights=False``). Read-only.
    """

    t: np.ndarray
    W: np.ndarray
    weights: tuple | None


@dataclass(frozen=True)
class PolarFlowResult:
    """Trajectories of the scalar-output polar reduction.

    Attributes
    ----------
    t : ndarray, shape (T,)
    r, theta : ndarray, shape ``r0.shape + (T,)``
        Norm of ``W`` and its angle to ``Z``.
    """

    t: np.ndarray
    r: np.ndarray
    theta: np.ndarray


@dataclass(frozen=True)
class GradientDescentResult:
    """Iterates of gradient descent on the loss (4).

    Attributes
    ----------
    steps : ndarray of int, shape (K,)
        Recorded step indices (0, ``record_every``, ..., and the last step).
    t : ndarray, shape (K,)
        ``steps * lr``, the gradient-flow time the iterates approximate.
    losses : ndarray, shape (K,)
        Loss (4) at the recorded steps.
    weights : tuple of ndarray
        ``weights[j - 1]`` has shape ``(K, d_j, d_{j-1})``.
    W : ndarray, shape (K, dy, dx)
        End-to-end matrices at the recorded steps.
    loss_curve : ndarray, shape (n + 1,)
        Loss at every step ``0..n`` taken.
    converged : bool
        Whether the loss reached ``loss_tol`` (always False when ``loss_tol`` is None).
    """

    steps: np.ndarray
    t: np.ndarray
    losses: np.ndarray
    weights: tuple
    W: np.ndarray
    loss_curve: np.ndarray
    converged: bool


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def _check_method(method) -> str:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    return method


# --------------------------------------------------------------------------
# the operator A_W (eq. 16); kernels act on stacks (..., dy, dx)
# --------------------------------------------------------------------------


def _a_rank1(W: np.ndarray, N: int, Delta: np.ndarray) -> np.ndarray:
    """Closed form of ``A_W`` for ``rank(W) <= 1`` and ``N >= 2``.

    With ``s = ||W||_F``, ``u u^T = W W^T / s^2`` and ``v v^T = W^T W / s^2``,
    ``A_W(Delta) = s^{2-2/N} [u u^T Delta + Delta v v^T + (N-2) u u^T Delta v v^T]``;
    ``s^{2-2/N} / s^2 = (s^2)^{-1/N}``. ``A_0 = 0``.
    """
    s2 = np.sum(W * W, axis=(-2, -1), keepdims=True)
    nonzero = s2 > 0
    safe = np.where(nonzero, s2, 1.0)
    c = np.where(nonzero, safe ** (-1.0 / N), 0.0)
    WtD = np.matrix_transpose(W) @ Delta
    out = c * (W @ WtD + (Delta @ np.matrix_transpose(W)) @ W)
    if N > 2:
        out = out + ((N - 2) * c / safe) * (W @ (WtD @ np.matrix_transpose(W)) @ W)
    return out


def _a_range(W: np.ndarray, N: int, Delta: np.ndarray, rank) -> np.ndarray:
    """``A_W`` with fractional powers taken in the range of ``W`` only, ``N >= 2``.

    With the thin SVD ``W = U S V^T`` restricted to its ``rank`` leading
    singular values (the others set to zero; ``rank`` is an int or an array
    broadcasting against the stack) the ``j = 1`` and ``j = N`` terms of (16)
    are ``U S^{2-2/N} U^T Delta`` and ``Delta V S^{2-2/N} V^T`` (the other factor
    is a zeroth power, the identity), and the middle terms are
    ``U (C o U^T Delta V) V^T`` with ``C_il = sum_{j=2}^{N-1} s_i^{2(N-j)/N} s_l^{2(j-1)/N}``.
    Every exponent applied to ``S`` is positive, so a dropped singular value
    contributes exactly nothing.
    """
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    s = np.where(np.arange(s.shape[-1]) < np.asarray(rank)[..., None], s, 0.0)
    outer = s ** (2.0 - 2.0 / N)
    UtD = np.matrix_transpose(U) @ Delta
    out = (
        U @ (outer[..., :, None] * UtD)
        + ((Delta @ np.matrix_transpose(Vt)) * outer[..., None, :]) @ Vt
    )
    if N > 2:
        C = sum(
            s[..., :, None] ** (2.0 * (N - j) / N)
            * s[..., None, :] ** (2.0 * (j - 1) / N)
            for j in range(2, N)
        )
        out = out + U @ (C * (UtD @ np.matrix_transpose(Vt))) @ Vt
    return out


def _psd_power_naive(M: np.ndarray, p: float) -> np.ndarray:
    """``M^p`` from ``eigh`` with every eigenvalue powered, round-off included."""
    evals, evecs = np.linalg.eigh(M)
    # Clipping keeps negative round-off eigenvalues from producing NaN; the
    # positive ones are what this variant exists to show.
    return (evecs * np.clip(evals, 0.0, None)[..., None, :] ** p) @ np.matrix_transpose(
        evecs
    )


def _a_naive(W: np.ndarray, N: int, Delta: np.ndarray) -> np.ndarray:
    """``A_W`` straight from the definition (16), powers by ``eigh`` of ``W W^T``, ``W^T W``."""
    WWt = W @ np.matrix_transpose(W)
    WtW = np.matrix_transpose(W) @ W
    return sum(
        _psd_power_naive(WWt, (N - j) / N) @ Delta @ _psd_power_naive(WtW, (j - 1) / N)
        for j in range(1, N + 1)
    )


def _operator(form: str, N: int, rank=None):
    """The kernel ``(W, Delta) -> A_W(Delta)`` of the given form; depth 1 is the identity.

    ``rank`` (form ``"range"`` only) is the number of singular values kept.
    """
    if N == 1:
        return lambda W, Delta: Delta
    if form == "rank1":
        return lambda W, Delta: _a_rank1(W, N, Delta)
    if form == "range":
        return lambda W, Delta: _a_range(W, N, Delta, rank)
    if form == "naive":
        return lambda W, Delta: _a_naive(W, N, Delta)
    raise AssertionError(form)


def _range_rank(W: np.ndarray, range_rtol: float = RANGE_RTOL) -> np.ndarray:
    """Number of singular values above ``range_rtol * s_max`` (per matrix of a stack)."""
    s = np.linalg.svd(W, compute_uv=False)
    return np.count_nonzero(s > range_rtol * s[..., :1], axis=-1)


def induced_operator(
    W, depth, Delta, *, form: str = "auto", range_rtol: float = RANGE_RTOL
) -> np.ndarray:
    """The operator ``A_W(Delta)`` of eq. (16).

    ``A_W(Delta) = sum_{j=1}^N (W W^T)^{(N-j)/N} Delta (W^T W)^{(j-1)/N}``, the
    map that turns the gradient of ``L_1`` into the velocity of the end-to-end
    matrix of a balanced network, eq. (17).

    Parameters
    ----------
    W : array_like, shape (dy, dx)
    depth : int
        ``N >= 1``; ``A_W`` is the identity for ``N = 1``.
    Delta : array_like, shape (dy, dx)
    form : {"auto", "range", "rank1"}
        ``"range"``: powers restricted to the range of ``W`` (thin SVD, singular
        values below ``range_rtol * s_max`` dropped). ``"rank1"``: the closed
        form for ``rank(W) <= 1``. ``"auto"``: ``"rank1"`` when ``W`` has rank
        ``<= 1``, else ``"range"``.
    range_rtol : float
        Relative threshold on the singular values of ``W``.

    Returns
    -------
    ndarray, shape (dy, dx)

    See Also
    --------
    induced_operator_naive : the same sum with powers of all eigenvalues.
    """
    W = as_matrix(W, "W")
    Delta = as_matrix(Delta, "Delta", shape=W.shape)
    N = positive_int(depth, "depth")
    range_rtol = positive_float(range_rtol, "range_rtol")
    if form not in ("auto", "range", "rank1"):
        raise ValueError(f"form must be 'auto', 'range' or 'rank1'; got {form!r}")
    rank = int(_range_rank(W, range_rtol))
    if form == "rank1" and rank > 1:
        raise ValueError(f"form='rank1' needs W of rank <= 1; W has rank {rank}")
    if form == "auto":
        form = "rank1" if rank <= 1 else "range"
    return _operator(form, N, rank)(W, Delta)


def induced_operator_naive(W, depth, Delta) -> np.ndarray:
    """``A_W(Delta)`` of eq. (16) with the powers computed naively. Do not use.

    Computes ``(W W^T)^p`` and ``(W^T W)^p`` from ``eigh`` with every eigenvalue
    raised to ``p`` (negative round-off clipped to 0). For rank-deficient ``W``
    the zero eigenvalues come out as round-off ``~1e-17 s_max^2`` and
    ``(1e-17)^{1/4} ~ 6e-5``: a spurious term outside the range of ``W``. It is
    kept so that a chapter can show the failure; see :func:`induced_operator`.

    Parameters
    ----------
    W : array_like, shape (dy, dx)
    depth : int
    Delta : array_like, shape (dy, dx)

    Returns
    -------
    ndarray, shape (dy, dx)
    """
    W = as_matrix(W, "W")
    Delta = as_matrix(Delta, "Delta", shape=W.shape)
    N = positive_int(depth, "depth")
    return _a_naive(W, N, Delta)


# --------------------------------------------------------------------------
# vectorised DOP853 with per-trajectory step control
# --------------------------------------------------------------------------

_N_STAGES = _dop853.N_STAGES
_RK_A = _dop853.A[:_N_STAGES, :_N_STAGES]
_RK_B = _dop853.B
_RK_E3 = _dop853.E3
_RK_E5 = _dop853.E5
_RK_A_EXTRA = _dop853.A[_N_STAGES + 1 :]
_RK_D = _dop853.D
# scipy's controller constants for DOP853 (error estimator of order 7).
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0
_ERR_EXPONENT = -1.0 / 8.0


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(x * x, axis=1))


def _combine(coefficients: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``sum_s coefficients[s] K[s]`` for stages ``K`` of shape (S, b, n)."""
    S = coefficients.shape[-1]
    stages = K[:S].reshape(S, -1)
    if coefficients.ndim == 1:
        flat = coefficients @ stages
    else:
        # One vector product per row: a (rows, S) @ (S, b n) product goes to a
        # multithreaded BLAS matrix product, whose thread hand-offs cost more
        # than the arithmetic at these sizes (several times the whole product
        # on a busy 2-core machine).
        flat = np.stack([row @ stages for row in coefficients])
    return flat.reshape(coefficients.shape[:-1] + K.shape[1:])


def _initial_steps(rhs, y0, f0, rows, interval, rtol, atol) -> np.ndarray:
    """Per-trajectory version of ``scipy.integrate._ivp.common.select_initial_step``."""
    scale = atol + np.abs(y0) * rtol
    d0 = _rms(y0 / scale)
    d1 = _rms(f0 / scale)
    small = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = np.where(small, 1e-6, 0.01 * d0 / np.where(small, 1.0, d1))
    h0 = np.minimum(h0, interval)
    f1 = rhs(y0 + h0[:, None] * f0, rows)
    d2 = _rms((f1 - f0) / scale) / h0
    dmax = np.maximum(d1, d2)
    flat = ~(dmax > 1e-15)
    h1 = np.where(
        flat,
        np.maximum(1e-6, h0 * 1e-3),
        (0.01 / np.where(flat, 1.0, dmax)) ** (1.0 / 8.0),
    )
    return np.minimum(np.minimum(100 * h0, h1), interval)


def _dop853_step(rhs, y, f, h, rows):
    """One DOP853 step for every row of ``y`` with its own step ``h``.

    Returns ``y_new``, ``f_new`` and the stages ``K`` (16 rows, the last three
    left for :func:`_dense_coefficients`).
    """
    K = np.empty((_dop853.N_STAGES_EXTENDED,) + y.shape)
    K[0] = f
    hcol = h[:, None]
    for s in range(1, _N_STAGES):
        K[s] = rhs(y + hcol * _combine(_RK_A[s, :s], K), rows)
    y_new = y + hcol * _combine(_RK_B, K)
    f_new = rhs(y_new, rows)
    K[_N_STAGES] = f_new
    return y_new, f_new, K


def _error_norms(K, h, scale) -> np.ndarray:
    """scipy's DOP853 error norm (RMS over one trajectory's components), per row."""
    e5 = np.sum((_combine(_RK_E5, K) / scale) ** 2, axis=1)
    e3 = np.sum((_combine(_RK_E3, K) / scale) ** 2, axis=1)
    denom = e5 + 0.01 * e3
    # A trial step whose stages overflowed has a NaN or infinite estimate: it
    # must count as an infinite error (rejected, step shrunk), never as zero.
    finite = np.isfinite(denom) & np.isfinite(e5)
    positive = finite & (denom > 0)
    norms = np.where(
        positive, h * e5 / np.sqrt(np.where(positive, denom, 1.0) * scale.shape[1]), 0.0
    )
    return np.where(finite, norms, np.inf)


def _dense_coefficients(rhs, y_old, y_new, f_new, K, h, rows) -> np.ndarray:
    """DOP853's order-7 interpolant of the last step (scipy's ``_dense_output_impl``), shape (7, b, n)."""
    hcol = h[:, None]
    for s, a in enumerate(_RK_A_EXTRA, start=_N_STAGES + 1):
        K[s] = rhs(y_old + hcol * _combine(a[:s], K), rows)
    delta = y_new - y_old
    F = np.empty((_dop853.INTERPOLATOR_POWER,) + y_old.shape)
    F[0] = delta
    F[1] = hcol * K[0] - delta
    F[2] = 2 * delta - hcol * (f_new + K[0])
    F[3:] = hcol * _combine(_RK_D, K)
    return F


def _dense_eval(F, y_old, x, rows) -> np.ndarray:
    """Evaluate the interpolants ``F[:, rows]`` at fractions ``x`` of their steps, plus ``y_old``.

    ``rows`` picks, for each evaluation, the trajectory whose interpolant is
    used (several evaluations may share one). The coefficients are gathered
    one power at a time into a reused buffer rather than as one
    ``F[:, rows]`` copy: on a large batch the evaluations number
    ``B * len(t_eval)`` and that copy would be the largest array of the run.
    """
    x = x[:, None]
    one_minus = 1 - x
    buffer = np.empty_like(y_old)
    y = np.take(F[-1], rows, axis=0)
    y *= x
    for i in range(1, F.shape[0]):
        y += np.take(F[-1 - i], rows, axis=0, out=buffer)
        y *= x if i % 2 == 0 else one_minus
    y += y_old
    return y


def _dop853_stacked(
    rhs,
    y0: np.ndarray,
    t_eval: np.ndarray,
    rtol: float,
    atol: float,
    max_steps: int = MAX_STEPS,
):
    """Integrate the autonomous ODE ``y' = rhs(y)`` for a stack of states from ``t = 0``.

    Each row of ``y0`` (shape ``(B, n)``) is one trajectory with its own step
    size and its own accept/reject decision, made with scipy's DOP853
    controller on that trajectory's components only, so batching changes no
    trajectory. Output times inside a step are filled by DOP853's dense output,
    as in ``solve_ivp``; the last step lands exactly on ``t_eval[-1]``.
    ``rhs(y, rows)`` maps states ``(b, n)`` to velocities ``(b, n)``; ``rows``
    (length ``b``) are the indices of those states in the stack, for
    right-hand sides with per-trajectory parameters.

    Returns
    -------
    ndarray, shape (B, len(t_eval), n)
    """
    B, n = y0.shape
    T = t_eval.size
    t_end = t_eval[-1]
    out = np.empty((B, T, n))
    out_rows = out.reshape(B * T, n)  # a view: row b * T + i is out[b, i]
    y = y0.copy()
    t = np.zeros(B)
    k = np.zeros(B, dtype=np.intp)  # next output to write, per trajectory
    if t_eval[0] == 0.0:
        out[:, 0] = y0
        k[:] = 1
    if T == k[0]:
        return out
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        every = np.arange(B)
        f = rhs(y, every)
        h = _initial_steps(rhs, y, f, every, t_end, rtol, atol)
        rejected = np.zeros(B, dtype=bool)
        for _ in range(max_steps):
            active = np.flatnonzero(k < T)
            if active.size == 0:
                return out
            yb, hb, tb = y[active], h[active], t[active]
            last = hb >= t_end - tb
            hs = np.where(last, t_end - tb, hb)
            y_new, f_new, K = _dop853_step(rhs, yb, f[active], hs, active)
            err = _error_norms(
                K, hs, atol + rtol * np.maximum(np.abs(yb), np.abs(y_new))
            )
            err = np.where(
                np.isfinite(err) & np.all(np.isfinite(y_new), axis=1), err, np.inf
            )
            accept = err < 1
            powered = _SAFETY * np.where(err > 0, err, 1.0) ** _ERR_EXPONENT
            grow = np.where(err > 0, np.minimum(_MAX_FACTOR, powered), _MAX_FACTOR)
            grow = np.where(rejected[active], np.minimum(1.0, grow), grow)
            h_next = np.where(accept, hs * grow, hs * np.maximum(_MIN_FACTOR, powered))
            rejected[active] = ~accept
            h[active] = h_next

            rows = np.flatnonzero(accept)
            done = active[rows]
            t_new = np.where(last[rows], t_end, tb[rows] + hs[rows])
            k_end = np.searchsorted(t_eval, t_new, side="right")
            outputs = k_end > k[done]
            if np.any(outputs):
                r, g = rows[outputs], done[outputs]
                F = _dense_coefficients(
                    rhs, yb[r], y_new[r], f_new[r], K[:, r], hs[r], g
                )
                # Every output time this step passed, for every trajectory, in
                # one evaluation: pair p (a trajectory of this step) with j
                # (an output index in [k, k_end) of that trajectory).
                counts = k_end[outputs] - k[g]
                p = np.repeat(np.arange(g.size), counts)
                j = (
                    k[g][p]
                    + np.arange(p.size)
                    - np.repeat(np.cumsum(counts) - counts, counts)
                )
                rp = r[p]
                x = (t_eval[j] - tb[rp]) / hs[rp]
                values = _dense_eval(F, yb[rp], x, p)
                # At the step's end the step value itself is exact.
                ends = np.flatnonzero(x == 1.0)
                values[ends] = y_new[rp[ends]]
                out_rows[g[p] * T + j] = values
                k[g] = k_end[outputs]
            y[done] = y_new[rows]
            f[done] = f_new[rows]
            t[done] = t_new

            still = k[active] < T
            tiny = h_next < 10 * np.abs(np.nextafter(t[active], np.inf) - t[active])
            if np.any(still & tiny):
                b = int(active[np.flatnonzero(still & tiny)[0]])
                raise FlowIntegrationError(
                    f"step size underflow at t = {t[b]:.6g} in trajectory {b}: the right-hand side is not "
                    f"smooth enough (or not finite) there for rtol={rtol:g}, atol={atol:g}"
                )
    raise FlowIntegrationError(
        f"max_steps={max_steps} step attempts were not enough to reach t = {t_end:g} "
        f"({int(np.count_nonzero(k < T))} trajectories unfinished, the slowest at t = {t[k < T].min():.6g})"
    )


# --------------------------------------------------------------------------
# induced flow (17)
# --------------------------------------------------------------------------


def _polar_rhs(s_Z: float, m: float, N: int):
    """Right side of the scalar-output reduction of (17), state rows ``(r, theta)``.

    ``r' = -m N r^{2-2/N} (r - s_Z cos theta)``, ``theta' = -m r^{1-2/N} s_Z sin theta``.
    """
    a = 1.0 - 2.0 / N

    def rhs(y, rows):
        # r never crosses 0 in exact arithmetic (r' ~ r^{2-2/N} there); an
        # overshooting trial stage must not take a fractional power of r < 0.
        r = np.maximum(y[:, 0], 0.0)
        theta = y[:, 1]
        q = r**a
        out = np.empty_like(y)
        out[:, 0] = (-m * N) * (r * q) * (r - s_Z * np.cos(theta))
        out[:, 1] = (-m * s_Z) * q * np.sin(theta)
        return out

    return rhs


def _polar_exact_depth1(r0, theta0, s_Z, m, t):
    """Depth 1: ``W(t) = Z + (W0 - Z) e^{-m t}`` in the plane's coordinates."""
    decay = np.exp(-m * t)
    x = s_Z + (r0 * np.cos(theta0) - s_Z)[..., None] * decay
    y = (r0 * np.sin(theta0))[..., None] * decay
    return np.hypot(x, y), np.arctan2(y, x)


def _polar_stacked(r0, theta0, s_Z, m, N, t, rtol, atol, max_steps):
    """``(r, theta)`` of shape ``(B, T)`` for 1-D ``r0``, ``theta0``."""
    if N == 1:
        return _polar_exact_depth1(r0, theta0, s_Z, m, t)
    y = _dop853_stacked(
        _polar_rhs(s_Z, m, N), np.stack([r0, theta0], axis=1), t, rtol, atol, max_steps
    )
    return y[..., 0], y[..., 1]


def scalar_polar_flow(
    r0,
    theta0,
    s_Z,
    m,
    depth,
    t_eval,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_steps: int = MAX_STEPS,
) -> PolarFlowResult:
    """The induced flow (17) for a scalar output, in polar coordinates.

    For ``dy = 1`` the velocity ``-m A_W(W - Z)`` lies in the plane of ``W`` and
    ``Z``, so ``W(t) = r (cos(theta) v + sin(theta) w)`` with ``v = Z / s_Z`` and
    ``w`` the unit vector of the plane orthogonal to ``v``, and (17) reduces to

    ``r' = -m N r^{2-2/N} (r - s_Z cos theta)``,
    ``theta' = -m r^{1-2/N} s_Z sin theta``.

    All trajectories are integrated together in one stacked ODE, each with its
    own error control. Depth 1 is solved exactly.

    Parameters
    ----------
    r0 : array_like
        Initial norms ``||W0|| >= 0``, any shape.
    theta0 : array_like
        Initial angles to ``Z`` (radians), same shape as ``r0``.
    s_Z : float
        ``||Z|| >= 0``.
    m : float
        Number of examples (the rate in (17)), ``> 0``.
    depth : int
        ``N >= 1``.
    t_eval : array_like, shape (T,)
        Strictly increasing output times ``>= 0``; the flow starts at ``t = 0``.
    rtol, atol : float
        Tolerances of the per-trajectory error control.
    max_steps : int
        Cap on step attempts.

    Returns
    -------
    PolarFlowResult
        ``.t``, ``.r`` and ``.theta`` (shape ``r0.shape + (T,)``).
    """
    r0 = np.asarray(r0, dtype=float)
    theta0 = np.asarray(theta0, dtype=float)
    if r0.size == 0:
        raise ValueError("r0 must hold at least one initial norm; got an empty array")
    if theta0.shape != r0.shape:
        raise ValueError(
            f"theta0 must have the shape of r0 {r0.shape}; got {theta0.shape}"
        )
    if not (np.all(np.isfinite(r0)) and np.all(r0 >= 0)):
        raise ValueError("r0 must be finite and >= 0 (a norm)")
    if not np.all(np.isfinite(theta0)):
        raise ValueError("theta0 must be finite")
    s_Z = positive_float(s_Z, "s_Z", allow_zero=True)
    m = positive_float(m, "m")
    N = positive_int(depth, "depth")
    t = check_times(t_eval)
    rtol, atol = check_tolerances(rtol, atol)
    max_steps = positive_int(max_steps, "max_steps")
    r, theta = _polar_stacked(
        r0.ravel(), theta0.ravel(), s_Z, m, N, t, rtol, atol, max_steps
    )
    shape = r0.shape + (t.size,)
    r, theta = r.reshape(shape), theta.reshape(shape)
    freeze(t, r, theta)
    return PolarFlowResult(t=t, r=r, theta=theta)


def _resolve_method(method: str, W0s: np.ndarray, N: int) -> str:
    dy, dx = W0s.shape[-2:]
    vector = dy == 1 or dx == 1
    if method == "auto":
        if N == 1:
            return "exact"
        if vector:
            return "polar"
        return "rank1" if np.all(_range_rank(W0s) <= 1) else "range"
    if method == "exact" and N != 1:
        raise ValueError(
            f"method='exact' is only available for depth 1 (a linear ODE); got depth={N}"
        )
    if method == "polar" and not vector:
        raise ValueError(
            f"method='polar' needs a scalar output or input (dy = 1 or dx = 1); got dy={dy}, dx={dx}"
        )
    if method == "rank1":
        rank = int(np.max(_range_rank(W0s)))
        if rank > 1:
            raise ValueError(
                f"method='rank1' needs W0 of rank <= 1 (the flow keeps the rank); got rank {rank}"
            )
    return method


def _induced_flow_stack(
    W0s, target: Target, N, t, rtol, atol, method, max_steps
) -> np.ndarray:
    """The induced flow (17) for a stack ``W0s`` (B, dy, dx); returns (B, T, dy, dx)."""
    Z, m = target.Z, target.m
    method = _resolve_method(method, W0s, N)
    if method == "exact":
        decay = np.exp(-m * t)[None, :, None, None]
        return Z + (W0s - Z)[:, None] * decay
    if method == "polar":
        # (17) commutes with transposition (A_{W^T}(D^T) = A_W(D)^T), so a
        # column W is handled as a row.
        if W0s.shape[-1] == 1 and W0s.shape[-2] > 1:
            return np.swapaxes(
                _polar_vector_flow(
                    np.matrix_transpose(W0s), Z.T, m, N, t, rtol, atol, max_steps
                ),
                -1,
                -2,
            )
        return _polar_vector_flow(W0s, Z, m, N, t, rtol, atol, max_steps)
    B, dy, dx = W0s.shape
    # The flow keeps rank(W(t)) = rank(W0) (A_W(Delta) is tangent to the
    # rank-r matrices, and a singular value s > 0 moves at a rate
    # ~ s^{2-2/N} <= O(s), so it never reaches 0). Fixing r at rank(W0) keeps
    # the solver's own O(rtol) errors off the rank-r manifold from being
    # mistaken for singular values and raised to powers 2/N < 1.
    ranks = _range_rank(W0s)

    def rhs(y, rows):
        W = y.reshape(-1, dy, dx)
        return (-m * _operator(method, N, ranks[rows])(W, W - Z)).reshape(y.shape)

    return _dop853_stacked(rhs, W0s.reshape(B, -1), t, rtol, atol, max_steps).reshape(
        B, t.size, dy, dx
    )


def _polar_vector_flow(W0s, Z, m, N, t, rtol, atol, max_steps) -> np.ndarray:
    """Polar reduction for rows ``W0s`` (B, 1, dx): map to ``(r, theta)``, integrate, map back."""
    B = W0s.shape[0]
    w0 = W0s.reshape(B, -1)
    z = Z.ravel()
    s_Z = float(np.linalg.norm(z))
    r0 = np.linalg.norm(w0, axis=1)
    if s_Z > 0:
        v = np.broadcast_to(z / s_Z, w0.shape)
    else:
        # Z = 0: theta' = 0, the flow is radial; measure angles from W0 itself.
        v = w0 / np.where(r0 > 0, r0, 1.0)[:, None]
    along = np.sum(w0 * v, axis=1)
    perp = w0 - along[:, None] * v
    perp_norm = np.linalg.norm(perp, axis=1)
    # W0 parallel to Z: sin(theta) stays 0 and w is never used.
    w = perp / np.where(perp_norm > 0, perp_norm, 1.0)[:, None]
    theta0 = np.arctan2(perp_norm, along)
    r, theta = _polar_stacked(r0, theta0, s_Z, m, N, t, rtol, atol, max_steps)
    # rows = r cos(theta) v + r sin(theta) w, with one temporary of the output's size.
    rows = np.multiply((r * np.cos(theta))[..., None], v[:, None, :])
    rows += (r * np.sin(theta))[..., None] * w[:, None, :]
    return rows.reshape((B, t.size) + W0s.shape[1:])


def induced_flow(
    W0,
    target,
    depth,
    t_eval,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    method: str = "auto",
    max_steps: int = MAX_STEPS,
) -> FlowResult:
    """The induced flow (17), ``dW/dt = -m A_W(W - Z)``, from one start or a stack of starts.

    From a balanced start (:func:`linnet.init.balanced_init`) it is the
    end-to-end matrix of gradient flow (13) for whitened data. A stack of
    starts is integrated together by one vectorised DOP853 run; each
    trajectory keeps its own step size and error control, so batching changes
    no trajectory.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx) or (B, dy, dx)
        End-to-end matrix (or ``B`` of them) at ``t = 0``.
    target : Target
        ``Z = Y X^T / m`` and ``m`` (see :meth:`Target.from_data`).
    depth : int
        ``N >= 1``.
    t_eval : array_like, shape (T,)
        Strictly increasing output times ``>= 0``; the flow starts at ``t = 0``.
    rtol, atol : float
        Tolerances of the DOP853 error control.
    method : {"auto", "exact", "polar", "rank1", "range", "naive"}
        ``"auto"`` picks: depth 1, the exact solution
        ``W(t) = Z + (W0 - Z) e^{-m t}``; ``dy = 1`` or ``dx = 1``, the polar
        reduction (:func:`scalar_polar_flow`); every start of rank ``<= 1``, the
        rank-1 closed form of ``A_W`` (the flow keeps the rank, Lemma 3.3);
        otherwise the range-restricted ``A_W``. ``"naive"`` uses
        :func:`induced_operator_naive` and exists to show its failure.
    max_steps : int
        Cap on step attempts per trajectory.

    Returns
    -------
    FlowResult
        ``.t`` (T,); ``.W`` (T, dy, dx) for one start, (B, T, dy, dx) for a stack.
    """
    target = as_target(target)
    W0s, single = as_matrix_stack(W0, "W0", target.Z.shape)
    if W0s.shape[0] == 0:
        raise ValueError(f"W0 must hold at least one start; got shape {W0s.shape}")
    N = positive_int(depth, "depth")
    t = check_times(t_eval)
    rtol, atol = check_tolerances(rtol, atol)
    method = _check_method(method)
    max_steps = positive_int(max_steps, "max_steps")
    W = _induced_flow_stack(W0s, target, N, t, rtol, atol, method, max_steps)
    W = W[0] if single else W
    freeze(t, W)
    return FlowResult(t=t, W=W)


def induced_velocity(W, target, depth) -> np.ndarray:
    """The velocity of the induced flow (17), ``dW/dt = -m A_W(W - Z)``, at a matrix or a stack.

    The one implementation of the velocity of (17) in linnet. ``A_W`` is
    :func:`induced_operator` (16), except on matrices that are rank one up to
    ``sigma_2 <= RANK_ONE_RTOL sigma_1``: there ``W`` is replaced by its best
    rank-one approximation and ``A_W`` is the rank-one closed form. A
    trajectory of (17) from a rank-one start is rank one (Lemma 3.3), but the
    solver leaves ``sigma_2 / sigma_1`` up to ~1e-11 (measured: 6.6e-12 on
    chapter 04's trajectories), above :data:`RANGE_RTOL`; the general form
    would raise that noise to powers ``< 1`` and change the velocity by ~1e-6
    relative (``tests/test_core_api.py`` holds the control).

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
    target : Target
    depth : int
        ``N >= 1``.

    Returns
    -------
    ndarray of the shape of ``W``
    """
    target = as_target(target)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    N = positive_int(depth, "depth")
    out = np.empty_like(stack)
    if stack.shape[0]:
        U, S, Vt = np.linalg.svd(stack, full_matrices=False)
        rank_one = (
            S[:, 1] <= RANK_ONE_RTOL * S[:, 0]
            if S.shape[1] > 1
            else np.ones(len(stack), dtype=bool)
        )
        part = S[:, :1, None] * U[:, :, :1] @ Vt[:, :1, :]
        for k in range(stack.shape[0]):
            Wk = part[k] if rank_one[k] else stack[k]
            form = "rank1" if rank_one[k] else "auto"
            out[k] = -target.m * induced_operator(Wk, N, Wk - target.Z, form=form)
    return out[0] if single else out


# --------------------------------------------------------------------------
# gradient flow (13)
# --------------------------------------------------------------------------


def gradient_flow(
    weights0,
    X,
    Y,
    t_eval,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_steps: int = MAX_STEPS,
    keep_weights: bool = True,
) -> NetworkFlowResult:
    """Gradient flow (13) on all layers, ``dW_j/dt = -dL/dW_j``, of one network or a stack.

    Every entry of every layer is a state variable, integrated by the stacked
    DOP853 of :func:`integrate_stacked` (each network with its own step size
    and error control, so batching changes no trajectory). Nothing about the
    end-to-end matrix is imposed: not its rank, not balancedness, not the
    induced flow (17). The right-hand side is the chain rule
    (:func:`linnet.network.layer_gradients_stack`) with
    ``G = W X X^T - Y X^T``, for any data: the data enter through the moments
    only.

    Parameters
    ----------
    weights0 : list of array_like
        ``[W_1(0), ..., W_N(0)]``: matrices ``(d_j, d_{j-1})`` for one network,
        or stacks ``(B, d_j, d_{j-1})`` for ``B`` networks.
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)
    t_eval : array_like, shape (T,)
        Strictly increasing output times ``>= 0``; the flow starts at ``t = 0``.
    rtol, atol : float
    max_steps : int
        Cap on step attempts per network.
    keep_weights : bool
        Keep every layer at every output time (memory ``B T sum_j d_j d_{j-1}``);
        False keeps the end-to-end matrices only.

    Returns
    -------
    NetworkFlowResult
        ``.t`` (T,), ``.W`` (T, dy, dx) or (B, T, dy, dx), ``.weights``.
    """
    single = isinstance(weights0, (list, tuple)) and all(
        np.ndim(Wj) == 2 for Wj in weights0
    )
    layers = as_weight_stack(weights0, "weights0")
    X, Y = check_data(X, Y, layers[0].shape[2], layers[-1].shape[1])
    t = check_times(t_eval)
    rtol, atol = check_tolerances(rtol, atol)
    max_steps = positive_int(max_steps, "max_steps")
    B = layers[0].shape[0]
    shapes = [a.shape[1:] for a in layers]
    cuts = np.cumsum([int(np.prod(sh)) for sh in shapes])[:-1]
    XXt, YXt = X @ X.T, Y @ X.T

    def rhs(y, rows):
        # rows (indices in the stack) are not needed: no per-network parameters.
        b = y.shape[0]
        Ws = [
            part.reshape((b,) + sh)
            for part, sh in zip(np.split(y, cuts, axis=1), shapes, strict=True)
        ]
        G = end_to_end_stack(Ws) @ XXt - YXt
        return -np.concatenate(
            [g.reshape(b, -1) for g in layer_gradients_stack(Ws, G)], axis=1
        )

    y0 = np.concatenate([a.reshape(B, -1) for a in layers], axis=1)
    ys = _dop853_stacked(rhs, y0, t, rtol, atol, max_steps)
    weights = [
        part.reshape((B, t.size) + sh)
        for part, sh in zip(np.split(ys, cuts, axis=2), shapes, strict=True)
    ]
    del ys
    W = end_to_end_stack(weights)
    if single:
        W, weights = W[0], [Wj[0] for Wj in weights]
    freeze(t, W, *weights)
    return NetworkFlowResult(t=t, W=W, weights=tuple(weights) if keep_weights else None)


# --------------------------------------------------------------------------
# discrete schemes
# --------------------------------------------------------------------------


def _record_steps(steps: int, record_every: int) -> np.ndarray:
    rec = np.arange(0, steps + 1, record_every)
    return rec if rec[-1] == steps else np.append(rec, steps)


def forward_euler(W0, target, depth, step, steps, record_every: int = 1) -> FlowResult:
    """The paper's discretisation of the induced flow (17).

    ``W_{k+1} = W_k - step * m * A_{W_k}(W_k - Z)`` with ``A_W`` as in
    :func:`induced_operator` (rank-1 closed form when ``rank(W0) <= 1``).
    First-order accurate: the error at a fixed time is ``O(step)``.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
    target : Target
        ``Z`` and ``m`` of (17), as for :func:`induced_flow`.
    depth : int
    step : float
        Time step ``> 0``.
    steps : int
        Number of steps ``>= 1``; the final time is ``steps * step``.
    record_every : int
        Record every this many steps (the last step is always recorded).

    Returns
    -------
    FlowResult
        ``.t`` (K,) the times ``k * step``, ``.W`` (K, dy, dx).

    Raises
    ------
    DivergenceError
        If the iterates become non-finite (step too large).
    """
    target = as_target(target)
    W0 = as_matrix(W0, "W0", shape=target.Z.shape)
    N = positive_int(depth, "depth")
    step = positive_float(step, "step")
    steps = positive_int(steps, "steps")
    record_every = positive_int(record_every, "record_every")
    Z, m = target.Z, target.m
    rank = int(_range_rank(W0))
    # rank(W0) is kept fixed, as in the induced flow (see _induced_flow_stack).
    op = _operator("rank1" if rank <= 1 else "range", N, rank)
    rec = _record_steps(steps, record_every)
    out = np.empty((rec.size,) + W0.shape)
    out[0] = W0
    W = W0.copy()
    rate = step * m
    i = 1
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            W = W - rate * op(W, W - Z)
            if k == rec[i]:
                if not np.all(np.isfinite(W)):
                    raise DivergenceError(
                        f"forward Euler diverged by step {k}: W is not finite; step={step:g} is too large",
                        k,
                        np.nan,
                    )
                out[i] = W
                i += 1
    t = rec * step
    freeze(t, out)
    return FlowResult(t=t, W=out)


def gradient_descent(
    weights0,
    X,
    Y,
    lr,
    steps,
    record_every: int = 1,
    *,
    loss_tol: float | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> GradientDescentResult:
    """Gradient descent on the loss (4): ``W_j <- W_j - lr * dL/dW_j``.

    Parameters
    ----------
    weights0 : list of array_like
        ``[W_1, ..., W_N]`` at step 0.
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)
    lr : float
        Learning rate ``> 0``. ``steps * lr`` approximates gradient-flow time.
    steps : int
        Maximum number of steps ``>= 1``.
    record_every : int
        Record the weights every this many steps (and at the last step).
    loss_tol : float or None
        Stop early once the loss (4) is ``<= loss_tol``.
    divergence_factor : float
        Raise :class:`DivergenceError` once the loss exceeds
        ``divergence_factor * max(L(step 0), ||Y||_F^2 / 2)`` or is not finite.

    Returns
    -------
    GradientDescentResult
        ``.steps``, ``.t``, ``.losses``, ``.weights``, ``.W``, ``.loss_curve``,
        ``.converged``.

    Raises
    ------
    DivergenceError
        With the step and the loss, when the iteration blows up.
    """
    weights = check_weights(weights0, "weights0")
    X, Y = check_data(X, Y, weights[0].shape[1], weights[-1].shape[0])
    lr = positive_float(lr, "lr")
    steps = positive_int(steps, "steps")
    record_every = positive_int(record_every, "record_every")
    if loss_tol is not None:
        loss_tol = positive_float(loss_tol, "loss_tol", allow_zero=True)
    divergence_factor = positive_float(divergence_factor, "divergence_factor")
    if divergence_factor <= 1:
        raise ValueError(f"divergence_factor must be > 1; got {divergence_factor!r}")

    recorded_steps, recorded_weights, curve = [], [], []
    converged = False
    ceiling = None
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            R = end_to_end_stack(weights) @ X - Y
            current = 0.5 * float(np.sum(R * R))
            if ceiling is None:
                ceiling = divergence_factor * max(current, 0.5 * float(np.sum(Y * Y)))
            if not np.isfinite(current) or current > ceiling:
                raise DivergenceError(
                    f"gradient descent diverged at step {k}: loss {current:.6g} exceeds "
                    f"{divergence_factor:g} x max(initial loss, ||Y||^2/2) = {ceiling:.6g} or is not finite; "
                    f"lr={lr:g} is too large",
                    k,
                    current,
                )
            curve.append(current)
            converged = loss_tol is not None and current <= loss_tol
            if k % record_every == 0 or k == steps or converged:
                recorded_steps.append(k)
                recorded_weights.append([Wj.copy() for Wj in weights])
            if converged or k == steps:
                break
            grads = layer_gradients_stack(weights, R @ X.T)
            weights = [Wj - lr * g for Wj, g in zip(weights, grads, strict=True)]

    steps_arr = np.array(recorded_steps)
    stacked = [
        np.stack([ws[j] for ws in recorded_weights]) for j in range(len(weights))
    ]
    W = end_to_end_stack(stacked)
    curve_arr = np.array(curve)
    losses = curve_arr[steps_arr]
    t = steps_arr * lr
    freeze(steps_arr, t, losses, W, curve_arr, *stacked)
    return GradientDescentResult(
        steps=steps_arr,
        t=t,
        losses=losses,
        weights=tuple(stacked),
        W=W,
        loss_curve=curve_arr,
        converged=converged,
    )


def integrate_stacked(
    rhs,
    y0,
    t_eval,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    max_steps: int = MAX_STEPS,
):
    """Integrate ``y' = rhs(y, rows)`` for a stack of states, each with its own steps.

    The public entry to the vectorised DOP853 integrator behind
    :func:`induced_flow` and :func:`gradient_flow`: every row of ``y0`` is one trajectory with its
    own step size and error control (scipy's DOP853 coefficients and
    controller), so batching changes no trajectory.

    Parameters
    ----------
    rhs : callable
        ``rhs(y, rows)`` maps states ``(b, n)`` to velocities ``(b, n)``;
        ``rows`` are the indices of those states in the stack (for right-hand
        sides with per-trajectory parameters).
    y0 : array_like, shape (B, n)
        Initial states at ``t = 0``.
    t_eval : array_like
        Output times, strictly increasing, ``>= 0``.
    rtol, atol : float
        Relative and absolute tolerances per trajectory.
    max_steps : int
        Steps allowed per trajectory before :class:`FlowIntegrationError`.

    Returns
    -------
    ndarray, shape (B, len(t_eval), n)
    """
    y0 = as_matrix(y0, "y0")
    t = check_times(t_eval)
    rtol, atol = check_tolerances(rtol, atol)
    max_steps = positive_int(max_steps, "max_steps")
    if not callable(rhs):
        raise ValueError(
            f"rhs must be callable as rhs(y, rows); got {type(rhs).__name__}"
        )
    return _dop853_stacked(rhs, y0, t, rtol, atol, max_steps)
