"""The committed chapters read well in the book (issue 23, part A).

- Every code line fits the book's content column (88 characters, ``[tool.ruff]``).
- The setup cells before a chapter's first section are collapsed (``hide-input``)
  behind a one-line note; the parameters cell stays visible.
- Every figure carries alternative text saying what it shows.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import nbformat
import pytest

from linnet.book.figures import ALT_KEY, FIGURE_KEY, check_alt_text, publish_figure

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtools  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
MAX_LINE = 88  # pyproject.toml [tool.ruff] line-length
HIDE = "hide-input"


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_line_length_matches_the_formatter():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["ruff"]["line-length"] == MAX_LINE
    assert "*.ipynb" in config["tool"]["ruff"]["extend-include"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_code_lines_fit_the_content_column(path):
    long = [
        f"cell {i}, line {k + 1}: {len(line)} characters"
        for i, cell in enumerate(_read(path).cells)
        if cell.cell_type == "code"
        for k, line in enumerate(cell.source.split("\n"))
        if len(line) > MAX_LINE
    ]
    assert not long, (
        f"code lines longer than {MAX_LINE} (run `ruff format notebooks/`): {long}"
    )


def _setup_cells(nb) -> tuple[int, list[int]]:
    """The parameters cell and the code cells after it, before the next heading or text."""
    (params,) = nbtools.parameters_cells(nb)
    i = params + 1
    if nb.cells[i].cell_type == "markdown" and not nb.cells[
        i
    ].source.lstrip().startswith("#"):
        i += 1  # the note that introduces the setup cells
    setup = []
    while i < len(nb.cells) and nb.cells[i].cell_type == "code":
        setup.append(i)
        i += 1
    return params, setup


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_setup_cells_are_collapsed_and_the_parameters_cell_is_not(path):
    nb = _read(path)
    params, setup = _setup_cells(nb)
    assert HIDE not in _tags(nb.cells[params]), "the parameters cell stays visible"
    assert setup, "a chapter validates its parameters in the cell after them"
    for i in setup:
        assert HIDE in _tags(nb.cells[i]), f"setup cell {i} is not tagged {HIDE}"
    note = nb.cells[setup[0] - 1]
    assert note.cell_type == "markdown" and note.source.startswith("The next"), (
        "a collapsed setup cell is introduced by a one-line note saying what it does"
    )
    assert "\n" not in note.source.strip()
    # The first section starts right after the setup: no other code is hidden there.
    after = setup[-1] + 1
    assert nb.cells[after].cell_type == "markdown"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_hidden_cells_are_introduced_by_a_note(path):
    nb = _read(path)
    hidden = [i for i, c in enumerate(nb.cells) if HIDE in _tags(c)]
    for i in hidden:
        j = i
        while nb.cells[j - 1].cell_type == "code" and HIDE in _tags(nb.cells[j - 1]):
            j -= 1
        note = nb.cells[j - 1]
        assert note.cell_type == "markdown" and note.source.startswith("The next"), i


def _figures(path: Path):
    nb = _read(path)
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            meta = output.get("metadata", {})
            if FIGURE_KEY in meta:
                yield meta


def test_every_figure_has_alternative_text():
    figures = [meta for path in NOTEBOOKS for meta in _figures(path)]
    assert len(figures) >= 20
    alts = []
    for meta in figures:
        alt = meta.get(ALT_KEY, "")
        assert check_alt_text(alt) == alt, meta[FIGURE_KEY]
        # The key MyST-NB's image output carries to the <img> (book/_ext/linnet_report.py).
        assert meta.get("image/png", {}).get("alt") == alt, meta[FIGURE_KEY]
        assert meta[FIGURE_KEY] not in alt
        assert len(alt.split()) >= 15, (
            f"{meta[FIGURE_KEY]}: say what is plotted and what it shows"
        )
        alts.append(alt)
    assert len(set(alts)) == len(alts), "each figure has its own description"


def test_publish_figure_requires_alt():
    parameter = inspect.signature(publish_figure).parameters["alt"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        None,
        "figure.png",
        "../_images/35843c4b9e.png",
        "35843c4b9e",
        "figures/04-rates-figure-1.svg",
        "see plot.PNG",
    ],
)
def test_alt_text_rejects_empty_and_file_names(bad):
    with pytest.raises(ValueError, match="alt"):
        check_alt_text(bad)


def test_alt_text_accepts_a_description():
    text = "  Log-log plot of the distance to Z_1 against time, one line per depth.  "
    assert check_alt_text(text) == text.strip()


@pytest.mark.requires("book")
def test_book_puts_the_alt_text_on_the_image(monkeypatch):
    # The hook in book/_ext/linnet_report.py around MyST-NB's image renderer.
    from types import SimpleNamespace

    from docutils import nodes
    from myst_nb.core.render import NbElementRenderer

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import linnet_report

    def fake_render_image(self, data):
        return [nodes.image(uri="35843c4b.png")]

    monkeypatch.setattr(NbElementRenderer, "render_image", fake_render_image)
    linnet_report._install_alt_text()
    alt = "Log-log plot of the distance to Z_1 against time, one line per depth."
    with_alt = SimpleNamespace(
        mime_type="image/png", output_metadata={"image/png": {"alt": alt}}
    )
    without = SimpleNamespace(mime_type="image/png", output_metadata={})
    assert NbElementRenderer.render_image(None, with_alt)[0]["alt"] == alt
    assert "alt" not in NbElementRenderer.render_image(None, without)[0].attributes
