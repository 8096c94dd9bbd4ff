"""environment.yml (conda) and pyproject.toml (pip) list the same packages and versions."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]

#: Extras that environment.yml need not carry, with the reason.
NOT_IN_CONDA = {
    # Only `python -m benchmarks` (the Performance page) uses JAX and diffrax;
    # the developer's and the reader's environment do not need them, and the
    # benchmark skips that baseline with a message when they are missing.
    "bench": "optional benchmark baselines (JAX, diffrax), installed by pip install -e '.[bench]'",
}


def _pyproject_requirements(include_exempt: bool = False) -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for name, extra in project["optional-dependencies"].items():
        if include_exempt or name not in NOT_IN_CONDA:
            reqs.extend(extra)
    parsed = [Requirement(r) for r in reqs]
    return {r.name.lower(): r.specifier for r in parsed} | {
        "python": SpecifierSet(project["requires-python"])
    }


def _conda_requirements() -> dict[str, SpecifierSet]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if dep == "pip":
            continue
        # pip-only packages (not on conda-forge) sit in the pip block, same syntax.
        entries = (
            [d for d in dep["pip"] if d != "-e ."] if isinstance(dep, dict) else [dep]
        )
        for entry in entries:
            name, _, spec = entry.partition(" ")
            out[name.lower()] = SpecifierSet(spec.replace(" ", ""))
    return out


def test_same_packages():
    pip, conda = _pyproject_requirements(), _conda_requirements()
    assert sorted(pip) == sorted(conda), (
        f"only in pyproject: {set(pip) - set(conda)}; only in environment.yml: {set(conda) - set(pip)}"
    )


def test_same_version_ranges():
    pip, conda = _pyproject_requirements(), _conda_requirements()
    differ = {
        name: (str(pip[name]), str(conda[name]))
        for name in pip
        if name in conda and pip[name] != conda[name]
    }
    assert not differ, f"version ranges differ (pyproject, environment.yml): {differ}"


def test_every_range_has_an_upper_bound():
    # A build next year must resolve the same major versions.
    loose = [
        name
        for name, spec in _pyproject_requirements(include_exempt=True).items()
        if not any(s.operator in ("<", "<=", "==", "~=") for s in spec)
    ]
    assert not loose, f"requirements without an upper bound: {loose}"


def test_exempt_extras_exist_and_are_not_in_conda():
    # An exemption names a real extra, and environment.yml does not carry half of it.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    elsewhere = set(_pyproject_requirements())
    for name in NOT_IN_CONDA:
        assert name in extras, (
            f"NOT_IN_CONDA names {name!r}, which pyproject.toml does not define"
        )
        own = {Requirement(r).name.lower() for r in extras[name]} - elsewhere
        assert not own & set(_conda_requirements()), (
            f"environment.yml lists part of the exempt extra {name!r}"
        )


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
