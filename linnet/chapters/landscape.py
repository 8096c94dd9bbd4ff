"""The landscape of deep linear networks (paper Section 2).

For data ``X`` (``dx x m``) with ``X X^T`` invertible (not necessarily
whitened) and a network whose narrowest layer has ``r`` neurons, this module
computes

* the orthogonal projection ``P_X = X^+ X`` onto the row space of ``X`` and
  the split (11) of the regression loss into the part no network can fit,
  ``1/2 ||Y P_Xperp||_F^2``, and a low-rank approximation problem (12) for
  ``Y P_X``;
* the optimal value of the rank-constrained regression (10a) (by the classical
  reduced-rank regression formula), of the factored problem (10b) (by
  alternating least squares, an independent numerical route) and of (12) (by
  Eckart-Young-Mirsky, Theorem 2.7);
* the critical points of (12), one for each subset of the singular triplets of
  ``Y P_X``, their balanced factorisations, which are first-order stationary
  points of the training problem (6), unbalanced weight points with the same
  end-to-end matrices (:func:`weight_points`), and the classification of a
  point from its gradient and Hessian spectrum (Definitions 2.1-2.3);
* the pairings the landscape chapter uses for Lemmas 2.4-2.6: weights of (6)
  cut at the narrowest layer give a point ``(P, Q)`` of (10b)
  (:func:`split_at_narrowest`), paired with ``(P, Q X)`` of the PCA problem
  (12) (:func:`pca_point`), which is handled as a depth-2 instance of (4) on
  the data of :func:`pca_problem`;
* the direction of steepest descent away from the zero network (the escape
  direction of the saddle at the origin).

Gradient flow (13) itself, for one network or a stack, is the core's
:func:`linnet.flows.gradient_flow`.

Numbering: equations (6), (10a), (10b), (11), (12), (13) and the statements
2.1-2.8 are those of the paper's main text (Eftekhari 2020, Section 2), as
stated in ``book/setup.md`` and the landscape chapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..data import haar_orthogonal
from ..init import balanced_init, check_widths, numerical_rank
from ..network import check_data, check_weights, end_to_end_stack, gradients, hessian
from ..validate import (
    as_matrix,
    as_matrix_stack,
    freeze_fields,
    positive_float,
    positive_int,
    read_only,
)

__all__ = [
    "EIG_RTOL",
    "GRAD_RTOL",
    "GAP_RTOL",
    "KINDS",
    "projector",
    "split_target",
    "loss_split",
    "regression_data",
    "loss_end_to_end",
    "loss_decrease",
    "target_singular_triplets",
    "rank_constrained_optimum",
    "projected_optimum",
    "factored_optimum",
    "FactoredResult",
    "critical_end_to_end",
    "critical_points",
    "CriticalPoint",
    "relative_residual",
    "classify",
    "Classification",
    "escape_direction_at_zero",
    "narrowest_layer",
    "split_at_narrowest",
    "pca_problem",
    "pca_point",
    "mix_layers",
    "add_idle_path",
    "zero_layers_point",
    "WeightPoint",
    "weight_points",
    "pca_points",
]

#: Relative first-order tolerance of :func:`classify`: a point is critical when
#: ``||grad L_N|| <= GRAD_RTOL * scale`` (see :func:`relative_residual`). The
#: critical points built by :func:`critical_points` have residuals at
#: round-off, ~1e-16; gradient-flow limits at the landscape chapter's horizon
#: must pass it (the chapter checks that they do). 1e-8 rejects every point
#: measured that is not critical (their residuals are O(1)).
GRAD_RTOL = 1e-8
#: A critical point is a strict saddle when ``lambda_min(H) < -EIG_RTOL * ||H||_2``.
#: ``eigh`` is backward stable (eigenvalue errors ~ P eps ||H||_2 ~ 1e-14 ||H||_2
#: for the sizes used here), and a point that is critical only to a relative
#: residual delta (a gradient-flow limit, delta ~ 1e-9) has Hessian
#: eigenvalues within ~delta ||H||_2 of those at an exact critical point
#: (measured: >= -1e-9 ||H||_2 at global minimisers reached by gradient flow).
#: 1e-6 is three orders above both and three below the negative curvature of
#: the strict saddles of (6), (10b) and (12) measured in the landscape chapter
#: (lambda_min <= -2e-3 ||H||_2; the chapter checks both margins).
EIG_RTOL = 1e-6
#: A critical point is a global minimiser when its loss exceeds the optimal
#: value of (10a) by at most ``GAP_RTOL * (1/2) ||Y||_F^2`` (the loss of the
#: zero network). Exact critical points reach round-off (1e-16); limits of
#: gradient flow stopped at a relative residual 1e-9 have gaps of order its
#: square (measured: round-off); the gaps of non-optimal critical points are
#: differences of squared singular values, O(1) relative.
GAP_RTOL = 1e-9

#: The classes returned by :func:`classify` (Definitions 2.1-2.3).
KINDS = ("global minimiser", "strict saddle", "non-strict saddle", "not critical")


def _freeze_weights(record) -> None:
    """In ``__post_init__`` of a frozen result: its field ``weights`` (a list of layers of
    different shapes, which :func:`linnet.validate.freeze_fields` would stack) becomes a
    tuple of read-only copies."""
    object.__setattr__(record, "weights", tuple(read_only(a) for a in record.weights))


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


def _full_row_rank_data(X, Y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``X`` (full row rank) and ``Y``; return them with the right factor of ``X``'s SVD."""
    X, Y = check_data(X, Y)
    dx, m = X.shape
    if dx > m:
        raise ValueError(
            f"X must have at most as many rows (dx={dx}) as columns (m={m}) for X X^T to be invertible"
        )
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    if not s[-1] > max(X.shape) * np.finfo(float).eps * s[0]:
        raise ValueError(
            f"X must have full row rank (X X^T invertible); its smallest singular value {s[-1]:.3g} is at "
            f"round-off level relative to the largest {s[0]:.3g}"
        )
    return X, Y, Vt


def _check_rank_bound(r, name: str = "r") -> int:
    return positive_int(r, name)


# --------------------------------------------------------------------------
# projections and the split (11)
# --------------------------------------------------------------------------


def projector(X) -> np.ndarray:
    """Orthogonal projection ``P_X = X^+ X = X^T (X X^T)^{-1} X`` onto the row space of ``X``.

    Computed from the thin SVD ``X = U S V^T`` as ``V V^T``, which is exactly
    symmetric and idempotent up to round-off whatever the conditioning of
    ``X X^T``.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank (``X X^T`` invertible), so ``dx <= m``.

    Returns
    -------
    ndarray, shape (m, m)
        ``P_X``; ``I - P_X`` is the projection onto the orthogonal complement.

    Raises
    ------
    ValueError
        If ``X`` is not a finite matrix of full row rank.
    """
    X = as_matrix(X, "X")
    _, _, Vt = _full_row_rank_data(X, np.zeros((1, X.shape[1])))
    return Vt.T @ Vt


def split_target(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """``(Y P_X, Y P_Xperp)``: the part of ``Y`` a linear map of ``X`` can reach, and the rest.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)

    Returns
    -------
    Y_in : ndarray, shape (dy, m)
        ``Y P_X = Y X^+ X``.
    Y_out : ndarray, shape (dy, m)
        ``Y (I - P_X)``; ``Y_in + Y_out = Y`` and ``Y_in Y_out^T = 0``.
    """
    X, Y, Vt = _full_row_rank_data(X, Y)
    Y_in = (Y @ Vt.T) @ Vt
    return Y_in, Y - Y_in


def loss_split(W, X, Y) -> tuple[float, float]:
    """The two terms of the split (11) of ``L_1(W) = 1/2 ||Y - W X||_F^2``.

    ``1/2 ||Y - W X||_F^2 = 1/2 ||Y P_Xperp||_F^2 + 1/2 ||Y P_X - W X||_F^2``
    (11): ``W X`` lies in the row space of ``X``, so the two residuals are
    orthogonal.

    Parameters
    ----------
    W : array_like, shape (dy, dx)
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)

    Returns
    -------
    unreachable : float
        ``1/2 ||Y P_Xperp||_F^2``, independent of ``W``.
    projected : float
        ``1/2 ||Y P_X - W X||_F^2``, the objective of (12).
    """
    X, Y, _ = _full_row_rank_data(X, Y)
    W = as_matrix(W, "W", shape=(Y.shape[0], X.shape[0]))
    Y_in, Y_out = split_target(X, Y)
    return 0.5 * float(np.sum(Y_out**2)), 0.5 * float(np.sum((Y_in - W @ X) ** 2))


def regression_data(
    m, dx, dy, seed, *, input_scales=None, noise: float = 0.5, target_rank=None
):
    """Random regression data with ``X X^T`` invertible but not whitened.

    ``X = diag(input_scales) G`` with ``G`` a standard Gaussian ``dx x m``
    matrix, and ``Y = T X + noise * E`` with ``T`` a Gaussian ``dy x dx``
    matrix (entries of variance ``1/dx``) and ``E`` standard Gaussian. With
    ``target_rank = k``, ``T`` has rank ``k`` and ``E`` is projected onto the
    orthogonal complement of the row space of ``X``, so that
    ``rank(Y P_X) = rank(Y X^+ X) = k`` exactly: data that violate the
    assumption ``rank(Y X^+ X) >= r`` of Theorem 2.8 for ``r > k``.

    Parameters
    ----------
    m, dx, dy : int
        Examples, input and output dimensions, ``dx <= m``.
    seed : int or None
        Seed of ``numpy.random.default_rng``.
    input_scales : array_like of shape (dx,), optional
        Positive scales of the input coordinates (default: ``linspace(1, 0.4, dx)``),
        so that ``X X^T / m`` is far from the identity.
    noise : float
        Standard deviation of ``E``, ``>= 0``.
    target_rank : int, optional
        ``1 <= target_rank <= min(dx, dy)``.

    Returns
    -------
    X : ndarray, shape (dx, m)
    Y : ndarray, shape (dy, m)
    """
    m = positive_int(m, "m")
    dx = positive_int(dx, "dx")
    dy = positive_int(dy, "dy")
    if dx > m:
        raise ValueError(
            f"dx must be <= m for X X^T to be invertible; got dx={dx}, m={m}"
        )
    noise = positive_float(noise, "noise", allow_zero=True)
    if input_scales is None:
        scales = np.linspace(1.0, 0.4, dx)
    else:
        scales = np.asarray(input_scales, dtype=float)
        if (
            scales.shape != (dx,)
            or not np.all(np.isfinite(scales))
            or not np.all(scales > 0)
        ):
            raise ValueError(
                f"input_scales must be {dx} finite positive numbers (one per input); got {input_scales!r}"
            )
    if target_rank is not None:
        target_rank = positive_int(target_rank, "target_rank")
        if target_rank > min(dx, dy):
            raise ValueError(
                f"target_rank must be <= min(dx, dy) = {min(dx, dy)}; got {target_rank}"
            )
    rng = np.random.default_rng(seed)
    X = scales[:, None] * rng.standard_normal((dx, m))
    if target_rank is None:
        T = rng.standard_normal((dy, dx)) / np.sqrt(dx)
        E = rng.standard_normal((dy, m))
    else:
        T = (
            rng.standard_normal((dy, target_rank))
            @ rng.standard_normal((target_rank, dx))
            / np.sqrt(dx * target_rank)
        )
        E = rng.standard_normal((dy, m))
        Vt_x = np.linalg.svd(X, full_matrices=False)[2]
        E = E - (E @ Vt_x.T) @ Vt_x
    return X, T @ X + noise * E


def _check_stack_of_end_to_end(W, X, Y):
    """``W`` of shape ``(..., dy, dx)`` (any leading axes), parsed by
    :func:`linnet.validate.as_matrix_stack` (finite, shape of ``Y X^T``) with the leading
    axes flattened and restored."""
    X, Y = check_data(X, Y)
    shape = (Y.shape[0], X.shape[0])
    arr = np.asarray(W, dtype=float)
    if arr.ndim < 2 or arr.shape[-2:] != shape:
        raise ValueError(
            f"W must have shape (..., dy={shape[0]}, dx={shape[1]}); got {arr.shape}"
        )
    stack, _ = as_matrix_stack(arr.reshape((-1,) + shape), "W", shape)
    return stack.reshape(arr.shape), X, Y


def loss_decrease(W, X, Y) -> np.ndarray:
    """``L_1(0) - L_1(W) = <W, Y X^T> - 1/2 ||W X||_F^2`` for a stack of end-to-end matrices.

    The decrease of the loss (4) from the zero network, evaluated from the
    moments without subtracting two nearly equal losses: for ``W`` near 0 it
    keeps full relative accuracy where ``loss(0) - loss(W)`` would be lost to
    cancellation (e.g. ``W ~ 1e-18`` along the escape direction of a deep
    network, :func:`escape_direction_at_zero`).

    Parameters
    ----------
    W : array_like, shape (..., dy, dx)
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)

    Returns
    -------
    ndarray, shape (...)
    """
    W, X, Y = _check_stack_of_end_to_end(W, X, Y)
    return np.sum(W * (Y @ X.T), axis=(-2, -1)) - 0.5 * np.sum(
        (W @ (X @ X.T)) * W, axis=(-2, -1)
    )


def loss_end_to_end(W, X, Y) -> np.ndarray:
    """``L_1(W) = 1/2 ||Y - W X||_F^2`` for a stack of end-to-end matrices (eq. 4 at ``W = W_N ... W_1``).

    Evaluated from the moments, ``1/2 ||Y||^2 -`` :func:`loss_decrease`, so a
    grid of many matrices costs no more than its size.

    Parameters
    ----------
    W : array_like, shape (..., dy, dx)
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)

    Returns
    -------
    ndarray, shape (...)
    """
    W, X, Y = _check_stack_of_end_to_end(W, X, Y)
    return 0.5 * float(np.sum(Y**2)) - loss_decrease(W, X, Y)


def target_singular_triplets(X, Y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzero singular triplets of ``Y P_X``, in non-increasing order.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)

    Returns
    -------
    U : ndarray, shape (dy, rho)
    s : ndarray, shape (rho,)
        Singular values above ``max(dy, m) * eps * s_1`` (numpy's rank
        threshold); ``rho = rank(Y P_X)``.
    Vt : ndarray, shape (rho, m)
        Rows in the row space of ``X``.
    """
    Y_in, _ = split_target(X, Y)
    U, s, Vt = np.linalg.svd(Y_in, full_matrices=False)
    rho = numerical_rank(Y_in, s)
    return U[:, :rho], s[:rho], Vt[:rho]


# --------------------------------------------------------------------------
# optimal values of (10a), (10b), (12)
# --------------------------------------------------------------------------


def rank_constrained_optimum(X, Y, r) -> tuple[np.ndarray, float]:
    """A minimiser and the optimal value of the rank-constrained regression (10a).

    ``min_W 1/2 ||Y - W X||_F^2`` subject to ``rank(W) <= r``, by the classical
    reduced-rank regression formula: with the least-squares solution
    ``W_ls = Y X^T (X X^T)^{-1}`` and ``U_r`` the top-``r`` eigenvectors of
    ``W_ls X X^T W_ls^T = Y P_X Y^T``, the minimiser is ``U_r U_r^T W_ls``.
    The value is evaluated as ``1/2 ||Y - W X||_F^2`` at that matrix, a route
    independent of :func:`projected_optimum`.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)
    r : int
        Rank bound ``>= 1``, the smallest width of the network.

    Returns
    -------
    W : ndarray, shape (dy, dx)
    value : float
    """
    X, Y, _ = _full_row_rank_data(X, Y)
    r = _check_rank_bound(r)
    W_ls = np.linalg.solve(X @ X.T, X @ Y.T).T
    M = W_ls @ X @ X.T @ W_ls.T
    evals, evecs = np.linalg.eigh(0.5 * (M + M.T))
    U_r = evecs[:, ::-1][:, : min(r, Y.shape[0])]
    W = U_r @ (U_r.T @ W_ls)
    return W, 0.5 * float(np.sum((Y - W @ X) ** 2))


def projected_optimum(X, Y, r) -> float:
    """Optimal value of (10a) through (11) and (12): ``1/2 ||Y P_Xperp||^2 + 1/2 sum_{i>r} s_i(Y P_X)^2``.

    By the split (11), (10a) is ``1/2 ||Y P_Xperp||_F^2`` plus
    ``min_{rank W <= r} 1/2 ||Y P_X - W X||_F^2`` (12), and by
    Eckart-Young-Mirsky (Theorem 2.7) the latter is half the sum of the squared
    singular values of ``Y P_X`` beyond the ``r``-th.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)
    r : int
        Rank bound ``>= 1``.

    Returns
    -------
    float
    """
    r = _check_rank_bound(r)
    Y_in, Y_out = split_target(X, Y)
    s = np.linalg.svd(Y_in, compute_uv=False)
    return 0.5 * float(np.sum(Y_out**2)) + 0.5 * float(np.sum(s[r:] ** 2))


@dataclass(frozen=True)
class FactoredResult:
    """The factored problem (10b) solved by alternating least squares.

    Attributes
    ----------
    A : ndarray, shape (dy, r)
        Read-only.
    B : ndarray, shape (r, dx)
        Read-only.
    value : float
        ``1/2 ||Y - A B X||_F^2``.
    iterations : int
    converged : bool
        Whether the relative change of ``A B`` fell below ``change_rtol``.
    """

    A: np.ndarray
    B: np.ndarray
    value: float
    iterations: int
    converged: bool

    def __post_init__(self):
        freeze_fields(self, ("A", "B"))


def factored_optimum(
    X, Y, r, *, seed=0, change_rtol: float = 1e-12, max_iter: int = 10_000
) -> FactoredResult:
    """Solve the factored problem (10b), ``min_{A, B} 1/2 ||Y - A B X||_F^2``, numerically.

    ``A`` is ``dy x r`` and ``B`` is ``r x dx``; every matrix of rank ``<= r``
    is such a product, so (10b) has the optimal value of (10a). Alternating
    least squares from a Gaussian start: ``A <- Y X^T B^T (B X X^T B^T)^{-1}``,
    then ``B <- (A^T A)^{-1} A^T Y X^T (X X^T)^{-1}``. Each half-step solves
    its least-squares problem exactly, so the loss never increases; from a
    generic start it converges linearly to the optimum. Used as a check that
    does not go through any singular value decomposition.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)
    r : int
        Inner dimension ``>= 1``.
    seed : int or None
        Seed of the Gaussian start.
    change_rtol : float
        Stop when the relative change of the product is small,
        ``||A_k B_k - A_{k-1} B_{k-1}||_F <= change_rtol * ||A_k B_k||_F``
        (a stopping rule, not an accuracy guarantee).
    max_iter : int

    Returns
    -------
    FactoredResult
    """
    X, Y, _ = _full_row_rank_data(X, Y)
    r = _check_rank_bound(r)
    change_rtol = positive_float(change_rtol, "change_rtol")
    max_iter = positive_int(max_iter, "max_iter")
    rng = np.random.default_rng(seed)
    C, YXt = X @ X.T, Y @ X.T
    B = rng.standard_normal((r, X.shape[0]))
    W_prev = None
    converged = False
    iterations = 0
    while iterations < max_iter and not converged:
        iterations += 1
        A = np.linalg.lstsq((B @ C @ B.T).T, (YXt @ B.T).T, rcond=None)[0].T
        B = np.linalg.lstsq(A, np.linalg.solve(C, YXt.T).T, rcond=None)[0]
        W = A @ B
        converged = W_prev is not None and bool(
            np.linalg.norm(W - W_prev) <= change_rtol * np.linalg.norm(W)
        )
        W_prev = W
    value = 0.5 * float(np.sum((Y - A @ B @ X) ** 2))
    return FactoredResult(
        A=A, B=B, value=value, iterations=iterations, converged=converged
    )


# --------------------------------------------------------------------------
# critical points of (12) and of (6)
# --------------------------------------------------------------------------


def _pseudo_inverse_rows(X: np.ndarray) -> np.ndarray:
    """``X^+ = X^T (X X^T)^{-1}`` (m x dx) for ``X`` of full row rank."""
    return np.linalg.solve(X @ X.T, X).T


def _check_subset(subset, rho: int) -> tuple[int, ...]:
    try:
        items = tuple(subset)
    except TypeError:
        raise ValueError(
            f"subset must be a collection of indices in 1..{rho}; got {subset!r}"
        ) from None
    out = []
    for i in items:
        if (
            isinstance(i, bool)
            or not isinstance(i, (int, np.integer))
            or not 1 <= i <= rho
        ):
            raise ValueError(
                f"subset must hold indices in 1..rank(Y P_X) = 1..{rho} (1-based, singular values in "
                f"non-increasing order); got {i!r}"
            )
        out.append(int(i))
    if len(set(out)) != len(out):
        raise ValueError(f"subset must not repeat an index; got {items!r}")
    return tuple(sorted(out))


def _end_to_end_of_subset(U, s, Vt, S: list, pinv: np.ndarray) -> np.ndarray:
    """``W_S = (sum_{i in S} s_i u_i v_i^T) X^+`` from the triplets of ``Y P_X`` (0-based ``S``)."""
    return ((U[:, S] * s[S]) @ Vt[S]) @ pinv


def critical_end_to_end(X, Y, subset) -> np.ndarray:
    """The critical point of (12) built from a subset ``S`` of the singular triplets of ``Y P_X``.

    With ``Y P_X = sum_i s_i u_i v_i^T`` (``v_i`` in the row space of ``X``),
    ``W_S X = sum_{i in S} s_i u_i v_i^T``, i.e.
    ``W_S = (sum_{i in S} s_i u_i v_i^T) X^+`` with ``X^+ = X^T (X X^T)^{-1}``.
    ``W_S`` has rank ``|S|`` and the loss ``1/2 ||Y P_Xperp||^2 + 1/2 sum_{i not in S} s_i^2``.
    For distinct nonzero singular values these are all the critical points of
    (12) (see the landscape chapter's proposition on stationary end-to-end matrices).

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)
    subset : collection of int
        Distinct 1-based indices ``i`` of singular values ``s_i`` of ``Y P_X``
        (non-increasing order), each at most ``rank(Y P_X)``; empty gives 0.

    Returns
    -------
    ndarray, shape (dy, dx)
    """
    X, Y, _ = _full_row_rank_data(X, Y)
    U, s, Vt = target_singular_triplets(X, Y)
    S = [i - 1 for i in _check_subset(subset, s.size)]
    return _end_to_end_of_subset(U, s, Vt, S, _pseudo_inverse_rows(X))


@dataclass(frozen=True)
class CriticalPoint:
    """A critical point of (6) obtained from a subset of singular triplets.

    Attributes
    ----------
    subset : tuple of int
        1-based indices of the singular triplets of ``Y P_X`` kept.
    W : ndarray, shape (dy, dx)
        End-to-end matrix ``W_S`` (:func:`critical_end_to_end`); read-only.
    weights : tuple of ndarray
        A balanced factorisation ``(W_1, ..., W_N)`` of ``W_S``
        (:func:`linnet.init.balanced_init`); read-only.
    loss : float
        ``L_N`` there, ``1/2 ||Y P_Xperp||^2 + 1/2 sum_{i not in S} s_i^2``.
    rank : int
        ``rank(W_S) = |S|``.
    """

    subset: tuple
    W: np.ndarray
    weights: tuple
    loss: float
    rank: int

    def __post_init__(self):
        freeze_fields(self, ("W",))
        _freeze_weights(self)


def critical_points(X, Y, widths, *, seed=0) -> list[CriticalPoint]:
    """All critical points of (12) of rank ``<= r``, lifted to critical points of (6).

    For every subset ``S`` of the nonzero singular triplets of ``Y P_X`` with
    ``|S| <= r = min(widths)``, the end-to-end matrix ``W_S`` of
    :func:`critical_end_to_end` is factored into a balanced network
    (Arora et al.'s Procedure 1, :func:`linnet.init.balanced_init`). The
    gradient of (4) at that network vanishes: with ``G = (W_S X - Y) X^T``,
    ``G`` maps the row space of ``W_S`` to zero and has range orthogonal to
    its column space, which contain the row space of ``W_{j-1} ... W_1`` and
    the column space of ``W_N ... W_{j+1}`` for a balanced factorisation.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)
    widths : sequence of int
        ``[d_0 = dx, d_1, ..., d_N = dy]``.
    seed : int or None
        Seed of the orthogonal mixing in the balanced factorisations.

    Returns
    -------
    list of CriticalPoint
        Ordered by ``|S|``, then lexicographically; the first is the zero network.
    """
    X, Y, _ = _full_row_rank_data(X, Y)
    widths = check_widths(widths)
    if widths[0] != X.shape[0] or widths[-1] != Y.shape[0]:
        raise ValueError(
            f"widths must start with dx={X.shape[0]} and end with dy={Y.shape[0]}; got {widths[0]} and {widths[-1]}"
        )
    r = min(widths)
    U, s, Vt = target_singular_triplets(X, Y)
    pinv = _pseudo_inverse_rows(X)
    unreachable = 0.5 * float(np.sum(split_target(X, Y)[1] ** 2))
    out = []
    for k in range(0, min(r, s.size) + 1):
        for S in combinations(range(s.size), k):
            S = list(S)
            W = _end_to_end_of_subset(U, s, Vt, S, pinv)
            rest = [i for i in range(s.size) if i not in S]
            value = unreachable + 0.5 * float(np.sum(s[rest] ** 2))
            weights = balanced_init(W, widths, seed)
            out.append(CriticalPoint(tuple(i + 1 for i in S), W, weights, value, k))
    return out


# --------------------------------------------------------------------------
# classification from the Hessian (Definitions 2.1-2.3)
# --------------------------------------------------------------------------


def _gradient_scale(weights, C: np.ndarray, YXt: np.ndarray) -> float:
    """Triangle-inequality size of the terms of ``dL/dW_j``: ``(||Y X^T|| + ||W|| ||X X^T||) max_j prod_{i != j} ||W_i||_2``."""
    norms = np.array([np.linalg.norm(Wj, 2) for Wj in weights])
    W = end_to_end_stack(weights)
    others = max(float(np.prod(np.delete(norms, j))) for j in range(norms.size))
    return (np.linalg.norm(YXt) + np.linalg.norm(W) * np.linalg.norm(C, 2)) * others


def relative_residual(weights, X, Y) -> float:
    """First-order residual of (6) relative to the size of the terms that cancel in it.

    ``||grad L_N|| / ((||Y X^T||_F + ||W||_F ||X X^T||_2) max_j prod_{i != j} ||W_i||_2)``:
    each ``dL/dW_j = (W_N...W_{j+1})^T (W X X^T - Y X^T) (W_{j-1}...W_1)^T``
    is bounded by the denominator, so the ratio is at most ``sqrt(N)`` and
    is ~1e-16 at a critical point computed to round-off. It is 0 when the
    gradient vanishes identically (e.g. the zero network, ``N >= 2``).

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``.
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)

    Returns
    -------
    float
    """
    weights = check_weights(weights)
    X, Y = check_data(X, Y, weights[0].shape[1], weights[-1].shape[0])
    grads = gradients(weights, X, Y)
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    if norm == 0.0:
        return 0.0
    return norm / _gradient_scale(weights, X @ X.T, Y @ X.T)


@dataclass(frozen=True)
class Classification:
    """A point of (6) classified by Definitions 2.1-2.3.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`: ``"global minimiser"`` (critical, loss equal to
        the optimal value of (10a)), ``"strict saddle"`` (critical,
        ``lambda_min(H) < 0``), ``"non-strict saddle"`` (critical, ``H`` PSD,
        loss above the optimum: a spurious SOSP, which is not a local
        minimiser because every local minimiser of (6) is global, Kawaguchi
        2016, Theorem 2.3, under his assumptions; this is not part of the
        paper's Theorem 2.8), or ``"not critical"``.
    loss : float
    loss_gap : float
        ``L_N - `` optimal value of (10a) (``>= 0`` up to round-off).
    residual : float
        :func:`relative_residual`.
    eigenvalues : ndarray
        Hessian spectrum, ascending (:func:`linnet.network.hessian`); read-only.
    lambda_min : float
    hessian_norm : float
        ``||H||_2 = max |eigenvalue|``.
    rank : int
        Numerical rank of the end-to-end matrix.
    second_order : bool
        Critical and ``lambda_min >= -eig_rtol ||H||_2`` (Definition 2.2).
    """

    kind: str
    loss: float
    loss_gap: float
    residual: float
    eigenvalues: np.ndarray
    lambda_min: float
    hessian_norm: float
    rank: int
    second_order: bool

    def __post_init__(self):
        freeze_fields(self, ("eigenvalues",))


def classify(
    weights,
    X,
    Y,
    *,
    optimum: float | None = None,
    grad_rtol: float = GRAD_RTOL,
    eig_rtol: float = EIG_RTOL,
    gap_rtol: float = GAP_RTOL,
) -> Classification:
    """Classify a point of (6) from its gradient, its loss and its Hessian spectrum.

    In this order: not critical if :func:`relative_residual` exceeds
    ``grad_rtol``; a global minimiser if the loss is within
    ``gap_rtol * ||Y||_F^2 / 2`` of the optimal value of (10a); a strict saddle
    if ``lambda_min(H) < -eig_rtol * ||H||_2``; otherwise a non-strict saddle
    (a second-order stationary point above the optimum, a "spurious SOSP"; it
    is not a local minimiser because every local minimiser of (6) is global,
    Kawaguchi 2016, Theorem 2.3, under his assumptions on the data; the
    paper's Theorem 2.8 does not say this).

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``.
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)
    optimum : float, optional
        Optimal value of (10a) for ``r = min`` width; computed by
        :func:`projected_optimum` if omitted.
    grad_rtol, eig_rtol, gap_rtol : float
        Tolerances, see :data:`GRAD_RTOL`, :data:`EIG_RTOL`, :data:`GAP_RTOL`.

    Returns
    -------
    Classification
    """
    weights = check_weights(weights)
    X, Y, _ = _full_row_rank_data(X, Y)
    check_data(X, Y, weights[0].shape[1], weights[-1].shape[0])
    grad_rtol = positive_float(grad_rtol, "grad_rtol")
    eig_rtol = positive_float(eig_rtol, "eig_rtol")
    gap_rtol = positive_float(gap_rtol, "gap_rtol")
    r = min([weights[0].shape[1]] + [Wj.shape[0] for Wj in weights])
    if optimum is None:
        optimum = projected_optimum(X, Y, r)
    else:
        optimum = float(optimum)
        if not np.isfinite(optimum) or optimum < 0:
            raise ValueError(
                f"optimum must be a finite number >= 0 (a loss value); got {optimum!r}"
            )
    W = end_to_end_stack(weights)
    value = 0.5 * float(np.sum((Y - W @ X) ** 2))
    gap = value - optimum
    residual = relative_residual(weights, X, Y)
    evals = np.linalg.eigvalsh(hessian(weights, X, Y))
    norm = float(np.max(np.abs(evals)))
    lam = float(evals[0])
    critical = residual <= grad_rtol
    psd = lam >= -eig_rtol * norm
    if not critical:
        kind = "not critical"
    elif gap <= gap_rtol * 0.5 * float(np.sum(Y**2)):
        kind = "global minimiser"
    elif not psd:
        kind = "strict saddle"
    else:
        kind = "non-strict saddle"
    return Classification(
        kind=kind,
        loss=value,
        loss_gap=gap,
        residual=residual,
        eigenvalues=evals,
        lambda_min=lam,
        hessian_norm=norm,
        rank=numerical_rank(W),
        second_order=bool(critical and psd),
    )


def escape_direction_at_zero(X, Y, widths) -> list[np.ndarray]:
    """A unit direction of steepest decrease of (4) away from the zero network.

    With ``(s_1, u_1, v_1)`` the leading singular triplet of ``Y X^T`` and
    ``e_1`` the first basis vector of each hidden layer,
    ``D_1 = e_1 v_1^T / sqrt(N)``, ``D_j = e_1 e_1^T / sqrt(N)``,
    ``D_N = u_1 e_1^T / sqrt(N)``, so that ``sum_j ||D_j||_F^2 = 1`` and
    ``D_N ... D_1 = u_1 v_1^T / N^{N/2}``. Along it

    ``L_N(eps D) = L_N(0) - s_1 (eps / sqrt(N))^N + 1/2 (eps / sqrt(N))^{2N} ||u_1 v_1^T X||_F^2``.

    For ``N = 2`` it is an eigenvector of the Hessian at zero with eigenvalue
    ``-s_1(Y X^T)``, the smallest one; for ``N >= 3`` the loss decreases only
    at order ``eps^N`` and the Hessian at zero vanishes.

    Parameters
    ----------
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)
    widths : sequence of int
        ``[dx, d_1, ..., d_{N-1}, dy]``, depth ``N >= 2``.

    Returns
    -------
    list of ndarray
        ``[D_1, ..., D_N]``.
    """
    widths = check_widths(widths)
    X, Y = check_data(X, Y, widths[0], widths[-1])
    N = len(widths) - 1
    if N < 2:
        raise ValueError(
            f"widths must describe a depth N >= 2 network (zero is not critical for N = 1); got {widths}"
        )
    U, s, Vt = np.linalg.svd(Y @ X.T)
    u, v = U[:, 0], Vt[0]
    c = 1.0 / np.sqrt(N)
    D = []
    for j in range(1, N + 1):
        Dj = np.zeros((widths[j], widths[j - 1]))
        if j == 1:
            Dj[0] = c * v
        elif j == N:
            Dj[:, 0] = c * u
        else:
            Dj[0, 0] = c
        D.append(Dj)
    return D


# --------------------------------------------------------------------------
# the three problems (6), (10b), (12) and the maps of Lemmas 2.4-2.6
# --------------------------------------------------------------------------


def narrowest_layer(widths) -> int:
    """Index ``k`` of the first narrowest entry of ``widths = [d_0, ..., d_N]`` (``d_k = r``)."""
    widths = check_widths(widths)
    return int(np.argmin(widths))


def split_at_narrowest(weights) -> tuple[np.ndarray, np.ndarray]:
    """The point ``(P, Q)`` of (10b) that the book pairs with weights of (6) (Lemma 2.4).

    With ``k`` the first layer of smallest width ``d_k = r`` (:func:`narrowest_layer`;
    ``k = 0`` when ``d_x`` is the smallest), ``Q = W_k ... W_1`` (``r x d_x``,
    the identity when ``k = 0``) and ``P = W_N ... W_{k+1}`` (``d_y x r``, the
    identity when ``k = N``), so that ``P Q = W_N ... W_1``. The paper's main
    text does not spell out the correspondence of Lemma 2.4 (its proof is in
    the paper's Appendix B); this is the natural one, and for an end-to-end
    matrix of rank ``r`` the first- and second-order stationarity of ``(P, Q)``
    do not depend on which factorisation ``P Q = W`` is taken (the landscape
    chapter says why and checks it).

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``.

    Returns
    -------
    P : ndarray, shape (dy, r)
    Q : ndarray, shape (r, dx)
    """
    weights = check_weights(weights)
    widths = [weights[0].shape[1]] + [Wj.shape[0] for Wj in weights]
    k = narrowest_layer(widths)
    Q = np.eye(widths[0])
    for Wj in weights[:k]:
        Q = Wj @ Q
    P = np.eye(widths[k])
    for Wj in weights[k:]:
        P = Wj @ P
    return P, Q


def pca_problem(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Data ``(I_m, Y P_X)`` that turn the PCA problem (12) into a depth-2 instance of (4).

    ``L_2'(P, Q') = 1/2 ||Y P_X - P Q'||_F^2`` is the loss (4) of the network
    ``[Q', P]`` (widths ``[m, r, dy]``) on inputs ``I_m`` and targets ``Y P_X``,
    so :func:`linnet.network.hessian`, :func:`relative_residual` and
    :func:`classify` apply to (12) unchanged, and its optimal value is
    ``projected_optimum(I_m, Y P_X, r)`` (Eckart-Young-Mirsky).

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank.
    Y : array_like, shape (dy, m)

    Returns
    -------
    inputs : ndarray, shape (m, m)
    targets : ndarray, shape (dy, m)
    """
    X, Y, _ = _full_row_rank_data(X, Y)
    return np.eye(X.shape[1]), split_target(X, Y)[0]


def pca_point(P, Q, X) -> list[np.ndarray]:
    """The point ``(P, Q' = Q X)`` of (12) paired with ``(P, Q)`` of (10b) (Lemma 2.5), as weights ``[Q', P]``."""
    P = as_matrix(P, "P")
    Q = as_matrix(Q, "Q")
    X = as_matrix(X, "X")
    if P.shape[1] != Q.shape[0] or Q.shape[1] != X.shape[0]:
        raise ValueError(
            f"P, Q and X must chain as (dy x r)(r x dx)(dx x m); got shapes {P.shape}, {Q.shape}, {X.shape}"
        )
    return [Q @ X, P]


def _conditioned_matrix(n: int, rng: np.random.Generator, spread: float) -> np.ndarray:
    """``U diag(exp(u)) V^T`` with Haar ``U, V`` and ``u`` uniform on ``[-spread, spread]``."""
    return (
        haar_orthogonal(n, rng)
        @ np.diag(np.exp(rng.uniform(-spread, spread, n)))
        @ haar_orthogonal(n, rng)
    )


def mix_layers(weights, seed, *, spread: float = 1.0) -> list[np.ndarray]:
    """Unbalanced weights with the same product: ``W_j -> A_j W_j A_{j-1}^{-1}``.

    ``A_0 = I_{d_x}``, ``A_N = I_{d_y}`` and, for the hidden layers, random
    invertible ``A_j = U diag(e^{u}) V^T`` with ``u`` uniform on
    ``[-spread, spread]`` (condition number at most ``e^{2 spread}``). The map
    is a linear change of coordinates of the weights that leaves ``L_N``
    unchanged, so it maps first-order stationary points to first-order
    stationary points and, at those, changes the Hessian by a congruence:
    by Sylvester's law of inertia the signs of its eigenvalues, hence the
    saddle type, are those of the original point.

    Parameters
    ----------
    weights : list of array_like
    seed : int
    spread : float
        ``> 0``.

    Returns
    -------
    list of ndarray
    """
    weights = check_weights(weights)
    spread = positive_float(spread, "spread")
    rng = np.random.default_rng(seed)
    N = len(weights)
    A = [np.eye(weights[0].shape[1])] + [
        _conditioned_matrix(Wj.shape[0], rng, spread) for Wj in weights[:-1]
    ]
    A.append(np.eye(weights[-1].shape[0]))
    return [A[j + 1] @ weights[j] @ np.linalg.inv(A[j]) for j in range(N)]


def add_idle_path(weights, seed) -> list[np.ndarray]:
    """Add to ``W_N`` a rank-one term ``c z^T`` that the product does not see.

    ``z`` is a unit vector of layer ``N-1`` orthogonal to the column space of
    ``W_{N-1}`` (so ``z^T W_{N-1} = 0`` and ``W_N ... W_1`` is unchanged) and
    ``c`` a standard Gaussian vector of length ``d_y``. The neuron direction
    ``z`` of layer ``N-1`` then feeds the output but receives nothing. For a
    balanced factorisation of a critical end-to-end matrix with depth
    ``N >= 3`` the result is again first-order stationary (the gradient of
    ``W_{N-1}`` gains ``z c^T G (W_{N-2} ... W_1)^T``, zero because the rows of
    ``W_{N-2} ... W_1`` lie in the row space of ``W``); the landscape chapter
    measures its residual.

    Parameters
    ----------
    weights : list of array_like
        Depth ``N >= 2``; ``W_{N-1}`` must not have full row rank.
    seed : int

    Returns
    -------
    list of ndarray
    """
    weights = check_weights(weights)
    if len(weights) < 2:
        raise ValueError(
            f"weights must have depth N >= 2 to have a hidden layer; got N = {len(weights)}"
        )
    below = weights[-2]
    U, s, _ = np.linalg.svd(below)
    k = numerical_rank(below, s)
    if k == below.shape[0]:
        raise ValueError(
            f"weights[-2] (W_(N-1), {below.shape[0]} x {below.shape[1]}) must have rank < {below.shape[0]} "
            f"for an idle neuron direction to exist; its rank is {k}"
        )
    z = U[:, k]
    c = np.random.default_rng(seed).standard_normal(weights[-1].shape[0])
    out = [Wj.copy() for Wj in weights]
    out[-1] = out[-1] + np.outer(c, z)
    return out


def zero_layers_point(widths, zero_layers, seed) -> list[np.ndarray]:
    """Weights whose layers in ``zero_layers`` (1-based) are zero and the others standard Gaussian.

    With at least two zero layers every partial derivative of (4) contains a
    zero factor, so the point is first-order stationary, and its end-to-end
    matrix is zero whatever the other layers are.

    Parameters
    ----------
    widths : sequence of int
        ``[d_0, ..., d_N]``.
    zero_layers : collection of int
        Distinct layer indices in ``1..N``.
    seed : int

    Returns
    -------
    list of ndarray
    """
    widths = check_widths(widths)
    N = len(widths) - 1
    layers = set()
    for j in zero_layers:
        if (
            isinstance(j, bool)
            or not isinstance(j, (int, np.integer))
            or not 1 <= j <= N
        ):
            raise ValueError(
                f"zero_layers must hold layer indices in 1..N = 1..{N}; got {j!r}"
            )
        layers.add(int(j))
    rng = np.random.default_rng(seed)
    return [
        np.zeros((widths[j], widths[j - 1]))
        if j in layers
        else rng.standard_normal((widths[j], widths[j - 1]))
        for j in range(1, N + 1)
    ]


@dataclass(frozen=True)
class WeightPoint:
    """A point of (6) built from a critical end-to-end matrix ``W_S``.

    Attributes
    ----------
    subset : tuple of int
        ``S`` (1-based), ``W_S`` as in :func:`critical_end_to_end`.
    variant : str
        ``"balanced"`` (:func:`linnet.init.balanced_init`), ``"mixed"``
        (:func:`mix_layers` of the balanced one), ``"idle path"``
        (:func:`add_idle_path` of the balanced one) or ``"zero layers j, k"``
        (:func:`zero_layers_point`, ``W_S = 0`` only).
    weights : tuple of ndarray
        ``(W_1, ..., W_N)``, read-only.
    rank : int
        ``|S|``.
    """

    subset: tuple
    variant: str
    weights: tuple
    rank: int

    def __post_init__(self):
        _freeze_weights(self)


def weight_points(X, Y, widths, *, seed=0) -> list[WeightPoint]:
    """Several weight points for every critical end-to-end matrix ``W_S`` with ``|S| <= r``.

    For each point of :func:`critical_points` (balanced): the balanced
    factorisation, a :func:`mix_layers` version, and for depth ``N >= 3`` and
    ``|S|`` below the width of layer ``N-1`` an :func:`add_idle_path` version.
    For ``S`` empty, in addition, every point with exactly two zero layers and
    the others Gaussian (depth ``N >= 3``), and for ``N >= 4`` the point whose
    first three layers are zero.

    Parameters
    ----------
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)
    widths : sequence of int
    seed : int

    Returns
    -------
    list of WeightPoint
    """
    widths = check_widths(widths)
    N = len(widths) - 1
    out = []
    for i, p in enumerate(critical_points(X, Y, widths, seed=seed)):
        out.append(WeightPoint(p.subset, "balanced", p.weights, p.rank))
        out.append(
            WeightPoint(
                p.subset, "mixed", mix_layers(p.weights, seed + 1000 + i), p.rank
            )
        )
        if N >= 3 and p.rank < widths[-2]:
            out.append(
                WeightPoint(
                    p.subset,
                    "idle path",
                    add_idle_path(p.weights, seed + 2000 + i),
                    p.rank,
                )
            )
        if p.rank == 0 and N >= 3:
            for a, b in combinations(range(1, N + 1), 2):
                point = zero_layers_point(widths, (a, b), seed + 3000 + 10 * a + b)
                out.append(WeightPoint((), f"zero layers {a}, {b}", point, 0))
            if N >= 4:
                out.append(
                    WeightPoint(
                        (),
                        "zero layers 1, 2, 3",
                        zero_layers_point(widths, (1, 2, 3), seed + 4000),
                        0,
                    )
                )
    return out


def pca_points(X, Y, r, *, seed=0) -> list[WeightPoint]:
    """Points of the PCA problem (12), as weights ``[Q', P]`` on the data of :func:`pca_problem`.

    The :func:`weight_points` of the depth-2 network ``[m, r, d_y]`` on inputs
    ``I_m`` and targets ``Y P_X`` (balanced and mixed factorisations of every
    critical ``P Q' = sum_{i in S} s_i u_i v_i^T``, ``|S| <= r``), and, for
    ``|S| < r``, a point that no point of (10b) maps to (Lemma 2.5 pairs
    ``(P, Q)`` with ``(P, Q X)``, whose rows lie in the row space of ``X``):
    the balanced point with ``z q^T`` added to ``Q'``, where ``z`` is a unit
    vector with ``P z = 0`` and ``q`` a unit vector orthogonal to the row space
    of ``X`` (variant ``"row outside X"``). It is first-order stationary:
    ``P Q'`` is unchanged and ``(P Q' - Y P_X) q = 0``.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Full row rank with ``dx < m`` (so that the row space of ``X`` has a complement).
    Y : array_like, shape (dy, m)
    r : int
        Width of the factorisation.
    seed : int

    Returns
    -------
    list of WeightPoint
    """
    X, Y, Vt = _full_row_rank_data(X, Y)
    r = _check_rank_bound(r)
    dx, m = X.shape
    if dx == m:
        raise ValueError(
            f"X must have fewer rows than columns (dx={dx} < m={m}) for its row space to have a complement"
        )
    inputs, targets = pca_problem(X, Y)
    out = weight_points(inputs, targets, [m, r, Y.shape[0]], seed=seed)
    full = np.linalg.svd(X)[2]
    q = full[dx]  # a unit vector orthogonal to the row space of X
    for p in [p for p in out if p.variant == "balanced" and p.rank < r]:
        Qp, P = p.weights
        z = np.linalg.svd(P)[2][-1]  # P z = 0: rank(P) = |S| < r
        out.append(
            WeightPoint(p.subset, "row outside X", [Qp + np.outer(z, q), P], p.rank)
        )
    return out
