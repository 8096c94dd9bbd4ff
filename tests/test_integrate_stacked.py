"""The public stacked integrator: exact on a linear ODE, per-row parameters, clear errors."""

import numpy as np
import pytest

from linnet.flows import integrate_stacked


def test_linear_decay_with_per_row_rates():
    rates = np.array([0.5, 1.0, 3.0])
    t = np.linspace(0.0, 2.0, 9)
    y = integrate_stacked(
        lambda y, rows: -rates[rows, None] * y,
        np.ones((3, 2)),
        t,
        rtol=1e-11,
        atol=1e-14,
    )
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


def test_a_trial_step_whose_stages_overflow_is_rejected():
    # Regression (found by chapter 06): at s_Z = 100 the first trial step of
    # this start overflows in its stages, so its error estimate is NaN. It
    # used to count as zero error, the step was accepted and the flow returned
    # ||W|| ~ 1e101. The flow never leaves the ball max(||W0||, s_Z).
    from linnet.chapters.depth import mode_start
    from linnet.data import Target, whitened_data
    from linnet.flows import induced_flow
    from linnet.theory import nearby_modes

    X, Y = whitened_data(50, 5, 2, 0)
    target = Target.from_data(X, Y * (100 / Target.from_data(X, Y).s_Z))
    W0 = mode_start(target, nearby_modes(target, 3).directions[1], 1e-3)
    W = induced_flow(W0, target, 3, [0.0, 0.00178]).W[-1]
    assert np.linalg.norm(W) <= max(np.linalg.norm(W0), target.s_Z) * (1 + 1e-9)
