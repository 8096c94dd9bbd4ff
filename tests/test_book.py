"""The book builds with zero warnings, and a notebook that raises fails the build."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


def _build(source: Path, output: Path, config: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [str(JUPYTER_BOOK), "build", str(source), "--path-output", str(output), "-n", "-W", "--keep-going"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def _config(execute: str) -> dict:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = execute
    return config


@pytest.mark.slow
def test_book_builds_without_warnings_from_committed_outputs(tmp_path):
    # nbval has just shown the committed outputs reproduce, so this build does
    # not execute again: it checks the pages, references, glue and boxes.
    config = tmp_path / "_config.yml"
    config.write_text(yaml.safe_dump(_config("off")))
    result = _build(ROOT, tmp_path, config)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert "WARNING" not in log, log[-5000:]
    html = tmp_path / "_build" / "html"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for name in files:
        assert (html / f"{name}.html").is_file(), f"missing page {name}.html"
    setup = (html / "notebooks" / "00-setup.html").read_text()
    assert "PASS [setup.whitened]" in setup, "check-cell outputs must appear on the chapter page"


@pytest.mark.slow
def test_a_notebook_that_raises_fails_the_build(tmp_path):
    # A minimal book with the project's configuration and one notebook whose
    # check cell fails: the build (what `make book` runs) must exit non-zero.
    book = tmp_path / "book-src"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "references.bib", book / "book" / "references.bib")
    config = _config("force")
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    (book / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro", "chapters": [{"file": "broken"}]}))
    (book / "intro.md").write_text("# Intro\n\nA book with one broken chapter.\n")
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Broken\n\nA check cell that fails."),
            new_code_cell("seed = 0", metadata={"tags": ["parameters"]}),
            new_code_cell('from linnet.checks import check\ncheck("broken", "a false claim", 1.0, "<=", 0.5)'),
        ]
    )
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, book / "broken.ipynb")
    result = _build(book, tmp_path / "out")
    log = result.stdout + result.stderr
    assert result.returncode != 0, "a failing check cell must fail the book build"
    assert "ClaimFailed" in log or "broken" in log
