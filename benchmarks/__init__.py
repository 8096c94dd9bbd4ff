"""Work-precision benchmarks of linnet's solvers: ``python -m benchmarks``.

Run from the repository root. Every method solves the same problems and is
timed the same way (best of ``k`` rounds in one process, the rounds
interleaving all methods); the error of each run is measured against a
high-accuracy reference. The results (JSON) and the work-precision figure
(SVG, PNG) are written to ``book/performance/``, from which the book's
Performance page is built. ``--quick`` runs a tiny workload (seconds), for the
smoke test.

Modules: :mod:`benchmarks.workloads` (problems, right-hand sides, references),
:mod:`benchmarks.methods` (the solvers compared), :mod:`benchmarks.analysis`
(fronts, matched-accuracy ratios, goals), :mod:`benchmarks.run` (timing, the
machine, the results file and the figure).
"""
