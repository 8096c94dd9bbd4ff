"""Map the chapters' check calls onto registry ids (issue 15).

Every ``check(...)`` call in the notebooks' code cells gets ``items=(...)``: registry ids of
``book/registry.yaml``. The free-text ``item="..."`` argument, where present, is replaced; a call
without one gets ``items=`` appended. Calls that already carry ``items=`` keep them (a leftover
``item=`` beside them is removed), so the script can be re-applied after the chapter rewrites
are merged. A call whose claim id is not in
MAPPING (and has no ``items=``) is reported and makes the script exit with status 1.

Only code-cell sources change; run ``tools/nbtools.py refresh`` afterwards so the stored claim
records carry the ids.

    .venv/bin/python notes/claim-id-mapping.py [--dry-run] [notebooks/*.ipynb]
    .venv/bin/python notes/claim-id-mapping.py --table      # the mapping as a Markdown table
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# claim id (as written in the source: f-string templates keep their braces) -> registry ids.
# The old free-text item is kept beside it, for the record.
MAPPING: dict[str, tuple[str, tuple[str, ...]]] = {
    # 00 setup
    "setup.whitened": ("", ("eft:def-3.5", "eft:eq-23")),
    "setup.Z1-rank-{label}": ("", ("eft:eq-27",)),
    "setup.eckart-young-{label}": ("", ("eft:eq-27",)),
    "setup.Z1-equals-Z": ("", ("eft:eq-27",)),
    "setup.assumption-3.6": ("", ("eft:asm-3.6", "eft:eq-26")),
    "setup.loss-through-Z": ("", ("eft:eq-24",)),
    "setup.gradient-through-Z": ("", ("eft:eq-24",)),
    "setup.balancedness-corrected": (
        "",
        ("eft:def-3.2", "eft:eq-14", "book:erratum.balancedness-14"),
    ),
    "setup.balancedness-misprint": ("", ("book:erratum.balancedness-14",)),
    # 01 landscape
    "landscape.split-11": ("eq. 11 (Lemma 2.5)", ("eft:eq-11",)),
    "landscape.reformulations-agree": (
        "eqs. 6, 10a, 10b, 12 (Lemmas 2.4, 2.5; Theorem 2.7)",
        ("eft:eq-10a", "eft:eq-10b", "eft:eq-12", "book:landscape.reformulations"),
    ),
    "landscape.critical-first-order": (
        "Lemma 2.6",
        ("book:landscape.critical-points", "eft:def-2.1", "eft:eq-7"),
    ),
    "landscape.critical-loss": ("Lemma 2.6", ("book:landscape.critical-points",)),
    "landscape.thm-2.8-rank-r-N{N}": (
        "Theorem 2.8",
        ("book:landscape.sosp-iff-global",),
    ),
    "landscape.thm-2.8-unique-N{N}": (
        "Theorem 2.8",
        ("book:landscape.sosp-iff-global",),
    ),
    "landscape.spurious-rank-deficient-N{N}": (
        "Theorem 2.8",
        ("book:landscape.sosp-iff-global",),
    ),
    "landscape.depth2-all-strict": (
        "Theorem 2.8",
        ("book:landscape.depth2-no-nonstrict",),
    ),
    "landscape.deep-nonstrict": (
        "Theorem 2.8",
        ("book:landscape.deep-nonstrict", "eft:rem-thm-2.8-2"),
    ),
    "landscape.eig-margin-sosp": ("Definitions 2.2, 2.3", ("eft:def-2.2", "eft:eq-8")),
    "landscape.eig-margin-strict": ("Definitions 2.2, 2.3", ("eft:def-2.3",)),
    "landscape.zero-N2-strict": (
        "Section 2, the origin (erratum)",
        ("book:erratum.origin-n2",),
    ),
    "landscape.zero-N2-direction": (
        "Section 2, the origin (erratum)",
        ("book:erratum.origin-n2",),
    ),
    "landscape.zero-deep-flat": (
        "Section 2, the origin (erratum)",
        ("book:erratum.origin-n2", "eft:rem-thm-2.8-2"),
    ),
    "landscape.escape-order-N": (
        "Section 2, the origin (erratum)",
        ("book:landscape.escape-order",),
    ),
    "landscape.flow-converged": (
        "Theorem 2.8 (gradient-flow limits)",
        ("book:landscape.flow-limits",),
    ),
    "landscape.flow-global": (
        "Theorem 2.8 (gradient-flow limits)",
        ("book:landscape.flow-limits",),
    ),
    "landscape.flow-rank-r": (
        "Theorem 2.8 (gradient-flow limits)",
        ("book:landscape.flow-limits",),
    ),
    "landscape.flow-sosp": (
        "Theorem 2.8 (gradient-flow limits)",
        ("book:landscape.flow-limits",),
    ),
    "landscape.degenerate-N2-escape": (
        "Definition 2.3 (strict vs non-strict)",
        ("book:landscape.degenerate-starts",),
    ),
    "landscape.degenerate-N{N}-stuck": (
        "Definition 2.3 (strict vs non-strict)",
        ("book:landscape.degenerate-starts",),
    ),
    "landscape.picture-generic": (
        "Section 2 (scalar landscape)",
        ("book:landscape.scalar-picture",),
    ),
    "landscape.picture-stable-manifold": (
        "Section 2 (scalar landscape)",
        ("book:landscape.scalar-picture",),
    ),
    "landscape.escape-slopes": (
        "Section 2, the origin (erratum)",
        ("book:landscape.escape-order",),
    ),
    "landscape.violated-global-rank": (
        "Theorem 2.8 (assumption)",
        ("book:landscape.rank-assumption",),
    ),
    "landscape.violated-no-rank-r": (
        "Theorem 2.8 (assumption)",
        ("book:landscape.rank-assumption",),
    ),
    "landscape.violated-sublinear": (
        "Theorem 2.8 (assumption)",
        ("book:landscape.rank-assumption",),
    ),
    "landscape.violated-sublinear-decays": (
        "Theorem 2.8 (assumption)",
        ("book:landscape.rank-assumption",),
    ),
    # 02 gradient flow
    "gf.conservation-unbalanced": ("eq. 15", ("book:gradient-flow.conservation-law",)),
    "gf.conservation-balanced": (
        "Definition 3.2, eq. 15",
        ("eft:eq-15", "eft:def-3.2"),
    ),
    "gf.layers-move": ("eq. 15", ("book:gradient-flow.conservation-law",)),
    "gf.induced-equals-gradient-flow": (
        "eqs. 16-17",
        ("eft:eq-16", "eft:eq-17", "eft:eq-18"),
    ),
    "gf.difference-is-solver-error": ("eqs. 16-17", ("eft:eq-17",)),
    "gf.naive-error": ("eq. 16", ("book:gradient-flow.naive-powers",)),
    "gf.naive-stalls": ("eq. 16", ("book:gradient-flow.naive-powers",)),
    "gf.sv-velocity-19": ("eq. 19", ("book:gradient-flow.singular-value-ode",)),
    "gf.sv-velocity-fd": ("eq. 19", ("book:gradient-flow.singular-value-ode",)),
    "gf.rank-kept": ("Lemma 3.3", ("eft:lem-3.3",)),
    "gf.sv-positive": ("Lemma 3.3", ("eft:lem-3.3",)),
    "gf.sv-power-law": ("eq. 19, Lemma 3.3", ("book:gradient-flow.sv-power-law",)),
    "gf.tangent": ("Lemma 3.4, eq. 20", ("book:gradient-flow.tangent",)),
    "gf.not-closed": ("Lemma 3.4", ("book:gradient-flow.rank-matrices-not-closed",)),
    "gf.holder": ("Lemma 3.4, eq. 16", ("book:gradient-flow.holder",)),
    # 03 stable set
    "stable.mc-starts-in-set": ("eq. 28", ("book:stable-set.cone-set",)),
    "stable.mc-balanced": ("Definition 3.2", ("eft:def-3.2",)),
    "stable.theorem-3.8-{name}": ("Theorem 3.8", ("book:stable-set.convergence",)),
    "stable.rank-one": ("Lemma 3.3", ("eft:lem-3.3",)),
    "stable.lemma-3.7-invariant": ("Lemma 3.7", ("book:stable-set.invariance",)),
    "stable.lemma-3.7-rho": ("Lemma 3.7", ("book:stable-set.invariance",)),
    "stable.lemma-3.7-norm": ("Lemma 3.7", ("book:stable-set.invariance",)),
    "stable.opposite-ray-angle": (
        "Theorem 3.8 (outside the set)",
        ("book:stable-set.outside",),
    ),
    "stable.opposite-ray-norm": (
        "Theorem 3.8 (outside the set)",
        ("book:stable-set.outside", "eft:rem-thm-3.8-3"),
    ),
    "stable.opposite-ray-power": (
        "Theorem 3.8 (outside the set)",
        ("book:stable-set.outside",),
    ),
    "stable.second-direction": (
        "Theorem 3.8 (outside the set)",
        ("book:stable-set.outside",),
    ),
    "stable.negative-directions": (
        "Theorem 3.8 (outside the set)",
        ("book:stable-set.outside", "eft:rem-thm-3.8-3"),
    ),
    "stable.linger-N2-small": (
        "Section 3 (non-strict saddle)",
        ("book:stable-set.linger",),
    ),
    "stable.linger-N2-ray": (
        "Section 3 (non-strict saddle)",
        ("book:stable-set.linger",),
    ),
    "stable.linger-small-power": (
        "Section 3 (non-strict saddle)",
        ("book:stable-set.linger",),
    ),
    "stable.linger-ray-power": (
        "Section 3 (non-strict saddle)",
        ("book:stable-set.linger",),
    ),
    "stable.phase-invariance": ("Lemma 3.7", ("book:stable-set.invariance",)),
    "stable.phase-converge": ("Theorem 3.8", ("book:stable-set.convergence",)),
    "stable.outside-N2": (
        "Theorem 3.8 (conservativeness)",
        ("book:stable-set.conservative",),
    ),
    "stable.outside-all": (
        "Theorem 3.8 (conservativeness)",
        ("book:stable-set.conservative",),
    ),
    # 04 rates
    "rates.euler-accuracy-N{N}": ("Figure 1", ("eft:fig-1",)),
    "rates.faraway-deeper-faster": ("Figure 1", ("eft:fig-1",)),
    "rates.nearby-deeper-slower": ("Figure 1", ("eft:fig-1",)),
    "rates.depends-only-on-sZ": ("Figure 1", ("book:rates.scale-law",)),
    "rates.nearby-rate-formula": ("", ("book:depth-and-rates.nearby-rates",)),
    "rates.nearby-reverses-below-1": (
        "Figure 1",
        ("book:depth-and-rates.nearby-order", "book:erratum.depth-and-scale"),
    ),
    "rates.nearby-equal-at-1": (
        "Figure 1",
        ("book:depth-and-rates.nearby-order", "book:erratum.depth-and-scale"),
    ),
    "rates.nearby-faster-above-1": (
        "Figure 1",
        ("book:depth-and-rates.nearby-order", "book:erratum.depth-and-scale"),
    ),
    "rates.faraway-holds-large-W0": ("Figure 1", ("book:erratum.depth-and-scale",)),
    "rates.faraway-fails-small-W0": ("Figure 1", ("book:erratum.depth-and-scale",)),
    "rates.thm-4-4-figure-1": ("Theorem 4.4", ("book:rates.nonlocal-bound",)),
    "rates.tau-figure-1": ("Theorem 4.4", ("book:rates.nonlocal-bound",)),
    "rates.thm-4-4-random": ("Theorem 4.4", ("book:rates.nonlocal-bound",)),
    "rates.tau-random": ("Theorem 4.4", ("book:rates.nonlocal-bound",)),
    "rates.instances-count": ("", ("book:rates.nonlocal-bound",)),
    "rates.lemma-4-1": ("Lemma 4.1", ("book:rates.rank-one-reduction",)),
    "rates.bound-33": ("eq. 33", ("book:rates.rho-bounds",)),
    "rates.lemma-4-2-rho": ("Lemma 4.2", ("book:rates.monotone-quantities",)),
    "rates.lemma-4-2-35": ("eq. 35", ("book:rates.monotone-quantities",)),
    "rates.lemma-4-3": ("Lemma 4.3", ("book:rates.cone-invariance",)),
    "rates.remark-1": ("Remark 1", ("book:rates.time-to-accuracy",)),
    "rates.lazy-fails": ("eq. 39", ("eft:eq-39",)),
    "rates.rate-29-below-true": ("eq. 29", ("book:rates.lazy-exponent",)),
    "rates.rate-29-equals-38": ("eq. 29", ("book:rates.lazy-exponent",)),
    "rates.tau-bar-by-depth": ("eq. 38a", ("book:rates.nonlocal-bound",)),
    "rates.remark-4-best": ("Remark 4", ("eft:rem-thm-4.4-4", "eft:eq-39")),
    "rates.remark-4-no-margin": ("Remark 4", ("eft:rem-thm-4.4-4", "eft:eq-39")),
    "rates.remark-4-sampled": ("Remark 4", ("eft:rem-thm-4.4-4",)),
    "rates.remark-4-converges": ("Remark 4", ("eft:rem-thm-4.4-4",)),
    # 05 Arora et al.
    "arora.gradient-through-Phi": (
        "Setting (whitened data)",
        ("book:arora-2018a.whitened-reduction",),
    ),
    "arora.loss-through-Phi": (
        "Setting (whitened data)",
        ("book:arora-2018a.whitened-reduction",),
    ),
    "arora.theorem-1-hypotheses": (
        "Theorem 1",
        ("arora:thm-1", "arora:def-1", "arora:def-2"),
    ),
    "arora.claim-1-start": ("Claim 1", ("arora:claim-1",)),
    "arora.theorem-1": ("Theorem 1", ("arora:thm-1",)),
    "arora.theorem-1-ratio": ("Theorem 1", ("arora:thm-1",)),
    "arora.lemma-1": ("Lemma 1", ("arora:lem-1",)),
    "arora.claim-1-iterates": ("Claim 1", ("arora:claim-1",)),
    "arora.eta-conservative": (
        "Theorem 1 (step size)",
        ("book:arora-2018a.step-size",),
    ),
    "arora.procedure-1-product-{'mixed' if 'mixing' in name else 'literal'}": (
        "Procedure 1",
        ("arora:proc-1",),
    ),
    "arora.procedure-1-balanced-{'mixed' if 'mixing' in name else 'literal'}": (
        "Procedure 1",
        ("arora:proc-1", "arora:def-1"),
    ),
    "arora.claim-2": ("Claim 2", ("arora:claim-2",)),
    "arora.claim-2-all-s": ("Claim 2", ("arora:claim-2",)),
    "arora.claim-3": ("Claim 3", ("arora:claim-3",)),
    "arora.claim-3-ceiling": ("Claim 3", ("arora:claim-3",)),
    "arora.invariance-exact": (
        "Figure 1 (data dependence)",
        ("book:arora-2018a.rotation-invariance",),
    ),
    "arora.invariance-exact-loss": (
        "Figure 1 (data dependence)",
        ("book:arora-2018a.rotation-invariance",),
    ),
    "arora.invariance-distribution": (
        "Figure 1 (data dependence)",
        ("book:arora-2018a.rotation-invariance",),
    ),
    "arora.fig1-b": ("Figure 1(b)", ("arora:fig-1b",)),
    "arora.fig1-a-narrower": ("Figure 1(a)", ("arora:fig-1a",)),
    "arora.fig1-a-small-s-capped": ("Figure 1(a)", ("arora:fig-1a",)),
    "arora.fig1-c-delta-bounded": ("Figure 1(c)", ("arora:fig-1c",)),
    "arora.fig1-c-delta-small": ("Figure 1(c)", ("arora:fig-1c",)),
    "arora.eftekhari-start-no-margin": (
        "Eftekhari, Figure 1 start",
        ("eft:eq-39", "arora:def-2"),
    ),
    "arora.eftekhari-start-stable": (
        "Eftekhari, Figure 1 start",
        ("book:arora-2018a.lazy-vs-nonlocal",),
    ),
    "arora.region-inclusion": (
        "Theorem 1 vs Theorem 4.4",
        ("book:arora-2018a.lazy-vs-nonlocal",),
    ),
    "arora.flow-converges-on-grid": (
        "Gradient flow (17)",
        ("book:arora-2018a.lazy-vs-nonlocal",),
    ),
    # 06 depth and rates
    "depth.linearisation": ("eq. (17)", ("book:depth-and-rates.nearby-rates",)),
    "depth.tangent": ("eq. (17)", ("book:depth-and-rates.nearby-rates",)),
    "depth.nearby-rates": (
        "Section 4 (open question: nearby rates)",
        ("book:depth-and-rates.nearby-rates",),
    ),
    "depth.radius-slaved": (
        "Section 4 (open question: nearby rates)",
        ("book:depth-and-rates.radius-rate",),
    ),
    "depth.radius-not-radial": (
        "Section 4 (open question: nearby rates)",
        ("book:depth-and-rates.radius-rate",),
    ),
    "depth.ordering": (
        "Section 4 (open question: depth trade-off)",
        ("book:depth-and-rates.nearby-order",),
    ),
    "depth.figure1-slower": ("Figure 1", ("book:depth-and-rates.nearby-order",)),
    "depth.figure1-flipped": ("Figure 1", ("book:depth-and-rates.nearby-order",)),
    "depth.faraway-slope": (
        "Figure 1 (faraway phase)",
        ("book:depth-and-rates.faraway-law",),
    ),
    "depth.faraway-prefactor": (
        "Figure 1 (faraway phase)",
        ("book:depth-and-rates.faraway-law",),
    ),
    "depth.faraway-halving-deeper": (
        "Figure 1 (faraway phase)",
        ("book:depth-and-rates.faraway-law",),
    ),
    "depth.faraway-tau-deeper": ("Theorem 4.4 (tau)", ("book:depth-and-rates.tau",)),
    "depth.tau-bounded": ("Theorem 4.4 (tau)", ("book:depth-and-rates.tau",)),
    "depth.tau-depth1-log": ("Theorem 4.4 (tau)", ("book:depth-and-rates.tau",)),
    "depth.scale-law": (
        "Section 4 (open question: depth trade-off)",
        ("book:rates.scale-law",),
    ),
    "depth.map-nearby-limit": (
        "Section 4 (open question: depth trade-off)",
        ("book:depth-and-rates.fastest-depth-map",),
    ),
    "depth.map-prediction": (
        "Section 4 (open question: depth trade-off)",
        ("book:depth-and-rates.fastest-depth-map",),
    ),
    "depth.map-penalty": (
        "Section 4 (open question: depth trade-off)",
        ("book:depth-and-rates.fastest-depth-map",),
    ),
    "depth.bound-valid": ("Theorem 4.4 (38b)", ("book:depth-and-rates.bound-gap",)),
    "depth.bound-scale-free": (
        "Theorem 4.4 (38b)",
        ("book:depth-and-rates.bound-gap",),
    ),
    "depth.bound-closed-form": (
        "Theorem 4.4 (38b)",
        ("book:depth-and-rates.bound-gap",),
    ),
    # 07 beyond
    "beyond.escape-aligned": (
        "Saxe et al. 2013 (beyond the paper)",
        ("book:beyond.saddle-to-saddle",),
    ),
    "beyond.sequential": (
        "Saxe et al. 2013 (beyond the paper)",
        ("book:beyond.saddle-to-saddle",),
    ),
    "beyond.escape-random-N2": ("", ("book:beyond.saddle-to-saddle",)),
    "beyond.deflation-deep": (
        "Section 5 (open problem; beyond the paper)",
        ("book:beyond.deflation",),
    ),
    "beyond.deflation-contrast": (
        "Section 5 (open problem; beyond the paper)",
        ("book:beyond.deflation",),
    ),
    "beyond.mc-r2-converge": (
        "Section 5 (open problem; beyond the paper)",
        ("book:beyond.width-monte-carlo",),
    ),
    "beyond.mc-r3-stuck": (
        "Section 5 (open problem; beyond the paper)",
        ("book:beyond.width-monte-carlo",),
    ),
    "beyond.stuck-modes": ("", ("book:beyond.width-monte-carlo",)),
    "beyond.stuck-late": ("", ("book:beyond.width-monte-carlo",)),
    "beyond.stuck-opposite": ("", ("book:beyond.width-monte-carlo",)),
    "beyond.candidate-not-rejected": (
        "Section 5 (conjecture; beyond the paper)",
        ("book:beyond.deflated-set-conjecture",),
    ),
    "beyond.unbalanced-linear": ("", ("book:beyond.unbalanced-distance",)),
    "beyond.unbalanced-depth": ("", ("book:beyond.unbalanced-distance",)),
    "beyond.gauss-depth2": (
        "Theorem 3.8 (beyond the paper)",
        ("book:beyond.gaussian-starts",),
    ),
    "beyond.gauss-tiny-slower": (
        "Theorem 3.8 (beyond the paper)",
        ("book:beyond.gaussian-starts",),
    ),
    "beyond.gauss-faster": (
        "Theorem 3.8 (beyond the paper)",
        ("book:beyond.gaussian-starts",),
    ),
    "beyond.gauss-more-often": (
        "Theorem 3.8 (beyond the paper)",
        ("book:beyond.gaussian-starts",),
    ),
    "beyond.gd-first-order": (
        "Elkabetz & Cohen 2021 (beyond the paper)",
        ("book:beyond.gd-vs-flow",),
    ),
    "beyond.sharpness-minimum": ("", ("book:beyond.gd-step-size",)),
    "beyond.sharpness-falls": ("", ("book:beyond.gd-step-size",)),
    "beyond.gd-stable-below": (
        "Section 3 (beyond the paper)",
        ("book:beyond.gd-step-size",),
    ),
    "beyond.gd-unstable-above": (
        "Section 3 (beyond the paper)",
        ("book:beyond.gd-step-size",),
    ),
    "beyond.usable-above-start": ("", ("book:beyond.gd-step-size",)),
    "beyond.usable-below-minimum": ("", ("book:beyond.gd-step-size",)),
    "beyond.gd-steps": (
        "Figure 1 (beyond the paper)",
        ("book:beyond.gd-steps-figure-1",),
    ),
    "beyond.gd-steps-fine": (
        "Figure 1 (beyond the paper)",
        ("book:beyond.gd-steps-figure-1",),
    ),
}


def _template(source: str, node: ast.expr) -> str | None:
    """The claim id as written: a plain string, or an f-string with its {placeholders}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        text = ast.get_source_segment(source, node) or ""
        return text[2:-1] if text[:2] in ('f"', "f'") else None
    return None


def _offset(lines: list[str], lineno: int, col: int) -> int:
    # ast columns are UTF-8 byte offsets
    prefix = sum(len(line) for line in lines[: lineno - 1])
    return prefix + len(lines[lineno - 1].encode()[:col].decode())


def rewrite(source: str) -> tuple[str, list[str], list[str]]:
    """Return (new source, claim templates mapped, templates missing from MAPPING)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, [], []
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    done, missing = [], []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and node.args
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check"
        ):
            continue
        names = {k.arg for k in node.keywords}
        if "items" in names:
            item = next((k for k in node.keywords if k.arg == "item"), None)
            if item is not None:
                # both: drop the free-text item= (check() no longer takes it) with its comma
                start = _offset(lines, item.lineno, item.col_offset)
                end = _offset(lines, item.end_lineno, item.end_col_offset)
                head = source[:start].rstrip()
                if head.endswith(","):
                    start = len(head) - 1
                edits.append((start, end, ""))
                done.append(str(_template(source, node.args[0])))
            continue
        template = _template(source, node.args[0])
        if template not in MAPPING:
            missing.append(str(template))
            continue
        ids = MAPPING[template][1]
        text = (
            "items=("
            + ", ".join(f'"{i}"' for i in ids)
            + ("," if len(ids) == 1 else "")
            + ")"
        )
        item = next((k for k in node.keywords if k.arg == "item"), None)
        if item is not None:
            start = _offset(lines, item.lineno, item.col_offset)
            end = _offset(lines, item.end_lineno, item.end_col_offset)
            edits.append((start, end, text))
        else:
            last = max(
                [*node.args, *(k.value for k in node.keywords)],
                key=lambda n: (n.end_lineno, n.end_col_offset),
            )
            end = _offset(lines, last.end_lineno, last.end_col_offset)
            edits.append((end, end, ", " + text))
        done.append(template)
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source, done, missing


def main(argv: list[str]) -> int:
    if "--table" in argv:
        print("| claim id | old `item` | registry ids |\n|---|---|---|")
        for claim, (old, ids) in MAPPING.items():
            print(
                f"| `{claim}` | {old or '(none)'} | {', '.join(f'`{i}`' for i in ids)} |"
            )
        return 0
    dry = "--dry-run" in argv
    paths = [Path(a) for a in argv if not a.startswith("--")] or sorted(
        (ROOT / "notebooks").glob("*.ipynb")
    )
    status = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        changed = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            new, done, missing = rewrite(cell.source)
            for m in missing:
                print(
                    f"{path.name}: claim {m!r} has no items= and is not in MAPPING",
                    file=sys.stderr,
                )
                status = 1
            if new != cell.source:
                cell.source = new
                changed += len(done)
        print(f"{path.name}: {changed} check calls mapped")
        if changed and not dry:
            nbformat.write(nb, path)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
