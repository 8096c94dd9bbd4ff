"""linnet: solvers and formulas for deep linear networks.

The helper package of the linnet-book, the executable companion to
Eftekhari, *Training Linear Neural Networks: Non-Local Convergence and
Complexity Results* (ICML 2020) and Arora, Cohen, Golowich & Hu, *A Convergence
Analysis of Gradient Descent for Deep Linear Neural Networks* (ICLR 2019).

Shapes follow the paper: ``X`` is ``dx x m``, ``Y`` is ``dy x m``, ``W_j`` is
``d_j x d_{j-1}`` and ``widths = [d_0 = dx, d_1, ..., d_N = dy]``.
"""

__version__ = "0.1.0"
