"""Tests of the exact nearby rates in linnet.theory (section "Exact nearby rates").

The closed forms of :func:`linnet.theory.nearby_modes` are checked against a
numerical linearisation of the induced flow (17) at ``Z_1``, written here
independently of ``linnet.flows`` and ``linnet.chapters.depth``:

* ``F(W) = -m A_W(W - Z)`` with ``A_W`` evaluated from its definition (16), the
  fractional powers of ``W W^T`` and ``W^T W`` taken from the SVD of ``W`` in
  its range (rank one);
* the rank-one tangent space at ``Z_1 = s_Z u_Z v_Z^T`` is spanned by
  ``u_Z v_Z^T``, ``u' v_Z^T`` and ``u_Z v'^T`` (``u' _|_ u_Z``, ``v' _|_ v_Z``), and
  ``DF(Z_1)[xi]`` is a central difference along the rank-one curve
  ``(s_Z + e ds)(u_Z + e a)(v_Z + e b)^T`` whose velocity at ``e = 0`` is ``xi``.

Tolerance. The curve stays on the rank-one matrices, ``F(Z_1) = 0``, and the
central difference has truncation error ``O(h^2)`` with ``h = 1e-5`` (relative
to ``s_Z``): ``~1e-10`` relative, times derivatives of ``F`` of order
``N^2``. Round-off in ``F`` (``~1e-16 m s_Z^{3-2/N}``, from ``Z - Z_1``
cancelling in ``A_{Z_1}``) divided by ``h`` adds ``~1e-11`` relative to the
rates. Eigenvalues of the symmetric ``n x n`` Jacobian (``n <= 8``) move by at
most that perturbation, scaled by the largest rate; rates are compared
relative to the largest rate at ``TOL = 1e-6``, four orders above the expected
error and far below any formula error (which would be O(1)).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from linnet import theory as th
from linnet.data import Target, whitened_data

TOL = 1e-6
H = 1e-5


def _powers(W, p):
    """``(W W^T)^p`` and ``(W^T W)^p`` of a rank-one ``W`` (identity for p = 0)."""
    dy, dx = W.shape
    if p == 0:
        return np.eye(dy), np.eye(dx)
    U, s, Vt = np.linalg.svd(W)
    return s[0] ** (2 * p) * np.outer(U[:, 0], U[:, 0]), s[0] ** (2 * p) * np.outer(
        Vt[0], Vt[0]
    )


def _velocity(W, Z, m, N):
    """``-m A_W(W - Z)`` from the definition (16)."""
    D = W - Z
    total = np.zeros_like(W)
    for j in range(1, N + 1):
        left, _ = _powers(W, (N - j) / N)
        _, right = _powers(W, (j - 1) / N)
        total += left @ D @ right
    return -m * total


def _complement(w):
    return np.linalg.svd(w[:, None], full_matrices=True)[0][:, 1:]


def _fd_jacobian(target: Target, N: int):
    """Tangent basis (n, dy, dx) and the Jacobian of (17) at Z1 in it, by central differences."""
    s_Z, u, v, Z, m = target.s_Z, target.u, target.v, target.Z, target.m
    dy, dx = Z.shape
    Uc, Vc = _complement(u), _complement(v)
    # (ds, a, b) of each basis direction: xi = ds u v^T + s_Z a v^T + s_Z u b^T.
    params = [(1.0, np.zeros(dy), np.zeros(dx))]
    params += [(0.0, Uc[:, i] / s_Z, np.zeros(dx)) for i in range(dy - 1)]
    params += [(0.0, np.zeros(dy), Vc[:, j] / s_Z) for j in range(dx - 1)]
    basis = np.array(
        [
            ds * np.outer(u, v) + s_Z * np.outer(a, v) + s_Z * np.outer(u, b)
            for ds, a, b in params
        ]
    )
    h = H * s_Z
    J = np.empty((len(params), len(params)))
    for k, (ds, a, b) in enumerate(params):

        def curve(e, ds=ds, a=a, b=b):
            return (s_Z + e * ds) * np.outer(u + e * a, v + e * b)

        dF = (_velocity(curve(h), Z, m, N) - _velocity(curve(-h), Z, m, N)) / (2 * h)
        J[:, k] = np.einsum("kij,ij->k", basis, dF)
    return basis, J


def _random_target(rng, dy, dx, scale, m):
    Z = rng.standard_normal((dy, dx))
    Z *= scale / np.linalg.svd(Z, compute_uv=False)[0]
    return Target.from_matrix(Z, m)


# -- against the numerical linearisation ------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    dy=st.integers(1, 4),
    dx=st.integers(1, 5),
    depth=st.integers(1, 10),
    log_scale=st.floats(-2, 2),
    m=st.integers(1, 100),
    seed=st.integers(0, 2**32 - 1),
)
def test_rates_match_the_numerical_linearisation(dy, dx, depth, log_scale, m, seed):
    assume(dy * dx >= 2)
    assume(depth >= 2 or min(dy, dx) == 1)
    target = _random_target(np.random.default_rng(seed), dy, dx, 10.0**log_scale, m)
    assume(target.s_Z2 < 0.95 * target.s_Z)  # Assumption 3.6 with a margin
    modes = th.nearby_modes(target, depth)
    basis, J = _fd_jacobian(target, depth)
    assert modes.rates.size == dy + dx - 1 == basis.shape[0]
    top = modes.rates.max()
    numeric = np.sort(-np.linalg.eigvals(J).real)
    assert np.max(np.abs(numeric - np.sort(modes.rates))) <= TOL * top
    # Each closed-form direction is an eigenvector with its rate: J x = -rate x in the basis coordinates.
    coords = np.einsum("kij,nij->nk", basis, modes.directions)
    residual = coords @ J.T + modes.rates[:, None] * coords
    assert np.max(np.linalg.norm(residual, axis=1)) <= TOL * top
    assert modes.slowest == pytest.approx(modes.rates.min(), rel=0, abs=0)


@pytest.mark.parametrize("dy", [1, 2, 3])
@pytest.mark.parametrize("depth", [2, 3, 7])
def test_rates_on_the_chapter_data(dy, depth):
    X, Y = whitened_data(50, 5, dy, seed=0)
    target = Target.from_data(X, Y)
    _, J = _fd_jacobian(target, depth)
    modes = th.nearby_modes(target, depth)
    numeric = np.sort(-np.linalg.eigvals(J).real)
    assert np.max(np.abs(numeric - np.sort(modes.rates))) <= TOL * modes.rates.max()


def test_directions_are_an_orthonormal_tangent_basis(matrix_data):
    _, _, target = matrix_data
    modes = th.nearby_modes(target, 4)
    E = modes.directions.reshape(len(modes.names), -1)
    assert np.allclose(E @ E.T, np.eye(len(E)), atol=1e-13)
    # Tangent at Z1 = s u v^T: E = (u u^T) E + E (v v^T) - (u u^T) E (v v^T).
    P, Q = np.outer(target.u, target.u), np.outer(target.v, target.v)
    for D in modes.directions:
        assert np.allclose(P @ D + D @ Q - P @ D @ Q, D, atol=1e-13)


# -- closed forms by hand ------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_scalar_output_rates_by_hand(depth):
    s_Z, m = 0.3, 7
    target = Target.from_matrix(np.array([[s_Z, 0.0, 0.0, 0.0]]), m)
    modes = th.nearby_modes(target, depth)
    k = s_Z ** (2 - 2 / depth)
    assert modes.names == ("radial", "right 1", "right 2", "right 3")
    assert modes.rates[0] == pytest.approx(m * depth * k, rel=1e-14)
    assert np.allclose(modes.rates[1:], m * k, rtol=1e-14)
    assert th.slowest_nearby_rate(s_Z, m, depth) == pytest.approx(m * k, rel=1e-14)
    assert th.radial_rate(s_Z, m, depth) == pytest.approx(m * depth * k, rel=1e-14)


def test_matrix_rates_by_hand():
    # Z = diag(2, 0.5) padded to 2 x 3: one singular pair besides Z1 and one right null direction.
    Z = np.array([[2.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    m, N = 3, 4
    modes = th.nearby_modes(Target.from_matrix(Z, m), N)
    c = m * 2.0 ** (1 - 2 / N)
    assert modes.kinds == ("radial", "symmetric", "antisymmetric", "right")
    assert np.allclose(
        modes.rates, [m * N * 2.0 ** (2 - 2 / N), c * 1.5, c * 2.5, c * 2.0], rtol=1e-14
    )
    assert modes.slowest == pytest.approx(c * 1.5, rel=1e-14)


def test_slowest_rate_is_the_minimum_and_the_closed_form(matrix_data):
    _, _, target = matrix_data
    for N in range(2, 11):
        modes = th.nearby_modes(target, N)
        closed = th.slowest_nearby_rate(target.s_Z, target.m, N, target.gamma)
        assert modes.slowest == pytest.approx(closed, rel=1e-13)
        assert modes.rates[0] == pytest.approx(
            th.radial_rate(target.s_Z, target.m, N), rel=1e-13
        )


@settings(max_examples=100, deadline=None)
@given(log_s=st.floats(-3, 3), m=st.floats(0.1, 100), gamma=st.floats(0, 0.99))
def test_depth_ordering_of_the_slowest_rate(log_s, m, gamma):
    """Decreasing in N iff s_Z < 1, constant at s_Z = 1, increasing iff s_Z > 1."""
    s = 10.0**log_s
    rates = th.slowest_nearby_rate(s, m, np.arange(1, 11), gamma)
    steps = np.diff(rates)
    if log_s < -1e-9:
        assert np.all(steps < 0)
    elif log_s > 1e-9:
        assert np.all(steps > 0)


def test_unit_scale_makes_every_depth_equally_fast():
    rates = th.slowest_nearby_rate(1.0, 3.0, np.arange(1, 11), 0.25)
    assert np.all(rates == 3.0 * 0.75)


def test_vectorised_rates_broadcast():
    out = th.slowest_nearby_rate(np.array([[0.5], [2.0]]), 3.0, np.arange(1, 4))
    assert out.shape == (2, 3)
    assert out[0, 0] == pytest.approx(3.0) and out[1, 0] == pytest.approx(3.0)
    assert isinstance(th.radial_rate(0.5, 2.0, 3), float)


# -- errors --------------------------------------------------------------------


def test_depth_one_needs_a_vector_target(matrix_data):
    _, _, target = matrix_data
    with pytest.raises(ValueError, match="depth 1 has no one-neuron layer"):
        th.nearby_modes(target, 1)


@pytest.mark.parametrize("depth", [0, -1, 2.5, True])
def test_bad_depth(depth, figure1_data):
    _, _, target = figure1_data
    with pytest.raises(ValueError, match="depth"):
        th.nearby_modes(target, depth)


def test_bad_inputs(figure1_data):
    _, _, target = figure1_data
    with pytest.raises(ValueError, match="Target"):
        th.nearby_modes(np.ones((1, 3)), 2)
    with pytest.raises(ValueError, match="Assumption 3.6"):
        th.nearby_modes(Target.from_matrix(np.eye(2), 1), 2)
    with pytest.raises(ValueError, match="s_Z"):
        th.slowest_nearby_rate(0.0, 1.0, 2)
    with pytest.raises(ValueError, match="m"):
        th.slowest_nearby_rate(1.0, -1.0, 2)
    with pytest.raises(ValueError, match="gamma"):
        th.slowest_nearby_rate(1.0, 1.0, 2, gamma=1.0)
    with pytest.raises(ValueError, match="depth"):
        th.radial_rate(1.0, 1.0, np.array([1.5]))
    with pytest.raises(ValueError, match="depth"):
        th.radial_rate(1.0, 1.0, 0)
