"""Figure style and the regenerate command printed under every figure."""

import shlex

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

from linnet.book.figures import regenerate_command, save_figure, use_style  # noqa: E402


def _parse(command: str) -> dict:
    """Parameters as papermill's command line would read them."""
    # papermill's own parser of `-p` values (private, but it is what the command runs through).
    from papermill.cli import _resolve_type

    words = shlex.split(command)
    out = {}
    for flag, value, extra in zip(words, words[1:], words[2:] + [""], strict=False):
        if flag == "-p":
            out[value] = _resolve_type(extra)
        elif flag == "-y":
            out.update(yaml.safe_load(value))
    return out


@pytest.mark.requires("book")
def test_regenerate_command_round_trips_through_papermill_parsing():
    params = dict(
        seed=3,
        m=50,
        quick=False,
        depths=[1, 2, 3, 4, 8],
        scales=(0.1, 1.0),
        label="fig one",
        eta=1e-3,
    )
    command = regenerate_command("04-rates", params)
    assert command.startswith(
        "papermill --cwd notebooks notebooks/04-rates.ipynb out.ipynb"
    )
    parsed = _parse(command)
    assert parsed == {**params, "scales": [0.1, 1.0]}


def test_saved_files_are_reproducible(tmp_path):
    use_style()
    files = []
    for run in range(2):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 0.5, 0.2], label="$s_Z$")
        ax.legend()
        files.append(
            [p.read_bytes() for p in save_figure(fig, "x", tmp_path / str(run))]
        )
        plt.close(fig)
    assert files[0] == files[1], "the same figure must give the same SVG and PNG bytes"
