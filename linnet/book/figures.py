"""One figure style for the book, readable in the theme's light and dark modes.

Figures get an opaque white background (black text on a transparent
background disappears in dark mode) and a colour-blind-safe palette.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import matplotlib as mpl

#: Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
]

STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 11,
    "legend.frameon": False,
    # Reproducible vector files: no embedded dates or random ids.
    "svg.hashsalt": "linnet-book",
}


def use_style() -> None:
    """Apply the book's figure style to matplotlib."""
    mpl.rcParams.update(STYLE)


#: Environment variable naming the folder figures are written to. Without it, a
#: chapter run inside the repository (from ``notebooks/``) writes to the
#: repository's ``figures/``; run anywhere else (Colab, a downloaded notebook)
#: it writes to ``figures/`` beside itself. ``make book``/``make test`` point it
#: under ``_build/`` so building never rewrites the committed files.
FIGURES_ENV = "LINNET_FIGURES"

#: Metadata key marking a figure output in a notebook (read by the book's
#: figure index and by the tests).
FIGURE_KEY = "linnet_figure"
# The figure's alternative text, also under the image's own metadata ("image/png").
ALT_KEY = "linnet_alt"


def figures_dir() -> Path:
    """Where :func:`publish_figure` writes: ``$LINNET_FIGURES``, else the repository's
    ``figures/`` when run from its ``notebooks/``, else ``figures/`` in the working directory."""
    if FIGURES_ENV in os.environ:
        return Path(os.environ[FIGURES_ENV])
    in_repository = Path("../_toc.yml").is_file() and Path("../figures").is_dir()
    return Path("../figures") if in_repository else Path("figures")


def save_figure(fig, name: str, directory: str | Path | None = None) -> list[Path]:
    """Save ``fig`` as SVG and PNG under ``directory/name.*`` and return the paths.

    Both files are reproducible byte for byte: no dates, fixed SVG ids.
    """
    directory = figures_dir() if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("svg", "png"):
        path = directory / f"{name}.{ext}"
        metadata = {"Date": None} if ext == "svg" else {"Software": None}
        fig.savefig(path, metadata=metadata, dpi=110 if ext == "png" else None)
        paths.append(path)
    return paths


def regenerate_command(notebook: str, parameters: dict) -> str:
    """The papermill call that re-executes ``notebooks/<notebook>.ipynb`` with ``parameters``.

    Run from the repository root; ``--cwd notebooks`` runs the kernel where the
    chapters run, so figures land in ``figures/``. Scalars go through ``-p name value``; lists, tuples and dicts, which ``-p``
    cannot express, through ``-y 'name: [...]'`` (YAML).
    """
    args = []
    for key, value in parameters.items():
        if isinstance(value, (list, tuple, dict)):
            value = list(value) if isinstance(value, tuple) else value
            args.append(f"-y '{key}: {json.dumps(value)}'")
        elif isinstance(value, str):
            args.append(f"-p {key} {value!r}")
        else:
            args.append(f"-p {key} {value}")
    return f"papermill --cwd notebooks notebooks/{notebook}.ipynb out.ipynb {' '.join(args)}".rstrip()


def check_alt_text(alt) -> str:
    """Validate a figure's alternative text and return it stripped.

    Alternative text says what the figure shows (what is plotted, the axes, the
    visible feature) for a reader who cannot see it; a file name says nothing.
    """
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("alt must be a non-empty string saying what the figure shows")
    text = alt.strip()
    if _FILE_NAME.search(text) or (" " not in text):
        raise ValueError(
            f"alt must describe the figure in words, not name a file; got {text!r}"
        )
    return text


_FILE_NAME = re.compile(
    r"(^|[/\\\s])[\w.\-]+\.(png|svg|jpe?g|gif|pdf)\b", re.IGNORECASE
)


def publish_figure(
    fig, notebook: str, name: str, caption: str, parameters: dict, *, alt: str
) -> None:
    """Save a chapter's figure under ``figures/<notebook>-<name>.{svg,png}`` and show it.

    The PNG shown in the notebook (and so in the book) is the saved file itself,
    followed by the caption, which ends with the command that regenerates the
    figure. Call it as the last statement of a plotting cell.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    notebook : str
        The chapter's file stem, e.g. ``"00-setup"``.
    name : str
        Short stable name of the figure within the chapter.
    caption : str
        One or two sentences (Markdown) saying what the figure shows.
    parameters : dict
        The chapter's parameters as they were when the figure was drawn.
    alt : str
        Alternative text: what the figure shows (what is plotted against what,
        the main visible feature), for a reader who cannot see it. Stored in the
        image output's metadata (``image/png`` → ``alt``), which the book's HTML
        puts on the ``<img>`` (book/_ext/linnet_report.py). A ValueError if it is
        empty or looks like a file name.
    """
    alt = check_alt_text(alt)
    import matplotlib.pyplot as plt
    from IPython.display import Image, Markdown, display

    stem = f"{notebook}-{name}"
    _, png = save_figure(fig, stem)
    plt.close(fig)
    display(
        Image(filename=str(png)),
        metadata={FIGURE_KEY: stem, ALT_KEY: alt, "image/png": {"alt": alt}},
    )
    command = regenerate_command(notebook, parameters)
    display(
        Markdown(
            f"**Figure `{stem}`.** {caption} Regenerate: `{command}` (or `make figures` for every figure)."
        )
    )
