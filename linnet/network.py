"""The deep linear network, its loss and their derivatives (paper Section 2).

A depth-``N`` linear network maps ``x`` to ``W_N ... W_1 x`` with
``W_j`` of shape ``d_j x d_{j-1}`` and ``widths = [d_0 = dx, ..., d_N = dy]``.
This module holds the end-to-end matrix (3), the training loss (4), its exact
gradients (the right side of gradient flow (13)) and Hessian, and the
imbalances ``W_{j+1}^T W_{j+1} - W_j W_j^T`` that gradient flow conserves (15).

All derivatives use the data only through the moments ``C = X X^T`` and
``Y X^T``: the gradient of (4) with respect to the end-to-end matrix is
``(W X - Y) X^T = W C - Y X^T``, so the cost of one evaluation does not grow
with the number of examples ``m``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .validate import as_matrix

__all__ = [
    "end_to_end",
    "loss",
    "gradients",
    "hessian",
    "imbalances",
    "balancedness",
    "check_weights",
    "check_data",
    "as_weight_stack",
    "stack_networks",
    "end_to_end_stack",
    "layer_gradients_stack",
    "balancedness_stack",
]


# --------------------------------------------------------------------------
# validation (public entry points only; the private kernels trust their input)
# --------------------------------------------------------------------------


def check_weights(weights, name: str = "weights") -> list[np.ndarray]:
    """Validate a list ``[W_1, ..., W_N]`` of chained finite matrices.

    Parameters
    ----------
    weights : sequence of array_like
        ``W_j`` of shape ``d_j x d_{j-1}``; consecutive shapes must chain.
    name : str
        Parameter name used in the error messages.

    Returns
    -------
    list of ndarray
        Float copies of the weights.

    Raises
    ------
    ValueError
        If ``weights`` is not a non-empty sequence (depth ``N >= 1``), an entry
        is not a finite matrix, or ``W_{j+1}`` has not as many columns as
        ``W_j`` has rows.
    """
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
        raise ValueError(
            f"{name} must be a list [W_1, ..., W_N] of matrices; got {type(weights).__name__}"
        )
    if len(weights) < 1:
        raise ValueError(
            f"{name} must hold at least one matrix (depth N >= 1); got an empty list"
        )
    out = [as_matrix(Wj, f"{name}[{j}]").copy() for j, Wj in enumerate(weights)]
    for j in range(1, len(out)):
        if out[j].shape[1] != out[j - 1].shape[0]:
            raise ValueError(
                f"{name}[{j}] must have {out[j - 1].shape[0]} columns to follow {name}[{j - 1}] of shape "
                f"{out[j - 1].shape}; got shape {out[j].shape}"
            )
    return out


def check_data(
    X, Y, dx: int | None = None, dy: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate data ``X`` (dx x m) and ``Y`` (dy x m), optionally against a network's dx, dy."""
    X = as_matrix(X, "X", shape=(dx, None))
    Y = as_matrix(Y, "Y", shape=(dy, X.shape[1]))
    return X, Y


def as_weight_stack(weights, name: str = "weights") -> list[np.ndarray]:
    """Validate ``[W_1, ..., W_N]`` given as matrices (one network) or stacks (``B`` networks).

    The one parser for stacks of networks: layer ``j`` of ``B`` networks is
    one array of shape ``(B, d_j, d_{j-1})``.

    Parameters
    ----------
    weights : sequence of array_like
        Each ``W_j`` of shape ``(d_j, d_{j-1})`` or ``(B, d_j, d_{j-1})``, all
        with the same leading ``B >= 1``; consecutive shapes must chain.
    name : str
        Parameter name used in the error messages.

    Returns
    -------
    list of ndarray
        Float copies of shape ``(B, d_j, d_{j-1})`` (``B = 1`` for matrices).

    Raises
    ------
    ValueError
        If ``weights`` is not a non-empty sequence, an entry is not finite or
        not 2-D/3-D, the stack sizes differ or are 0, or the shapes do not chain.
    """
    if (
        isinstance(weights, np.ndarray)
        or not isinstance(weights, Sequence)
        or len(weights) < 1
    ):
        raise ValueError(
            f"{name} must be a non-empty list [W_1, ..., W_N] of matrices or stacks of matrices"
        )
    out = []
    for j, Wj in enumerate(weights):
        arr = np.array(Wj, dtype=float)  # a copy: the caller's arrays are never touched
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ValueError(
                f"{name}[{j}] must be a matrix or a stack (B, d_j, d_j-1); got {arr.ndim} dimensions"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"{name}[{j}] must be finite; it has NaN or infinite entries"
            )
        out.append(arr)
    B = out[0].shape[0]
    if B == 0:
        raise ValueError(f"{name} must hold at least one network (B >= 1)")
    for j, arr in enumerate(out):
        if arr.shape[0] != B:
            raise ValueError(
                f"{name}[{j}] must stack {B} matrices like {name}[0]; got {arr.shape[0]}"
            )
        if j > 0 and arr.shape[2] != out[j - 1].shape[1]:
            raise ValueError(
                f"{name}[{j}] must have {out[j - 1].shape[1]} columns to follow {name}[{j - 1}]; "
                f"got shape {arr.shape[1:]}"
            )
    return out


def stack_networks(networks, name: str = "networks") -> list[np.ndarray]:
    """Stack ``B`` networks of equal layer shapes into ``[W_1, ..., W_N]``, ``W_j`` of shape (B, d_j, d_{j-1}).

    Parameters
    ----------
    networks : sequence of list of array_like
        ``B >= 1`` networks, each ``[W_1, ..., W_N]`` with the same shapes.
    name : str
        Parameter name used in the error messages.

    Returns
    -------
    list of ndarray
    """
    if isinstance(networks, np.ndarray):
        raise ValueError(
            f"{name} must be a sequence of networks [W_1, ..., W_N]; got an array"
        )
    networks = list(networks)
    if not networks:
        raise ValueError(
            f"{name} must hold at least one network; got an empty sequence"
        )
    checked = [check_weights(net, f"{name}[{b}]") for b, net in enumerate(networks)]
    shapes = [Wj.shape for Wj in checked[0]]
    for b, net in enumerate(checked):
        if [Wj.shape for Wj in net] != shapes:
            raise ValueError(
                f"{name}[{b}] must have the layer shapes {shapes} of {name}[0]; got {[Wj.shape for Wj in net]}"
            )
    return [np.stack([net[j] for net in checked]) for j in range(len(shapes))]


# --------------------------------------------------------------------------
# kernels: any leading batch axes; they trust their input (validate first
# with check_weights or as_weight_stack), so integrators can call them often
# --------------------------------------------------------------------------


def end_to_end_stack(weights: Sequence[np.ndarray]) -> np.ndarray:
    """End-to-end matrices ``W_N ... W_1`` (eq. 3) of a stack ``(B, d_j, d_{j-1})``: shape ``(B, d_N, d_0)``.

    The product is accumulated from the narrow end (from the output side when
    ``d_N <= d_0``), so it costs ``min(d_0, d_N) sum_j d_j d_{j-1}`` per
    network. A kernel: no validation (see :func:`as_weight_stack`).
    """
    if weights[-1].shape[-2] <= weights[0].shape[-1]:
        W = weights[-1]
        for Wj in reversed(weights[:-1]):
            W = W @ Wj
        return W
    W = weights[0]
    for Wj in weights[1:]:
        W = Wj @ W
    return W


def layer_gradients_stack(
    weights: Sequence[np.ndarray], G: np.ndarray
) -> list[np.ndarray]:
    """The chain rule for stacks: ``dl/dW_j = (W_N ... W_{j+1})^T G (W_{j-1} ... W_1)^T``.

    ``G`` (``(B, d_N, d_0)``) is the gradient of a loss ``l`` in the end-to-end
    matrix: ``G = W X X^T - Y X^T`` for (4), ``G = m (W - Z)`` for whitened data.
    The one batched gradient of linnet (:func:`gradients` and the flows call it).

    The products are accumulated from the narrow side of the network:
    with ``d_N <= d_0``, ``A_j = W_N ... W_{j+1}`` (``d_N x d_j``) downwards and
    ``P_j = G W_1^T ... W_{j-1}^T`` (``d_N x d_{j-1}``) upwards, so each
    gradient ``A_j^T P_j`` costs ``d_N d_j d_{j-1}``; with ``d_0 < d_N`` the
    transposed network is used. A kernel: no validation.

    Returns
    -------
    list of ndarray
        ``[dl/dW_1, ..., dl/dW_N]``, each of the shape of its ``W_j``.
    """
    if G.shape[-2] > G.shape[-1]:
        # dl/dW_j of the transposed network W_1^T ... W_N^T with G^T is (dl/dW_j)^T.
        grads = layer_gradients_stack(
            [np.matrix_transpose(Wj) for Wj in reversed(weights)],
            np.matrix_transpose(G),
        )
        return [np.matrix_transpose(g) for g in reversed(grads)]
    N = len(weights)
    above: list = [
        None
    ] * N  # above[j] = W_N ... W_{j+2} (0-based j); None is the identity
    cur = weights[-1]
    for j in range(N - 2, -1, -1):
        above[j] = cur
        cur = cur @ weights[j]
    out = []
    P = G
    for j, Wj in enumerate(weights):
        if above[j] is None:
            out.append(P)
        elif G.shape[-2] == 1:
            # one output: each gradient is an outer product; broadcasting forms it
            # without a matrix product of inner dimension 1 (the same numbers).
            out.append(np.matrix_transpose(above[j]) * P)
        else:
            out.append(np.matrix_transpose(above[j]) @ P)
        if j + 1 < N:
            P = P @ np.matrix_transpose(Wj)
    return out


def balancedness_stack(weights: Sequence[np.ndarray]) -> np.ndarray:
    """``max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F`` for each network of a stack (see :func:`balancedness`).

    A kernel: no validation. Returns zeros of shape ``(B,)`` for depth 1.
    """
    out = np.zeros(weights[0].shape[:-2])
    for j in range(len(weights) - 1):
        D = np.matrix_transpose(weights[j + 1]) @ weights[j + 1] - weights[
            j
        ] @ np.matrix_transpose(weights[j])
        out = np.maximum(out, np.linalg.norm(D, axis=(-2, -1)))
    return out


# --------------------------------------------------------------------------
# private kernels
# --------------------------------------------------------------------------


def _prefix_products(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``[I, W_1, W_2 W_1, ..., W_N ... W_1]``: the products below each layer."""
    out = [np.eye(weights[0].shape[1])]
    for Wj in weights:
        out.append(Wj @ out[-1])
    return out


def _suffix_products(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``[W_N ... W_1, ..., W_N, I]``: entry ``j`` is ``W_N ... W_{j+1}``."""
    out = [np.eye(weights[-1].shape[0])]
    for Wj in reversed(weights):
        out.append(out[-1] @ Wj)
    return out[::-1]


def _end_to_end(weights: Sequence[np.ndarray]) -> np.ndarray:
    W = weights[0]
    for Wj in weights[1:]:
        W = Wj @ W
    return W


def _layer_gradients(weights: Sequence[np.ndarray], G: np.ndarray) -> list[np.ndarray]:
    """Chain rule for one network: :func:`layer_gradients_stack` without a batch axis."""
    return layer_gradients_stack(weights, G)


def _gradients_from_moments(
    weights: Sequence[np.ndarray], XXt: np.ndarray, YXt: np.ndarray
) -> list[np.ndarray]:
    """Gradients of (4) from the data moments; ``dL/dW = W X X^T - Y X^T``."""
    return _layer_gradients(weights, _end_to_end(weights) @ XXt - YXt)


def _imbalances(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [
        weights[j + 1].T @ weights[j + 1] - weights[j] @ weights[j].T
        for j in range(len(weights) - 1)
    ]


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def end_to_end(weights) -> np.ndarray:
    """End-to-end matrix ``W = W_N W_{N-1} ... W_1`` (eq. 3).

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``, ``W_j`` of shape ``d_j x d_{j-1}``.

    Returns
    -------
    ndarray, shape (dy, dx)
    """
    return _end_to_end(check_weights(weights))


def loss(weights, X, Y) -> float:
    """Training loss ``L(W_1, ..., W_N) = 1/2 ||Y - W_N ... W_1 X||_F^2`` (eq. 4).

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
    return 0.5 * float(np.sum((Y - _end_to_end(weights) @ X) ** 2))


def gradients(weights, X, Y) -> list[np.ndarray]:
    """Gradients ``dL/dW_j`` of the loss (4), one per layer.

    Gradient flow (13) is ``dW_j/dt = -dL/dW_j``. With ``W = W_N ... W_1`` and
    ``G = (W X - Y) X^T`` the gradient with respect to ``W``,

    ``dL/dW_j = (W_N ... W_{j+1})^T G (W_{j-1} ... W_1)^T``.

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``.
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)

    Returns
    -------
    list of ndarray
        ``[dL/dW_1, ..., dL/dW_N]``, each of the shape of its ``W_j``.
    """
    weights = check_weights(weights)
    X, Y = check_data(X, Y, weights[0].shape[1], weights[-1].shape[0])
    return _layer_gradients(weights, (_end_to_end(weights) @ X - Y) @ X.T)


def hessian(weights, X, Y) -> np.ndarray:
    """Exact Hessian of the loss (4) over all weights.

    The weights are stacked as ``concatenate([W_1.ravel(), ..., W_N.ravel()])``
    (row-major). With ``A_j = W_N ... W_{j+1}``, ``B_j = W_{j-1} ... W_1`` (so
    ``W = A_j W_j B_j``) and ``G = (W X - Y) X^T``, the second variation is

    ``d^2 L = ||dW X||_F^2 + <G, d^2 W>``,

    the Gauss-Newton part plus the residual times the second derivative of the
    product. The first part is ``J^T (I kron X X^T) J`` with the Jacobian block
    ``J_j = A_j kron B_j^T`` of ``vec(W)`` in ``vec(W_j)``. The second has no
    diagonal blocks (``W`` is linear in each ``W_j``); for ``i < k`` its block
    is ``H[(k,a,b),(i,c,d)] = (A_k^T G B_i^T)[a,d] * (W_{k-1} ... W_{i+1})[b,c]``.

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``.
    X : array_like, shape (dx, m)
    Y : array_like, shape (dy, m)

    Returns
    -------
    ndarray, shape (P, P)
        Symmetric, ``P = sum_j d_j d_{j-1}``.
    """
    weights = check_weights(weights)
    X, Y = check_data(X, Y, weights[0].shape[1], weights[-1].shape[0])
    N = len(weights)
    below = _prefix_products(weights)
    above = _suffix_products(weights)
    XXt = X @ X.T
    G = _end_to_end(weights) @ XXt - Y @ X.T
    dy = weights[-1].shape[0]

    jac = np.hstack([np.kron(above[j + 1], below[j].T) for j in range(N)])
    H = jac.T @ np.kron(np.eye(dy), XXt) @ jac

    sizes = [Wj.size for Wj in weights]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for k in range(N):
        for i in range(k):
            K = above[k + 1].T @ G @ below[i].T  # d_k x d_{i-1}
            between = (
                _end_to_end(weights[i + 1 : k])
                if k > i + 1
                else np.eye(weights[i].shape[0])
            )
            block = np.einsum("ad,bc->abcd", K, between).reshape(sizes[k], sizes[i])
            H[offsets[k] : offsets[k + 1], offsets[i] : offsets[i + 1]] += block
            H[offsets[i] : offsets[i + 1], offsets[k] : offsets[k + 1]] += block.T
    return H


def imbalances(weights) -> list[np.ndarray]:
    """The matrices ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T``, ``j = 1, ..., N-1``.

    Gradient flow (13) conserves every ``D_j`` (eq. 15): ``dD_j/dt = 0``.

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``.

    Returns
    -------
    list of ndarray
        ``N - 1`` square matrices, ``D_j`` of size ``d_j x d_j`` (empty for ``N = 1``).
    """
    return _imbalances(check_weights(weights))


def balancedness(weights) -> float:
    """``max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F``: 0 for a balanced network (14).

    Eq. (14) of the paper prints ``W_j^T W_j`` for the second term; the
    dimensionally consistent (and conserved, eq. 15) quantity is
    ``W_j W_j^T``, both sides being ``d_j x d_j``.

    Parameters
    ----------
    weights : list of array_like
        ``[W_1, ..., W_N]``.

    Returns
    -------
    float
        0.0 for depth ``N = 1``.
    """
    D = _imbalances(check_weights(weights))
    return max((float(np.linalg.norm(Dj)) for Dj in D), default=0.0)
