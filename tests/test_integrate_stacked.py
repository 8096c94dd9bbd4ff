"""The public stacked integrator: exact on a linear ODE, per-row parameters, clear errors."""

import numpy as np
import pytest

from linnet.flows import integrate_stacked


def test_linear_decay_with_per_row_rates():
    rates = np.array([0.5, 1.0, 3.0])
    t = np.linspace(0.0, 2.0, 9)
    y = integrate_stacked(lambda y, rows: -rates[rows, None] * y, np.ones((3, 2)), t, rtol=1e-11, atol=1e-14)
    exact = np.exp(-rates[:, None] * t[None, :])
    # DOP853 at rtol 1e-11 on a smooth decay: global error well under 1e-9 relative.
    assert np.max(np.abs(y[:, :, 0] - exact) / exact) < 1e-9
    assert y.shape == (3, t.size, 2)


def test_rows_are_independent_of_the_batch():
    t = np.linspace(0.0, 1.0, 5)
    rhs = lambda y, rows: np.stack([y[:, 1], -y[:, 0] * (1 + rows)], axis=1)  # noqa: E731
    y0 = np.array([[1.0, 0.0], [0.5, 0.5]])
    both = integrate_stacked(rhs, y0, t)
    alone = integrate_stacked(lambda y, rows: rhs(y, rows + 1), y0[1:], t)
    # Same steps for the row alone or in a batch; only the last bits of the
    # vectorised arithmetic may differ (measured ~1e-15), so 1e-13 relative.
    np.testing.assert_allclose(both[1], alone[0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(y0=np.ones(3)), "y0"),
        (dict(t_eval=[0.0, -1.0]), "t_eval"),
        (dict(rtol=0.0), "rtol"),
        (dict(rhs=None), "rhs"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match):
    args = dict(rhs=lambda y, rows: -y, y0=np.ones((2, 2)), t_eval=[0.0, 1.0])
    args.update(kwargs)
    rhs, y0, t = args.pop("rhs"), args.pop("y0"), args.pop("t_eval")
    with pytest.raises(ValueError, match=match):
        integrate_stacked(rhs, y0, t, **args)
