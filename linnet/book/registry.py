"""The coverage map: registry ids of the papers' items and of the book's own results.

``book/registry.yaml`` lists every numbered item of Eftekhari (ICML 2020), Sections 1-4 and
Figure 1, the items of Arora et al. (2018a) the book treats, and the book's own results, each
with a stable id (``eft:thm-3.8``, ``arora:thm-1``, ``book:stable-set.invariance``), where the
book states it and a status. Check cells name the items they check by these ids
(:func:`linnet.book.checks.check`); the book's coverage page, reproduction report and citation page
read the same file.

This module is glue for the book, not numerics; it needs PyYAML (a dependency of the book and
test extras) and finds the file next to the package in a source checkout. Outside a checkout
(``registry_path()`` is ``None``) ids are not validated.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: Environment variable that points at another registry file (tests use it).
ENV_VAR = "LINNET_REGISTRY"
STATUSES = ("checked", "proof-only", "not reproduced")
SOURCES = {
    "eft": "Eftekhari (2020)",
    "arora": "Arora et al. (2018a)",
    "book": "this book",
}
_ID = re.compile(r"^(eft|arora|book):[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
_FIELDS = (
    "id",
    "kind",
    "section",
    "title",
    "description",
    "page",
    "stated_at",
    "status",
)


@dataclass(frozen=True)
class Item:
    """One entry of the registry."""

    id: str
    kind: str
    section: str
    title: str
    description: str
    page: str | None
    stated_at: str | None
    status: str
    reason: str = ""
    note: str = ""

    @property
    def source(self) -> str:
        """``eft``, ``arora`` or ``book``."""
        return self.id.split(":", 1)[0]

    @property
    def anchor(self) -> str:
        """HTML id of the item's row on the coverage page (``item-eft-thm-3-8``)."""
        return "item-" + re.sub(r"[^a-z0-9]+", "-", self.id.lower()).strip("-")


def registry_path() -> Path | None:
    """The registry file: ``$LINNET_REGISTRY`` or ``book/registry.yaml`` of the checkout, if it exists."""
    env = os.environ.get(ENV_VAR)
    path = (
        Path(env)
        if env
        else Path(__file__).resolve().parents[2] / "book" / "registry.yaml"
    )
    return path if path.is_file() else None


def parse(data: object, where: str = "registry") -> dict[str, Item]:
    """Validate the loaded YAML and return the items by id (in file order).

    Raises
    ------
    ValueError
        Naming the entry and the field for: a missing field, an id of the wrong form, a
        duplicate id, an unknown status or a missing reason.
    """
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError(f"{where}: expected a mapping with a list under 'items'")
    items: dict[str, Item] = {}
    for n, entry in enumerate(data["items"]):
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: entry {n} is not a mapping")
        name = entry.get("id", f"entry {n}")
        missing = [f for f in _FIELDS if f not in entry]
        if missing:
            raise ValueError(f"{where}: {name}: missing field(s) {missing}")
        if not isinstance(name, str) or not _ID.match(name):
            raise ValueError(
                f"{where}: id {name!r} must look like eft:thm-3.8, arora:thm-1 or book:chapter.name"
            )
        if name in items:
            raise ValueError(f"{where}: duplicate id {name!r}")
        status = entry["status"]
        if status not in STATUSES:
            raise ValueError(
                f"{where}: {name}: status must be one of {STATUSES}; got {status!r}"
            )
        reason = entry.get("reason") or ""
        if status != "checked" and not str(reason).strip():
            raise ValueError(f"{where}: {name}: status {status!r} needs a reason")
        for field in ("kind", "section", "title", "description"):
            if not isinstance(entry[field], str) or not entry[field].strip():
                raise ValueError(
                    f"{where}: {name}: field {field!r} must be a non-empty string"
                )
        for field in ("page", "stated_at"):
            if entry[field] is not None and not (
                isinstance(entry[field], str) and entry[field].strip()
            ):
                raise ValueError(
                    f"{where}: {name}: field {field!r} must be a string or null"
                )
        if entry["stated_at"] is not None and entry["page"] is None:
            raise ValueError(f"{where}: {name}: stated_at is set but page is null")
        items[name] = Item(
            id=name,
            kind=entry["kind"],
            section=str(entry["section"]),
            title=entry["title"],
            description=entry["description"],
            page=entry["page"],
            stated_at=entry["stated_at"],
            status=status,
            reason=str(reason),
            note=str(entry.get("note") or ""),
        )
    return items


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> dict[str, Item]:
    import yaml

    with open(path, encoding="utf-8") as f:
        return parse(yaml.safe_load(f), where=path)


def load(path: str | Path | None = None) -> dict[str, Item]:
    """The registry's items by id; ``path`` defaults to :func:`registry_path`.

    Raises
    ------
    FileNotFoundError
        If no registry file is found.
    """
    path = Path(path) if path is not None else registry_path()
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"no registry file (looked for book/registry.yaml or ${ENV_VAR}); got {path}"
        )
    return _load(str(path), path.stat().st_mtime)


def unknown_ids(ids, path: str | Path | None = None) -> list[str]:
    """The ids in ``ids`` that the registry does not list (empty when no registry is found)."""
    if path is None and registry_path() is None:
        return []
    try:
        known = load(path)
    except ImportError:  # PyYAML not installed: nothing to validate against
        return []
    return [i for i in ids if i not in known]


def coverage_problems(items: dict[str, Item], claims: list[dict]) -> list[str]:
    """Disagreements between the registry and the claim records of the notebooks.

    ``claims`` are claim records as stored with the notebooks' outputs (dicts with at least
    ``claim_id``, ``passed`` and ``items``). A problem is: a claim that names no id, a claim
    that names an id the registry does not list, an item marked ``checked`` that no passing
    claim names, or an item named by a passing claim but not marked ``checked``.
    """
    problems = []
    named: dict[str, list[str]] = {}
    for record in claims:
        ids = list(record.get("items") or [])
        if not ids:
            problems.append(f"claim {record['claim_id']!r} names no registry id")
        for i in ids:
            if i not in items:
                problems.append(
                    f"claim {record['claim_id']!r} names {i!r}, which the registry does not list"
                )
            elif record.get("passed"):
                named.setdefault(i, []).append(record["claim_id"])
    for item in items.values():
        if item.status == "checked" and item.id not in named:
            problems.append(
                f"{item.id} is marked checked but no passing claim names it"
            )
        if item.status != "checked" and item.id in named:
            problems.append(
                f"{item.id} is marked {item.status!r} but passing claims check it: {named[item.id]}"
            )
    return problems
