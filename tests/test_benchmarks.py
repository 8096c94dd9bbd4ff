"""Smoke test of ``python -m benchmarks`` on a tiny workload, and of the page built from its results.

The full benchmark never runs here (minutes); ``--quick`` takes seconds.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import analysis  # noqa: E402
from benchmarks.run import run  # noqa: E402
from benchmarks.workloads import (  # noqa: E402
    figure1_workload,
    matrix_rhs,
    polar_rhs_single,
    to_polar,
)


def _extension():
    spec = importlib.util.spec_from_file_location(
        "linnet_performance", ROOT / "book" / "_ext" / "linnet_performance.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("performance")
    run(quick=True, repeats=1, out_dir=out, use_jax=False, log=lambda _: None)
    return out, json.loads((out / "results.json").read_text())


@pytest.mark.requires("book")
def test_quick_run_writes_results_and_figure(quick_results):
    out, data = quick_results
    _extension().check_results(data)
    assert data["quick"] is True
    assert (out / "work-precision.svg").stat().st_size > 0 and (
        out / "work-precision.png"
    ).stat().st_size > 0
    assert set(data["workloads"]) == {"figure1", "batch"}
    for work in data["workloads"].values():
        keys = {p["method"] for p in work["points"]}
        assert {"euler-matrix", "euler-polar", "scipy-dop853-polar", "linnet"} <= keys
        assert all(
            p["seconds"] > 0 and math.isfinite(p["error"]) for p in work["points"]
        )
        # JAX was disabled: diffrax is listed as skipped, with the reason.
        assert {s["method"] for s in work["skipped"]} == {
            "diffrax-dopri8",
            "diffrax-tsit5",
        }
        assert all(s["reason"] for s in work["skipped"])
    assert {g["id"] for g in data["goals"]} >= {
        "front-figure1",
        "front-batch",
        "figure1-vs-paper",
    }


@pytest.mark.requires("book")
def test_errors_fall_with_the_step_and_the_tolerance(quick_results):
    # Euler is first order: 10x smaller step, error ~10x smaller (between 5x and 20x);
    # linnet at rtol 1e-8 is more accurate than at 1e-4. A benchmark whose
    # errors did not respond to the settings would be measuring nothing.
    _, data = quick_results
    for work in data["workloads"].values():
        euler = sorted(
            (p for p in work["points"] if p["method"] == "euler-matrix"),
            key=lambda p: p["setting"],
        )
        assert 5 < euler[1]["error"] / euler[0]["error"] < 20
        lin = {
            p["setting"]: p["error"] for p in work["points"] if p["method"] == "linnet"
        }
        assert lin[1e-8] < lin[1e-4] / 100


@pytest.mark.requires("book")
def test_page_renders_from_the_results(quick_results):
    from docutils import nodes
    from docutils.core import publish_from_doctree
    from docutils.utils import new_document

    _, data = quick_results
    ext = _extension()
    body = ext.render(data, "performance/work-precision.*")
    doc = new_document("performance")
    doc.extend(body)
    html = publish_from_doctree(doc, writer_name="html").decode()
    assert "quick run" in html and "Goals (issue 22)" in html
    assert len(list(doc.findall(nodes.table))) >= 5
    bad = dict(data, schema="other")
    with pytest.raises(ValueError, match="schema"):
        ext.render(bad, None)


@pytest.mark.requires("book")
def test_committed_results_match_the_schema():
    # The book page is built from this file; a malformed one would fail the build.
    _extension().check_results(
        json.loads((ROOT / "book" / "performance" / "results.json").read_text())
    )


def test_cost_interpolates_along_the_front():
    pts = [
        {"method": "a", "error": 1e-2, "seconds": 1.0},
        {"method": "a", "error": 1e-4, "seconds": 10.0},
        {"method": "a", "error": 1e-3, "seconds": 50.0},  # dominated: off the front
    ]
    assert [p["error"] for p in analysis.front(pts)] == [1e-4, 1e-2]
    cost, bound = analysis.cost_at(pts, 1e-3)
    assert cost == pytest.approx(math.sqrt(10.0), rel=1e-12) and not bound
    assert analysis.cost_at(pts, 1e-5) == (None, False)
    assert analysis.cost_at(pts, 1e-1) == (1.0, True)


def test_baseline_right_hand_sides_agree():
    # The matrix flow and the polar reduction are the same flow: the polar
    # velocity (r', theta') equals the matrix velocity projected on the polar
    # basis, to round-off (1e-12 relative).
    work = figure1_workload()
    w = work.cases[0].w0
    for N in (2, 3, 8):
        dw = matrix_rhs(work.z, work.m, N)(w)[0]
        r, th, v, u = to_polar(w, work.z)
        d = polar_rhs_single(float(np.linalg.norm(work.z)), work.m, N)(
            0.0, [r[0], th[0]]
        )
        radial = (w[0] / r[0]) @ dw
        angular = (np.cos(th[0]) * u[0] - np.sin(th[0]) * v) @ dw / r[0]
        assert np.allclose([radial, angular], d, rtol=1e-12, atol=0)
