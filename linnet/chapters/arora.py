"""Gradient descent in the lazy regime of Arora, Cohen, Golowich & Hu (ICLR 2019).

Arora et al. study gradient descent on the layers of a deep linear network for
the loss over whitened data (``Lambda_xx = X X^T / m = I``),

``l(W_1, ..., W_N) = 1/2 ||W_N ... W_1 - Phi||_F^2``,  ``Phi = Lambda_yx = Y X^T / m``,

which is the empirical loss ``1/(2m) sum_i ||W x_i - y_i||^2`` minus its
constant. It is the loss (4) of the book divided by ``m``: gradient descent on
``l`` with step ``eta`` is gradient descent on (4) with step ``eta / m``, and
``Phi`` is the ``Z`` of eq. (25).

This module holds what the chapter on that paper computes, on the building
blocks of the core (the stack parser, end-to-end products, the batched chain
rule and the balancedness of :mod:`linnet.network`; the flows; the theory):

* :func:`batched_descent`: gradient descent on a stack of runs (starts x learning
  rates x seeds) advanced together, each run stopped as soon as it reaches
  ``l <= loss_tol``, diverges, or can no longer be the fastest of its group.
  It is built from parts that can be read (and are tested) one by one:
  :func:`prepare_descent` (validation, one setting per run, the reduced input
  coordinates of :func:`reduced_input_basis`), one gradient step of the
  active runs, :func:`stop_reasons` (the stopping rules) and the optional
  records (:class:`LossTrace`, :class:`BalanceTrace`, :class:`Lemma1Check`,
  the smallest ``sigma_min`` along each run) gathered in :class:`DescentRecords`;
* :func:`fastest_over_learning_rates`: the protocol of their Figure 1,
  iterations to ``loss_tol`` with the best learning rate of a grid;
* :func:`procedure_1`: their balanced initialisation, literally (SVD, ``Sigma^{1/N}``
  split, zero padding); :func:`linnet.init.balanced_init` adds random
  orthogonal mixing between layers;
* Monte Carlo estimates of the probabilities of Claims 2 and 3
  (:func:`balancedness_probability`, :func:`margin_probability`); their closed
  forms (Claim 2's bound, the book's second moment of the imbalance and exact
  margin probability, Lemma 1's decrease) are in :mod:`linnet.theory`;
* starts for Theorem 1 (:func:`margin_start`), and :func:`pad_networks`, which
  lets networks of several widths share one stack exactly.

Provenance: the setting, the conditions of Theorem 1 and its balancedness
bound are confirmed by the summary page of Arora et al. and by Eftekhari's
(29), (30), (39); the step bound of Theorem 1 and the constants of Claims 2
and 3 are from the project brief (chapter 05 marks them [brief]). The exact
margin probability and the second moment of the imbalance are this book's
derivations (in :mod:`linnet.theory`), checked against Monte Carlo in
``tests/test_theory_ch05.py``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..flows import DIVERGENCE_FACTOR
from ..init import balanced_init, check_widths
from ..network import (
    as_weight_stack,
    balancedness_stack,
    end_to_end_stack,
    layer_gradients_stack,
)
from ..theory import arora_claim_2_bound, arora_lemma_1_decrease, deficiency_margin
from ..validate import (
    as_matrix,
    as_matrix_stack,
    positive_float,
    positive_int,
    positive_vector,
    read_only,
)

__all__ = [
    "STATUSES",
    "DescentBatch",
    "DescentRecords",
    "DescentSetup",
    "LossTrace",
    "BalanceTrace",
    "Lemma1Check",
    "FastestRates",
    "MonteCarloEstimate",
    "batched_descent",
    "prepare_descent",
    "reduced_input_basis",
    "stop_reasons",
    "fastest_over_learning_rates",
    "pad_networks",
    "procedure_1",
    "gaussian_starts",
    "balanced_gaussian_starts",
    "perturb_to_balancedness",
    "margin_start",
    "balancedness_probability",
    "margin_probability",
    "imbalance_sq_stack",
]

#: Final state of a run of :func:`batched_descent`.
#: ``converged``: ``l <= loss_tol`` reached; ``diverged``: the loss blew up;
#: ``capped``: ``max_iter`` steps taken without reaching ``loss_tol``;
#: ``pruned``: stopped because another run of its group converged first.
STATUSES = ("converged", "diverged", "capped", "pruned")


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


def _phi_stack(Phi, B: int, shape: tuple[int, int]) -> np.ndarray:
    """``Phi`` (one matrix, or one per run) as a stack ``(B, d_N, d_0)`` (a copy)."""
    arr, single = as_matrix_stack(Phi, "Phi", shape)
    if not single and arr.shape[0] != B:
        raise ValueError(
            f"Phi must be one matrix {shape} or a stack of {B} (one per run); got {arr.shape[0]}"
        )
    return np.repeat(arr, B, axis=0) if single else arr


def _per_run(value, B: int, name: str, *, allow_zero: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(B, float(arr))
    if arr.shape != (B,):
        raise ValueError(
            f"{name} must be a number or an array of shape ({B},) (one per run); got shape {arr.shape}"
        )
    if (
        not np.all(np.isfinite(arr))
        or np.any(arr < 0)
        or (not allow_zero and np.any(arr == 0))
    ):
        cond = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {cond} for every run")
    return arr.copy()


# --------------------------------------------------------------------------
# small measurements on stacks
# --------------------------------------------------------------------------


def _min_gram(ws) -> np.ndarray:
    """``min_j ||W_j W_j^T||_F`` for every network of a stack ``(B,)``: the weight magnitude of Figure 1(c)."""
    return np.min([np.linalg.norm(Wj @ Wj.mT, axis=(1, 2)) for Wj in ws], axis=0)


def _sigma_min_stack(W: np.ndarray) -> np.ndarray:
    """``min(d_N, d_0)``-th singular value of every matrix of a stack ``(B, d_N, d_0)``."""
    dN, d0 = W.shape[1:]
    if min(dN, d0) == 1:
        return np.sqrt(np.einsum("bij,bij->b", W, W))
    gram = W @ W.mT if dN <= d0 else W.mT @ W
    return np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[:, 0], 0.0))


# --------------------------------------------------------------------------
# batched gradient descent, in parts:
#   1. input preparation      prepare_descent -> DescentSetup (validated, per run, reduced coordinates)
#   2. one step               _evaluate (loss at t) and _step (W(t) -> W(t+1)) on the active runs
#   3. stopping rules         stop_reasons
#   4. recording              the optional records (loss, balancedness, Lemma 1, sigma_min)
#   batched_descent ties them together; DescentBatch is its read-only outcome.
# --------------------------------------------------------------------------


def reduced_input_basis(weights, Phi) -> np.ndarray | None:
    """An orthonormal basis ``Q`` (B, d_0, k) of the span of the rows of ``W_1(0)`` and of ``Phi``.

    Gradient descent keeps the rows of ``W_1`` in that span (the update of
    ``W_1`` is ``A^T (W - Phi)`` with ``W = A W_1``), so running it on
    ``W_1 Q`` and ``Phi Q`` and mapping back with ``Q^T`` is the same iteration
    in ``k = d_1 + d_N`` instead of ``d_0`` input coordinates (up to round-off).

    Parameters
    ----------
    weights : list of array_like
        Starts ``[W_1, ..., W_N]``, matrices or stacks ``(B, d_j, d_{j-1})``.
    Phi : array_like, shape (d_N, d_0) or (B, d_N, d_0)

    Returns
    -------
    ndarray of shape (B, d_0, d_1 + d_N), or None
        None when ``d_1 + d_N >= d_0`` (the reduction saves nothing).
    """
    ws = as_weight_stack(weights)
    Phi = _phi_stack(Phi, ws[0].shape[0], (ws[-1].shape[1], ws[0].shape[2]))
    return _reduced_basis(ws[0], Phi)


def _reduced_basis(W1: np.ndarray, Phi: np.ndarray) -> np.ndarray | None:
    d1, d0 = W1.shape[1:]
    if d1 + Phi.shape[1] >= d0:
        return None
    Q, _ = np.linalg.qr(np.concatenate([W1.mT, Phi.mT], axis=2))  # (B, d0, k)
    return Q


def _loss(G: np.ndarray) -> np.ndarray:
    """``l = 1/2 ||G||_F^2`` with ``G = W - Phi``, for every network of a stack, shape (B,)."""
    return 0.5 * np.square(G).sum(axis=(1, 2))


@dataclass(frozen=True)
class DescentSetup:
    """The validated inputs of :func:`batched_descent` for ``B`` runs (part 1, from :func:`prepare_descent`).

    Every array is a read-only copy, one entry (or slice) per run.

    Attributes
    ----------
    weights : tuple of ndarray
        Starts ``(B, d_j, d_{j-1})`` in the coordinates the iteration runs in:
        with a ``basis`` ``Q``, the first layer is ``W_1(0) Q`` of shape ``(B, d_1, k)``.
    Phi : ndarray (B, d_N, d_0) or (B, d_N, k)
        The target of each run (``Phi Q`` with a basis).
    basis : ndarray (B, d_0, k) or None
        :func:`reduced_input_basis`, or None when the inputs are not reduced.
    lr : ndarray (B,)
        Step size of each run.
    loss_tol : ndarray (B,)
        Loss level of each run: it converges at the first ``t`` with ``l(t) <= loss_tol``.
    max_iter : int
        Cap on the iterations of a run.
    group : ndarray of int (B,) or None
        Group labels for pruning (:func:`stop_reasons`), or None.
    initial_loss : ndarray (B,)
        ``l(0)``.
    ceiling : ndarray (B,)
        Divergence threshold ``divergence_factor * max(l(0), ||Phi||_F^2 / 2)``
        (``||Phi||^2 / 2`` is the loss of the zero network).
    """

    weights: tuple
    Phi: np.ndarray
    basis: np.ndarray | None
    lr: np.ndarray
    loss_tol: np.ndarray
    max_iter: int
    group: np.ndarray | None
    initial_loss: np.ndarray
    ceiling: np.ndarray

    @property
    def runs(self) -> int:
        """Number of runs ``B``."""
        return self.lr.size

    def to_input_coordinates(self, W1: np.ndarray, index=slice(None)) -> np.ndarray:
        """First layers ``(n, d_1, k)`` of runs ``index`` mapped back to ``d_0`` inputs (``W_1 Q^T``)."""
        return W1 if self.basis is None else W1 @ self.basis[index].mT


def prepare_descent(
    weights0,
    Phi,
    lr,
    loss_tol,
    max_iter: int,
    *,
    group=None,
    divergence_factor: float = DIVERGENCE_FACTOR,
    reduce_inputs: bool = True,
) -> DescentSetup:
    """Validate the inputs of :func:`batched_descent` and put them in the coordinates of the iteration.

    Numbers given once (``lr``, ``loss_tol``, a single ``Phi``) are repeated for
    every run; with ``reduce_inputs`` and ``d_1 + d_N < d_0`` the inputs are
    reduced to :func:`reduced_input_basis`. The parameters are those of
    :func:`batched_descent`. The caller's arrays are copied, never modified.

    Returns
    -------
    DescentSetup

    Raises
    ------
    ValueError
        For weights that do not chain or are not finite, a ``Phi`` of the wrong
        shape, non-positive ``lr``, negative ``loss_tol``, ``max_iter < 1``, a
        ``group`` of the wrong shape, or ``divergence_factor <= 1``.
    """
    ws = as_weight_stack(weights0, "weights0")
    B = ws[0].shape[0]
    Phi = _phi_stack(Phi, B, (ws[-1].shape[1], ws[0].shape[2]))
    lr = _per_run(lr, B, "lr")
    loss_tol = _per_run(loss_tol, B, "loss_tol", allow_zero=True)
    max_iter = positive_int(max_iter, "max_iter")
    factor = positive_float(divergence_factor, "divergence_factor")
    if factor <= 1:
        raise ValueError(f"divergence_factor must be > 1; got {divergence_factor!r}")
    if group is not None:
        group = np.asarray(group)
        if group.shape != (B,) or not np.issubdtype(group.dtype, np.integer):
            raise ValueError(
                f"group must be an integer array of shape ({B},); got {group.dtype} {group.shape}"
            )
    Q = _reduced_basis(ws[0], Phi) if reduce_inputs else None
    if Q is not None:
        ws[0] = ws[0] @ Q
        Phi = Phi @ Q
    initial_loss = _loss(end_to_end_stack(ws) - Phi)
    ceiling = factor * np.maximum(initial_loss, 0.5 * np.einsum("bij,bij->b", Phi, Phi))
    return DescentSetup(
        weights=tuple(read_only(Wj) for Wj in ws),
        Phi=read_only(Phi),
        basis=None if Q is None else read_only(Q),
        lr=read_only(lr),
        loss_tol=read_only(loss_tol),
        max_iter=max_iter,
        group=None if group is None else read_only(group),
        initial_loss=read_only(initial_loss),
        ceiling=read_only(ceiling),
    )


class _ActiveRuns:
    """The runs still iterating: their run numbers in the setup and their working copies (mutable)."""

    def __init__(self, setup: DescentSetup):
        self.index = np.arange(setup.runs)
        self.weights = [
            np.array(Wj) for Wj in setup.weights
        ]  # writable: updated in place by _step
        self.Phi, self.lr, self.loss_tol = setup.Phi, setup.lr, setup.loss_tol
        self.group, self.ceiling = setup.group, setup.ceiling

    def keep(self, mask: np.ndarray) -> None:
        """Drop the runs where ``mask`` is False."""
        self.index = self.index[mask]
        self.weights = [Wj[mask] for Wj in self.weights]
        self.Phi, self.lr, self.loss_tol, self.ceiling = (
            self.Phi[mask],
            self.lr[mask],
            self.loss_tol[mask],
            self.ceiling[mask],
        )
        if self.group is not None:
            self.group = self.group[mask]


# ---- part 2: one step --------------------------------------------------------


@dataclass
class _Evaluation:
    """The active runs at iteration ``t``: end-to-end ``W``, ``G = W - Phi`` (the gradient of ``l`` in ``W``), loss."""

    W: np.ndarray
    G: np.ndarray
    loss: np.ndarray

    def keep(self, mask: np.ndarray) -> _Evaluation:
        return _Evaluation(self.W[mask], self.G[mask], self.loss[mask])


def _evaluate(runs: _ActiveRuns) -> _Evaluation:
    W = end_to_end_stack(runs.weights)
    G = W - runs.Phi
    return _Evaluation(W, G, _loss(G))


def _step(runs: _ActiveRuns, ev: _Evaluation) -> None:
    """``W_j <- W_j - lr dl/dW_j`` for every layer and active run, in place (``ev``: the evaluation at ``W``).

    ``dl/dW_j`` is the chain rule of :func:`linnet.network.layer_gradients_stack`
    applied to ``G = W - Phi``.
    """
    lr = runs.lr[:, None, None]
    for Wj, g in zip(
        runs.weights, layer_gradients_stack(runs.weights, ev.G), strict=True
    ):
        Wj -= lr * g


# ---- part 3: stopping rules ----------------------------------------------------


def stop_reasons(loss, loss_tol, ceiling, group, at_cap: bool) -> np.ndarray:
    """Which runs stop at this iteration, and why (the stopping rules of :func:`batched_descent`).

    A run stops when

    * ``loss <= loss_tol``: ``converged``;
    * ``loss > ceiling`` or ``loss`` is NaN: ``diverged``;
    * ``at_cap`` (the iteration is ``max_iter``): ``capped``;
    * with ``group`` given, when another run of its group converges at this
      iteration: ``pruned`` (it can no longer be the fastest of its group).

    The reasons are tried in this order: a run that converges and is pruned
    counts as converged, so runs of one group converging at the same iteration
    all count as converged.

    Parameters
    ----------
    loss, loss_tol, ceiling : ndarray (n,)
        Loss of each run at this iteration, its loss level and its divergence ceiling.
    group : ndarray of int (n,) or None
        Group labels; None for no pruning.
    at_cap : bool
        Whether this iteration is the last one allowed.

    Returns
    -------
    ndarray of str (n,)
        One of :data:`STATUSES` for the runs that stop, ``""`` for those that go on.
    """
    converged = loss <= loss_tol
    diverged = ~(loss <= ceiling)  # also catches NaN
    stop = converged | diverged
    if group is not None and converged.any():
        stop |= np.isin(group, group[converged])
    if at_cap:
        stop[:] = True
    if not stop.any():  # the common case, kept cheap: every run goes on
        return np.zeros(stop.shape, dtype="<U9")
    why = np.where(
        converged,
        "converged",
        np.where(diverged, "diverged", "capped" if at_cap else "pruned"),
    )
    return np.where(stop, why, "")


class _Outcome:
    """Per-run results filled in as the runs stop (indexed by run number in the setup)."""

    def __init__(self, setup: DescentSetup):
        B = setup.runs
        self.status = np.full(B, "", dtype="<U9")
        self.iterations = np.full(B, -1, dtype=int)
        self.stop_iteration = np.full(B, setup.max_iter, dtype=int)
        self.final_loss = np.full(B, np.nan)
        self.weights = [np.empty_like(Wj) for Wj in setup.weights]
        self.steps_taken = 0

    def retire(
        self,
        t: int,
        runs: _ActiveRuns,
        ev: _Evaluation,
        reasons: np.ndarray,
        stop: np.ndarray,
    ) -> None:
        done = runs.index[stop]
        self.status[done] = reasons[stop]
        self.iterations[done[reasons[stop] == "converged"]] = t
        self.stop_iteration[done] = t
        self.final_loss[done] = ev.loss[stop]
        for out, Wj in zip(self.weights, runs.weights, strict=True):
            out[done] = Wj[stop]


# ---- part 4: recording -----------------------------------------------------------


@dataclass(frozen=True)
class LossTrace:
    """The loss every ``steps[1]`` iterations (NaN once a run has stopped).

    Attributes
    ----------
    steps : ndarray of int (R,)
        Iterations ``0, every, 2 every, ...`` up to ``max_iter``.
    values : ndarray (B, R)
        ``l`` at those iterations.
    """

    steps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class BalanceTrace:
    """Balancedness along the runs (Figure 1(c) of Arora et al.), NaN once a run has stopped.

    Attributes
    ----------
    steps : ndarray of int (R,)
        As :attr:`LossTrace.steps`.
    delta : ndarray (B, R)
        ``max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F`` (Definition 1).
    min_gram : ndarray (B, R)
        ``min_j ||W_j W_j^T||_F``, the weight magnitude it is compared with.
    """

    steps: np.ndarray
    delta: np.ndarray
    min_gram: np.ndarray


@dataclass(frozen=True)
class Lemma1Check:
    """Lemma 1's decrease measured along the runs.

    Attributes
    ----------
    ratio : ndarray (B,)
        Smallest ``(l(t) - l(t+1)) / ((eta/2) sigma_min(W(t))^{2(N-1)/N} ||W(t) - Phi||_F^2)``
        over the checked steps (Lemma 1 says ``>= 1``); NaN for runs never checked.
    checks : ndarray of int (B,)
        Number of steps checked per run.
    """

    ratio: np.ndarray
    checks: np.ndarray


@dataclass(frozen=True)
class DescentRecords:
    """The optional records of :func:`batched_descent`; each is None unless asked for.

    Attributes
    ----------
    loss : LossTrace or None
        With ``loss_every``.
    balance : BalanceTrace or None
        With ``balance_every``.
    lemma1 : Lemma1Check or None
        With ``lemma1_every``.
    min_sigma_min : ndarray (B,) or None
        With ``track_sigma_min``: the smallest ``sigma_min(W(t))`` (the
        ``min(d_0, d_N)``-th singular value of the end-to-end matrix) over
        **every** iterate ``t = 0, ..., stop_iteration`` of each run (Claim 1).
    """

    loss: LossTrace | None = None
    balance: BalanceTrace | None = None
    lemma1: Lemma1Check | None = None
    min_sigma_min: np.ndarray | None = None


class _Recorder:
    """A record kept along the runs: ``observe`` sees every iterate before the stopping rules,
    ``before_step`` the runs that go on, just before their step."""

    def observe(self, t: int, runs: _ActiveRuns, ev: _Evaluation) -> None:
        pass

    def before_step(self, t: int, runs: _ActiveRuns, ev: _Evaluation) -> None:
        pass


class _GridRecorder(_Recorder):
    """Records at iterations ``0, every, 2 every, ...`` into ``(B, R)`` arrays, NaN once a run has stopped.

    Subclasses name the ``record`` type and its array fields, and ``measure`` them.
    """

    record: type
    fields: tuple

    def __init__(self, setup: DescentSetup, every: int):
        self.setup, self.every = setup, every
        shape = (setup.runs, setup.max_iter // every + 1)
        self.arrays = {name: np.full(shape, np.nan) for name in self.fields}

    def measure(self, runs: _ActiveRuns, ev: _Evaluation) -> tuple:
        raise NotImplementedError

    def observe(self, t, runs, ev):
        if t % self.every == 0:
            for name, values in zip(self.fields, self.measure(runs, ev), strict=True):
                self.arrays[name][runs.index, t // self.every] = values

    def result(self):
        steps = np.arange(self.arrays[self.fields[0]].shape[1]) * self.every
        return self.record(
            read_only(steps), *(read_only(self.arrays[name]) for name in self.fields)
        )


class _LossRecorder(_GridRecorder):
    field, record, fields = "loss", LossTrace, ("values",)

    def measure(self, runs, ev):
        return (ev.loss,)


class _BalanceRecorder(_GridRecorder):
    field, record, fields = "balance", BalanceTrace, ("delta", "min_gram")

    def measure(self, runs, ev):
        full = [
            self.setup.to_input_coordinates(runs.weights[0], runs.index)
        ] + runs.weights[1:]
        return balancedness_stack(full), _min_gram(full)


class _Lemma1Recorder(_Recorder):
    """Arms a check at every ``every``-th step (``before_step``) and reads it one iterate later (``observe``)."""

    field = "lemma1"

    def __init__(self, setup: DescentSetup, every: int):
        self.every = every
        self.depth = len(setup.weights)
        self.ratio = np.full(setup.runs, np.inf)
        self.checks = np.zeros(setup.runs, dtype=int)
        self.pending = None  # (loss, Lemma 1's decrease) at the armed step, for the runs active then

    def observe(self, t, runs, ev):
        if self.pending is not None:  # the runs have not changed since before_step
            loss_prev, need = self.pending
            ratio = np.where(need > 0, (loss_prev - ev.loss) / need, np.inf)
            self.ratio[runs.index] = np.minimum(self.ratio[runs.index], ratio)
            self.checks[runs.index] += 1
            self.pending = None

    def before_step(self, t, runs, ev):
        if t % self.every == 0:
            smin = np.linalg.svd(ev.W, compute_uv=False)[:, -1]
            need = arora_lemma_1_decrease(smin, 2.0 * ev.loss, self.depth, runs.lr)
            self.pending = (ev.loss, need)

    def result(self) -> Lemma1Check:
        ratio = np.where(self.checks == 0, np.nan, self.ratio)
        return Lemma1Check(read_only(ratio), read_only(self.checks))


class _SigmaMinRecorder(_Recorder):
    field = "min_sigma_min"

    def __init__(self, setup: DescentSetup):
        self.minimum = np.full(setup.runs, np.inf)

    def observe(self, t, runs, ev):
        self.minimum[runs.index] = np.minimum(
            self.minimum[runs.index], _sigma_min_stack(ev.W)
        )

    def result(self) -> np.ndarray:
        return read_only(self.minimum)


def _recorders(
    setup, loss_every, balance_every, lemma1_every, track_sigma_min
) -> list[_Recorder]:
    out: list[_Recorder] = []
    if loss_every is not None:
        out.append(_LossRecorder(setup, positive_int(loss_every, "loss_every")))
    if balance_every is not None:
        out.append(
            _BalanceRecorder(setup, positive_int(balance_every, "balance_every"))
        )
    if lemma1_every is not None:
        out.append(_Lemma1Recorder(setup, positive_int(lemma1_every, "lemma1_every")))
    if track_sigma_min:
        out.append(_SigmaMinRecorder(setup))
    return out


# ---- the loop ----------------------------------------------------------------------


@dataclass(frozen=True)
class DescentBatch:
    """Outcome of :func:`batched_descent` for ``B`` runs; every array is a read-only copy.

    Attributes
    ----------
    lr : ndarray (B,)
        Step size of each run.
    loss_tol : ndarray (B,)
        Loss level of each run.
    max_iter : int
        Cap on the iterations of a run.
    status : ndarray of str (B,)
        One of :data:`STATUSES`.
    iterations : ndarray of int (B,)
        First iteration ``t`` with ``l(t) <= loss_tol``; -1 if never.
    stop_iteration : ndarray of int (B,)
        Iteration at which the run stopped (its weights are those of that iteration).
    initial_loss, final_loss : ndarray (B,)
        ``l(0)`` and ``l`` at ``stop_iteration``.
    weights : tuple of ndarray
        Weights at ``stop_iteration``, ``(B, d_j, d_{j-1})``, in the original coordinates.
    steps_taken : int
        Total number of (run, iteration) steps computed: the cost.
    records : DescentRecords
        The optional records that were asked for.
    """

    lr: np.ndarray
    loss_tol: np.ndarray
    max_iter: int
    status: np.ndarray
    iterations: np.ndarray
    stop_iteration: np.ndarray
    initial_loss: np.ndarray
    final_loss: np.ndarray
    weights: tuple
    steps_taken: int
    records: DescentRecords

    @property
    def converged(self) -> np.ndarray:
        """Boolean mask of the runs that reached ``loss_tol``."""
        return self.status == "converged"


def batched_descent(
    weights0,
    Phi,
    lr,
    loss_tol,
    max_iter: int,
    *,
    group=None,
    divergence_factor: float = DIVERGENCE_FACTOR,
    reduce_inputs: bool = True,
    loss_every: int | None = None,
    balance_every: int | None = None,
    lemma1_every: int | None = None,
    track_sigma_min: bool = False,
) -> DescentBatch:
    """Gradient descent on ``l = 1/2 ||W_N ... W_1 - Phi||_F^2`` for a stack of runs.

    Every run ``b`` iterates ``W_j <- W_j - lr[b] dl/dW_j`` from its own start.
    All active runs advance together (one stacked array per layer); a run stops
    by the rules of :func:`stop_reasons`:

    * at the first iteration ``t`` with ``l(t) <= loss_tol[b]`` (``converged``);
    * when ``l(t)`` exceeds ``divergence_factor * max(l(0), ||Phi||^2/2)`` or is
      not finite (``diverged``);
    * after ``max_iter`` iterations (``capped``);
    * with ``group`` given, at the iteration where another run of its group
      converged (``pruned``): it could no longer be the fastest of the group.
      Runs of one group converging at the same iteration all count as converged.

    With ``reduce_inputs`` (default) and ``d_1 + d_N < d_0``, each run is
    iterated in the ``d_1 + d_N`` input coordinates of
    :func:`reduced_input_basis`, which contain ``W_1(t)`` for all ``t``: the
    same iterates (up to round-off), for a fraction of the cost. The returned
    weights and records are in the original coordinates.

    Parameters
    ----------
    weights0 : list of array_like
        Starts ``[W_1, ..., W_N]``, matrices or stacks ``(B, d_j, d_{j-1})``.
    Phi : array_like, shape (d_N, d_0) or (B, d_N, d_0)
        Target ``Lambda_yx``; ``l`` is measured from 0, so ``loss_tol`` is an
        accuracy above the optimum only when ``Phi`` is attainable
        (``rank(Phi) <= min_j d_j``).
    lr : float or array_like (B,)
        Step sizes ``> 0``.
    loss_tol : float or array_like (B,)
        Loss levels ``>= 0`` (the accuracy of Arora et al.'s Theorem 1, their
        epsilon: ``l <= loss_tol``, i.e. ``||W - Phi||_F^2 <= 2 loss_tol``).
    max_iter : int
        Cap on the iterations of each run.
    group : array_like of int (B,), optional
        Group labels for pruning (e.g. one group per start, one run per learning rate).
    divergence_factor : float
        ``> 1``; by default the flows' :data:`linnet.flows.DIVERGENCE_FACTOR`, the
        same rule (a factor over ``max(l(0), loss of the zero network)``).
    reduce_inputs : bool
        Iterate in the reduced input coordinates (see above).
    loss_every : int, optional
        Record the loss every this many iterations (``records.loss``).
    balance_every : int, optional
        Record ``delta`` and ``min_j ||W_j W_j^T||_F`` (Figure 1(c) of Arora et
        al.) every this many iterations (``records.balance``).
    lemma1_every : int, optional
        Every this many iterations, measure the decrease ``l(t) - l(t+1)``
        against Lemma 1's ``(eta/2) sigma_min(W(t))^{2(N-1)/N} ||W(t) - Phi||_F^2``
        (``records.lemma1``).
    track_sigma_min : bool
        Keep the running minimum of ``sigma_min(W(t))`` over every iterate
        (``records.min_sigma_min``); computed from the eigenvalues of the
        smaller Gram matrix of ``W(t)`` (its norm when ``min(d_0, d_N) = 1``).

    Returns
    -------
    DescentBatch

    Raises
    ------
    ValueError
        As :func:`prepare_descent`, and for a ``loss_every``, ``balance_every``
        or ``lemma1_every`` that is not a positive integer.
    """
    setup = prepare_descent(
        weights0,
        Phi,
        lr,
        loss_tol,
        max_iter,
        group=group,
        divergence_factor=divergence_factor,
        reduce_inputs=reduce_inputs,
    )
    recorders = _recorders(
        setup, loss_every, balance_every, lemma1_every, track_sigma_min
    )
    runs = _ActiveRuns(setup)
    outcome = _Outcome(setup)
    t = 0
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        while True:
            ev = _evaluate(runs)  # W(t) and l(t) of the active runs
            for rec in recorders:
                rec.observe(t, runs, ev)
            reasons = stop_reasons(
                ev.loss, runs.loss_tol, runs.ceiling, runs.group, t >= setup.max_iter
            )
            stop = reasons != ""
            if stop.any():
                outcome.retire(t, runs, ev, reasons, stop)
                if stop.all():
                    break
                runs.keep(~stop)
                ev = ev.keep(~stop)
            for rec in recorders:
                rec.before_step(t, runs, ev)
            _step(runs, ev)  # W(t) -> W(t+1)
            outcome.steps_taken += runs.index.size
            t += 1
    final = list(outcome.weights)
    final[0] = setup.to_input_coordinates(final[0])
    return DescentBatch(
        lr=setup.lr,
        loss_tol=setup.loss_tol,
        max_iter=setup.max_iter,
        status=read_only(outcome.status),
        iterations=read_only(outcome.iterations),
        stop_iteration=read_only(outcome.stop_iteration),
        initial_loss=setup.initial_loss,
        final_loss=read_only(outcome.final_loss),
        weights=tuple(read_only(Wj) for Wj in final),
        steps_taken=int(outcome.steps_taken),
        records=DescentRecords(**{rec.field: rec.result() for rec in recorders}),
    )


def pad_networks(networks, Phis) -> tuple[list[np.ndarray], np.ndarray]:
    """Zero-pad networks of one depth and one output dimension to common widths, and stack them.

    Network ``b`` with widths ``[d_0, ..., d_N]`` is embedded in the common
    widths ``[max d_0, ..., max d_{N-1}, d_N]`` by zero rows and columns; its
    target ``Phi_b`` gets zero columns. The embedding is exact for gradient
    descent: the gradient of every padded entry is zero (a padded hidden unit
    has zero weights in and out, a padded input has zero weights and a zero
    target), so padded entries stay zero and the loss, the end-to-end matrix
    (up to its zero columns) and its nonzero singular values are those of the
    unpadded network. Outputs are not padded, so ``sigma_min`` of Lemma 1 is
    unchanged. Lets networks of several shapes share one :func:`batched_descent`.

    Parameters
    ----------
    networks : sequence of lists of array_like
        Each ``[W_1, ..., W_N]``, all of depth ``N`` and output dimension ``d_N``.
    Phis : sequence of array_like
        ``Phi_b`` of shape ``(d_N, d_0 of network b)``.

    Returns
    -------
    weights : list of ndarray
        Stacks ``(B, D_j, D_{j-1})``.
    Phi : ndarray
        ``(B, d_N, max d_0)``.
    """
    nets = [
        [Wj[0] for Wj in as_weight_stack(net, f"networks[{b}]")]
        for b, net in enumerate(networks)
    ]
    if not nets or len(Phis) != len(nets):
        raise ValueError("networks and Phis must be non-empty and of the same length")
    N = len(nets[0])
    dN = nets[0][-1].shape[0]
    for b, net in enumerate(nets):
        if len(net) != N or net[-1].shape[0] != dN:
            raise ValueError(
                f"networks[{b}] must have depth {N} and {dN} outputs like networks[0]"
            )
    widths = [max(net[0].shape[1] for net in nets)] + [
        max(net[j].shape[0] for net in nets) for j in range(N)
    ]
    out = [np.zeros((len(nets), widths[j + 1], widths[j])) for j in range(N)]
    Phi = np.zeros((len(nets), dN, widths[0]))
    for b, net in enumerate(nets):
        for j, Wj in enumerate(net):
            out[j][b, : Wj.shape[0], : Wj.shape[1]] = Wj
        P = as_matrix(Phis[b], f"Phis[{b}]", shape=(dN, net[0].shape[1]))
        Phi[b, :, : P.shape[1]] = P
    return out, Phi


# --------------------------------------------------------------------------
# Figure 1 protocol: the fastest learning rate of a grid
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FastestRates:
    """Iterations to ``loss_tol`` with the best learning rate of a grid, per start (read-only arrays).

    Attributes
    ----------
    lrs : ndarray (L,)
        The learning-rate grid.
    iterations : ndarray of int (S,)
        Fewest iterations to ``l <= loss_tol`` over the grid; -1 when no rate converged.
    best_lr : ndarray (S,)
        The rate that achieved it (NaN when none did).
    outcome : ndarray of str (S,)
        ``converged``; ``capped`` (some rate ran ``max_iter`` iterations without
        converging or diverging); ``diverged`` (every rate diverged).
    status : ndarray of str (S, L)
        Status of every run (see :data:`STATUSES`).
    steps_taken : int
        Total (run, iteration) steps computed.
    """

    lrs: np.ndarray
    iterations: np.ndarray
    best_lr: np.ndarray
    outcome: np.ndarray
    status: np.ndarray
    steps_taken: int


def fastest_over_learning_rates(
    weights0, Phi, lrs, loss_tol: float, max_iter: int
) -> FastestRates:
    """Iterations until ``l <= loss_tol`` with the fastest rate of ``lrs`` (Arora et al., Figure 1 protocol).

    Every start is run with every rate, all in one stack (:func:`batched_descent`);
    the runs of one start form a group, so once one rate has converged the
    slower ones stop. Runs that diverge stop at once.

    Parameters
    ----------
    weights0 : list of array_like
        ``S`` starts, stacks ``(S, d_j, d_{j-1})`` (or matrices for ``S = 1``).
    Phi : array_like, shape (d_N, d_0) or (S, d_N, d_0)
    lrs : array_like (L,)
        Learning rates ``> 0``.
    loss_tol : float
        Loss level ``>= 0`` (``Phi`` attainable: an accuracy above the optimum).
    max_iter : int
        Cap per run.

    Returns
    -------
    FastestRates
    """
    ws = as_weight_stack(weights0, "weights0")
    S = ws[0].shape[0]
    lrs = positive_vector(lrs, "lrs")
    L = lrs.size
    Phi = _phi_stack(Phi, S, (ws[-1].shape[1], ws[0].shape[2]))
    rep = [np.repeat(Wj, L, axis=0) for Wj in ws]
    batch = batched_descent(
        rep,
        np.repeat(Phi, L, axis=0),
        np.tile(lrs, S),
        loss_tol,
        max_iter,
        group=np.repeat(np.arange(S), L),
    )
    status = batch.status.reshape(S, L)
    its = np.where(
        status == "converged", batch.iterations.reshape(S, L), np.iinfo(int).max
    )
    best = np.argmin(its, axis=1)
    ok = np.any(status == "converged", axis=1)
    iterations = np.where(ok, its[np.arange(S), best], -1)
    best_lr = np.where(ok, lrs[best], np.nan)
    outcome = np.where(
        ok,
        "converged",
        np.where(np.all(status == "diverged", axis=1), "diverged", "capped"),
    )
    return FastestRates(
        lrs=read_only(lrs),
        iterations=read_only(iterations),
        best_lr=read_only(best_lr),
        outcome=read_only(outcome),
        status=read_only(status),
        steps_taken=batch.steps_taken,
    )


# --------------------------------------------------------------------------
# initialisations
# --------------------------------------------------------------------------


def procedure_1(A, widths) -> list[np.ndarray]:
    """Balanced initialisation of Arora et al., Procedure 1, literally.

    With the thin SVD ``A = U Sigma V^T`` (``r = min(d_0, d_N)`` singular values),
    ``W_N = U Sigma^{1/N}``, ``W_j = Sigma^{1/N}`` (``1 < j < N``),
    ``W_1 = Sigma^{1/N} V^T``, each padded with zeros to ``d_j x d_{j-1}``
    ("equality up to zero padding"). The product is ``A`` and
    ``W_{j+1}^T W_{j+1} = W_j W_j^T = diag(Sigma^{2/N}, 0)``: 0-balanced.
    :func:`linnet.init.balanced_init` is the same construction with random
    orthogonal mixing between the layers (and any widths ``>= rank(A)``).

    Parameters
    ----------
    A : array_like, shape (d_N, d_0)
        The end-to-end matrix to factor (drawn from a distribution ``D`` in the paper).
    widths : sequence of int
        ``[d_0, ..., d_N]`` with every hidden width ``>= min(d_0, d_N)``.

    Returns
    -------
    list of ndarray
        ``[W_1, ..., W_N]``.
    """
    A = as_matrix(A, "A")
    widths = check_widths(widths)
    dN, d0 = A.shape
    if widths[0] != d0 or widths[-1] != dN:
        raise ValueError(
            f"widths must start with d_0 = {d0} and end with d_N = {dN} (the shape of A); got {widths}"
        )
    r = min(d0, dN)
    if min(widths) < r:
        raise ValueError(
            f"every width must be >= min(d_0, d_N) = {r} (Procedure 1's assumption); got {widths}"
        )
    N = len(widths) - 1
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    root = np.diag(s ** (1.0 / N))
    out = []
    for j in range(1, N + 1):
        core = root
        if j == 1:
            core = core @ Vt
        if j == N:
            core = U @ core
        Wj = np.zeros((widths[j], widths[j - 1]))
        Wj[: core.shape[0], : core.shape[1]] = core
        out.append(Wj)
    return out


def _seeds(seed, n: int) -> list[int]:
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]


def gaussian_starts(widths, std: float, n: int, seed) -> list[np.ndarray]:
    """``n`` layer-wise Gaussian starts, entries i.i.d. ``N(0, std^2)``, as stacks ``(n, d_j, d_{j-1})``.

    ``seed`` is anything :func:`numpy.random.default_rng` accepts; a
    ``Generator`` is used (and advanced) as it is, so successive calls with one
    generator continue its stream.
    """
    widths = check_widths(widths)
    std = positive_float(std, "std")
    n = positive_int(n, "n")
    rng = np.random.default_rng(seed)
    return [
        std * rng.standard_normal((n, widths[j], widths[j - 1]))
        for j in range(1, len(widths))
    ]


def balanced_gaussian_starts(widths, std: float, n: int, seed) -> list[np.ndarray]:
    """``n`` balanced starts: Procedure 1 with ``D`` = i.i.d. ``N(0, std^2)`` entries, plus mixing.

    The end-to-end matrix ``A`` has i.i.d. ``N(0, std^2)`` entries; the layers
    come from :func:`linnet.init.balanced_init` (Procedure 1 with random
    orthogonal mixing between layers). Stacks ``(n, d_j, d_{j-1})``.
    """
    widths = check_widths(widths)
    std = positive_float(std, "std")
    n = positive_int(n, "n")
    rng = np.random.default_rng(seed)
    A = std * rng.standard_normal((n, widths[-1], widths[0]))
    nets = [balanced_init(A[i], widths, s) for i, s in enumerate(_seeds(seed, n))]
    return [np.stack([net[j] for net in nets]) for j in range(len(widths) - 1)]


def perturb_to_balancedness(
    weights, delta: float, seed, rtol: float = 1e-3
) -> list[np.ndarray]:
    """Add a random perturbation to ``weights`` so that their balancedness is ``delta``.

    ``W_j + t E_j`` with random unit ``E_j``; ``t`` is found by bisection so that
    ``max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F`` equals ``delta`` to relative
    accuracy ``rtol``. Used to start Theorem 1's runs at a chosen ``delta > 0``.

    Parameters
    ----------
    weights : list of array_like
        One network ``[W_1, ..., W_N]``, ``N >= 2``, less than ``delta``-unbalanced.
    delta : float
        Target balancedness ``> 0``.
    seed : int or None
    rtol : float

    Returns
    -------
    list of ndarray
    """
    ws = [Wj[0] for Wj in as_weight_stack(weights)]
    if len(ws) < 2:
        raise ValueError("weights must have depth N >= 2 to be unbalanced")
    delta = positive_float(delta, "delta")
    rng = np.random.default_rng(seed)
    E = [rng.standard_normal(Wj.shape) for Wj in ws]
    E = [e / np.linalg.norm(e) for e in E]

    def bal(t):
        return float(
            balancedness_stack(
                [(Wj + t * e)[None] for Wj, e in zip(ws, E, strict=True)]
            )[0]
        )

    if bal(0.0) >= delta:
        raise ValueError(
            f"weights are already {bal(0.0):.3g}-balanced, not below delta = {delta:.3g}"
        )
    hi = delta
    while bal(hi) < delta:
        hi *= 2
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if bal(mid) < delta:
            lo = mid
        else:
            hi = mid
        if abs(bal(hi) - delta) <= rtol * delta:
            break
    return [Wj + hi * e for Wj, e in zip(ws, E, strict=True)]


def margin_start(Phi, widths, distance: float, seed) -> list[np.ndarray]:
    """A balanced start whose end-to-end matrix is at distance ``distance * sigma_min(Phi)`` from ``Phi``.

    ``W(0) = Phi + distance * sigma_min(Phi) * E`` with a random unit ``E``, so
    the deficiency margin (Definition 2) is ``c = (1 - distance) sigma_min(Phi)``
    for ``0 <= distance < 1``; layers by :func:`linnet.init.balanced_init`.
    """
    Phi = as_matrix(Phi, "Phi")
    distance = positive_float(distance, "distance", allow_zero=True)
    rng = np.random.default_rng(seed)
    E = rng.standard_normal(Phi.shape)
    smin = float(np.linalg.svd(Phi, compute_uv=False)[-1])
    W0 = Phi + distance * smin * E / np.linalg.norm(E)
    return balanced_init(W0, widths, rng.integers(2**32))


# --------------------------------------------------------------------------
# Claims 2 and 3: Monte Carlo
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A probability estimated from ``samples`` independent draws.

    Attributes
    ----------
    probability : float
        Fraction of draws with the property.
    stderr : float
        Binomial standard error ``sqrt(p (1 - p) / samples)``.
    samples : int
    bound : float or None
        The probability bound the estimate is compared with (None when none).
    """

    probability: float
    stderr: float
    samples: int
    bound: float | None = None


def _estimate(hits: int, samples: int, bound=None) -> MonteCarloEstimate:
    p = hits / samples
    return MonteCarloEstimate(
        float(p), float(np.sqrt(p * (1 - p) / samples)), samples, bound
    )


def balancedness_probability(
    widths, std: float, delta: float, samples: int, seed, chunk: int = 256
) -> MonteCarloEstimate:
    """Monte Carlo estimate of P(layer-wise Gaussian start is ``delta``-balanced) (Claim 2).

    Draws ``samples`` starts with i.i.d. ``N(0, std^2)`` entries, in chunks, and
    counts those with ``max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F <= delta``.
    The estimate carries Claim 2's bound (:func:`linnet.theory.arora_claim_2_bound`)
    as ``bound``.
    """
    bound = arora_claim_2_bound(widths, std, delta)  # validates widths, std, delta
    delta = positive_float(delta, "delta")
    samples = positive_int(samples, "samples")
    rng = np.random.default_rng(seed)
    hits = 0
    done = 0
    while done < samples:
        n = min(chunk, samples - done)
        ws = gaussian_starts(widths, std, n, rng)  # the chunks continue one stream
        hits += int(np.count_nonzero(balancedness_stack(ws) <= delta))
        done += n
    return _estimate(hits, samples, bound)


def margin_probability(
    Phi, std: float, samples: int, seed, margin: float = 0.0
) -> MonteCarloEstimate:
    """Monte Carlo estimate of P(``A`` has deficiency margin ``> margin``), ``A`` i.i.d. ``N(0, std^2)`` (Claim 3).

    ``A`` is the end-to-end matrix of a balanced Gaussian start (Procedure 1
    with ``D = N(0, std^2 I)``); its margin is ``sigma_min(Phi) - ||A - Phi||_F``
    (Definition 2). For a scalar output it is positive only if
    ``<A, Phi> > 0``, so the probability never exceeds 1/2.
    """
    Phi = as_matrix(Phi, "Phi")
    std = positive_float(std, "std")
    samples = positive_int(samples, "samples")
    rng = np.random.default_rng(seed)
    A = std * rng.standard_normal((samples,) + Phi.shape)
    c = deficiency_margin(A, Phi)
    return _estimate(int(np.count_nonzero(c > margin)), samples)


def imbalance_sq_stack(weights) -> np.ndarray:
    """``sum_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F^2`` for every network of a stack ``(B,)``."""
    ws = as_weight_stack(weights)
    out = np.zeros(ws[0].shape[0])
    for lower, upper in itertools.pairwise(ws):
        D = upper.mT @ upper - lower @ lower.mT
        out += np.einsum("bij,bij->b", D, D)
    return out
