"""Every chapter notebook: structure, a papermill run with other parameters, and
proof that the notebook checks really bite.

nbval itself runs over ``notebooks/`` from the README test command
(``pytest --nbval notebooks tests``): it re-executes each committed notebook and
compares every output with the committed one.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtools  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _default_parameters(nb) -> dict:
    """The assignments of the ``parameters`` cell, evaluated as literals."""
    (index,) = nbtools.parameters_cells(nb)
    params = {}
    for node in ast.parse(nb.cells[index].source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            params[node.targets[0].id] = ast.literal_eval(node.value)
    return params


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exactly_one_parameters_cell(path):
    # papermill silently runs a notebook without one, ignoring the parameters.
    assert len(nbtools.parameters_cells(_read(path))) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_with_outputs_and_without_errors(path):
    nb = _read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), (
        "every code cell must be executed before committing"
    )
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert "papermill" not in nb.metadata, (
        "papermill run metadata must be stripped (make notebooks does it)"
    )
    assert not any(
        "papermill" in c.metadata or "execution" in c.metadata for c in nb.cells
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_have_seed_and_are_literals(path):
    params = _default_parameters(_read(path))
    assert "seed" in params, "every chapter is seeded through its parameters cell"


@pytest.mark.slow
@pytest.mark.requires("book")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_papermill_with_other_parameters(path, tmp_path, monkeypatch):
    """Another seed (and the documented quick switch, if any): the check cells must still pass."""
    # The kernel inherits this: figures of the other seed must not overwrite figures/.
    monkeypatch.setenv("LINNET_FIGURES", str(tmp_path / "figures"))
    params = _default_parameters(_read(path))
    other = {"seed": params["seed"] + 1}
    if "quick" in params:
        other["quick"] = True
    out = nbtools.execute(path, tmp_path / path.name, other)
    injected = [
        c for c in out.cells if "injected-parameters" in c.metadata.get("tags", [])
    ]
    assert injected, "papermill must have injected the new parameters"
    printed = "".join(
        o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "PASS [" in printed and "FAIL [" not in printed


# --- the checks bite -------------------------------------------------------

SETUP = ROOT / "notebooks" / "00-setup.ipynb"


def _pytest_nbval(path: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, PYTHONHASHSEED="0", LINNET_FIGURES=str(path.parent / "figures")
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--nbval",
            str(path),
        ],
        cwd=path.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _first_check_cell(nb) -> int:
    return next(
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "check(" in c.source
    )


@pytest.mark.slow
@pytest.mark.requires("book")
def test_nbval_and_papermill_pass_on_an_unmodified_copy(tmp_path, monkeypatch):
    # The control for the two tests below: a failure there must come from the edit.
    monkeypatch.setenv("LINNET_FIGURES", str(tmp_path / "figures"))
    dst = tmp_path / SETUP.name
    dst.write_text(SETUP.read_text())
    result = _pytest_nbval(dst)
    assert result.returncode == 0, result.stdout[-3000:]
    nbtools.execute(dst, tmp_path / "out.ipynb", {})  # raises if a cell fails


@pytest.mark.slow
@pytest.mark.requires("book")
def test_nbval_fails_when_a_printed_number_is_edited(tmp_path):
    nb = _read(SETUP)
    edited = False
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            if "s_Z = " in text and not edited:
                value = text.split("s_Z = ")[1].split()[0]
                out["text"] = text.replace(
                    f"s_Z = {value}", f"s_Z = {float(value) + 0.0001:.4f}", 1
                )
                edited = True
    assert edited, "expected a printed 's_Z = ...' line in 00-setup"
    dst = tmp_path / SETUP.name
    nbformat.write(nb, dst)
    result = _pytest_nbval(dst)
    assert result.returncode != 0, "nbval did not notice a hand-edited output"
    assert "s_Z" in result.stdout


@pytest.mark.slow
@pytest.mark.requires("book")
def test_a_failing_check_cell_fails_nbval_and_papermill(tmp_path, monkeypatch):
    monkeypatch.setenv("LINNET_FIGURES", str(tmp_path / "figures"))
    nb = _read(SETUP)
    i = _first_check_cell(nb)
    broken = nbformat.v4.new_code_cell(
        'check("broken.on-purpose", "a claim that is false", 1.0, "<=", 0.5)'
    )
    nb.cells.insert(i + 1, broken)
    dst = tmp_path / SETUP.name
    nbformat.write(nb, dst)
    result = _pytest_nbval(dst)
    assert result.returncode != 0 and "ClaimFailed" in result.stdout
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="ClaimFailed"):
        nbtools.execute(dst, tmp_path / "out.ipynb", {})


def test_check_records_and_raises():
    from linnet.book.checks import RECORDS, ClaimFailed, check

    check("t.ok", "one is at most two", 1.0, "<=", 2.0)
    assert RECORDS[-1].passed and RECORDS[-1].shown == "1"
    with pytest.raises(ClaimFailed, match="t.bad"):
        check("t.bad", "NaN never passes", float("nan"), "<=", 1.0)
    assert not RECORDS[-1].passed
    check("t.floor", "round-off prints as a bound", 3e-16, "<=", 1e-12, floor=1e-13)
    assert RECORDS[-1].shown == "< 1e-13"
    check("t.zero", "the sign of zero is round-off", -0.0, "<=", 1.0)
    assert RECORDS[-1].shown == "0"
    with pytest.raises(ValueError, match="relation"):
        check("t.rel", "unknown relation", 1.0, "=<", 2.0)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_claim_records_agree_with_the_printed_lines(path):
    # The reproduction report is built from the records, the chapter page shows
    # the printed line: both must say the same measured value and outcome.
    nb = json.loads(path.read_text())
    checked = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        printed = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name", "")
            if not name.startswith("claim:"):
                continue
            record = json.loads(
                "".join(out["data"]["application/papermill.record/text/plain"])
            )
            mark = "PASS" if record["passed"] else "FAIL"
            line = f"{mark} [{record['claim_id']}] {record['statement']}: measured {record['shown']} ("
            assert line in printed, (
                f"record {record['claim_id']} does not match its cell's printed line"
            )
            checked += 1
    assert checked or "check(" not in "".join("".join(c["source"]) for c in nb["cells"])
