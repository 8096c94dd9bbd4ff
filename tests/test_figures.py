"""Every figure knows where it came from: the files under figures/ are exactly
the images the committed notebooks show, each with a caption that says how to
regenerate it, on an opaque background (readable in light and dark mode)."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _published() -> dict[str, tuple[Path, bytes, str]]:
    """stem -> (notebook, PNG bytes shown in the notebook, caption)."""
    # The report extension finds figures as the book does (it imports Sphinx).
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from linnet_report import figures_of_notebook

    out = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for fig in figures_of_notebook(path):
            output = next(
                o
                for o in nb.cells[fig["cell_index"]].outputs
                if o.get("metadata", {}).get("linnet_figure") == fig["stem"]
            )
            assert fig["stem"] not in out, f"figure name {fig['stem']} used twice"
            out[fig["stem"]] = (
                path,
                base64.b64decode(output["data"]["image/png"]),
                fig["caption"],
            )
    return out


@pytest.mark.requires("book")
def test_every_published_figure_has_its_files_and_they_match():
    published = _published()
    assert published, "expected at least one figure"
    for stem, (path, shown, _) in published.items():
        assert stem.startswith(path.stem + "-"), (
            f"{stem}: figure names start with their notebook's name"
        )
        png, svg = FIGURES / f"{stem}.png", FIGURES / f"{stem}.svg"
        assert png.is_file() and svg.is_file(), (
            f"{stem}: missing figures/{stem}.png or .svg"
        )
        assert png.read_bytes() == shown, (
            f"{stem}: figures/{stem}.png is not the image the notebook shows (run make figures)"
        )
        assert svg.read_text().lstrip().startswith(("<?xml", "<svg")), (
            f"{stem}.svg is not an SVG file"
        )


@pytest.mark.requires("book")
def test_no_stale_figure_files():
    stems = set(_published())
    stale = sorted(p.name for p in FIGURES.glob("*") if p.stem not in stems)
    assert not stale, f"files under figures/ that no notebook produces: {stale}"


@pytest.mark.requires("book")
def test_captions_say_how_to_regenerate():
    for stem, (path, _, caption) in _published().items():
        assert (
            f"Regenerate: `papermill --cwd notebooks notebooks/{path.stem}.ipynb"
            in caption
        ), f"{stem}: caption lacks the command"


PNGS = sorted(p.stem for p in FIGURES.glob("*.png"))


def test_there_are_figures():
    assert PNGS, "expected figures under figures/"


@pytest.mark.parametrize("stem", PNGS)
def test_figures_have_an_opaque_background(stem):
    from PIL import Image

    image = Image.open(io.BytesIO((FIGURES / f"{stem}.png").read_bytes()))
    if "A" in image.getbands():
        alpha = np.asarray(image.getchannel("A"))
        assert alpha.min() == 255, (
            f"{stem}: transparent pixels (text would vanish on the dark theme)"
        )
    corner = np.asarray(image.convert("RGB"))[0, 0]
    assert corner.min() >= 240, f"{stem}: background is not white ({corner})"
