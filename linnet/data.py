"""Whitened data and the regression target (paper Section 3.2, eqs. 23-27).

With whitened data, ``X X^T = m I`` (23), the loss of a linear network depends
on the data only through ``Z = Y X^T / m`` (25): ``L_1(W) = m/2 ||W - Z||_F^2``
plus a constant. ``Target`` holds ``Z``, its SVD and the quantities the theorems
are stated in: ``s_Z``, ``s_{Z,2}``, ``gamma_Z`` (26) and ``Z_1`` (27).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validate import as_matrix, positive_int, read_only

#: Relative tolerance on ``||X X^T / m - I||_2`` for data to count as whitened.
#: Whitening by :func:`whiten` leaves round-off of a few ulps times the
#: condition number of ``X``; 1e-10 accepts that and rejects any real
#: departure from (23).
WHITENING_RTOL = 1e-10
#: A hand-built Target must satisfy ``||U diag(s) Vt - Z||_F <= SVD_RTOL s_Z``;
#: LAPACK's SVD reconstructs to ~1e-15 relative, so 1e-10 only rejects a
#: factorisation that is not one.
SVD_RTOL = 1e-10


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
        raise ValueError(
            f"X must have at most as many rows (dx={dx}) as columns (m={m}) to be whitened"
        )
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
        raise ValueError(
            f"dx must be <= m for X X^T = m I to be possible; got dx={dx}, m={m}"
        )
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

    def __post_init__(self):
        # Validated once, here: a Target built by hand must be what from_matrix
        # builds (read-only copies, a thin SVD of Z), or every formula that
        # reads s_Z, u, v would silently use garbage.
        Z = as_matrix(self.Z, "Z")
        m = positive_int(self.m, "m")
        k = min(Z.shape)
        U = as_matrix(self.U, "U", shape=(Z.shape[0], k))
        Vt = as_matrix(self.Vt, "Vt", shape=(k, Z.shape[1]))
        s = np.array(self.s, dtype=float)
        if (
            s.shape != (k,)
            or not np.all(np.isfinite(s))
            or np.any(s < 0)
            or np.any(np.diff(s) > 0)
        ):
            raise ValueError(
                f"s must hold the {k} singular values of Z, finite, >= 0 and non-increasing; got {s!r}"
            )
        scale = max(float(s[0]) if k else 0.0, np.finfo(float).tiny)
        if np.linalg.norm(U * s @ Vt - Z) > SVD_RTOL * scale:
            raise ValueError(
                "U diag(s) Vt must equal Z (a thin SVD of Z); use Target.from_matrix(Z, m)"
            )
        for name, value in (("Z", Z), ("m", m), ("U", U), ("s", s), ("Vt", Vt)):
            object.__setattr__(self, name, read_only(value) if name != "m" else value)

    @classmethod
    def from_matrix(cls, Z, m: int = 1) -> Target:
        """Build the target directly from ``Z`` (and the sample count ``m``).

        The target holds read-only copies: the caller's ``Z`` stays writeable.
        """
        Z = as_matrix(Z, "Z")
        m = positive_int(m, "m")
        U, s, Vt = np.linalg.svd(Z, full_matrices=False)
        idx = np.argmax(np.abs(U), axis=0)
        signs = np.sign(U[idx, np.arange(U.shape[1])])
        signs[signs == 0] = 1.0
        U = U * signs
        Vt = Vt * signs[:, None]
        return cls(Z=Z, m=m, U=U, s=s, Vt=Vt)

    @classmethod
    def from_data(cls, X, Y, *, rtol: float = WHITENING_RTOL) -> Target:
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
            raise ValueError(
                "Z must be nonzero for gamma_Z to be defined; Z = Y X^T / m is the zero matrix"
            )
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


def as_target(target, name: str = "target", *, unique_Z1: bool = False) -> Target:
    """The one validation of a target argument: a :class:`Target`, or a ValueError naming ``name``.

    Parameters
    ----------
    target : Target
    name : str
        Parameter name used in the error message.
    unique_Z1 : bool
        Also require ``s_Z > s_{Z,2}`` (Assumption 3.6), which every statement
        about ``Z_1`` (27) needs.
    """
    if not isinstance(target, Target):
        raise ValueError(
            f"{name} must be a linnet.data.Target (use Target.from_data(X, Y) or Target.from_matrix(Z, m)); "
            f"got {type(target).__name__}"
        )
    if unique_Z1:
        target.require_unique_Z1()
    return target


def target_data(target) -> tuple[np.ndarray, np.ndarray]:
    """Whitened data (23) whose target (25) is ``target.Z``: ``X = sqrt(m) [I_dx, 0]``, ``Y = Z X``.

    Then ``X X^T = m I`` and ``Y X^T / m = Z`` (to round-off), so gradient
    flow (13) on this data (:func:`linnet.flows.gradient_flow`) is the flow of
    a target given only as a matrix (e.g. :func:`spectral_target`). Only the
    moments ``X X^T`` and ``Y X^T`` enter the flow, so any other whitened data
    with the same ``Z`` gives the same trajectories.

    Parameters
    ----------
    target : Target
        With ``m >= dx``.

    Returns
    -------
    X : ndarray, shape (dx, m)
    Y : ndarray, shape (dy, m)
    """
    target = as_target(target)
    if target.m < target.dx:
        raise ValueError(
            f"target.m must be >= dx = {target.dx} for X X^T = m I to be possible; got m = {target.m}"
        )
    X = np.zeros((target.dx, target.m))
    X[:, : target.dx] = np.sqrt(target.m) * np.eye(target.dx)
    return X, target.Z @ X


# --------------------------------------------------------------------------
# random targets
# --------------------------------------------------------------------------


def haar_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-distributed ``n x n`` orthogonal matrix (QR of a Gaussian, signs fixed)."""
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    return Q * signs


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
    seed : int, numpy.random.Generator or None
        A Generator is used as it is (its state advances), so a caller that
        draws the singular values first can pass its own generator.

    Returns
    -------
    Target
    """
    dy = positive_int(dy, "dy")
    dx = positive_int(dx, "dx")
    m = positive_int(m, "m")
    s = np.asarray(singular_values, dtype=float)
    if s.ndim != 1 or s.size == 0 or s.size > min(dy, dx):
        raise ValueError(
            f"singular_values must be a 1-D array of length 1..min(dy, dx) = {min(dy, dx)}; got shape {s.shape}"
        )
    if not (np.all(np.isfinite(s)) and np.all(s >= 0) and np.all(np.diff(s) <= 0)):
        raise ValueError("singular_values must be finite, >= 0 and non-increasing")
    rng = np.random.default_rng(seed)  # a Generator passes through unchanged
    U = haar_orthogonal(dy, rng)[:, : s.size]
    V = haar_orthogonal(dx, rng)[:, : s.size]
    return Target.from_matrix((U * s) @ V.T, m)


# --------------------------------------------------------------------------
# a user's table (Arora et al.'s Figure 1 data, or any regression table)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A regression table, PCA-whitened (eq. 23) and with the target rescaled.

    Attributes
    ----------
    X : ndarray, shape (dx, m)
        The feature columns, one example per column: centred, projected on their
        principal axes and scaled so that ``X X^T = m I`` (23).
    Y : ndarray, shape (1, m)
        The target column, centred and multiplied by ``target_scale``.
    features : tuple of str
        Names of the feature columns, in the order of the rows of the raw data.
    target : str
        Name of the target column.
    target_scale : float
        Factor applied to the centred target (1.0 without ``unit_target``); with
        ``unit_target`` it makes ``||Y X^T / m||_F = 1``.
    """

    X: np.ndarray
    Y: np.ndarray
    features: tuple
    target: str
    target_scale: float

    @property
    def m(self) -> int:
        return self.X.shape[1]

    @property
    def Phi(self) -> np.ndarray:
        """``Lambda_yx = Y X^T / m`` (Arora et al.'s ``Phi``; the book's ``Z``, eq. 25)."""
        return self.Y @ self.X.T / self.m


def load_table(
    path, target_column: str, *, delimiter: str = ",", unit_target: bool = True
) -> Table:
    """Read a CSV table and PCA-whiten its features, as in Arora et al.'s Figure 1.

    The first row names the columns; every other row is one example. All
    columns but ``target_column`` are features. The features are standardised,
    centred and whitened along their principal axes: with the thin SVD of the
    centred, standardised ``d x m`` feature matrix ``U S V^T``, ``X = sqrt(m) V^T``,
    so ``X X^T = m I`` (23) holds to round-off whatever the conditioning of the
    raw features. The target is centred (which changes the loss only by a
    constant, since the rows of ``X`` have mean zero) and, with
    ``unit_target``, rescaled so that ``||Lambda_yx||_F = ||Y X^T / m||_F = 1``
    (the normalisation of Arora et al.'s Figure 1).

    Only the standard library's ``csv`` module and numpy are used.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    target_column : str
        Header of the column to regress on.
    delimiter : str
        Field separator (default ``","``).
    unit_target : bool
        Rescale the target so that ``||Lambda_yx||_F = 1`` (default True).

    Returns
    -------
    Table

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file has no header or no data rows, is not UTF-8, a header
        name is empty or repeated, the rows have different lengths,
        ``target_column`` is not a header, a cell is not a number or is
        not finite (NaN, inf, empty), there are not more rows than feature
        columns (centred data of ``m`` examples span at most ``m - 1``
        directions), the features are linearly dependent, or (with
        ``unit_target``) the target is uncorrelated with every feature.
    """
    import csv
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"path must name an existing CSV file; {str(p)!r} does not exist"
        )
    # utf-8-sig: a byte-order mark (written by spreadsheet programs) is not part of the first header
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            numbered = [
                (reader.line_num, row) for row in reader if row
            ]  # blank lines are skipped
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{p} is not UTF-8 text ({err.reason} at byte {err.start}): save the table as UTF-8 CSV"
        ) from None
    rows = [row for _, row in numbered]
    if not rows:
        raise ValueError(
            f"{p} is empty: expected a header row naming the columns, then one row per example"
        )
    header = [h.strip() for h in rows[0]]
    seen = set()
    for k, h in enumerate(header):
        if not h:
            raise ValueError(
                f"{p}, line {numbered[0][0]}: column {k + 1} of the header has no name"
            )
        if h in seen:
            raise ValueError(
                f"{p}, line {numbered[0][0]}: column name {h!r} appears more than once in the header "
                f"(columns {[i + 1 for i, x in enumerate(header) if x == h]}); column names must be unique"
            )
        seen.add(h)
    if target_column not in header:
        raise ValueError(
            f"target_column {target_column!r} is not a column of {p}; its columns are {header}"
        )
    if len(header) < 2:
        raise ValueError(
            f"{p} must have at least one feature column besides the target; got columns {header}"
        )
    body = rows[1:]
    if not body:
        raise ValueError(f"{p} has a header but no data rows")
    values = np.empty((len(body), len(header)))
    for i, (line, row) in enumerate(numbered[1:]):
        if len(row) != len(header):
            raise ValueError(
                f"{p}, line {line}: expected {len(header)} cells like the header, got {len(row)}"
            )
        for k, cell in enumerate(row):
            try:
                x = float(cell)
            except ValueError:
                raise ValueError(
                    f"{p}, line {line}, column {header[k]!r}: {cell!r} is not a number; every cell must be numeric"
                ) from None
            if not np.isfinite(x):
                raise ValueError(
                    f"{p}, line {line}, column {header[k]!r}: {cell!r} is not finite"
                )
            values[i, k] = x
    t = header.index(target_column)
    features = tuple(h for k, h in enumerate(header) if k != t)
    F = np.delete(values, t, axis=1).T  # d x m
    y = values[:, t]
    d, m = F.shape
    if m <= d:
        raise ValueError(
            f"{p} has {m} rows (examples) and {d} feature columns: PCA-whitening needs more rows than features "
            f"(at least {d + 1})"
        )
    # Divide every column by its largest magnitude first: the standardisation below removes each
    # feature's scale anyway, and without it squares of values near 1e200 overflow to inf.
    peak = np.max(np.abs(F), axis=1, keepdims=True)
    F = F / np.where(peak > 0, peak, 1.0)
    F = F - F.mean(axis=1, keepdims=True)
    scale = F.std(axis=1, keepdims=True)
    if np.any(scale == 0):
        k = int(np.argmin(scale[:, 0]))
        raise ValueError(
            f"feature column {features[k]!r} of {p} is constant: the features are linearly dependent"
        )
    _, s, Vt = np.linalg.svd(F / scale, full_matrices=False)
    if s[-1] <= s[0] * max(d, m) * np.finfo(float).eps:
        raise ValueError(
            f"the feature columns of {p} are linearly dependent (smallest/largest singular value "
            f"{s[-1] / s[0]:.3g}): drop redundant columns before whitening"
        )
    X = np.sqrt(m) * Vt
    y_peak = float(np.max(np.abs(y))) or 1.0
    yc = (y / y_peak - np.mean(y / y_peak))[
        None, :
    ]  # centred, in units of the largest |y| (no overflow)
    if unit_target:
        norm = float(np.linalg.norm(yc @ X.T / m))
        if not norm > 0:
            raise ValueError(
                f"target column {target_column!r} of {p} is uncorrelated with every feature: Lambda_yx = 0"
            )
        Y = yc / norm
        target_scale = 1.0 / (norm * y_peak)
    else:
        with np.errstate(over="ignore"):
            Y = yc * y_peak
        target_scale = 1.0
    if not (np.all(np.isfinite(Y)) and np.isfinite(target_scale) and target_scale > 0):
        raise ValueError(
            f"target column {target_column!r} of {p}: values up to {y_peak:.3g} are too large or too small to represent "
            f"the {'rescaled' if unit_target else 'centred'} target in double precision; rescale the column"
        )
    for arr in (X, Y):
        arr.setflags(write=False)
    return Table(
        X=X, Y=Y, features=features, target=target_column, target_scale=target_scale
    )
