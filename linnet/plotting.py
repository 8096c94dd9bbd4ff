"""One figure style for the book, readable in the theme's light and dark modes.

Figures get an opaque white background (black text on a transparent
background disappears in dark mode) and a colour-blind-safe palette.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

#: Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

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


def save_figure(fig, name: str, directory: str | Path = "figures") -> list[Path]:
    """Save ``fig`` as SVG and PNG under ``directory/name.*`` and return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("svg", "png"):
        path = directory / f"{name}.{ext}"
        fig.savefig(path, metadata={"Date": None} if ext == "svg" else None)
        paths.append(path)
    return paths
