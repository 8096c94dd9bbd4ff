"""Initialisations of deep linear networks.

* :func:`balanced_init`: Arora et al. (ICLR 2019), Procedure 1, generalised to
  any hidden widths at least ``rank(W0)``: a balanced network (14) whose
  end-to-end matrix is exactly a prescribed ``W0``. From such a start, gradient
  flow (13) on the weights and the induced flow (17) on ``W`` coincide.
* :func:`gaussian_init`: layer-wise i.i.d. Gaussian weights (unbalanced).
* :func:`rotate`: a matrix at a prescribed angle from a given one, as in the
  paper's Figure 1 (``W0`` is ``Z_1`` rotated by 30 degrees).
"""

from __future__ import annotations

import numpy as np

from .data import as_target, haar_orthogonal
from .validate import as_matrix, positive_float, positive_int

__all__ = [
    "balanced_init",
    "gaussian_init",
    "rotate",
    "rank_one_start",
    "unit_orthogonal",
    "check_widths",
    "numerical_rank",
]


def check_widths(widths, name: str = "widths") -> list[int]:
    """Validate ``[d_0, ..., d_N]``: at least two positive integers (depth ``N >= 1``)."""
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__"):
        raise ValueError(
            f"{name} must be a list [d_0, ..., d_N] of positive integers; got {widths!r}"
        )
    if len(widths) < 2:
        raise ValueError(
            f"{name} must have at least 2 entries [dx, ..., dy] (depth N >= 1); got {list(widths)!r}"
        )
    return [positive_int(d, f"{name}[{j}]") for j, d in enumerate(widths)]


def numerical_rank(W: np.ndarray, singular_values: np.ndarray | None = None) -> int:
    """Rank of ``W``: singular values above ``max(shape) * eps * s_max``.

    This is numpy's ``matrix_rank`` threshold: the round-off singular values of
    a rank-deficient matrix are a few ulps of ``s_max`` per dimension.
    """
    s = (
        np.linalg.svd(W, compute_uv=False)
        if singular_values is None
        else singular_values
    )
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.count_nonzero(s > max(W.shape) * np.finfo(float).eps * s[0]))


def unit_orthogonal(axis, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random unit vectors orthogonal to the unit vector ``axis`` (rows of an ``(n, d)`` array).

    Gaussian vectors with ``axis`` projected out twice (the second pass removes
    what round-off left), then normalised; zero rows when ``d = 1`` (no
    direction is orthogonal). ``n = 1`` draws what ``rng.standard_normal(d)``
    would. The one helper behind the random rank-one starts of the chapters.
    """
    axis = np.asarray(axis, dtype=float)
    n = positive_int(n, "n")
    x = rng.standard_normal((n, axis.size))
    for _ in range(2):
        x = x - (x @ axis)[:, None] * axis[None]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > 0, x / np.where(norms > 0, norms, 1.0), 0.0)


def balanced_init(W0, widths, seed) -> list[np.ndarray]:
    """Balanced weights with end-to-end matrix ``W0`` (Arora et al., Procedure 1).

    With the SVD ``W0 = U S V^T`` of rank ``r`` and ``D_j`` the ``d_j x d_{j-1}``
    matrix holding ``S_r^{1/N}`` in its top-left ``r x r`` block and zeros
    elsewhere,

    ``W_1 = Q_1 D_1 [V V_perp]^T``, ``W_j = Q_j D_j Q_{j-1}^T``,
    ``W_N = [U U_perp] D_N Q_{N-1}^T``,

    with Haar-random orthogonal ``Q_j`` (``d_j x d_j``). Then
    ``W_N ... W_1 = U_r S_r V_r^T = W0`` and
    ``W_{j+1}^T W_{j+1} = Q_j diag(S_r^{2/N}, 0) Q_j^T = W_j W_j^T``: the network
    is balanced (14) up to round-off.

    Parameters
    ----------
    W0 : array_like, shape (dy, dx)
        Target end-to-end matrix.
    widths : sequence of int
        ``[d_0 = dx, d_1, ..., d_N = dy]``; every hidden width ``>= rank(W0)``.
    seed : int or None
        Seed of ``numpy.random.default_rng`` for the mixing matrices ``Q_j``.

    Returns
    -------
    list of ndarray
        ``[W_1, ..., W_N]``.

    Raises
    ------
    ValueError
        If ``widths[0] != dx``, ``widths[-1] != dy``, or a hidden width is
        smaller than ``rank(W0)`` (no network of those widths has product ``W0``).
    """
    W0 = as_matrix(W0, "W0")
    widths = check_widths(widths)
    dy, dx = W0.shape
    if widths[0] != dx:
        raise ValueError(
            f"widths[0] must equal the number of columns of W0 (dx={dx}); got {widths[0]}"
        )
    if widths[-1] != dy:
        raise ValueError(
            f"widths[-1] must equal the number of rows of W0 (dy={dy}); got {widths[-1]}"
        )
    U, s, Vt = np.linalg.svd(W0)
    r = numerical_rank(W0, s)
    if min(widths) < r:
        j = int(np.argmin(widths))
        raise ValueError(
            f"widths must all be >= rank(W0) = {r} for the product to equal W0; got widths[{j}] = {widths[j]}"
        )
    N = len(widths) - 1
    rng = np.random.default_rng(seed)
    root = s[:r] ** (1.0 / N)

    def D(rows: int, cols: int) -> np.ndarray:
        out = np.zeros((rows, cols))
        out[:r, :r] = np.diag(root)
        return out

    # Q_0 = [V V_perp] and Q_N = [U U_perp] close the chain at both ends.
    Q = [Vt.T] + [haar_orthogonal(d, rng) for d in widths[1:-1]] + [U]
    return [Q[j] @ D(widths[j], widths[j - 1]) @ Q[j - 1].T for j in range(1, N + 1)]


def gaussian_init(widths, std, seed) -> list[np.ndarray]:
    """Layer-wise i.i.d. Gaussian weights, ``(W_j)_{ab} ~ N(0, std^2)``.

    Parameters
    ----------
    widths : sequence of int
        ``[d_0 = dx, ..., d_N = dy]``.
    std : float
        Standard deviation, ``> 0``.
    seed : int or None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    list of ndarray
        ``[W_1, ..., W_N]``, ``W_j`` of shape ``d_j x d_{j-1}``.
    """
    widths = check_widths(widths)
    std = positive_float(std, "std")
    rng = np.random.default_rng(seed)
    return [
        std * rng.standard_normal((widths[j], widths[j - 1]))
        for j in range(1, len(widths))
    ]


def rotate(direction, angle, seed) -> np.ndarray:
    """A matrix at exactly ``angle`` radians from ``direction``, of the same norm.

    The angle is measured with the Frobenius inner product,
    ``cos(angle) = <R, D> / (||R|| ||D||)``. The rotation happens in the plane
    spanned by ``direction`` and a random direction orthogonal to it, so
    ``R = ||D|| (cos(angle) D/||D|| + sin(angle) E)`` with ``E`` a random unit
    matrix orthogonal to ``D``. The paper's Figure 1 starts from
    ``W0 = 10 * rotate(Z1, pi/6, seed)``.

    Parameters
    ----------
    direction : array_like, shape (p, q)
        Nonzero matrix ``D``.
    angle : float
        In ``[0, pi]``.
    seed : int or None
        Seed of ``numpy.random.default_rng`` for the plane of rotation.

    Returns
    -------
    ndarray, shape (p, q)
    """
    D = as_matrix(direction, "direction")
    try:
        angle = float(angle)
    except (TypeError, ValueError):
        raise ValueError(
            f"angle must be a real number in [0, pi]; got {angle!r}"
        ) from None
    if not 0.0 <= angle <= np.pi:
        raise ValueError(f"angle must be in [0, pi] (radians); got {angle!r}")
    norm = float(np.linalg.norm(D))
    if norm == 0:
        raise ValueError(
            "direction must be nonzero: the angle to the zero matrix is undefined"
        )
    Dhat = D / norm
    if D.size == 1:
        if angle not in (0.0, np.pi):
            raise ValueError(
                f"direction must have at least 2 entries to be rotated by angle={angle!r}; got a 1 x 1 matrix"
            )
        return D.copy() if angle == 0.0 else -D
    rng = np.random.default_rng(seed)
    E = rng.standard_normal(D.shape)
    # Two Gram-Schmidt passes: the second removes what round-off left of Dhat.
    for _ in range(2):
        E = E - np.sum(E * Dhat) * Dhat
    E = E / np.linalg.norm(E)
    return norm * (np.cos(angle) * Dhat + np.sin(angle) * E)


def rank_one_start(target, norm_ratio, angle, seed) -> np.ndarray:
    """A rank-one start ``W0`` with ``||W0||_F = norm_ratio s_Z`` at Frobenius angle ``angle`` to ``Z_1``.

    ``W0 = norm_ratio s_Z u v^T`` with ``u`` and ``v`` the leading singular
    vectors ``u_Z``, ``v_Z`` rotated (:func:`rotate`) towards random orthogonal
    directions by angles ``a`` and ``b`` with ``cos(a) cos(b) = cos(angle)``:

    * scalar output or input (``dy = 1`` or ``dx = 1``): only the vector that
      can rotate does, with ``seed`` itself, so ``W0`` is the paper's Figure 1
      start ``norm_ratio * rotate(Z_1, angle, seed)`` (``norm_ratio = 10``,
      ``angle = pi/6``) up to round-off;
    * ``dy, dx >= 2``: ``a = b``, each vector with its own seed drawn from
      ``seed``; then ``angle <= pi/2``.

    Unlike ``rotate`` applied to ``Z_1`` itself, the result has rank one for
    every shape, as the end-to-end matrix of a network with a one-neuron layer
    must; a generic start excites every mode of
    :func:`linnet.theory.nearby_modes`.

    Parameters
    ----------
    target : Target
        With ``s_Z > 0``.
    norm_ratio : float
        ``||W0||_F / s_Z > 0``.
    angle : float
        Radians: in ``[0, pi]`` for a scalar output or input, ``[0, pi/2]`` otherwise.
    seed : int or None
        Seed of the random directions.

    Returns
    -------
    ndarray, shape (dy, dx)
    """
    target = as_target(target)
    if not target.s_Z > 0:
        raise ValueError(
            "target must have Z != 0: Z_1 and its angle are undefined for Z = 0"
        )
    ratio = positive_float(norm_ratio, "norm_ratio")
    try:
        angle = float(angle)
    except (TypeError, ValueError):
        raise ValueError(f"angle must be a real number; got {angle!r}") from None
    dy, dx = target.Z.shape
    u, v = target.u[:, None], target.v[:, None]
    if dy >= 2 and dx >= 2:
        if not 0.0 <= angle <= np.pi / 2:
            raise ValueError(
                f"angle must be in [0, pi/2] for a target with dy, dx >= 2; got {angle!r}"
            )
        # cos(a)^2 = cos(angle), i.e. sin(a)^2 = 1 - cos(angle) = 2 sin(angle/2)^2 (no cancellation).
        a = float(np.arcsin(min(1.0, np.sqrt(2.0) * np.sin(angle / 2.0))))
        seeds = np.random.default_rng(seed).integers(0, 2**32, size=2)
        u = rotate(u, a, int(seeds[0])) if a > 0 else u
        v = rotate(v, a, int(seeds[1])) if a > 0 else v
    elif not 0.0 <= angle <= np.pi:
        raise ValueError(f"angle must be in [0, pi] (radians); got {angle!r}")
    elif dx >= 2:
        v = rotate(v, angle, seed) if angle > 0 else v
    elif dy >= 2:
        u = rotate(u, angle, seed) if angle > 0 else u
    elif angle > 0:
        raise ValueError(
            "target must have at least two entries for a start at a nonzero angle; Z is 1 x 1"
        )
    return ratio * target.s_Z * (u @ v.T)
