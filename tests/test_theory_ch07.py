"""Tests of the closed forms of chapter 07 in linnet.theory (section "Closed forms of chapter 07").

minimum_sharpness against an independent re-derivation (the formula typed out) and against the
largest Hessian eigenvalue of (4) at a balanced minimum (linnet.network.hessian); agreement of
two round-off computations at 1e-10 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

from linnet import theory
from linnet.data import Target, whitened_data
from linnet.init import balanced_init
from linnet.network import hessian


@pytest.mark.parametrize("N", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("s_Z", [0.3, 1.0, 4.0])
def test_minimum_sharpness_formula(s_Z, N):
    assert theory.minimum_sharpness(s_Z, 50, N) == pytest.approx(
        50 * N * s_Z ** (2 - 2 / N), rel=1e-14
    )


def test_minimum_sharpness_broadcasts():
    out = theory.minimum_sharpness(np.array([0.5, 2.0]), 10, np.array([2, 4]))
    np.testing.assert_allclose(out, [10 * 2 * 0.5, 10 * 4 * 2.0**1.5], rtol=1e-14)


@pytest.mark.parametrize("widths", [[5, 1], [5, 2, 1], [5, 3, 3, 1], [5, 2, 4, 3, 1]])
def test_minimum_sharpness_is_the_hessian_top_eigenvalue(widths):
    X, Y = whitened_data(50, 5, 1, 0)
    target = Target.from_data(X, Y)
    net = balanced_init(target.Z1, widths, 0)
    lam = np.linalg.eigvalsh(hessian(net, X, Y))[-1]
    N = len(widths) - 1
    assert lam == pytest.approx(theory.minimum_sharpness(target.s_Z, 50, N), rel=1e-10)


@pytest.mark.parametrize(
    "args, word",
    [
        ((0.0, 50, 2), "s_Z"),
        ((1.0, -1, 2), "m"),
        ((1.0, 50, 0), "depth"),
        ((1.0, 50, 2.5), "depth"),
    ],
)
def test_minimum_sharpness_rejects_bad_input(args, word):
    with pytest.raises(ValueError, match=word):
        theory.minimum_sharpness(*args)


def test_exported():
    assert "minimum_sharpness" in theory.__all__
