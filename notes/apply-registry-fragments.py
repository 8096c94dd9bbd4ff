"""Merge registry fragments (notes/registry-fragment-*.yaml) into book/registry.yaml.

Each helper that rewrites a chapter hands a fragment: a YAML list of entries, each with an
``id`` and the fields that change (``status``, ``reason``, ``stated_at``, ``page``, ``note``;
for ``book:`` ids also ``kind``, ``section``, ``title``, ``description``). This script

- updates the entries of existing ids (a ``reason`` is dropped when the status becomes
  ``checked`` and the fragment gives none; a ``note`` is kept unless the fragment gives one,
  ``note: ""`` clears it);
- appends new ``book:`` entries (all fields required); a new ``eft:``/``arora:`` id is an error:
  the paper's items are all registered already;
- removes entries marked ``remove: true`` (book results a rewrite dropped);
- rewrites the file in the registry's layout (header comment kept, one field per line,
  grouped by source and section) and validates it with ``linnet.book.registry.parse``.

Then run ``tests/test_registry.py``: it fails on an item marked checked that no passing
claim names, or named by a claim but not marked checked.

    .venv/bin/python notes/apply-registry-fragments.py notes/registry-fragment-*.yaml [--dry-run]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from linnet.book.registry import parse  # noqa: E402

REGISTRY = ROOT / "book" / "registry.yaml"
ORDER = (
    "id",
    "kind",
    "section",
    "title",
    "description",
    "page",
    "stated_at",
    "status",
    "reason",
    "note",
)
GROUPS = [
    ("eft", "1", "Eftekhari, Section 1 (setup)"),
    ("eft", "2", "Eftekhari, Section 2"),
    ("eft", "3", "Eftekhari, Section 3"),
    ("eft", "4", "Eftekhari, Section 4"),
    ("arora", None, "Arora et al. (2018a)"),
    ("book", None, "the book's own results and errata"),
]


def _scalar(value) -> str:
    if value is None:
        return "null"
    text = str(value)
    if (
        text
        and all(c.isalnum() or c in "-_./:" for c in text)
        and text not in ("null", "true", "false", "yes", "no")
    ):
        return text if not text[0].isdigit() else json.dumps(text)
    return json.dumps(text, ensure_ascii=False)


def dump(header: str, entries: list[dict]) -> str:
    lines = [header.rstrip("\n"), "", "items:"]
    for source, section, title in GROUPS:
        chosen = [
            e
            for e in entries
            if e["id"].split(":")[0] == source
            and (section is None or str(e["section"]) == section)
        ]
        if not chosen:
            continue
        lines.append(f"# {'-' * 64} {title}")
        for e in chosen:
            first = True
            for key in ORDER:
                if key not in e or (key in ("reason", "note") and not e[key]):
                    continue
                value = _scalar(e[key]) if key != "section" else json.dumps(str(e[key]))
                lines.append(f"{'- ' if first else '  '}{key}: {value}")
                first = False
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    dry = "--dry-run" in argv
    fragments = [Path(a) for a in argv if not a.startswith("--")]
    text = REGISTRY.read_text(encoding="utf-8")
    header = text[: text.index("\nitems:")]
    entries = yaml.safe_load(text)["items"]
    by_id = {e["id"]: e for e in entries}
    for path in fragments:
        for change in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            item_id = change["id"]
            if change.get("remove"):
                if item_id in by_id:
                    entries.remove(by_id.pop(item_id))
                    print(f"{path.name}: removed {item_id}")
                continue
            if item_id in by_id:
                entry = by_id[item_id]
                if not item_id.startswith("book:"):
                    extra = set(change) - {
                        "id",
                        "status",
                        "reason",
                        "stated_at",
                        "page",
                        "note",
                    }
                    if extra:
                        print(
                            f"{path.name}: {item_id}: ignoring {sorted(extra)} (paper items keep their title and description)"
                        )
                        change = {k: v for k, v in change.items() if k not in extra}
                entry.update(change)
                if entry.get("status") == "checked" and "reason" not in change:
                    entry.pop("reason", None)
                print(f"{path.name}: updated {item_id}")
            elif item_id.startswith("book:"):
                entry = {
                    k: change.get(k)
                    for k in ORDER
                    if k in change or k in ("page", "stated_at")
                }
                entries.append(entry)
                by_id[item_id] = entry
                print(f"{path.name}: added {item_id}")
            else:
                print(
                    f"{path.name}: {item_id} is not in the registry: paper ids are all registered; check the id",
                    file=sys.stderr,
                )
                return 1
    out = dump(header, entries)
    parse(yaml.safe_load(out), where="merged registry")
    if not dry:
        REGISTRY.write_text(out, encoding="utf-8")
    print(f"{len(entries)} entries{' (dry run)' if dry else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
