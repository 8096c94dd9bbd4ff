"""The package's architecture, read from the import statements (issue 20).

* The core (``linnet/*.py``) never imports the chapter protocols
  (``linnet.chapters``) or the book's glue (``linnet.book``): data flows one way.
* The book's glue imports no numerics of the chapters.
* No module, test, tool, benchmark or notebook imports another module's
  private name (``from linnet.x import _y``, ``linnet.x._y``, ``mod._y``) --
  a private name is an implementation detail of its own module.

Each rule is checked on the real tree and, as a control, on a snippet that
breaks it, so a parser that saw nothing would fail here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "linnet"
CORE = sorted(p for p in PACKAGE.glob("*.py"))


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(source: str, module: str = "__main__", is_package: bool = False):
    """``(imported module, imported name or None)`` for every import in ``source``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            src = _resolve(node, module, is_package)
            out.extend((src, alias.name) for alias in node.names)
    return out


def _is_linnet(module: str) -> bool:
    return module == "linnet" or module.startswith("linnet.")


def private_uses(
    source: str, module: str = "__main__", is_package: bool = False
) -> list[str]:
    """Private names taken from another linnet module: by import or by attribute of an imported module."""
    found = []
    aliases: dict[str, str] = {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = _resolve(node, module, is_package)
            for alias in node.names:
                full = f"{src}.{alias.name}"
                if _is_linnet(src) and src != module:
                    if alias.name.startswith("_"):
                        found.append(f"from {src} import {alias.name}")
                    aliases[alias.asname or alias.name] = full
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_linnet(alias.name):
                    if any(part.startswith("_") for part in alias.name.split(".")):
                        found.append(f"import {alias.name}")
                    if alias.asname:
                        aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            base = node.value
            if (
                isinstance(base, ast.Name)
                and base.id in aliases
                and aliases[base.id] != module
            ):
                found.append(f"{base.id}.{node.attr}")
    return found


def _notebook_source(path: Path) -> str:
    nb = json.loads(path.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    # IPython magics are not Python; the chapters have none beyond these.
    return "\n".join(
        line
        for cell in cells
        for line in cell.splitlines()
        if not line.lstrip().startswith(("%", "!"))
    )


def _python_files():
    for folder in ("linnet", "tests", "tools", "benchmarks", "book/_ext", "notes"):
        yield from sorted((ROOT / folder).rglob("*.py"))


# --- the rules on the real tree ---------------------------------------------


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_the_core_imports_neither_chapters_nor_the_book(path):
    module = _module_name(path)
    bad = [
        src
        for src, name in imports_of(
            path.read_text(), module, path.name == "__init__.py"
        )
        if src.startswith(("linnet.chapters", "linnet.book"))
        or (src == "linnet" and name in ("chapters", "book"))
    ]
    assert not bad, (
        f"{path.name} imports {bad}: the core must not depend on chapter protocols or the book's glue"
    )


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "book").glob("*.py")), ids=lambda p: p.name
)
def test_the_book_glue_imports_no_chapter(path):
    module = _module_name(path)
    bad = [
        src
        for src, _ in imports_of(path.read_text(), module, path.name == "__init__.py")
        if src.startswith("linnet.chapters")
    ]
    assert not bad, f"linnet/book/{path.name} imports {bad}"


@pytest.mark.parametrize(
    "path", list(_python_files()), ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_python_file_imports_a_private_name(path):
    module = _module_name(path) if path.is_relative_to(PACKAGE) else "__main__"
    found = private_uses(path.read_text(), module, path.name == "__init__.py")
    assert not found, (
        f"{path.relative_to(ROOT)} uses private names of other modules: {found}"
    )


@pytest.mark.parametrize(
    "path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name
)
def test_no_notebook_imports_a_private_name(path):
    found = private_uses(_notebook_source(path))
    assert not found, f"{path.name} uses private names of linnet modules: {found}"


def test_no_private_scipy_module_is_imported():
    bad = []
    for path in PACKAGE.rglob("*.py"):
        for src, name in imports_of(
            path.read_text(), _module_name(path), path.name == "__init__.py"
        ):
            if src.startswith("scipy") and any(
                part.startswith("_") for part in src.split(".") + [name or ""]
            ):
                bad.append(f"{path.relative_to(ROOT)}: {src} {name}")
    assert not bad, bad


# --- controls: each rule catches a snippet that breaks it ---------------------


def test_controls_catch_private_imports_and_attributes():
    assert private_uses("from linnet.init import _haar_orthogonal") == [
        "from linnet.init import _haar_orthogonal"
    ]
    assert private_uses(
        "from linnet.chapters import beyond as bd\nbd._product(ws)"
    ) == ["bd._product"]
    assert private_uses("import linnet.flows as fl\nfl._dop853_stacked") == [
        "fl._dop853_stacked"
    ]
    assert private_uses("from ..theory import _as_stack", "linnet.chapters.beyond") == [
        "from linnet.theory import _as_stack"
    ]
    # controls the other way: public names, and a module's own private names, pass
    assert (
        private_uses(
            "from linnet.init import rotate\nfrom linnet.chapters import beyond as bd\nbd.sharpness"
        )
        == []
    )
    assert private_uses("from .network import _imbalances", "linnet.network") == []


def test_control_catches_a_core_module_importing_a_chapter():
    found = imports_of(
        "from .chapters import rates\nfrom linnet.book.checks import check",
        "linnet.flows",
    )
    assert ("linnet.chapters", "rates") in found and (
        "linnet.book.checks",
        "check",
    ) in found
