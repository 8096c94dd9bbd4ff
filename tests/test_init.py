"""Tests of linnet.init: balanced (Procedure 1), Gaussian and rotated initialisations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linnet.init import balanced_init, gaussian_init, rotate
from linnet.network import balancedness, end_to_end

# Round-off budget of balanced_init: an SVD and a product of at most 6
# orthogonal-times-diagonal factors of size <= 6 lose a few ulps each, so both
# the product and the balancedness are exact to ~1e-15 relative; 1e-12 leaves
# three orders of margin and still fails on any real error (e.g. a wrong power
# of the singular values is off by O(1)).
ROUNDOFF = 1e-12


@st.composite
def balanced_cases(draw):
    dx = draw(st.integers(1, 5))
    dy = draw(st.integers(1, 5))
    rank = draw(st.integers(0, min(dx, dy)))
    depth = draw(st.integers(1, 6))
    hidden = [draw(st.integers(max(rank, 1), 6)) for _ in range(depth - 1)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    W0 = rng.standard_normal((dy, rank)) @ rng.standard_normal((rank, dx))
    return W0, [dx, *hidden, dy], seed


@settings(max_examples=60, deadline=None)
@given(balanced_cases())
def test_balanced_init_has_product_w0_and_is_balanced(case):
    W0, widths, seed = case
    weights = balanced_init(W0, widths, seed)
    assert [W.shape for W in weights] == [
        (widths[j], widths[j - 1]) for j in range(1, len(widths))
    ]
    scale = max(np.linalg.norm(W0, 2), 1.0)
    assert np.linalg.norm(end_to_end(weights) - W0) <= ROUNDOFF * scale
    # Each W_j W_j^T has norm ||W0||_2^{2/N}; compare the imbalance to that.
    assert balancedness(weights) <= ROUNDOFF * scale ** (2 / (len(widths) - 1))


def test_balanced_init_is_deterministic_and_depends_on_the_seed():
    W0 = np.arange(6.0).reshape(2, 3)
    a = balanced_init(W0, [3, 4, 4, 2], seed=7)
    b = balanced_init(W0, [3, 4, 4, 2], seed=7)
    c = balanced_init(W0, [3, 4, 4, 2], seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.allclose(a[1], c[1])


def test_balanced_init_splits_singular_values_evenly():
    # Each layer of a balanced network carries sigma^{1/N} (Procedure 1).
    W0 = np.diag([8.0, 1.0])
    weights = balanced_init(W0, [2, 2, 2, 2], seed=0)
    for W in weights:
        np.testing.assert_allclose(
            np.linalg.svd(W, compute_uv=False), [2.0, 1.0], rtol=1e-14
        )


def test_gaussian_init_shapes_std_and_determinism():
    weights = gaussian_init([40, 50, 30], 0.5, seed=3)
    assert [W.shape for W in weights] == [(50, 40), (30, 50)]
    # 2000 samples: the sample std is within 5 standard errors (0.5/sqrt(4000)*5 ~ 0.04) of 0.5.
    assert np.std(np.concatenate([W.ravel() for W in weights])) == pytest.approx(
        0.5, abs=0.04
    )
    again = gaussian_init([40, 50, 30], 0.5, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(weights, again, strict=True))


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 4),
    st.floats(0.0, np.pi),
    st.integers(0, 2**32 - 1),
)
def test_rotate_keeps_the_norm_and_sets_the_angle(rows, cols, angle, seed):
    if rows * cols == 1:
        angle = 0.0 if angle < np.pi / 2 else np.pi
    D = np.random.default_rng(seed).standard_normal((rows, cols)) + 0.1
    R = rotate(D, angle, seed)
    norm = np.linalg.norm(D)
    # Norm and cosine are exact up to a few ulps of the Gram-Schmidt passes.
    assert np.linalg.norm(R) == pytest.approx(norm, rel=1e-13)
    assert np.sum(R * D) / norm**2 == pytest.approx(np.cos(angle), abs=1e-13)


def test_figure1_start_is_z1_at_30_degrees_with_ten_times_its_norm(figure1_data):
    _, _, target = figure1_data
    W0 = 10 * rotate(target.Z1, np.pi / 6, seed=1)
    Z1 = target.Z1
    cos = np.sum(W0 * Z1) / (np.linalg.norm(W0) * np.linalg.norm(Z1))
    assert np.degrees(np.arccos(cos)) == pytest.approx(30.0, abs=1e-10)
    assert np.linalg.norm(W0) == pytest.approx(10 * np.linalg.norm(Z1), rel=1e-13)


# -- bad input: one test per kind --------------------------------------------


def test_width_below_rank_raises_naming_widths():
    W0 = np.eye(3)
    with pytest.raises(
        ValueError,
        match=r"widths must all be >= rank\(W0\) = 3 .*; got widths\[2\] = 2",
    ):
        balanced_init(W0, [3, 4, 2, 3], seed=0)


def test_end_widths_must_match_w0():
    W0 = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"widths\[0\] must equal .* \(dx=3\)"):
        balanced_init(W0, [2, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"widths\[-1\] must equal .* \(dy=2\)"):
        balanced_init(W0, [3, 4, 3], seed=0)


def test_depth_below_one_raises_naming_widths():
    with pytest.raises(
        ValueError, match=r"widths must have at least 2 entries .*depth N >= 1"
    ):
        gaussian_init([3], 1.0, seed=0)


def test_non_integer_or_non_positive_width_raises():
    with pytest.raises(ValueError, match=r"widths\[1\] must be an integer >= 1"):
        gaussian_init([3, 0, 2], 1.0, seed=0)
    with pytest.raises(ValueError, match=r"widths\[1\] must be an integer"):
        gaussian_init([3, 2.5, 2], 1.0, seed=0)


def test_non_finite_w0_raises_naming_w0():
    with pytest.raises(ValueError, match=r"W0 must be finite"):
        balanced_init(np.array([[1.0, np.inf]]), [2, 1, 1], seed=0)


def test_bad_std_raises_naming_std():
    with pytest.raises(ValueError, match=r"std must be a finite number > 0"):
        gaussian_init([2, 2], -1.0, seed=0)


def test_bad_angle_or_zero_direction_raise():
    with pytest.raises(ValueError, match=r"angle must be in \[0, pi\]"):
        rotate(np.ones((2, 2)), 4.0, seed=0)
    with pytest.raises(ValueError, match=r"direction must be nonzero"):
        rotate(np.zeros((2, 2)), 0.5, seed=0)
    with pytest.raises(ValueError, match=r"direction must have at least 2 entries"):
        rotate(np.ones((1, 1)), 0.5, seed=0)
