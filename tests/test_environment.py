"""environment.yml (conda) and pyproject.toml (pip) list the same packages and versions."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs.extend(extra)
    parsed = [Requirement(r) for r in reqs]
    return {r.name.lower(): r.specifier for r in parsed} | {"python": SpecifierSet(project["requires-python"])}


def _conda_requirements() -> dict[str, SpecifierSet]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if dep == "pip":
            continue
        # pip-only packages (not on conda-forge) sit in the pip block, same syntax.
        entries = [d for d in dep["pip"] if d != "-e ."] if isinstance(dep, dict) else [dep]
        for entry in entries:
            name, _, spec = entry.partition(" ")
            out[name.lower()] = SpecifierSet(spec.replace(" ", ""))
    return out


def test_same_packages():
    pip, conda = _pyproject_requirements(), _conda_requirements()
    assert sorted(pip) == sorted(conda), f"only in pyproject: {set(pip) - set(conda)}; only in environment.yml: {set(conda) - set(pip)}"


def test_same_version_ranges():
    pip, conda = _pyproject_requirements(), _conda_requirements()
    differ = {name: (str(pip[name]), str(conda[name])) for name in pip if name in conda and pip[name] != conda[name]}
    assert not differ, f"version ranges differ (pyproject, environment.yml): {differ}"


def test_every_range_has_an_upper_bound():
    # A build next year must resolve the same major versions.
    loose = [name for name, spec in _pyproject_requirements().items() if not any(s.operator in ("<", "<=", "==", "~=") for s in spec)]
    assert not loose, f"requirements without an upper bound: {loose}"


def test_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_block and "-e ." in pip_block[0]["pip"]


def test_version_has_one_source():
    import linnet

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert linnet.__version__ == project["version"]


def test_public_api_is_exported():
    import linnet

    missing = [name for name in linnet.__all__ if not hasattr(linnet, name)]
    assert not missing
