"""Committed outputs must mean the same on every machine.

nbval compares every output of every notebook exactly, and numpy's OpenBLAS
and SIMD loops round differently on different CPUs. `make portable` re-executes
the notebooks as other machines would; this test catches, without executing
anything, the three forms of output that have broken on other machines before:

- a round-off- or solver-level number printed with its digits (`9e-11` where
  another CPU prints `6e-11`): magnitudes below 1e-7 must be written as a
  bound (`< 1e-8`), or be an exact power of ten named as a tolerance;
- negative zero (`-0.0000`), whose sign is round-off;
- solver step counts (`nfev`, "step attempts"), which depend on round-off in
  the error estimate.

The claim records the reproduction report is built from obey the same rule:
their shown values are scanned too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Below this magnitude a printed value is round-off or solver error in this book
#: (solver tolerances are 1e-8 to 1e-12): it must be written as a bound.
SMALL = 1e-7
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?")
# A number that is itself a bound: right after a comparison (`< 1e-8`, `>= -1e-9`).
_AFTER_COMPARISON = re.compile(r"(?:<=?|>=?|≤|≥)\s*[-−]?\s*$")
# An exact power of ten named as a tolerance or an input (`rtol 1e-12`, `floor = 1e-10`).
_TOLERANCE_NAME = re.compile(
    r"(?:tol|tolerance|floor|threshold|level|eps|epsilon|ε)\s*[=:]?\s*$", re.I
)
_NEGATIVE_ZERO = re.compile(r"(?<![\w.])[-−]0(?:\.0*)?(?:[eE][+-]?\d+)?(?![\d.])")
_STEP_COUNT = re.compile(
    r"\bn(?:fev|jev|lu)\b|step attempts|accepted steps|rejected steps|function evaluations|steps taken",
    re.I,
)


def problems_in_text(text: str) -> list[str]:
    """What in ``text`` would print differently on another machine."""
    found = []
    for match in _NUMBER.finditer(text):
        try:
            value = float(match.group(0))
        except ValueError:
            continue
        if value == 0 or value >= SMALL:
            continue
        before = text[max(0, match.start() - 30) : match.start()]
        if _AFTER_COMPARISON.search(before):
            continue
        is_power_of_ten = float(f"{value:.0e}") == value and f"{value:.0e}".startswith(
            "1e"
        )
        if is_power_of_ten and _TOLERANCE_NAME.search(before):
            continue
        found.append(
            f"round-off-level number printed with digits: {before[-20:]!r}{match.group(0)}"
        )
    for match in _NEGATIVE_ZERO.finditer(text):
        found.append(
            f"negative zero: {text[max(0, match.start() - 20) : match.end()]!r}"
        )
    for match in _STEP_COUNT.finditer(text):
        found.append(
            f"solver step count: {text[max(0, match.start() - 20) : match.end() + 20]!r}"
        )
    return found


def output_texts(nb: dict):
    """(cell index, kind, text) of every compared text output, claim records by their shown value."""
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if "text" in out:
                yield index, "stream", "".join(out["text"])
            for mime, value in out.get("data", {}).items():
                if mime.startswith("image/"):
                    continue
                text = "".join(value) if isinstance(value, list) else str(value)
                name = out.get("metadata", {}).get("scrapbook", {}).get("name", "")
                if name.startswith("claim:"):
                    record = json.loads(text)
                    if "shown" in record:
                        # The bound and relation are inputs; the shown value is measured.
                        yield index, "claim record", record["shown"]
                        continue
                yield index, mime, text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_are_portable(path):
    nb = json.loads(path.read_text())
    problems = [
        f"cell {index} ({kind}): {problem}"
        for index, kind, text in output_texts(nb)
        for problem in problems_in_text(text)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "text",
    [
        "measured 9e-11 (<= 1e-08 required)",
        "||W - Z1|| / s_Z = 1.6e-09",
        "difference 0.00000003",
        "fitted slope -0.0000",
        "kappa = -0.0",
        "-0 ",
        "nfev 46",
        "46 step attempts",
        "error 1e-09",  # a power of ten, but not named as a tolerance: noisy digits
    ],
)
def test_the_scan_catches(text):
    assert problems_in_text(text), text


@pytest.mark.parametrize(
    "text",
    [
        "measured < 1e-08 (<= 1e-07 required)",
        "measured 1.1e-05 (>= -1e-09 required)",
        "rtol 1e-12",
        "floor = 1e-10",
        "s_Z = 0.0984, gamma_Z = 0.646",
        "slope 0.0000",
        "1e-07",
        "x-0.5 and 10-0",
        "2.5e+03 iterations of gradient descent",
    ],
)
def test_the_scan_accepts(text):
    assert not problems_in_text(text), problems_in_text(text)
