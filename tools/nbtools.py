"""Execute notebooks with papermill and strip what changes from run to run.

Used by ``make notebooks`` (refresh committed outputs in place) and by the
test suite (run a chapter with other parameters). Not part of linnet: the
package knows nothing of notebooks.

    python tools/nbtools.py refresh notebooks/00-setup.ipynb
    python tools/nbtools.py run notebooks/00-setup.ipynb out.ipynb -p seed 1
    python tools/nbtools.py stamp notebooks/*.ipynb   # the reader-setup cell, from _config.yml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

KERNEL = "python3"
ROOT = Path(__file__).resolve().parents[1]
#: Tag of each chapter's first code cell (see :func:`reader_setup_source`).
READER_SETUP_TAG = "reader-setup"


def linnet_source() -> str:
    """Where a reader's pip gets linnet: the repository of ``_config.yml`` at the book's version tag.

    The repository URL lives in ``_config.yml`` only (the book's buttons use it too); the
    version in ``pyproject.toml``; releases are tagged ``v<version>``.
    """
    import tomllib

    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return f"git+{url}@v{version}"


def reader_setup_source() -> str:
    """The first code cell of every chapter: run where a reader opens it.

    In the repository (``make book``, a local Jupyter with the project's environment) linnet is
    installed and the cell does nothing. On Colab it installs linnet at the book's version.
    Anywhere else without linnet it stops with one sentence saying what to install. It needs
    nothing but the standard library, since linnet may be missing.
    """
    return f"""\
# Where this chapter runs: with linnet installed (the repository's environment, Binder)
# this cell does nothing; on Colab it installs linnet; elsewhere it says what to
# install.
import importlib.util
import sys

LINNET = "{linnet_source()}"
if importlib.util.find_spec("linnet") is None:
    if "google.colab" in sys.modules:
        import subprocess

        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", LINNET], check=True
        )
    else:
        raise ModuleNotFoundError(
            f"This chapter needs the linnet package: pip install '{{LINNET}}'"
        )"""


def stamp(nb):
    """Give ``nb`` the current reader-setup cell as its first code cell, and glue through linnet.

    Idempotent: an existing reader-setup cell is replaced, not duplicated.
    """
    source = reader_setup_source()
    tagged = [
        c for c in nb.cells if READER_SETUP_TAG in c.get("metadata", {}).get("tags", [])
    ]
    if tagged:
        tagged[0].source = source
    else:
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [READER_SETUP_TAG]})
        nb.cells.insert(first_code, cell)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace(
                "from myst_nb import glue", "from linnet.book.glue import glue"
            )
    return nb


def parameters_cells(nb) -> list[int]:
    """Indices of code cells tagged ``parameters``."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and "parameters" in cell.get("metadata", {}).get("tags", [])
    ]


def merge_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same stream into one.

    How the kernel splits printed text into messages depends on timing, so an
    unchanged notebook would otherwise produce a different list of outputs on
    every run (nbval joins them before comparing; git does not).
    """
    merged = []
    for out in outputs:
        if (
            out.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1].get("name") == out.get("name")
        ):
            merged[-1]["text"] = merged[-1]["text"] + out["text"]
        else:
            merged.append(out)
    return merged


def strip_run_metadata(nb):
    """Remove papermill's timestamps and durations and merge split streams, so a re-run does not churn diffs."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if not cell.metadata.get("tags"):
            cell.metadata.pop("tags", None)
    return nb


def execute(
    src: Path, dst: Path, parameters: dict | None = None, cwd: Path | None = None
):
    """Execute ``src`` into ``dst`` with papermill, then strip run metadata."""
    import papermill

    nb = nbformat.read(src, as_version=4)
    if len(parameters_cells(nb)) != 1:
        raise ValueError(
            f"{src} must have exactly one cell tagged 'parameters'; found {len(parameters_cells(nb))}"
        )
    papermill.execute_notebook(
        str(src),
        str(dst),
        parameters=parameters or None,
        kernel_name=KERNEL,
        cwd=str(cwd or Path(src).parent),
        progress_bar=False,
        request_save_on_cell_execute=False,
    )
    out = nbformat.read(dst, as_version=4)
    strip_run_metadata(out)
    nbformat.write(out, dst)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    refresh = sub.add_parser(
        "refresh", help="re-execute notebooks in place with their default parameters"
    )
    refresh.add_argument("notebooks", nargs="+", type=Path)
    stamp_parser = sub.add_parser(
        "stamp", help="write the reader-setup cell (from _config.yml) into notebooks"
    )
    stamp_parser.add_argument("notebooks", nargs="+", type=Path)
    run = sub.add_parser(
        "run", help="execute a notebook into another file with parameters"
    )
    run.add_argument("notebook", type=Path)
    run.add_argument("output", type=Path)
    run.add_argument(
        "-p",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="parameter (VALUE parsed as JSON when possible)",
    )
    args = parser.parse_args(argv)
    if args.command == "stamp":
        for path in args.notebooks:
            nb = nbformat.read(path, as_version=4)
            nbformat.write(stamp(nb), path)
    elif args.command == "refresh":
        for path in args.notebooks:
            print(f"executing {path}", flush=True)
            execute(path, path)
    else:
        params = {}
        for name, value in args.p:
            try:
                params[name] = json.loads(value)
            except json.JSONDecodeError:
                params[name] = value
        execute(args.notebook, args.output, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
