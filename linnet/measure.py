"""Measurements on trajectories: crossing times, distances, fitted rates, times to accuracy.

The one place for the quantities every chapter reads off a computed
trajectory, each with one convention:

* :func:`crossing_time`: when a sampled curve reaches a level (first time, or
  the time after which it stays there);
* :func:`polar_distance`, :func:`distance_to_Z1`, :func:`angle_to_Z1`,
  :func:`max_relative_error`: distances and angles, computed without cancellation;
* :func:`fit_decay_rate`: an exponential rate fitted on a window;
* :func:`polar_time_to_accuracy`: the measured time for the scalar-output
  flow (17) to reach a relative accuracy.

Accuracies are named by meaning: ``rel_tol`` bounds ``||W - Z_1||_F / s_Z``.
Closed forms of the paper live in :mod:`linnet.theory`, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Target, as_target
from .flows import DEFAULT_RTOL, scalar_polar_flow
from .validate import as_matrix_stack, check_times, positive_float, positive_int

__all__ = [
    "crossing_time",
    "polar_distance",
    "distance_to_Z1",
    "angle_to_Z1",
    "max_relative_error",
    "FittedRate",
    "fit_decay_rate",
    "polar_time_to_accuracy",
]


def crossing_time(t, y, level, *, stay: bool = False):
    """When a sampled curve ``y(t)`` reaches ``level`` from above: ``y <= level``.

    The one crossing time of linnet, with one convention:

    * ``stay=False``: the first time ``y <= level``; ``stay=True``: the time
      after which ``y <= level`` at every later sample (a time to accuracy).
    * Already at or below the level at ``t[0]`` (for ``stay``: at every
      sample): ``t[0]``.
    * Never reached (for ``stay``: above the level at the last sample):
      ``inf`` -- the crossing lies beyond the horizon ``t[-1]`` (a censored
      time, not an unknown one; compare with ``np.isfinite``).
    * In between, the crossing is located between the two bracketing samples
      by linear interpolation of ``log y`` in ``t`` when both samples and the
      level are positive (exact for an exponential, the shape of every
      converging curve of (17)), and of ``y`` otherwise (a signed margin).

    Parameters
    ----------
    t : array_like, shape (T,)
        Strictly increasing, finite times (``T >= 1``).
    y : array_like, shape (..., T)
        Samples of one curve or a stack of curves; finite.
    level : float or array_like
        Broadcasts against ``y[..., 0]``.
    stay : bool

    Returns
    -------
    float or ndarray of shape ``broadcast(y[..., 0], level)``
        A float when ``y`` is 1-D and ``level`` a number.

    Raises
    ------
    ValueError
        If ``t`` is not finite and strictly increasing, ``y`` has not ``T``
        samples on its last axis or is not finite, or ``level`` is not finite.
    """
    t = np.asarray(t, dtype=float)
    if (
        t.ndim != 1
        or t.size == 0
        or not np.all(np.isfinite(t))
        or np.any(np.diff(t) <= 0)
    ):
        raise ValueError(
            f"t must be a non-empty, finite, strictly increasing 1-D array; got shape {t.shape}"
        )
    y = np.asarray(y, dtype=float)
    if y.ndim == 0 or y.shape[-1] != t.size:
        raise ValueError(
            f"y must have its last axis of length len(t) = {t.size}; got shape {y.shape}"
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite; it has NaN or infinite entries")
    level_arr = np.asarray(level, dtype=float)
    if not np.all(np.isfinite(level_arr)):
        raise ValueError(f"level must be finite; got {level!r}")
    shape = np.broadcast_shapes(y.shape[:-1], level_arr.shape)
    yb = np.broadcast_to(y, shape + (t.size,))
    lev = np.broadcast_to(level_arr, shape)
    below = yb <= lev[..., None]
    T = t.size
    if stay:
        # first sample of the final run of samples at or below the level
        last_above = np.where(~below, np.arange(T), -1).max(axis=-1)
        j = last_above + 1
    else:
        j = np.where(below.any(axis=-1), np.argmax(below, axis=-1), T)
    reached = j < T
    jj = np.where(reached, j, 0)
    ii = np.maximum(jj - 1, 0)
    y0 = np.take_along_axis(yb, ii[..., None], axis=-1)[..., 0]
    y1 = np.take_along_axis(yb, jj[..., None], axis=-1)[..., 0]
    positive = (y0 > 0) & (y1 > 0) & (lev > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_frac = (np.log(y0) - np.log(lev)) / (np.log(y0) - np.log(y1))
        lin_frac = (y0 - lev) / (y0 - y1)
    frac = np.where(positive, log_frac, lin_frac)
    frac = np.clip(np.where(np.isfinite(frac), frac, 1.0), 0.0, 1.0)
    out = np.where(jj == 0, t[0], t[ii] + frac * (t[jj] - t[ii]))
    out = np.where(reached, out, np.inf)
    return float(out) if out.ndim == 0 else out


def polar_distance(r, theta, s_Z):
    """``||W - Z_1||_F`` from the polar coordinates of a scalar-output flow, without cancellation.

    With ``r = ||W||_F`` and ``theta`` the angle to ``Z_1``,
    ``||W - Z_1||^2 = r^2 + s_Z^2 - 2 r s_Z cos(theta) = (r - s_Z)^2 + 4 r s_Z sin^2(theta/2)``;
    the second form has no cancellation near ``Z_1`` (both terms are
    non-negative), so the distance is accurate to round-off relative to
    itself, not to ``s_Z``. Arrays broadcast.
    """
    r = np.asarray(r, dtype=float)
    theta = np.asarray(theta, dtype=float)
    s_Z = positive_float(s_Z, "s_Z")
    return np.sqrt((r - s_Z) ** 2 + 4.0 * r * s_Z * np.sin(theta / 2.0) ** 2)


def distance_to_Z1(W, target: Target) -> np.ndarray:
    """``||W - Z_1||_F`` (27) for a matrix (a float) or a stack ``(k, dy, dx)`` (shape ``(k,)``)."""
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    out = np.linalg.norm(stack - target.Z1, axis=(-2, -1))
    return float(out[0]) if single else out


def angle_to_Z1(W, target: Target):
    """Frobenius angle between ``W`` and ``Z_1`` (27), in ``[0, pi]``: a float for a matrix, ``(k,)`` for a stack.

    ``atan2(||W - <W, u v^T> u v^T||_F, <W, u v^T>)`` with ``u v^T = Z_1 / s_Z``:
    accurate to round-off relative to the angle near 0 and near ``pi`` too,
    where ``arccos`` of the cosine loses half the digits. For a scalar output
    (``d_y = 1``) it is the ``theta`` of :func:`linnet.flows.scalar_polar_flow`,
    whose ``r`` is ``||W||_F``.

    Raises
    ------
    ValueError
        If a matrix is zero (its angle is undefined), or as :func:`distance_to_Z1`.
    """
    target = as_target(target, unique_Z1=True)
    stack, single = as_matrix_stack(W, "W", target.Z.shape)
    norms = np.linalg.norm(stack, axis=(-2, -1))
    if np.any(norms == 0):
        k = int(np.argmax(norms == 0))
        raise ValueError(
            f"W must be nonzero: the angle of the zero matrix to Z_1 is undefined (matrix {k})"
        )
    direction = target.Z1 / target.s_Z
    along = np.einsum("kij,ij->k", stack, direction)
    across = np.linalg.norm(stack - along[:, None, None] * direction, axis=(-2, -1))
    out = np.arctan2(across, along)
    return float(out[0]) if single else out


def max_relative_error(W, W_ref, *, centre=None) -> float:
    """``max_k ||W[k] - W_ref[k]||_F / ||W_ref[k] - centre||_F`` over a trajectory.

    With ``centre=None`` the error is relative to ``||W_ref[k]||_F``; with
    ``centre = Z_1`` it is relative to the distance ``||W_ref[k] - Z_1||_F``,
    so it bounds the relative error of the plotted distance curve
    (``| ||W - Z_1|| - ||W_ref - Z_1|| | <= ||W - W_ref||``).

    Parameters
    ----------
    W, W_ref : array_like, shape (T, dy, dx)
        Two trajectories at the same times.
    centre : array_like, shape (dy, dx), optional

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ, an entry is not finite, or a denominator is 0.
    """
    A = np.asarray(W, dtype=float)
    B = np.asarray(W_ref, dtype=float)
    if A.ndim != 3 or A.shape != B.shape:
        raise ValueError(
            f"W and W_ref must be trajectories of the same shape (T, dy, dx); got {A.shape} and {B.shape}"
        )
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        raise ValueError("W and W_ref must be finite")
    ref = B if centre is None else B - np.asarray(centre, dtype=float)
    denom = np.linalg.norm(ref, axis=(1, 2))
    if not np.all(denom > 0):
        raise ValueError(
            "the reference norms (or distances to centre) must be > 0 at every time"
        )
    return float(np.max(np.linalg.norm(A - B, axis=(1, 2)) / denom))


@dataclass(frozen=True)
class FittedRate:
    """Least-squares exponential rate of a decaying signal.

    Attributes
    ----------
    rate : float
        ``-d log|y| / dt`` fitted over the window.
    t_start, t_stop : float
        First and last time used.
    points : int
        Number of samples used.
    residual : float
        Largest ``|log|y| - fit|`` over the window (a straight line in
        ``log|y|`` means a clean exponential).
    """

    rate: float
    t_start: float
    t_stop: float
    points: int
    residual: float


def fit_decay_rate(t, y, lo: float, hi: float, *, min_points: int = 5) -> FittedRate:
    """Exponential rate of ``|y(t)|`` fitted where it has decayed into ``[lo, hi]``.

    The window starts after the last sample with ``|y| > hi`` and ends before
    the first later sample with ``|y| < lo``; ``log|y|`` is fitted by a straight
    line in ``t`` (least squares) and the rate is minus its slope.

    Parameters
    ----------
    t : array_like, shape (T,)
        Increasing times.
    y : array_like, shape (T,)
    lo, hi : float
        ``0 < lo < hi``.
    min_points : int
        Fewest samples accepted in the window.

    Returns
    -------
    FittedRate

    Raises
    ------
    ValueError
        If the shapes differ, ``lo``/``hi`` are not ``0 < lo < hi``, or fewer
        than ``min_points`` samples fall into the window (integrate longer or
        sample more densely).
    """
    t = np.asarray(t, dtype=float)
    y = np.abs(np.asarray(y, dtype=float))
    if t.ndim != 1 or y.shape != t.shape:
        raise ValueError(
            f"t and y must be 1-D arrays of the same length; got shapes {t.shape} and {y.shape}"
        )
    lo = positive_float(lo, "lo")
    hi = positive_float(hi, "hi")
    if not lo < hi:
        raise ValueError(f"lo must be < hi; got lo={lo:g}, hi={hi:g}")
    min_points = positive_int(min_points, "min_points", minimum=2)
    above = np.flatnonzero(~(y <= hi))  # NaN counts as above
    start = above[-1] + 1 if above.size else 0
    below = np.flatnonzero(y[start:] < lo)
    stop = start + (below[0] if below.size else y.size - start)
    n = stop - start
    if n < min_points or not np.all(y[start:stop] > 0):
        raise ValueError(
            f"only {n} samples of |y| lie in the window [{lo:g}, {hi:g}] after it enters it "
            f"(need {min_points}): integrate longer or sample more densely"
        )
    tw, ly = t[start:stop], np.log(y[start:stop])
    slope, intercept = np.polyfit(tw, ly, 1)
    residual = float(np.max(np.abs(ly - (slope * tw + intercept))))
    return FittedRate(
        rate=float(-slope),
        t_start=float(tw[0]),
        t_stop=float(tw[-1]),
        points=int(n),
        residual=residual,
    )


def polar_time_to_accuracy(
    r0,
    theta0,
    s_Z: float,
    m: float,
    depth: int,
    t_eval,
    *,
    rel_tol,
    rtol: float = DEFAULT_RTOL,
    atol=None,
) -> np.ndarray:
    """Measured time after which ``||W(t) - Z_1||_F <= rel_tol * s_Z`` for the scalar-output flow (17).

    Integrates every start with :func:`linnet.flows.scalar_polar_flow` on the
    output times ``t_eval`` and reads :func:`crossing_time` (``stay=True``)
    of :func:`polar_distance` ``/ s_Z``. ``inf`` where the accuracy is not
    reached for good by ``t_eval[-1]``; ``t_eval[0]`` where it holds
    from the start.

    Parameters
    ----------
    r0, theta0 : array_like, same shape
        Initial norms ``> 0`` and angles to ``Z`` (radians).
    s_Z, m : float
        ``||Z||_F > 0`` and the number of examples (the rate in (17)).
    depth : int
        ``N >= 1``.
    t_eval : array_like
        Output times (``>= 0``, strictly increasing); the crossing is
        interpolated between them (exact for an exponential).
    rel_tol : float or array_like
        Accuracies ``> 0`` relative to ``s_Z``; an array of levels ``(L,)``
        gives times of shape ``r0.shape + (L,)``.
    rtol, atol : float
        Tolerances of the integration (``atol`` defaults to
        ``1e-3 rtol s_Z``, far below ``rel_tol s_Z``).

    Returns
    -------
    ndarray
        Shape ``r0.shape`` (a number ``rel_tol``) or ``r0.shape + (L,)``.
    """
    s_Z = positive_float(s_Z, "s_Z")
    tol = np.asarray(rel_tol, dtype=float)
    if tol.ndim > 1 or not (np.all(np.isfinite(tol)) and np.all(tol > 0)):
        raise ValueError(
            f"rel_tol must be a number > 0 or a 1-D array of them; got {rel_tol!r}"
        )
    t = check_times(t_eval)
    atol = 1e-3 * positive_float(rtol, "rtol") * s_Z if atol is None else atol
    flow = scalar_polar_flow(r0, theta0, s_Z, m, depth, t, rtol=rtol, atol=atol)
    d = polar_distance(flow.r, flow.theta, s_Z) / s_Z
    if tol.ndim == 1:
        return crossing_time(t, d[..., None, :], tol, stay=True)
    return crossing_time(t, d, float(tol), stay=True)
