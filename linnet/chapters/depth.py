"""Depth and convergence rates beyond the paper: measurements on trajectories of (17).

Eftekhari (2020) ends Section 4 with an open question: how fast does gradient
flow converge *near* ``Z_1``, and how does the depth enter? Chapter 06 answers
it for networks with a one-neuron layer (Assumption 3.6). The closed forms the
chapter compares with are in :mod:`linnet.theory`: the nearby rates
(:func:`~linnet.theory.nearby_modes`, :func:`~linnet.theory.slowest_nearby_rate`),
the far-away law (:func:`~linnet.theory.faraway_halving_time`,
:func:`~linnet.theory.far_phase_time`), the scale law
(:func:`~linnet.theory.time_scale_factor`) and the two-phase estimate
(:func:`~linnet.theory.two_phase_time_estimate`). This module measures rates
and times on integrated trajectories:

* :func:`numerical_linearisation`: the Jacobian of (17) at ``Z_1`` on the
  rank-one tangent space, by central differences (checks the closed forms).
* :func:`mode_start`: starts along one eigen-direction (generic rank-one
  starts: :func:`linnet.init.rank_one_start`); :func:`radial_deviation`,
  :func:`mode_coordinates` (and :func:`linnet.measure.angle_to_Z1`): components
  of ``W - Z_1``.
* :func:`measure_nearby_rates`: the exponential rates of the distance, angle,
  radius and of each eigen-mode of the linearisation, fitted on trajectories
  (:func:`linnet.measure.fit_decay_rate`).
* :func:`measure_faraway_times`: the far-away phase, where ``||W||`` obeys
  ``d(||W||^{-kappa})/dt ~ kappa m N``.
* :func:`accuracy_times`, :func:`fastest_depth`: which depth reaches an
  accuracy first.
* :func:`bound_rate_ratio`: the exponent of this book's two-phase bound (not the paper's (38b))
  against the exact nearby rate.

Scale invariance (used and checked by the chapter)
--------------------------------------------------
``A_W`` (16) is homogeneous of degree ``kappa = 2 - 2/N`` in ``W``. Hence if
``W(t)`` solves (17) for the target ``Z``, then ``lam W(lam^kappa t)`` solves it
for ``lam Z``: rescaling the data by ``lam`` multiplies every time by
``lam^{-kappa}`` (:func:`linnet.theory.time_scale_factor`), and this factor
depends on the depth.

Building blocks come from the core: ``kappa`` and ``m N s^{2-2/N}``
(:func:`linnet.theory.kappa`, :func:`linnet.theory.radial_rate`), crossing
times, the polar distance, rate fits and times to accuracy
(:mod:`linnet.measure`), the flows (:mod:`linnet.flows`). Functions of ``W``
take a matrix ``(dy, dx)`` or a stack ``(k, dy, dx)``, as in the core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import theory
from ..data import Target, as_target
from ..flows import (
    FlowIntegrationError,
    induced_flow,
    induced_velocity,
    scalar_polar_flow,
)
from ..measure import (
    angle_to_Z1,
    crossing_time,
    fit_decay_rate,
    polar_distance,
    polar_time_to_accuracy,
)
from ..theory import far_phase_time, faraway_halving_time, slowest_nearby_rate
from ..validate import (
    as_matrix,
    as_matrix_stack,
    freeze_fields,
    positive_float,
    positive_int,
    start_angle,
)

__all__ = [
    "NumericalLinearisation",
    "numerical_linearisation",
    "RateMeasurement",
    "FarawayTimes",
    "AccuracyTimes",
    "BoundRateRatio",
    "radial_deviation",
    "mode_coordinates",
    "mode_start",
    "measure_nearby_rates",
    "measure_faraway_times",
    "accuracy_times",
    "fastest_depth",
    "bound_rate_ratio",
]

#: Default window of magnitudes (relative to ``s_Z``) over which rates are
#: fitted. Below ``1e-5`` the quadratic terms of (17) change the instantaneous
#: rate by less than ``~1e-5`` relative; above ``1e-8`` the integration error
#: at ``rtol = 1e-13`` (absolute ``~1e-13 s_Z``) is below ``1e-5`` of the signal.
RATE_WINDOW = (1e-8, 1e-5)
#: Tolerance of the rate measurements: ``1e-13`` relative per step (the
#: solver's floor is ``100 eps ~ 2e-14``).
RATE_RTOL = 1e-13
#: Tolerance of the far-away and accuracy sweeps (:func:`measure_faraway_times`,
#: :func:`accuracy_times`): one decade below :data:`linnet.flows.DEFAULT_RTOL`.
#: Chapter 06 compares times integrated at two data scales to ``1e-8``
#: relative (the scale law, :func:`linnet.theory.time_scale_factor`) and fits
#: power laws to halving times; the times must carry an integration error far
#: below both. The value the sweeps were written with; only named here.
SWEEP_RTOL = 1e-12


def _rank_one_truncation(M: np.ndarray) -> np.ndarray:
    """The best rank-one approximation of a matrix (truncated SVD)."""
    U, s, Vt = np.linalg.svd(M)
    return s[0] * np.outer(U[:, 0], Vt[0])


def _out(values: np.ndarray, single: bool):
    return float(values[0]) if single else values


# --------------------------------------------------------------------------
# components of W - Z_1
# --------------------------------------------------------------------------


def radial_deviation(W, target: Target) -> np.ndarray:
    """``||W||_F - s_Z`` for a matrix (a float) or a stack ``(k, dy, dx)``."""
    target = as_target(target, unique_Z1=True)
    W, single = as_matrix_stack(W, "W", target.Z.shape)
    return _out(np.linalg.norm(W, axis=(-2, -1)) - target.s_Z, single)


def mode_coordinates(W, target: Target, directions) -> np.ndarray:
    """Coordinates ``<W - Z_1, E_k>`` of ``W - Z_1`` along the directions ``E_k``.

    Parameters
    ----------
    W : array_like, shape (dy, dx) or (k, dy, dx)
    target : Target
    directions : array_like, shape (n, dy, dx)
        Typically ``theory.nearby_modes(target, N).directions``.

    Returns
    -------
    ndarray, shape (n,) for one matrix, (k, n) for a stack
    """
    target = as_target(target, unique_Z1=True)
    W, single = as_matrix_stack(W, "W", target.Z.shape)
    E, one = as_matrix_stack(directions, "directions", target.Z.shape)
    if one:
        raise ValueError(
            f"directions must have shape (n, dy, dx); got one matrix of shape {E.shape[1:]}"
        )
    out = np.einsum("kij,nij->kn", W - target.Z1, E)
    return out[0] if single else out


def mode_start(target: Target, direction, amplitude: float) -> np.ndarray:
    """A rank-one start near ``Z_1`` along a tangent direction.

    The best rank-one approximation (truncated SVD) of
    ``Z_1 + amplitude * s_Z * direction``. For the eigen-directions of
    :func:`linnet.theory.nearby_modes` this start lies in an invariant set of
    (17) that contains only that mode (a radial start stays on the ray of
    ``Z_1``; a symmetric or antisymmetric rotation keeps ``u`` and ``v``
    rotating by equal or opposite angles in the plane of the singular pair),
    so the mode's coordinate decays at its own rate up to ``O(amplitude)``.

    Parameters
    ----------
    target : Target
    direction : array_like, shape (dy, dx)
        Unit (Frobenius) tangent direction at ``Z_1``.
    amplitude : float
        ``> 0``, relative to ``s_Z``.

    Returns
    -------
    ndarray, shape (dy, dx)
    """
    target = as_target(target, unique_Z1=True)
    D = as_matrix(direction, "direction", shape=target.Z.shape)
    a = positive_float(amplitude, "amplitude")
    return _rank_one_truncation(target.Z1 + a * target.s_Z * D)


def _guard_norms(norms: np.ndarray, start_norms: np.ndarray, s_Z: float) -> None:
    """Raise unless ``||W(t)|| <= max(||W0||, s_Z)`` (notes A.3) holds up to ``1e-6`` relative.

    The bound holds for every trajectory of (17) from a rank-one start; a
    violation (or a NaN) means the integration went wrong.
    """
    bound = np.maximum(start_norms, s_Z) * (1 + 1e-6)
    ok = np.isfinite(norms) & (
        norms <= bound.reshape(bound.shape + (1,) * (norms.ndim - bound.ndim))
    )
    if not np.all(ok):
        raise FlowIntegrationError(
            "an integrated trajectory left the bound ||W(t)|| <= max(||W0||, s_Z) or is not finite: the "
            "integration failed (try another rtol or a shorter horizon)"
        )


@dataclass(frozen=True)
class NumericalLinearisation:
    """Finite-difference Jacobian of (17) at ``Z_1``, restricted to the rank-one tangent space.

    Attributes
    ----------
    basis : ndarray, shape (n, dy, dx)
        Orthonormal basis of the tangent space at ``Z_1`` (``n = dy + dx - 1``):
        ``u_Z v_Z^T``, ``u' v_Z^T`` (``u' _|_ u_Z``), ``u_Z v'^T`` (``v' _|_ v_Z``).
    jacobian : ndarray, shape (n, n)
        ``J[j, k] = <basis[j], DF(Z_1)[basis[k]]>`` with ``F(W) = -m A_W(W - Z)``.
    rates : ndarray, shape (n,)
        ``-eigenvalues(J)`` (real parts), sorted increasingly.
    normal_residual : float
        ``max_k ||DF[basis[k]] - projection|| / ||DF[basis[k]]||``: the part of
        the velocity leaving the tangent space (0 for an invariant manifold).
    asymmetry : float
        ``||J - J^T|| / ||J||``.
    """

    basis: np.ndarray
    jacobian: np.ndarray
    rates: np.ndarray
    normal_residual: float
    asymmetry: float

    def __post_init__(self):
        freeze_fields(self, ("basis", "jacobian", "rates"))


def numerical_linearisation(
    target: Target, depth: int, step: float = 1e-6
) -> NumericalLinearisation:
    """Linearise the induced flow (17) at ``Z_1`` numerically (central differences).

    For each basis direction ``E`` of the tangent space, ``DF(Z_1)[E]`` is
    ``(F(R(h E)) - F(R(-h E))) / (2 h)`` with ``F(W) = -m A_W(W - Z)``
    (:func:`linnet.flows.induced_velocity`, rank-one closed form at rank-one ``W``),
    ``h = step * s_Z`` and ``R`` the rank-one truncation (a retraction onto
    the rank-one matrices, so ``F`` is only evaluated where the flow lives).
    Truncation error ``O(step^2)``, round-off ``O(1e-16 / step)`` relative.
    Independent of :func:`linnet.theory.nearby_modes`, which it checks.

    Parameters
    ----------
    target : Target
    depth : int
        ``N >= 2``, or ``N = 1`` for a scalar output or input.
    step : float
        Relative finite-difference step, in ``(0, 1e-2]``.

    Returns
    -------
    NumericalLinearisation
    """
    target = as_target(target, unique_Z1=True)
    N = positive_int(depth, "depth")
    if N == 1 and min(target.Z.shape) > 1:
        raise ValueError(
            "depth 1 keeps rank one only for a scalar output or input (dy = 1 or dx = 1)"
        )
    step = positive_float(step, "step")
    if step > 1e-2:
        raise ValueError(
            f"step must be <= 1e-2 (a finite-difference step relative to s_Z); got {step!r}"
        )
    dy, dx = target.Z.shape
    u, v = target.u, target.v
    Uc = np.linalg.svd(u[:, None], full_matrices=True)[0][:, 1:]
    Vc = np.linalg.svd(v[:, None], full_matrices=True)[0][:, 1:]
    basis = np.array(
        [np.outer(u, v)]
        + [np.outer(Uc[:, i], v) for i in range(dy - 1)]
        + [np.outer(u, Vc[:, j]) for j in range(dx - 1)]
    )
    Z1 = target.Z1
    h = step * target.s_Z

    def F(W):
        return induced_velocity(W, target, N)

    n = basis.shape[0]
    J = np.empty((n, n))
    normal = 0.0
    for k, E in enumerate(basis):
        dF = (
            F(_rank_one_truncation(Z1 + h * E)) - F(_rank_one_truncation(Z1 - h * E))
        ) / (2 * h)
        J[:, k] = np.einsum("kij,ij->k", basis, dF)
        tangent = np.einsum("k,kij->ij", J[:, k], basis)
        normal = max(normal, float(np.linalg.norm(dF - tangent) / np.linalg.norm(dF)))
    rates = np.sort(-np.linalg.eigvals(J).real)
    asym = float(np.linalg.norm(J - J.T) / np.linalg.norm(J))
    return NumericalLinearisation(
        basis=basis, jacobian=J, rates=rates, normal_residual=normal, asymmetry=asym
    )


# --------------------------------------------------------------------------
# nearby rates measured on trajectories
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RateMeasurement:
    """Predicted and measured nearby rates of one target and depth.

    Attributes
    ----------
    depth : int
    s_Z, gamma : float
    names : tuple of str
        ``"distance"``, ``"angle"`` and ``"radius"`` of the generic start
        (``||W - Z_1||``, the angle to ``Z_1``, ``| ||W|| - s_Z |``; the radius
        is left out near the resonance, see :func:`measure_nearby_rates`), then
        ``"mode: <name>"`` for one start along each distinct eigen-direction of
        :func:`linnet.theory.nearby_modes` (its coordinate).
    predicted : ndarray
        ``slowest`` for the distance and the angle; ``min(radial, 2 slowest)``
        for the radius of the generic start (the radial deviation is driven by
        the square of the angle, see :func:`measure_nearby_rates`); the mode's
        own rate for a mode start.
    measured : ndarray
        Fitted rates (:func:`linnet.measure.fit_decay_rate`).
    points : ndarray of int
        Samples in each fitting window.
    """

    depth: int
    s_Z: float
    gamma: float
    names: tuple
    predicted: np.ndarray
    measured: np.ndarray
    points: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "names", tuple(self.names))
        freeze_fields(self, ("predicted", "measured", "points"))

    @property
    def relative_error(self) -> np.ndarray:
        """``|measured / predicted - 1|`` per component."""
        return np.abs(self.measured / self.predicted - 1.0)


def measure_nearby_rates(
    W0,
    target: Target,
    depth: int,
    *,
    window: tuple[float, float] = RATE_WINDOW,
    amplitude: float = 1e-3,
    rtol: float = RATE_RTOL,
    samples: int = 400,
) -> RateMeasurement:
    """Fit the asymptotic rates of (17) near ``Z_1`` on integrated trajectories.

    One batched integration (:func:`linnet.flows.induced_flow`) runs the
    generic start ``W0`` and, for each distinct eigen-direction of
    :func:`linnet.theory.nearby_modes` (the radial one, each symmetric and
    antisymmetric rotation, one left and one right rotation when present), a
    :func:`mode_start` of the given ``amplitude``. Rates are fitted by
    :func:`linnet.measure.fit_decay_rate` where each signal lies in ``window * s_Z``.

    The radial deviation of a *generic* start is not governed by the radial
    eigenvalue once that exceeds twice the slowest rate: ``||W|| - s_Z``
    contains a term quadratic in the angle (``s' = -m N s^{2-2/N}(s - rho)``
    with ``s_Z - rho = O(angle^2)``), which decays at twice the slowest rate.
    Its prediction is therefore ``min(radial, 2 slowest)``; the component is
    left out when the two are within 25 % of each other (always for ``N = 2``
    with ``gamma = 0``, where the resonance adds a factor ``t``). The radial
    eigenvalue itself is measured on the radial mode start.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
        Rank-one generic start (e.g. the Figure 1 start).
    target : Target
        ``s_Z > s_Z2``.
    depth : int
        As :func:`linnet.theory.nearby_modes`.
    window : (float, float)
        ``(lo, hi)`` relative to ``s_Z``.
    amplitude : float
        Size of the mode starts relative to ``s_Z``; must exceed ``window[1]``.
    rtol : float
        Solver tolerance (``atol`` is ``1e-3 rtol s_Z``).
    samples : int
        Output times, logarithmically spaced from ``1e-4`` of the horizon: an
        exponential at rate ``k`` from a mode start crosses the window during
        ``t in [log(amplitude/hi)/k, log(amplitude/lo)/k]``, a fixed interval of
        ``log t``, so every mode gets the same number of samples whatever its
        rate.

    Returns
    -------
    RateMeasurement

    Raises
    ------
    ValueError
        On invalid inputs, or if a window is never reached after extending the
        horizon three times.
    FlowIntegrationError
        If a trajectory leaves the bound ``||W(t)|| <= max(||W0||, s_Z)``
        (notes A.3) or is not finite: the integration failed.
    """
    target = as_target(target, unique_Z1=True)
    modes = theory.nearby_modes(target, depth)
    N = modes.depth
    W0 = as_matrix(W0, "W0", shape=target.Z.shape)
    lo, hi = (positive_float(w, "window") for w in window)
    if not lo < hi:
        raise ValueError(f"window must be (lo, hi) with lo < hi; got {window!r}")
    amplitude = positive_float(amplitude, "amplitude")
    if not amplitude > hi:
        raise ValueError(
            f"amplitude must exceed window[1] = {hi:g} so the mode starts decay into the window"
        )
    samples = positive_int(samples, "samples", minimum=10)
    s_Z, m = target.s_Z, float(target.m)

    chosen, seen = [], set()
    for k, kind in enumerate(modes.kinds):
        key = kind if kind in ("radial", "left", "right") else modes.names[k]
        if key not in seen:
            seen.add(key)
            chosen.append(k)
    starts = np.stack(
        [W0] + [mode_start(target, modes.directions[k], amplitude) for k in chosen]
    )

    mu = modes.slowest
    k_r = modes.rates[0]
    radius_rate = min(k_r, 2 * mu)
    # Near k_r = 2 mu the two exponentials of the radius have close rates and
    # large opposite amplitudes (~ 1/(k_r - 2 mu)): no clean single rate.
    resonant = 0.8 <= k_r / (2 * mu) <= 1.25
    d0 = float(np.linalg.norm(W0 - target.Z1)) / s_Z
    horizon = (
        far_phase_time(float(np.linalg.norm(W0)), s_Z, m, N)
        + 1.15 * math.log(max(d0, 1.0) / lo) / mu
    )
    atol = 1e-3 * rtol * s_Z
    # Every trajectory of (17) from a rank-one start keeps ||W(t)|| <= max(||W0||, s_Z)
    # (notes A.3): the guard turns a trajectory that breaks it into an error.
    for _ in range(4):
        t = _log_grid(horizon, 1e-4 * horizon, samples)
        W = induced_flow(starts, target, N, t, rtol=rtol, atol=atol).W
        _guard_norms(
            np.linalg.norm(W, axis=(-2, -1)), np.linalg.norm(starts, axis=(-2, -1)), s_Z
        )
        signals = [
            np.linalg.norm(W[0] - target.Z1, axis=(-2, -1)) / s_Z,
            angle_to_Z1(W[0], target),
        ]
        if not resonant:
            signals.append(radial_deviation(W[0], target) / s_Z)
        coords = mode_coordinates(
            W[1:].reshape((-1,) + target.Z.shape), target, modes.directions[chosen]
        )
        coords = (
            coords.reshape(W.shape[0] - 1, t.size, len(chosen)) / s_Z
        )  # (B-1, T, n_chosen)
        signals += [coords[j, :, j] for j in range(len(chosen))]
        if all(np.abs(sig[-1]) < lo for sig in signals):
            break
        horizon *= 2
    else:
        raise ValueError(
            f"the rate window [{lo:g}, {hi:g}] s_Z was not reached by t = {horizon / 2:g}"
        )
    names = (
        ["distance", "angle"]
        + ([] if resonant else ["radius"])
        + [f"mode: {modes.names[k]}" for k in chosen]
    )
    predicted = (
        [mu, mu]
        + ([] if resonant else [radius_rate])
        + [modes.rates[k] for k in chosen]
    )
    fits = [fit_decay_rate(t, sig, lo, hi) for sig in signals]
    out = RateMeasurement(
        depth=N,
        s_Z=s_Z,
        gamma=target.gamma,
        names=tuple(names),
        predicted=np.array(predicted),
        measured=np.array([f.rate for f in fits]),
        points=np.array([f.points for f in fits]),
    )
    return out


# --------------------------------------------------------------------------
# the far-away phase
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FarawayTimes:
    """Far-away phase from starts at a fixed angle to ``Z_1`` (scalar output).

    Attributes
    ----------
    depths : ndarray of int, shape (D,)
    norm_ratios : ndarray, shape (R,)
        ``||W0|| / s_Z``.
    halving : ndarray, shape (D, R)
        Time for ``||W(t) - Z_1||`` to fall to half its initial value.
    tau : ndarray, shape (D, R)
        First time ``||W(t)||_F <= sqrt(6) s_Z`` (the ``tau`` of Theorem 4.4;
        0 when the start is already inside).
    """

    depths: np.ndarray
    norm_ratios: np.ndarray
    halving: np.ndarray
    tau: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("depths", "norm_ratios", "halving", "tau"))


def _depth_list(depths) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(depths))
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu" or np.any(arr < 1):
        raise ValueError(
            f"depths must be a non-empty 1-D list of integers >= 1; got {depths!r}"
        )
    return arr.astype(int)


def _ratio_list(ratios, name="norm_ratios") -> np.ndarray:
    arr = np.atleast_1d(
        np.array(ratios, dtype=float)
    )  # a copy: results are made read-only
    if (
        arr.ndim != 1
        or arr.size == 0
        or not (np.all(np.isfinite(arr)) and np.all(arr > 0))
    ):
        raise ValueError(f"{name} must be a non-empty 1-D array of positive numbers")
    return arr


def _scalar_sweep(s_Z, m, depths, norm_ratios, angle, samples):
    """Validated ``s_Z, m, depths, norm_ratios, angle, samples`` of a sweep of scalar-output starts."""
    return (
        positive_float(s_Z, "s_Z"),
        positive_float(m, "m"),
        _depth_list(depths),
        _ratio_list(norm_ratios),
        start_angle(angle),
        positive_int(samples, "samples", minimum=10),
    )


def _log_grid(horizon: float, first: float, samples: int) -> np.ndarray:
    return np.concatenate([[0.0], np.geomspace(first, horizon, samples - 1)])


def measure_faraway_times(
    s_Z: float,
    m: float,
    depths,
    norm_ratios,
    angle: float,
    *,
    rtol: float = SWEEP_RTOL,
    samples: int = 4000,
) -> FarawayTimes:
    """Halving times of the distance to ``Z_1`` and the time to reach ``tau``, measured.

    For each depth, one batched :func:`linnet.flows.scalar_polar_flow` over the
    starts ``||W0|| = ratio * s_Z`` at ``angle`` to ``Z_1``; times are read off a
    logarithmic output grid with :func:`linnet.measure.crossing_time`
    (``stay=True``; log-linear interpolation between samples ``0.4 %`` apart in
    time) of :func:`linnet.measure.polar_distance` and of the norm.

    Parameters
    ----------
    s_Z, m : float
        ``> 0``.
    depths : sequence of int
    norm_ratios : array_like
        Initial norm ratios ``||W0|| / s_Z > 0``.
    angle : float
        Start angle to ``Z_1`` in ``[0, pi/2)``.
    rtol : float
    samples : int

    Returns
    -------
    FarawayTimes
    """
    s_Z, m, depths, ratios, a, samples = _scalar_sweep(
        s_Z, m, depths, norm_ratios, angle, samples
    )
    r0 = ratios * s_Z
    d0 = polar_distance(r0, a, s_Z)
    sigma = theory.PHASE_ONE_FACTOR * s_Z
    halving = np.empty((depths.size, ratios.size))
    tau = np.empty_like(halving)
    for i, N in enumerate(depths):
        first = 1e-3 * float(np.min(faraway_halving_time(np.maximum(r0, s_Z), m, N)))
        horizon = 10.0 * far_phase_time(
            float(r0.max()), s_Z, m, int(N)
        ) + 10.0 / slowest_nearby_rate(s_Z, m, int(N))
        for _ in range(4):
            t = _log_grid(horizon, first, samples)
            res = scalar_polar_flow(
                r0,
                np.full_like(r0, a),
                s_Z,
                m,
                int(N),
                t,
                rtol=rtol,
                atol=1e-3 * rtol * s_Z,
            )
            _guard_norms(res.r, r0, s_Z)
            h = crossing_time(
                t, polar_distance(res.r, res.theta, s_Z), d0 / 2, stay=True
            )
            # The norm decreases monotonically while above s_Z >= rho, so the last
            # time above sigma is the first time at or below it.
            ta = crossing_time(t, res.r, sigma, stay=True)
            if np.all(np.isfinite(h)) and np.all(np.isfinite(ta)):
                break
            horizon *= 4
        else:
            raise ValueError(
                "the far-away phase did not end within the horizon; check s_Z, m and norm_ratios"
            )
        halving[i], tau[i] = h, ta
    return FarawayTimes(depths=depths, norm_ratios=ratios, halving=halving, tau=tau)


# --------------------------------------------------------------------------
# which depth reaches an accuracy first
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class AccuracyTimes:
    """Times for ``||W(t) - Z_1||_F`` to reach ``rel_tol s_Z`` (scalar output, fixed start angle).

    Attributes
    ----------
    s_Z, m, angle : float
    depths : ndarray of int, shape (D,)
    norm_ratios : ndarray, shape (R,)
        ``||W0|| / s_Z``.
    rel_tol : ndarray, shape (E,)
        Accuracies relative to ``s_Z``: ``||W - Z_1||_F / s_Z <= rel_tol``.
    times : ndarray, shape (D, R, E)
        Time after which ``||W(t) - Z_1|| <= rel_tol s_Z``; 0 where the start
        already satisfies it.
    """

    s_Z: float
    m: float
    angle: float
    depths: np.ndarray
    norm_ratios: np.ndarray
    rel_tol: np.ndarray
    times: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("depths", "norm_ratios", "rel_tol", "times"))


def accuracy_times(
    s_Z: float,
    m: float,
    depths,
    norm_ratios,
    angle: float,
    rel_tol,
    *,
    rtol: float = SWEEP_RTOL,
    samples: int = 4000,
) -> AccuracyTimes:
    """Measure when each depth reaches each accuracy, batched over the initial norms.

    For each depth one :func:`linnet.measure.polar_time_to_accuracy` call
    integrates every start ``||W0|| = ratio * s_Z`` at ``angle`` to ``Z_1``
    together and reads the times off a logarithmic output grid (doubled until
    every accuracy is reached).

    Parameters
    ----------
    s_Z, m : float
    depths : sequence of int
    norm_ratios : array_like
        ``||W0|| / s_Z``.
    angle : float
        In ``[0, pi/2)``.
    rel_tol : array_like
        Accuracies ``||W - Z_1||_F / s_Z <= rel_tol``, each ``> 0``; the
        smallest must be ``>= 1e-8`` (below, the integration error at ``rtol``
        matters).
    rtol : float
    samples : int

    Returns
    -------
    AccuracyTimes
    """
    s_Z, m, depths, ratios, a, samples = _scalar_sweep(
        s_Z, m, depths, norm_ratios, angle, samples
    )
    tols = _ratio_list(rel_tol, "rel_tol")
    if tols.min() < 1e-8:
        raise ValueError(
            f"rel_tol must be >= 1e-8 (integration error); got min(rel_tol) = {tols.min():g}"
        )
    r0 = ratios * s_Z
    times = np.empty((depths.size, ratios.size, tols.size))
    for i, N in enumerate(depths):
        mu = slowest_nearby_rate(s_Z, m, int(N))
        first = 1e-3 * float(np.min(faraway_halving_time(np.maximum(r0, s_Z), m, N)))
        horizon = (
            2.0 * far_phase_time(float(r0.max()), s_Z, m, int(N))
            + 1.5 * math.log(max(float(ratios.max()), 1.0) / tols.min()) / mu
        )
        for _ in range(4):
            t = _log_grid(horizon, first, samples)
            T = polar_time_to_accuracy(
                r0, np.full_like(r0, a), s_Z, m, int(N), t, rel_tol=tols, rtol=rtol
            )
            if np.all(np.isfinite(T)):
                break
            horizon *= 2
        else:
            raise ValueError("the smallest rel_tol was not reached within the horizon")
        times[i] = T
    return AccuracyTimes(
        s_Z=s_Z,
        m=m,
        angle=a,
        depths=depths,
        norm_ratios=ratios,
        rel_tol=tols,
        times=times,
    )


def fastest_depth(times, depths) -> np.ndarray:
    """Depth with the smallest time along axis 0 of ``times`` (``0`` where every time is 0: already there).

    Parameters
    ----------
    times : array_like, shape (D, ...)
    depths : sequence of int, length D

    Returns
    -------
    ndarray of int, shape ``times.shape[1:]``
    """
    T = np.asarray(times, dtype=float)
    depths = _depth_list(depths)
    if T.shape[0] != depths.size:
        raise ValueError(
            f"times must have len(depths) = {depths.size} rows; got {T.shape[0]}"
        )
    if np.any(np.isnan(T)):
        raise ValueError("times must not contain NaN")
    best = depths[np.argmin(T, axis=0)]
    return np.where(np.all(T == 0, axis=0), 0, best)


# --------------------------------------------------------------------------
# Theorem 4.4 (our reconstruction of (38b)) against the exact rate
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundRateRatio:
    """Exponents of our reconstruction of (38b) against the exact nearby rates.

    All rates are for ``||W(t) - Z_1||_F^2`` (twice the rates of the distance).

    Attributes
    ----------
    depth : int
    alpha, beta : float
        The tightest admissible parameters of ``N_alpha,beta(Z_1)`` (36) at the
        start: ``alpha = p(W0)``, ``beta = min(||W0||/s_Z, (1+gamma) alpha - gamma)``
        (each shrunk by ``1e-12`` relative so that round-off cannot violate (37)).
    bound_rate : float
        ``RankOneBound.asymptotic_rate = min(2 k_lo, lambda)``.
    true_rate : float
        ``2 slowest`` (:func:`linnet.theory.slowest_nearby_rate`).
    ratio : float
        ``bound_rate / true_rate``; at most 1 for a valid bound.
    cosine_ratio : float
        ``rate_cosine / true_rate`` (``lambda`` against the rate ``2 slowest`` of ``1 - p``).
    norm_ratio : float
        ``rate_norm / radial`` (``k_lo`` against the radial eigenvalue).
    """

    depth: int
    alpha: float
    beta: float
    bound_rate: float
    true_rate: float
    ratio: float
    cosine_ratio: float
    norm_ratio: float


def bound_rate_ratio(W0, target: Target, depth: int) -> BoundRateRatio:
    """How far the exponent of (38b) (our reconstruction) is from the exact nearby rate.

    Evaluates :func:`linnet.theory.theorem_4_4_bound` at the tightest
    admissible ``alpha``, ``beta`` for ``W0`` (see :class:`BoundRateRatio`) and
    compares its exponents with :func:`linnet.theory.nearby_modes`.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
        Rank-one start with ``p(W0) > gamma / (1 + gamma)``.
    target : Target
    depth : int
        ``N >= 2`` (Theorem 4.4 is stated for deep networks).

    Returns
    -------
    BoundRateRatio
    """
    target = as_target(target, unique_Z1=True)
    N = positive_int(depth, "depth", minimum=2)
    W0 = as_matrix(W0, "W0", shape=target.Z.shape)
    shrink = 1.0 - 1e-12
    alpha = float(theory.cosine_with_Z1(W0, target)) * shrink
    p_min = theory.min_alpha(target)
    if not alpha > p_min:
        raise ValueError(
            f"W0 must have cosine p(W0) > gamma/(1+gamma) = {p_min:.6g} with Z_1 for (37) to hold for "
            f"some beta > 0; got {alpha:.6g}"
        )
    beta = (
        min(float(np.linalg.norm(W0)) / target.s_Z, theory.max_beta(target, alpha))
        * shrink
    )
    b = theory.theorem_4_4_bound(W0, target, N, alpha, beta, 0.0)
    modes = theory.nearby_modes(target, N)
    true = 2.0 * modes.slowest
    return BoundRateRatio(
        depth=N,
        alpha=alpha,
        beta=beta,
        bound_rate=b.asymptotic_rate,
        true_rate=true,
        ratio=b.asymptotic_rate / true,
        cosine_ratio=b.rate_cosine / true,
        norm_ratio=b.rate_norm / float(modes.rates[0]),
    )
