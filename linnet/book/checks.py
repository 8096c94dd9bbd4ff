"""Check cells: numerical claims that raise when they fail.

Every claim a chapter checks goes through :func:`check`, which prints one line
with the measured value and the bound, records the claim, and raises
:class:`ClaimFailed` when the claim does not hold. Printed values are rounded
to the digits that mean something, so re-executing a notebook reproduces its
committed output exactly (nbval); values below ``floor`` (round-off) print as
``< floor``.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass

from linnet.book.glue import GLUE_PREFIX
from linnet.book.registry import unknown_ids

_RELATIONS = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


class ClaimFailed(AssertionError):
    """A claim of the paper (or of the book) did not hold numerically."""


@dataclass(frozen=True)
class Claim:
    """One checked claim: what was claimed, what was measured, and whether it held."""

    claim_id: str
    statement: str
    measured: float
    relation: str
    bound: float
    passed: bool
    shown: str
    #: Registry ids (``book/registry.yaml``) of the items this claim checks,
    #: e.g. ``("eft:thm-3.8",)``; the book's own results have ``book:`` ids.
    items: tuple[str, ...] = ()


RECORDS: list[Claim] = []

#: Glue key prefix of claim records; the reproduction report collects them.
CLAIM_KEY_PREFIX = "claim:"


def _emit_record(claim: Claim) -> None:
    """Save the claim with the notebook's outputs, as a MyST-NB glue record.

    Only inside a Jupyter kernel; the record holds the rounded value shown,
    not the raw float, so re-executing reproduces it exactly (nbval).
    """
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    record = {k: v for k, v in asdict(claim).items() if k != "measured"}
    # nbformat allows structured values only under */json or *+json mime
    # types; the glue prefix breaks that, so the record travels as JSON text.
    display(
        {GLUE_PREFIX + "text/plain": json.dumps(record, sort_keys=True)},
        raw=True,
        metadata={
            "scrapbook": {
                "name": CLAIM_KEY_PREFIX + claim.claim_id,
                "mime_prefix": GLUE_PREFIX,
            }
        },
    )


def format_value(value: float, digits: int = 3, floor: float | None = None) -> str:
    """Round ``value`` to ``digits`` significant digits; below ``floor`` print ``< floor``."""
    if isinstance(value, bool):
        return str(value)
    if floor is not None and abs(value) < floor:
        return f"< {floor:.0e}"
    if value == 0:
        return "0"  # the sign of a zero is round-off: never print -0.0
    if not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


def check(
    claim_id: str,
    statement: str,
    measured: float,
    relation: str,
    bound: float,
    *,
    digits: int = 3,
    floor: float | None = None,
    items: str | tuple[str, ...] | list[str] = (),
) -> None:
    """Check ``measured <relation> bound``, print the outcome, raise if it fails.

    The claim is appended to :data:`RECORDS`. Nothing is returned, so a check
    as the last line of a cell adds no unrounded value to the cell's output.

    Parameters
    ----------
    claim_id : str
        Stable identifier, e.g. ``"setup.whitening"``.
    statement : str
        The claim in words, citing the paper's numbering.
    measured : float
        The computed quantity.
    relation : {"<=", "<", ">=", ">", "=="}
    bound : float
        The tolerance or threshold; its justification belongs in the text next
        to the check.
    digits : int
        Significant digits printed for ``measured``.
    floor : float, optional
        Values with ``|measured| < floor`` print as ``< floor`` (round-off level
        quantities whose last digits depend on the BLAS build).
    items : str or sequence of str, optional
        Registry ids of the items the claim checks (``"eft:thm-3.8"``,
        ``"arora:thm-1"``, ``"book:..."``); see ``book/registry.yaml``. The
        reproduction report and the coverage page group claims by them. Every
        check cell of the book names at least one (``tests/test_registry.py``).

    Raises
    ------
    ValueError
        For an unknown relation, or an id the registry does not list (checked
        whenever the registry file is found, i.e. in a checkout of the book).
    ClaimFailed
        If the relation does not hold (NaN never passes).
    """
    if relation not in _RELATIONS:
        raise ValueError(
            f"relation must be one of {sorted(_RELATIONS)}; got {relation!r}"
        )
    measured = float(measured) if not isinstance(measured, bool) else measured
    passed = bool(_RELATIONS[relation](measured, bound))
    shown = format_value(measured, digits, floor)
    items = (items,) if isinstance(items, str) else tuple(items)
    if not all(isinstance(i, str) and i for i in items):
        raise ValueError(f"items must be non-empty registry id strings; got {items!r}")
    unknown = unknown_ids(items)
    if unknown:
        raise ValueError(
            f"items: {unknown} not in the registry (book/registry.yaml) for claim {claim_id!r}; "
            "add the item there or use its registered id"
        )
    claim = Claim(
        claim_id, statement, measured, relation, float(bound), passed, shown, items
    )
    RECORDS.append(claim)
    _emit_record(claim)
    mark = "PASS" if passed else "FAIL"
    print(
        f"{mark} [{claim_id}] {statement}: measured {shown} ({relation} {bound:g} required)"
    )
    if not passed:
        raise ClaimFailed(
            f"[{claim_id}] {statement}: measured {measured!r}, required {relation} {bound!r}"
        )
