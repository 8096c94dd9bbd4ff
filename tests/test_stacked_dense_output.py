"""Dense output of the stacked DOP853: many output times inside one step, per trajectory."""

import numpy as np

from linnet.flows import integrate_stacked


def test_every_output_inside_a_step_lands_at_its_own_time():
    # 2001 output times on [0, 2] and rtol 1e-8: DOP853 takes steps ~0.1 long,
    # so each step fills dozens of outputs, and the rows (rates 0.5, 2, 5)
    # step differently. An output written at a neighbouring index would be off
    # by ~rate * 1e-3 >= 5e-4 relative; the interpolant's own error is of the
    # order of the tolerance, so 1e-6 relative (100 x rtol) separates the two.
    rates = np.array([0.5, 2.0, 5.0])
    t = np.linspace(0.0, 2.0, 2001)
    y = integrate_stacked(
        lambda y, rows: -rates[rows, None] * y,
        np.ones((3, 1)),
        t,
        rtol=1e-8,
        atol=1e-12,
    )
    exact = np.exp(-rates[:, None] * t[None, :])
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y[:, :, 0] - exact) / exact) < 1e-6


def test_outputs_match_scipy_dense_output():
    # The stacked integrator uses scipy's DOP853 coefficients, controller and
    # interpolant: on the same problem it takes the same steps, so its outputs
    # at 501 times agree with solve_ivp's to round-off (1e-12 relative is
    # ~1e4 ulps, far below the 1e-6 tolerance a wrong step or index would show).
    from scipy.integrate import solve_ivp

    t = np.linspace(0.0, 3.0, 501)
    rhs = lambda y, rows: np.stack([y[:, 1], -y[:, 0] - 0.1 * y[:, 1]], axis=1)  # noqa: E731
    y = integrate_stacked(rhs, np.array([[1.0, 0.0]]), t, rtol=1e-6, atol=1e-9)
    ref = solve_ivp(
        lambda _, v: [v[1], -v[0] - 0.1 * v[1]],
        (0.0, 3.0),
        [1.0, 0.0],
        method="DOP853",
        t_eval=t,
        rtol=1e-6,
        atol=1e-9,
    ).y.T
    assert np.max(np.abs(y[0] - ref)) < 1e-12 * np.max(np.abs(ref))
