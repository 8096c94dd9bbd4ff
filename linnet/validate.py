"""Input validation shared by the public entry points, and read-only results.

Every public function validates its inputs once, with these helpers, and
raises a ``ValueError`` that names the parameter and the condition it
violates. The helpers return copies (or fresh arrays), so a caller's array is
never mutated or frozen by linnet.
"""

from __future__ import annotations

import numpy as np


def as_matrix(value, name: str, *, shape: tuple | None = None) -> np.ndarray:
    """Return ``value`` as a finite 2-D float array, or raise naming ``name``.

    ``shape`` may hold ``None`` entries for free dimensions.
    """
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (a matrix); got an array with {arr.ndim} dimensions"
        )
    if shape is not None:
        for axis, (got, want) in enumerate(zip(arr.shape, shape, strict=True)):
            if want is not None and got != want:
                raise ValueError(
                    f"{name} must have shape {_fmt_shape(shape)}; got {arr.shape} (axis {axis} differs)"
                )
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; it has {bad} NaN or infinite entries")
    return arr


def positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int ``>= minimum`` or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def positive_float(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float ``> 0`` (or ``>= 0``) or raise naming ``name``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number; got {value!r}") from None
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        cond = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {cond}; got {value!r}")
    return x


def as_matrix_stack(
    W, name: str, shape: tuple[int, int], *, what: str = "the shape of Z"
) -> tuple[np.ndarray, bool]:
    """``W`` as a finite float array of shape ``(k, dy, dx)``, and whether one matrix was given.

    The one parser for end-to-end matrices given either alone (``(dy, dx)``)
    or as a stack (``(k, dy, dx)``); functions that accept both return a result
    of the input's shape (``single`` tells which).

    Raises
    ------
    ValueError
        Naming ``name``: not 2-D or 3-D, matrices not of ``shape``, or an
        entry that is NaN or infinite.
    """
    arr = np.array(W, dtype=float)  # a copy: callers may work in place
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be a matrix of shape {shape} or a stack of shape (k, {shape[0]}, {shape[1]}); "
            f"got an array with {arr.ndim} dimensions"
        )
    if arr.shape[-2:] != tuple(shape):
        raise ValueError(
            f"{name} must have matrices of shape {tuple(shape)} ({what}); got {arr.shape[-2:]}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it has NaN or infinite entries")
    single = arr.ndim == 2
    return (arr[None] if single else arr), single


#: A matrix counts as rank one when ``sigma_2 <= RANK_ONE_RTOL * sigma_1``
#: (the end-to-end matrix of a network with a one-neuron layer, or a point of
#: a rank-one trajectory of (17)). Round-off of the layer products gives
#: ``sigma_2 ~ 1e-16 sigma_1`` and the solver's error ~1e-11; 1e-8 accepts both
#: with a wide margin and rejects any genuinely rank-two matrix.
RANK_ONE_RTOL = 1e-8


def rank_one_svd(stack: np.ndarray, name: str, *, nonzero: bool = False):
    """Thin SVD ``(U, s, Vt)`` of each matrix of a stack ``(k, dy, dx)``, raising unless each has rank <= 1.

    The one rank-one check of linnet: rank >= 2 is ``sigma_2 > RANK_ONE_RTOL
    sigma_1``. With ``nonzero`` a zero matrix (rank 0) is rejected too.

    Raises
    ------
    ValueError
        Naming ``name``, the first offending matrix and its ``sigma_2/sigma_1``.
    """
    U, sv, Vt = np.linalg.svd(stack, full_matrices=False)
    if nonzero and np.any(sv[:, 0] == 0):
        k = int(np.argmax(sv[:, 0] == 0))
        raise ValueError(
            f"{name} must have rank one (a nonzero matrix); matrix {k} is zero (rank 0)"
        )
    if sv.shape[1] > 1:
        bad = sv[:, 1] > RANK_ONE_RTOL * sv[:, 0]
        if np.any(bad):
            k = int(np.argmax(bad))
            raise ValueError(
                f"{name} must have rank one (the end-to-end matrix of a network with a one-neuron layer); "
                f"matrix {k} has sigma_2/sigma_1 = {sv[k, 1] / sv[k, 0]:.3g} > {RANK_ONE_RTOL:.0e}"
            )
    return U, sv, Vt


def check_times(t, name: str = "t_eval") -> np.ndarray:
    """Output times: a non-empty, finite, strictly increasing 1-D array starting at ``>= 0`` (a copy)."""
    t = np.array(t, dtype=float)  # a copy: results freeze it
    if t.ndim != 1 or t.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array of times; got shape {t.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} must be finite")
    if t[0] < 0:
        raise ValueError(
            f"{name} must be >= 0 (the flow starts at t = 0); got {name}[0] = {t[0]}"
        )
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{name} must be strictly increasing")
    return t


def check_tolerances(rtol, atol) -> tuple[float, float]:
    """Integration tolerances: ``rtol`` in ``[100 eps, 1)`` and ``atol > 0``."""
    rtol = positive_float(rtol, "rtol")
    atol = positive_float(atol, "atol")
    # Below ~100 ulps the local error estimate is round-off; DOP853 cannot meet it.
    if not 100 * np.finfo(float).eps <= rtol < 1:
        raise ValueError(
            f"rtol must be in [100 * eps, 1) = [{100 * np.finfo(float).eps:.1e}, 1); got {rtol!r}"
        )
    return rtol, atol


def positive_vector(value, name: str) -> np.ndarray:
    """A non-empty 1-D float array of finite numbers ``> 0`` (a copy), or a ValueError naming ``name``."""
    arr = np.array(value, dtype=float)
    if (
        arr.ndim != 1
        or arr.size == 0
        or not np.all(np.isfinite(arr))
        or np.any(arr <= 0)
    ):
        raise ValueError(
            f"{name} must be a non-empty 1-D array of finite numbers > 0; got {value!r}"
        )
    return arr


def start_angle(angle, name: str = "angle") -> float:
    """A start's angle to ``Z_1`` in ``[0, pi/2)`` radians (a start correlated with ``Z_1``)."""
    try:
        a = float(angle)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a real number in [0, pi/2) radians; got {angle!r}"
        ) from None
    if not 0.0 <= a < np.pi / 2:
        raise ValueError(
            f"{name} must be in [0, pi/2) radians (a start correlated with Z_1); got {angle!r}"
        )
    return a


def freeze(*arrays: np.ndarray) -> None:
    """Make arrays read-only in place: for arrays a function has just created (no copy).

    Use :func:`read_only` for anything a caller may still hold.
    """
    for a in arrays:
        a.setflags(write=False)


def freeze_fields(record, names) -> None:
    """Replace the array fields ``names`` of a frozen dataclass by read-only copies (in ``__post_init__``)."""
    for name in names:
        object.__setattr__(record, name, read_only(getattr(record, name)))


def read_only(value) -> np.ndarray:
    """A read-only copy of ``value`` as an array: what result records hold.

    A copy, so freezing a result never freezes the caller's array, and no one
    can change a result after the fact (``res.W[0, 0] = 1`` raises).
    """
    arr = np.array(value)
    arr.setflags(write=False)
    return arr


def _fmt_shape(shape: tuple) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
