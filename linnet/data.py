"""Whitened data and the regression target (paper Section 3.2, eqs. 23-27).

With whitened data, ``X X^T = m I`` (23), the loss of a linear network depends
on the data only through ``Z = Y X^T / m`` (25): ``L_1(W) = m/2 ||W - Z||_F^2``
plus a constant. ``Target`` holds ``Z``, its SVD and the quantities the theorems
are stated in: ``s_Z``, ``s_{Z,2}``, ``gamma_Z`` (26) and ``Z_1`` (27).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_matrix, positive_int

#: Relative tolerance on ``||X X^T / m - I||_2`` for data to count as whitened.
#: Whitening by :func:`whiten` leaves round-off of a few ulps times the
#: condition number of ``X``; 1e-10 accepts that and rejects any real
#: departure from (23).
WHITENING_RTOL = 1e-10


def whiten(X) -> np.ndarray:
    """Whiten the rows of ``X`` so that ``X X^T = m I`` (eq. 23).

    Uses the symmetric (ZCA) whitening ``sqrt(m) (X X^T)^{-1/2} X``, which keeps
    the input coordinates as close to the original as possible.

    Parameters
    ----------
    X : array_like, shape (dx, m)
        Data matrix with one example per column; needs ``dx <= m`` and full
        row rank.

    Returns
    -------
    ndarray, shape (dx, m)
    """
    X = as_matrix(X, "X")
    dx, m = X.shape
    if dx > m:
        raise ValueError(f"X must have at most as many rows (dx={dx}) as columns (m={m}) to be whitened")
    evals, evecs = np.linalg.eigh(X @ X.T)
    if evals[0] <= evals[-1] * dx * np.finfo(float).eps * 10:
        raise ValueError("X must have full row rank to be whitened; X X^T is singular")
    inv_sqrt = (evecs / np.sqrt(evals)) @ evecs.T
    return np.sqrt(m) * inv_sqrt @ X


def whitened_data(m: int, dx: int, dy: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random whitened data as in the paper's Figure 1.

    ``X`` is a standard Gaussian ``dx x m`` matrix whitened by :func:`whiten`,
    so ``X X^T = m I`` (23); ``Y`` is a standard Gaussian ``dy x m`` matrix.

    Parameters
    ----------
    m, dx, dy : int
        Number of examples, input and output dimensions (``dx <= m``).
    seed : int
        Seed of ``numpy.random.default_rng``; same seed, same data.

    Returns
    -------
    X : ndarray, shape (dx, m)
    Y : ndarray, shape (dy, m)
    """
    m = positive_int(m, "m")
    dx = positive_int(dx, "dx")
    dy = positive_int(dy, "dy")
    if dx > m:
        raise ValueError(f"dx must be <= m for X X^T = m I to be possible; got dx={dx}, m={m}")
    rng = np.random.default_rng(seed)
    X = whiten(rng.standard_normal((dx, m)))
    Y = rng.standard_normal((dy, m))
    return X, Y


def whitening_error(X) -> float:
    """``||X X^T / m - I||_2``: how far ``X`` is from satisfying (23)."""
    X = as_matrix(X, "X")
    m = X.shape[1]
    return float(np.linalg.norm(X @ X.T / m - np.eye(X.shape[0]), 2))


@dataclass(frozen=True)
class Target:
    """The target matrix ``Z`` (25) and its leading singular triplet.

    Attributes
    ----------
    Z : ndarray, shape (dy, dx)
        ``Y X^T / m``.
    m : int
        Number of examples; the induced flow (17) with whitened data reads
        ``dW/dt = -m A_W(W - Z)``.
    U, s, Vt : ndarray
        Thin SVD ``Z = U diag(s) Vt`` with ``s`` non-increasing. Signs are fixed
        so that the largest-magnitude entry of each left singular vector is
        positive, so the same data give the same vectors.
    """

    Z: np.ndarray
    m: int
    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray

    @classmethod
    def from_matrix(cls, Z, m: int = 1) -> "Target":
        """Build the target directly from ``Z`` (and the sample count ``m``)."""
        Z = as_matrix(Z, "Z")
        m = positive_int(m, "m")
        U, s, Vt = np.linalg.svd(Z, full_matrices=False)
        idx = np.argmax(np.abs(U), axis=0)
        signs = np.sign(U[idx, np.arange(U.shape[1])])
        signs[signs == 0] = 1.0
        U = U * signs
        Vt = Vt * signs[:, None]
        for arr in (Z, U, s, Vt):
            arr.setflags(write=False)
        return cls(Z=Z, m=m, U=U, s=s, Vt=Vt)

    @classmethod
    def from_data(cls, X, Y, *, rtol: float = WHITENING_RTOL) -> "Target":
        """``Z = Y X^T / m`` (25) from whitened data.

        Raises
        ------
        ValueError
            If the shapes disagree, an entry is not finite, or ``X`` is not
            whitened: ``||X X^T / m - I||_2 > rtol`` (default 1e-10). The target
            ``Z`` and every theorem stated in it assume (23); whiten first with
            :func:`whiten`.
        """
        X = as_matrix(X, "X")
        Y = as_matrix(Y, "Y", shape=(None, X.shape[1]))
        err = whitening_error(X)
        if not err <= rtol:
            raise ValueError(
                f"X must be whitened (X X^T = m I, eq. 23): ||X X^T/m - I||_2 = {err:.3g} "
                f"exceeds the tolerance rtol={rtol:.0e}; use linnet.whiten(X) first"
            )
        m = X.shape[1]
        return cls.from_matrix(Y @ X.T / m, m)

    @property
    def dy(self) -> int:
        return self.Z.shape[0]

    @property
    def dx(self) -> int:
        return self.Z.shape[1]

    @property
    def s_Z(self) -> float:
        """Largest singular value of ``Z``."""
        return float(self.s[0])

    @property
    def s_Z2(self) -> float:
        """Second largest singular value of ``Z`` (0 when ``Z`` has one row or column)."""
        return float(self.s[1]) if self.s.size > 1 else 0.0

    @property
    def gamma(self) -> float:
        """``gamma_Z = s_{Z,2} / s_Z`` (26), the spectral gap ratio; in [0, 1]."""
        if self.s_Z == 0:
            raise ValueError("Z must be nonzero for gamma_Z to be defined; Z = Y X^T / m is the zero matrix")
        return self.s_Z2 / self.s_Z

    @property
    def u(self) -> np.ndarray:
        """Leading left singular vector of ``Z`` (length dy)."""
        return self.U[:, 0]

    @property
    def v(self) -> np.ndarray:
        """Leading right singular vector of ``Z`` (length dx)."""
        return self.Vt[0]

    @property
    def Z1(self) -> np.ndarray:
        """``Z_1 = s_Z u v^T`` (27), the best rank-1 approximation of ``Z``."""
        return self.s_Z * np.outer(self.u, self.v)

    def require_unique_Z1(self) -> None:
        """Raise unless ``s_Z > s_{Z,2}`` (Assumption 3.6), so ``Z_1`` is unique."""
        if not self.s_Z > self.s_Z2:
            raise ValueError(
                f"Z must satisfy s_Z > s_Z2 (Assumption 3.6) for Z1 to be unique; got s_Z={self.s_Z:.6g}, "
                f"s_Z2={self.s_Z2:.6g}"
            )
