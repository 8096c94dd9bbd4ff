"""CITATION.cff is valid CFF 1.2.0 (cffconvert), names both papers, and carries pyproject's version."""

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
        pytest.fail("cffconvert is not installed in .venv/cffconvert: run `make test` (it installs it)")
    env = dict(os.environ, PYTHONPATH=str(CFFCONVERT))
    return subprocess.run(
        [sys.executable, "-c", "from cffconvert.cli.cli import cli; cli()", "--validate", "-i", str(path)],
        capture_output=True, text=True, env=env, timeout=120,
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
    assert str(cff["version"]) == version, "CITATION.cff must carry pyproject.toml's version"
    titles = [r["title"] for r in cff["references"]]
    assert any("Non-Local Convergence" in t for t in titles)
    assert any("Convergence Analysis of Gradient Descent" in t for t in titles)
