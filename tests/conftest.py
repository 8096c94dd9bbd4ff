"""Shared fixtures of the linnet test-suite."""

from __future__ import annotations

import numpy as np
import pytest

from linnet.data import Target, whitened_data


def _max_rel_error(A, B) -> float:
    """``max_k ||A[k] - B[k]||_F / ||B[k]||_F`` over the leading (time) axis of two trajectories."""
    A, B = np.asarray(A), np.asarray(B)
    axes = tuple(range(1, A.ndim))
    return float(np.max(np.linalg.norm(A - B, axis=axes) / np.linalg.norm(B, axis=axes)))


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
