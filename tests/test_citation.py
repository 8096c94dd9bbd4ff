"""CITATION.cff is valid CFF 1.2.0 (cffconvert), names both papers, carries pyproject's version
and the book's URL as configured once in _config.yml (html.baseurl)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CFFCONVERT = ROOT / ".venv" / "cffconvert"


def _validate(path: Path) -> subprocess.CompletedProcess:
    if not (CFFCONVERT / "cffconvert").is_dir():
        pytest.fail(
            "cffconvert is not installed in .venv/cffconvert: run `make test` (it installs it)"
        )
    env = dict(os.environ, PYTHONPATH=str(CFFCONVERT))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from cffconvert.cli.cli import cli; cli()",
            "--validate",
            "-i",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.requires("cffconvert")
def test_cffconvert_validates_the_citation_file():
    result = _validate(ROOT / "CITATION.cff")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


@pytest.mark.requires("cffconvert")
def test_cffconvert_rejects_an_invalid_copy(tmp_path):
    # The control: validation must be able to fail.
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    del cff["authors"]
    bad = tmp_path / "CITATION.cff"
    bad.write_text(yaml.safe_dump(cff))
    assert _validate(bad).returncode != 0


def test_version_and_references():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert str(cff["version"]) == version, (
        "CITATION.cff must carry pyproject.toml's version"
    )
    titles = [r["title"] for r in cff["references"]]
    assert any("Non-Local Convergence" in t for t in titles)
    assert any("Convergence Analysis of Gradient Descent" in t for t in titles)


def _configured_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["html"]["baseurl"]


def test_the_book_url_is_configured_once_and_cited_everywhere():
    # _config.yml's html.baseurl is the one place the book's URL is set: CITATION.cff
    # and the README's statement of where the book lives must say the same.
    url = _configured_url()
    assert url.startswith("https://") and url.endswith("/"), url
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff.get("url") == url, (
        f"CITATION.cff url {cff.get('url')!r} differs from _config.yml html.baseurl {url!r}"
    )
    readme = (ROOT / "README.md").read_text()
    assert f"lives at `{url}`" in readme, (
        "the README must say the book lives at _config.yml's html.baseurl"
    )


@pytest.mark.requires("book")
def test_book_url_of_the_cite_extension():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from linnet_cite import book_url

    url = _configured_url()
    assert book_url(url) == url
    assert book_url(url.rstrip("/")) == url
    assert book_url(url, "notebooks/00-setup") == url + "notebooks/00-setup.html"
    for bad in ("", "linnet-book/", "/linnet-book/"):
        with pytest.raises(ValueError, match="html_baseurl"):
            book_url(bad)
