"""ruff (configured in pyproject.toml) is clean: lint everywhere, format on the code we write."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORMATTED = [
    "linnet",
    "tests",
    "benchmarks",
    "tools",
    "book/_ext",
    "notes",
    "notebooks",
]


def _ruff() -> str:
    path = Path(sys.executable).with_name("ruff")
    if path.exists():
        return str(path)
    found = shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed: pip install -e '.[test]'")
    return found


def test_ruff_check_is_clean():
    result = subprocess.run(
        [_ruff(), "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_format_leaves_the_code_unchanged():
    result = subprocess.run(
        [_ruff(), "format", "--check", *FORMATTED],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
