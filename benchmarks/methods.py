"""The methods compared: forward Euler, scipy's ``solve_ivp``, linnet, JAX + diffrax.

A method solves one :class:`~benchmarks.workloads.Case` at one setting (a step
for Euler, a relative tolerance for adaptive methods, with ``atol = 1e-2 rtol``
for all of them) and returns the trajectories of the evaluation rows as rows
``w(t)``, shape ``(b, T, dx)``. Methods marked ``per_trajectory`` integrate one
start per call (scipy); the others take the whole stack at once.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.integrate import solve_ivp

from linnet.flows import induced_flow

from .workloads import (
    Case,
    Workload,
    from_polar,
    matrix_rhs,
    matrix_rhs_single,
    polar_rhs_single,
    to_polar,
)

#: atol of every adaptive method, relative to its rtol.
ATOL_PER_RTOL = 1e-2
#: The paper's step.
PAPER_STEP = 1e-6


class Method:
    key = ""
    label = ""
    family = ""
    system = ""  # "matrix" or "polar"
    setting_name = "rtol"
    per_trajectory = False

    def __init__(self, settings):
        self.settings = list(settings)
        self.compile_seconds: dict[str, float] = {}

    def available(self) -> str | None:
        """None if usable, else why not."""
        return None

    def prepare(self, work: Workload) -> None:
        """Anything done once per workload, untimed (JIT compilation)."""

    def solve(
        self, work: Workload, case: Case, rows: np.ndarray, setting: float
    ) -> np.ndarray:
        raise NotImplementedError


# --------------------------------------------------------------------------
# forward Euler
# --------------------------------------------------------------------------


def _steps(work: Workload, step: float) -> tuple[int, int]:
    """Number of steps and steps per output interval; the step must divide the output spacing."""
    spacing = work.t[1] - work.t[0]
    per = round(spacing / step)
    if per < 1 or abs(per * step - spacing) > 1e-9 * spacing:
        raise ValueError(
            f"step must divide the output spacing {spacing:g}; got {step:g}"
        )
    return per * (work.t.size - 1), per


class EulerMatrix(Method):
    key = "euler-matrix"
    label = "Euler, matrix flow (paper's scheme)"
    family = "euler"
    system = "matrix"
    setting_name = "step"

    def solve(self, work, case, rows, step):
        steps, per = _steps(work, step)
        rhs = matrix_rhs(work.z, work.m, case.depth)
        w = case.w0[rows].copy()
        out = np.empty((w.shape[0], work.t.size, w.shape[1]))
        out[:, 0] = w
        if w.shape[0] == 1:
            # One trajectory: 1-D vectors, dot products and Python floats, the
            # fewest NumPy calls per step (the same formula as matrix_rhs).
            v, z, N = w[0].copy(), work.z, case.depth
            p, c, rate = 1.0 - 1.0 / N, float(N - 1), step * work.m
            for k in range(1, steps + 1):
                s2 = float(v @ v)
                D = v - z
                v = v - (rate * s2**p) * (D + (c * float(D @ v) / s2) * v)
                if k % per == 0:
                    out[0, k // per] = v
            return out
        for k in range(1, steps + 1):
            w = w + step * rhs(w)
            if k % per == 0:
                out[:, k // per] = w
        return out


class EulerPolar(Method):
    key = "euler-polar"
    label = "Euler, polar reduction"
    family = "euler"
    system = "polar"
    setting_name = "step"

    def solve(self, work, case, rows, step):
        steps, per = _steps(work, step)
        r0, th0, v, u = to_polar(case.w0[rows], work.z)
        s_Z, m, N = float(np.linalg.norm(work.z)), work.m, case.depth
        a, c_r, c_t = 1.0 - 2.0 / N, -m * N, -m * s_Z
        R = np.empty((r0.size, work.t.size))
        TH = np.empty_like(R)
        R[:, 0], TH[:, 0] = r0, th0
        if r0.size == 1:
            # One trajectory: plain floats, the fastest a Python loop gets.
            r, th = float(r0[0]), float(th0[0])
            cos, sin = math.cos, math.sin
            for k in range(1, steps + 1):
                q = r**a
                r, th = (
                    r + step * (c_r * r * q * (r - s_Z * cos(th))),
                    th + step * (c_t * q * sin(th)),
                )
                if k % per == 0:
                    R[0, k // per], TH[0, k // per] = r, th
        else:
            r, th = r0.copy(), th0.copy()
            for k in range(1, steps + 1):
                q = r**a
                r, th = (
                    r + step * (c_r * r * q * (r - s_Z * np.cos(th))),
                    th + step * (c_t * q * np.sin(th)),
                )
                if k % per == 0:
                    R[:, k // per], TH[:, k // per] = r, th
        return from_polar(R, TH, v, u)


# --------------------------------------------------------------------------
# scipy
# --------------------------------------------------------------------------


class ScipyPolar(Method):
    family = "scipy"
    system = "polar"
    per_trajectory = True

    def __init__(self, ivp_method: str, settings):
        super().__init__(settings)
        self.ivp_method = ivp_method
        self.key = f"scipy-{ivp_method.lower()}-polar"
        self.label = f"solve_ivp {ivp_method}, polar reduction"

    def solve(self, work, case, rows, rtol):
        r0, th0, v, u = to_polar(case.w0[rows], work.z)
        rhs = polar_rhs_single(float(np.linalg.norm(work.z)), work.m, case.depth)
        R = np.empty((r0.size, work.t.size))
        TH = np.empty_like(R)
        for b in range(r0.size):
            sol = solve_ivp(
                rhs,
                (0.0, work.t[-1]),
                [r0[b], th0[b]],
                method=self.ivp_method,
                t_eval=work.t,
                rtol=rtol,
                atol=ATOL_PER_RTOL * rtol,
            )
            if not sol.success:
                raise RuntimeError(
                    f"{self.label} failed at rtol={rtol:g}: {sol.message}"
                )
            R[b], TH[b] = sol.y
        return from_polar(R, TH, v, u)


class ScipyMatrix(Method):
    family = "scipy"
    system = "matrix"
    per_trajectory = True

    def __init__(self, ivp_method: str, settings):
        super().__init__(settings)
        self.ivp_method = ivp_method
        self.key = f"scipy-{ivp_method.lower()}-matrix"
        self.label = f"solve_ivp {ivp_method}, matrix flow"

    def solve(self, work, case, rows, rtol):
        rhs = matrix_rhs_single(work.z, work.m, case.depth)
        w0 = case.w0[rows]
        out = np.empty((w0.shape[0], work.t.size, w0.shape[1]))
        for b, start in enumerate(w0):
            sol = solve_ivp(
                rhs,
                (0.0, work.t[-1]),
                start,
                method=self.ivp_method,
                t_eval=work.t,
                rtol=rtol,
                atol=ATOL_PER_RTOL * rtol,
            )
            if not sol.success:
                raise RuntimeError(
                    f"{self.label} failed at rtol={rtol:g}: {sol.message}"
                )
            out[b] = sol.y.T
        return out


# --------------------------------------------------------------------------
# linnet
# --------------------------------------------------------------------------


class Linnet(Method):
    key = "linnet"
    label = "linnet (polar reduction)"
    family = "linnet"
    system = "polar"

    def __init__(self, settings, method: str = "auto"):
        super().__init__(settings)
        self.method = method
        if method == "rank1":
            self.key = "linnet-matrix"
            self.label = "linnet, matrix flow (method='rank1')"
            self.system = "matrix"

    def solve(self, work, case, rows, rtol):
        W = induced_flow(
            case.w0[:, None, :],
            work.target,
            case.depth,
            work.t,
            rtol=rtol,
            atol=ATOL_PER_RTOL * rtol,
            method=self.method,
        ).W
        return W[rows, :, 0, :]


# --------------------------------------------------------------------------
# JAX + diffrax
# --------------------------------------------------------------------------


class Diffrax(Method):
    family = "diffrax"
    system = "polar"

    def __init__(self, solver: str, settings):
        super().__init__(settings)
        self.solver = solver
        self.key = f"diffrax-{solver.lower()}"
        self.label = f"diffrax {solver} (jax.vmap), polar reduction"
        self._compiled = None

    def available(self):
        try:
            import diffrax  # noqa: F401
            import jax  # noqa: F401
        except ImportError as exc:
            return f"JAX/diffrax not installed ({exc.name}); install the extra: pip install -e '.[bench]'"
        return None

    def _function(self):
        if self._compiled is None:
            import diffrax
            import jax
            import jax.numpy as jnp

            jax.config.update("jax_enable_x64", True)
            solver = getattr(diffrax, self.solver)()

            def vector_field(_, y, args):
                N, m, s_Z = args
                r = jnp.maximum(y[0], 0.0)
                q = r ** (1.0 - 2.0 / N)
                return jnp.stack(
                    [
                        -m * N * r * q * (r - s_Z * jnp.cos(y[1])),
                        -m * s_Z * q * jnp.sin(y[1]),
                    ]
                )

            term = diffrax.ODETerm(vector_field)

            def one(y0, ts, N, m, s_Z, rtol, atol):
                sol = diffrax.diffeqsolve(
                    term,
                    solver,
                    t0=0.0,
                    t1=ts[-1],
                    dt0=None,
                    y0=y0,
                    args=(N, m, s_Z),
                    saveat=diffrax.SaveAt(ts=ts),
                    stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
                    max_steps=100_000,
                )
                return sol.ys

            self._compiled = jax.jit(
                jax.vmap(one, in_axes=(0, None, None, None, None, None, None))
            )
        return self._compiled

    def _call(self, work, case, rows, rtol):
        import jax.numpy as jnp

        r0, th0, v, u = to_polar(case.w0[rows], work.z)
        ys = self._function()(
            jnp.asarray(np.stack([r0, th0], axis=1)),
            jnp.asarray(work.t),
            float(case.depth),
            work.m,
            float(np.linalg.norm(work.z)),
            rtol,
            ATOL_PER_RTOL * rtol,
        )
        ys = np.asarray(ys.block_until_ready())
        return from_polar(ys[..., 0], ys[..., 1], v, u)

    def prepare(self, work):
        """Compile for this workload's stack size: compile time = first call - second call."""
        case, rtol = work.cases[0], self.settings[0]
        rows = np.arange(work.size)
        start = time.perf_counter()
        self._call(work, case, rows, rtol)
        first = time.perf_counter() - start
        start = time.perf_counter()
        self._call(work, case, rows, rtol)
        second = time.perf_counter() - start
        self.compile_seconds[work.name] = max(first - second, 0.0)

    def solve(self, work, case, rows, rtol):
        return self._call(work, case, np.arange(work.size), rtol)[rows]


def all_methods(quick: bool, work_name: str) -> list[Method]:
    """The methods and their settings for one workload."""
    rtols = [1e-4, 1e-6, 1e-8, 1e-10, 1e-12] if not quick else [1e-4, 1e-8]
    steps = [1e-4, 1e-5] if quick else [1e-3, 1e-4, 1e-5, PAPER_STEP]
    # On the batch, Euler on the matrix flow gives the errors of Euler on the
    # polar reduction (the same scheme on the same flow) at several times its
    # cost: two steps show that without spending minutes.
    matrix_steps = steps if work_name != "batch" or quick else [1e-3, 1e-4]
    # Radau (implicit, per trajectory) costs seconds per trajectory at rtol 1e-12 and is
    # far off the front at every accuracy: its sweep stops at 1e-10.
    radau_rtols = [r for r in rtols if r >= 1e-10]
    return [
        EulerMatrix(matrix_steps),
        EulerPolar(steps),
        *[ScipyPolar(name, rtols) for name in ("RK45", "DOP853", "LSODA")],
        ScipyPolar("Radau", radau_rtols),
        ScipyMatrix("DOP853", rtols),
        Linnet(rtols),
        Linnet(rtols, method="rank1"),
        # diffrax's error at a given rtol is larger than scipy's and linnet's (another error
        # estimate and interpolant): one more decade lets its front reach 1e-10.
        Diffrax("Dopri8", rtols + ([] if quick else [1e-13])),
        Diffrax("Tsit5", rtols + ([] if quick else [1e-13])),
    ]
