"""A chapter runs where a reader opens it: in the repository, on Colab, on Binder, or downloaded
into a plain Jupyter with linnet installed; and without linnet it says what to install."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtools  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _first_code_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_chapter_starts_with_the_reader_setup_cell(path):
    cell = _first_code_cell(path)
    assert nbtools.READER_SETUP_TAG in cell.metadata.get("tags", []), (
        "run `tools/nbtools.py stamp` on it"
    )
    assert cell.source == nbtools.reader_setup_source(), (
        "stale reader-setup cell: run `tools/nbtools.py stamp`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapters_need_nothing_but_linnet_and_its_dependencies(path):
    # The book stack (myst_nb) must not be needed to run a chapter: glue comes from linnet.
    allowed = {
        "linnet",
        "numpy",
        "scipy",
        "matplotlib",
        "importlib",
        "sys",
        "subprocess",
        "math",
    }
    nb = nbformat.read(path, as_version=4)
    imported = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                words = line.split()
                if len(words) > 1 and words[0] in ("import", "from"):
                    imported.add(words[1].split(".")[0])
    assert imported <= allowed, (
        f"imports beyond linnet's dependencies: {sorted(imported - allowed)}"
    )


def test_the_source_is_the_repository_of_the_configuration_at_the_version():
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert nbtools.linnet_source() == f"git+{url}@v{version}"


def _run_setup_cell(monkeypatch, *, on_colab: bool):
    """Execute the reader-setup cell as if linnet were missing; return the pip calls it made."""
    calls = []
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "linnet" else object(),
    )
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    if on_colab:
        monkeypatch.setitem(
            sys.modules, "google.colab", types.ModuleType("google.colab")
        )
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(nbtools.reader_setup_source(), "reader-setup", "exec"), {})
    return calls


def test_on_colab_the_setup_cell_installs_linnet_at_the_books_version(monkeypatch):
    calls = _run_setup_cell(monkeypatch, on_colab=True)
    assert calls == [
        [sys.executable, "-m", "pip", "install", "--quiet", nbtools.linnet_source()]
    ]


def test_elsewhere_without_linnet_the_setup_cell_says_what_to_install(monkeypatch):
    with pytest.raises(
        ModuleNotFoundError,
        match=r"needs the linnet package: pip install 'git\+https://",
    ):
        _run_setup_cell(monkeypatch, on_colab=False)


def test_with_linnet_the_setup_cell_does_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    exec(compile(nbtools.reader_setup_source(), "reader-setup", "exec"), {})
    assert calls == []


def test_binder_installs_what_a_reader_needs_and_no_more():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    lines = [
        line.strip()
        for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    ]
    binder = [line for line in lines if line and not line.startswith("#")]
    assert sorted(map(str, map(Requirement, binder))) == sorted(
        map(str, map(Requirement, deps))
    )
    assert "pip install --no-deps ." in (ROOT / "binder" / "postBuild").read_text()
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK), (
        "Binder runs postBuild only if it is executable"
    )


# --- a downloaded chapter in a plain Jupyter ---------------------------------

_EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": sys.argv[2]}}).execute()
except CellExecutionError as error:
    print("CELL-ERROR", str(error)[-2000:])
nbformat.write(nb, sys.argv[1])
"""


@pytest.mark.slow
def test_a_chapter_runs_outside_the_repository_with_linnet_and_jupyter_alone(tmp_path):
    """Build linnet's wheel, install it with Jupyter only (no book stack, no tests) in a fresh
    virtual environment, and run a chapter downloaded to a folder outside the repository."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    wheels, env, outside = (
        tmp_path / "wheels",
        tmp_path / "venv",
        tmp_path / "Downloads",
    )
    outside.mkdir()
    pip_env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=300,
        env=pip_env,
    )
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=120)
    python = str(env / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "nbclient", "ipykernel"],
        check=True,
        timeout=600,
        env=pip_env,
    )
    chapter = outside / "00-setup.ipynb"
    script = tmp_path / "execute.py"
    script.write_text(_EXECUTE)
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("LINNET_", "PYTHON"))
    }

    # Without linnet: the first cell stops with the sentence saying what to install.
    shutil.copy(ROOT / "notebooks" / "00-setup.ipynb", chapter)
    out = subprocess.run(
        [python, str(script), str(chapter), str(outside)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=outside,
        env=clean,
    )
    assert (
        "CELL-ERROR" in out.stdout
        and "needs the linnet package: pip install" in out.stdout
    ), out.stdout[-2000:]

    # With linnet's wheel (and its dependencies) installed: the chapter runs, its checks pass.
    (wheel,) = wheels.glob("linnet-*.whl")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        timeout=600,
        env=pip_env,
    )
    assert (
        subprocess.run([python, "-c", "import myst_nb"], capture_output=True).returncode
        != 0
    ), "book stack leaked in"
    shutil.copy(ROOT / "notebooks" / "00-setup.ipynb", chapter)
    out = subprocess.run(
        [python, str(script), str(chapter), str(outside)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=outside,
        env=clean,
    )
    assert "CELL-ERROR" not in out.stdout, out.stdout[-2000:]
    nb = json.loads(chapter.read_text())
    printed = "".join(
        "".join(o.get("text", ""))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
    )
    assert "PASS [setup.whitened]" in printed and "FAIL [" not in printed
    # Without MyST-NB the numbers the prose quotes are printed for the reader.
    assert "gamma_multi = " in printed and "s_Z_multi = " in printed
    assert (outside / "figures").is_dir(), (
        "figures of a downloaded chapter go beside it"
    )
