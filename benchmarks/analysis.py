"""Fronts, matched-accuracy costs and speed ratios, and the goals of issue 22.

A method's *front* is its set of non-dominated points (no other point of the
same method is both faster and more accurate). Its *cost at accuracy eps* is
read off the front by linear interpolation of ``log(seconds)`` against
``log(error)`` between the two front points whose errors bracket ``eps``; if
even the most accurate point misses ``eps``, the cost is undefined (None); if
the cheapest point is already more accurate than ``eps``, the cost is that
point's time (an upper bound: a looser setting might be faster), flagged
``bound``. Speed ratios are costs divided by linnet's cost at the same
accuracy.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np


def front(points: list[dict]) -> list[dict]:
    """Non-dominated points of one method, sorted from most to least accurate."""
    pts = sorted(points, key=lambda p: (p["error"], p["seconds"]))
    out, best = [], math.inf
    for p in pts:
        if p["seconds"] < best:
            out.append(p)
            best = p["seconds"]
    return out


def cost_at(points: list[dict], eps: float) -> tuple[float | None, bool]:
    """Seconds a method needs for error ``eps`` (interpolated on its front) and whether it is a bound."""
    f = front(points)
    if not f or f[0]["error"] > eps:
        return None, False
    if f[-1]["error"] <= eps:
        return f[-1]["seconds"], True
    for a, b in pairwise(f):
        if a["error"] <= eps <= b["error"]:
            if b["error"] == a["error"]:
                return b["seconds"], False
            x = (math.log(eps) - math.log(a["error"])) / (
                math.log(b["error"]) - math.log(a["error"])
            )
            return math.exp(
                math.log(a["seconds"])
                + x * (math.log(b["seconds"]) - math.log(a["seconds"]))
            ), False
    raise AssertionError("unreachable")


def by_method(points: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in points:
        out.setdefault(p["method"], []).append(p)
    return out


def ratios_at(points: list[dict], eps: float, reference: str = "linnet") -> list[dict]:
    """Every method's cost at ``eps`` and its ratio to linnet's."""
    groups = by_method(points)
    base, _ = cost_at(groups.get(reference, []), eps)
    rows = []
    for method, pts in groups.items():
        cost, bound = cost_at(pts, eps)
        rows.append(
            {
                "method": method,
                "seconds": cost,
                "bound": bound,
                "ratio": None if cost is None or base is None else cost / base,
            }
        )
    return rows


def front_check(
    points: list[dict],
    floor: float,
    top: float = 1e-6,
    n: int = 25,
    reference: str = "linnet",
) -> dict:
    """Is ``reference`` the cheapest method at every accuracy in ``[max(floor, its best error), top]``?

    Checked on a log grid of ``n`` accuracies. Returns the grid's range, the
    accuracies where another method is cheaper, and which methods.
    """
    groups = by_method(points)
    mine = groups.get(reference, [])
    if not mine:
        return {"range": None, "on_front": None, "beaten_at": [], "beaten_by": []}
    low = max(floor, min(p["error"] for p in mine))
    if low >= top:
        return {"range": [low, top], "on_front": None, "beaten_at": [], "beaten_by": []}
    grid = np.geomspace(low, top, n)
    beaten_at, beaten_by = [], set()
    for eps in grid:
        c, _ = cost_at(mine, float(eps))
        others = {
            m: cost_at(p, float(eps))[0] for m, p in groups.items() if m != reference
        }
        faster = [
            m for m, o in others.items() if o is not None and c is not None and o < c
        ]
        if c is None or faster:
            beaten_at.append(float(eps))
            beaten_by.update(faster)
    return {
        "range": [float(low), float(top)],
        "on_front": not beaten_at,
        "beaten_at": beaten_at,
        "beaten_by": sorted(beaten_by),
    }
