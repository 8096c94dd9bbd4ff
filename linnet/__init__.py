"""linnet: solvers and formulas for deep linear networks.

The helper package of the linnet-book, the executable companion to
Eftekhari, *Training Linear Neural Networks: Non-Local Convergence and
Complexity Results* (ICML 2020) and Arora, Cohen, Golowich & Hu, *A Convergence
Analysis of Gradient Descent for Deep Linear Neural Networks* (ICLR 2019).

Shapes follow the paper: ``X`` is ``dx x m``, ``Y`` is ``dy x m``, ``W_j`` is
``d_j x d_{j-1}`` and ``widths = [d_0 = dx, d_1, ..., d_N = dy]``.

The public interface is re-exported here; the modules hold the details:
:mod:`linnet.data`, :mod:`linnet.network`, :mod:`linnet.init`,
:mod:`linnet.flows`, :mod:`linnet.theory`, :mod:`linnet.measure` (the core);
the chapter protocols in :mod:`linnet.chapters`; the book's glue (check
cells, figures, the registry) in :mod:`linnet.book`. The core never imports
either (``tests/test_architecture.py``).
"""

from importlib.metadata import version as _version

from .data import Target, as_target, whiten, whitened_data, whitening_error
from .flows import (
    DivergenceError,
    FlowIntegrationError,
    forward_euler,
    gradient_descent,
    gradient_flow,
    induced_flow,
    induced_operator,
    induced_velocity,
    integrate_stacked,
    scalar_polar_flow,
)
from .init import balanced_init, gaussian_init, rotate
from .network import balancedness, end_to_end, gradients, hessian, imbalances, loss

# One source for the version: pyproject.toml, through the installed metadata.
__version__ = _version("linnet")

__all__ = [
    "Target",
    "as_target",
    "whiten",
    "whitened_data",
    "whitening_error",
    "end_to_end",
    "loss",
    "gradients",
    "hessian",
    "balancedness",
    "imbalances",
    "balanced_init",
    "gaussian_init",
    "rotate",
    "induced_operator",
    "gradient_flow",
    "induced_flow",
    "induced_velocity",
    "scalar_polar_flow",
    "integrate_stacked",
    "forward_euler",
    "gradient_descent",
    "DivergenceError",
    "FlowIntegrationError",
]
