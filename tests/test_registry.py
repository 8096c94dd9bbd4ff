"""The coverage map (issue 15): book/registry.yaml against the paper and the claims.

- every named item, numbered equation and numbered remark of Eftekhari's Sections 1-4 (and
  Figure 1) is in the registry, and no other ``eft:`` id is; the expected list is derived from
  the paper's text when it is available (``$LINNET_PAPER_TEXT`` or
  ``../shared/papers/eftekhari2020-main-text.md`` beside the checkout), and always compared
  with the counts the text gives (21 named items, 41 equations, 18 remarks);
- ``check()`` rejects an id the registry does not list;
- every claim stored in the committed notebooks names registry ids; an item marked
  ``checked`` is named by a passing claim, and an item named by a passing claim is ``checked``;
- where the registry says an item is stated, the label exists on that page.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from linnet.book import registry
from linnet.book.checks import check

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
try:  # the report extension reads claim records as the book does (it imports Sphinx)
    from linnet_report import claims_of_notebook  # noqa: E402
except ModuleNotFoundError:  # the book stack is not installed: tests that need it skip
    claims_of_notebook = None

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CIRCLED = "①②③④⑤⑥⑦⑧⑨"


# --- what the paper contains ----------------------------------------------------------------

NAMED = [
    "def-2.1",
    "def-2.2",
    "def-2.3",
    "lem-2.4",
    "lem-2.5",
    "lem-2.6",
    "thm-2.7",
    "thm-2.8",
    "lem-3.1",
    "def-3.2",
    "lem-3.3",
    "lem-3.4",
    "def-3.5",
    "asm-3.6",
    "lem-3.7",
    "thm-3.8",
    "lem-4.1",
    "lem-4.2",
    "lem-4.3",
    "thm-4.4",
    "fig-1",
]
EQUATIONS = [f"eq-{n}" for n in range(1, 40) if n not in (10, 38)] + [
    "eq-10a",
    "eq-10b",
    "eq-38a",
    "eq-38b",
]
REMARKS = {"thm-2.8": 4, "thm-3.8": 4, "asm-3.6": 4, "eq-35": 2, "thm-4.4": 4}
EXPECTED = {f"eft:{i}" for i in NAMED + EQUATIONS} | {
    f"eft:rem-{after}-{k}" for after, n in REMARKS.items() for k in range(1, n + 1)
}
KINDS = {
    "Definiton": "def",
    "Definition": "def",
    "Lemma": "lem",
    "Theorem": "thm",
    "Assumption": "asm",
}
# Remarks are named after what they follow; the two after Lemma 4.2 discuss its inequality (35).
REMARK_ALIASES = {"lem-4.2": "eq-35"}


def _paper_text() -> str | None:
    candidates = [
        os.environ.get("LINNET_PAPER_TEXT", ""),
        str(ROOT.parent / "shared" / "papers" / "eftekhari2020-main-text.md"),
    ]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c).read_text(encoding="utf-8")
    return None


def items_of_paper(text: str) -> dict[str, str]:
    """Registry ids of the paper's numbered items, from its Markdown text, with their section.

    Named items are the bold headings (``**Lemma 2.4**``, the paper spells one "Definiton") and
    the caption ``Figure 1.``; equations are the numbers ``(NN)`` closing a display; remarks are
    the circled numbers in the prose after a named item (or after "the content of Assumption
    3.6"); circled numbers on the heading line belong to the item's statement (Lemma 3.4).
    """
    found: dict[str, str] = {}
    section = "1"
    anchor = None
    head = re.compile(
        r"\*\*(Definiton|Definition|Lemma|Theorem|Assumption) (\d\.\d)\.?\*\*"
    )
    for line in text.splitlines():
        m = re.match(r"^#+ (\d)\. ", line)
        if m:
            section, anchor = m.group(1), None
            continue
        if line.startswith("## References"):
            break
        h = head.search(line)
        if h:
            anchor = f"{KINDS[h.group(1)]}-{h.group(2)}"
            found[f"eft:{anchor}"] = section
        f = re.match(r"^Figure (\d+)\. ", line)
        if f:
            found[f"eft:fig-{f.group(1)}"] = section
            anchor = None
        a = re.search(r"content of Assumption (\d\.\d)", line)
        if a:
            anchor = f"asm-{a.group(1)}"
        for e in re.finditer(
            r"\\quad\s*\((\d+[ab]?)\)\s*(?:\\end\{aligned\}\s*)?\$\$", line
        ):
            found[f"eft:eq-{e.group(1)}"] = section
        if anchor and not h:
            for c in re.findall(f"[{CIRCLED}]", line):
                after = REMARK_ALIASES.get(anchor, anchor)
                found[f"eft:rem-{after}-{CIRCLED.index(c) + 1}"] = section
    return found


@pytest.fixture(scope="module")
def items():
    return registry.load()


@pytest.fixture(scope="module")
def claims():
    out = []
    for path in NOTEBOOKS:
        for record in claims_of_notebook(path):
            out.append({**record, "notebook": path.name})
    return out


def test_the_expected_list_has_the_papers_counts():
    named = [i for i in EXPECTED if not i.startswith(("eft:eq-", "eft:rem-"))]
    assert len(named) == 21
    assert len([i for i in EXPECTED if i.startswith("eft:eq-")]) == 41
    assert len([i for i in EXPECTED if i.startswith("eft:rem-")]) == 18


def test_the_paper_text_gives_the_expected_items():
    text = _paper_text()
    if text is None:
        pytest.skip(
            "the paper's text is not beside this checkout (set LINNET_PAPER_TEXT)"
        )
    derived = items_of_paper(text)
    assert set(derived) == EXPECTED, (
        sorted(set(derived) - EXPECTED),
        sorted(EXPECTED - set(derived)),
    )


def test_every_item_of_the_paper_is_registered_and_no_other(items):
    eft = {i for i in items if i.startswith("eft:")}
    assert EXPECTED - eft == set(), (
        f"missing from book/registry.yaml: {sorted(EXPECTED - eft)}"
    )
    assert eft - EXPECTED == set(), (
        f"eft: ids that are not numbered items of the paper: {sorted(eft - EXPECTED)}"
    )


def test_sections_agree_with_the_paper(items):
    text = _paper_text()
    if text is None:
        pytest.skip(
            "the paper's text is not beside this checkout (set LINNET_PAPER_TEXT)"
        )
    derived = items_of_paper(text)
    wrong = {
        i: (items[i].section, s) for i, s in derived.items() if items[i].section != s
    }
    assert not wrong, f"section in registry vs paper: {wrong}"


def test_book_ids_are_not_the_papers(items):
    for item in items.values():
        if item.source == "book":
            assert not re.match(r"^book:(eft|arora):", item.id)
        else:
            assert item.kind != "erratum", (
                f"{item.id}: an erratum is the book's finding, give it a book: id"
            )


def test_check_rejects_an_unknown_id():
    with pytest.raises(ValueError, match=r"eft:thm-9\.9.*not in the registry"):
        check("t.unknown", "one is at most two", 1.0, "<=", 2.0, items=("eft:thm-9.9",))
    with pytest.raises(ValueError, match="book:nowhere.nothing"):
        check(
            "t.unknown",
            "one is at most two",
            1.0,
            "<=",
            2.0,
            items="book:nowhere.nothing",
        )
    check("t.known", "one is at most two", 1.0, "<=", 2.0, items=("eft:thm-3.8",))


def test_check_has_no_free_text_item_parameter():
    with pytest.raises(TypeError):
        check("t.old", "one is at most two", 1.0, "<=", 2.0, item="Theorem 3.8")


def test_check_validates_against_the_registry_it_finds(tmp_path, monkeypatch):
    path = tmp_path / "registry.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "items": [
                    {
                        "id": "book:x.only",
                        "kind": "observation",
                        "section": "beyond",
                        "title": "t",
                        "description": "d",
                        "page": None,
                        "stated_at": None,
                        "status": "checked",
                    }
                ]
            }
        )
    )
    monkeypatch.setenv(registry.ENV_VAR, str(path))
    check("t.x", "one is at most two", 1.0, "<=", 2.0, items=("book:x.only",))
    with pytest.raises(ValueError, match="eft:thm-3.8"):
        check("t.y", "one is at most two", 1.0, "<=", 2.0, items=("eft:thm-3.8",))


GOOD = {
    "id": "eft:thm-3.8",
    "kind": "theorem",
    "section": "3",
    "title": "T",
    "description": "D",
    "page": None,
    "stated_at": None,
    "status": "not reproduced",
    "reason": "r",
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"status": "done"}, "status must be one of"),
        ({"reason": ""}, "needs a reason"),
        ({"id": "Theorem 3.8"}, "must look like"),
        ({"stated_at": "thm-3-8"}, "page is null"),
        ({"title": ""}, "non-empty"),
    ],
)
def test_a_bad_entry_is_named(change, message):
    with pytest.raises(ValueError, match=message):
        registry.parse({"items": [{**GOOD, **change}]})


def test_a_duplicate_id_is_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        registry.parse({"items": [GOOD, GOOD]})


def test_coverage_problems_finds_each_kind_of_disagreement():
    items = registry.parse(
        {
            "items": [
                {**GOOD, "id": "eft:thm-2.8", "status": "checked"},
                {**GOOD, "id": "eft:thm-3.8"},
            ]
        }
    )
    claims = [
        {"claim_id": "a", "passed": True, "items": ["eft:thm-3.8"]},
        {"claim_id": "b", "passed": True, "items": []},
        {"claim_id": "c", "passed": True, "items": ["eft:nothing-1"]},
        {"claim_id": "d", "passed": False, "items": ["eft:thm-2.8"]},
    ]
    problems = registry.coverage_problems(items, claims)
    assert any("'b' names no registry id" in p for p in problems)
    assert any("eft:nothing-1" in p for p in problems)
    assert any(
        "eft:thm-2.8 is marked checked but no passing claim" in p for p in problems
    )
    assert any(
        "eft:thm-3.8 is marked 'not reproduced' but passing claims" in p
        for p in problems
    )


@pytest.mark.requires("book")
def test_the_committed_claims_agree_with_the_registry(items, claims):
    assert claims, "no claim records in the committed notebooks"
    problems = registry.coverage_problems(items, claims)
    assert not problems, "\n".join(problems)


def test_the_notebooks_use_items_not_item():
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bcheck\((?:[^()]|\([^()]*\))*\bitem\s*=", text), (
            f"{path.name} still passes item="
        )


def _labels_on(page: str) -> set[str]:
    path = (
        ROOT / (page + ".ipynb")
        if (ROOT / (page + ".ipynb")).exists()
        else ROOT / (page + ".md")
    )
    text = path.read_text(encoding="utf-8").replace("\\n", "\n")
    return (
        set(re.findall(r":label:\s*(\S+)", text))
        | set(re.findall(r"^\s*\"?\(([\w\-]+)\)=", text, re.M))
        | set(re.findall(r"\\\\?label\{([^}]+)\}", text))
    )


def test_stated_at_labels_exist_on_their_pages(items):
    toc = (ROOT / "_toc.yml").read_text()
    for item in items.values():
        if item.page is None:
            continue
        assert re.search(rf"file: {re.escape(item.page)}\b", toc), (
            f"{item.id}: page {item.page} is not in _toc.yml"
        )
        if item.stated_at is not None:
            assert item.stated_at in _labels_on(item.page), (
                f"{item.id}: no label {item.stated_at!r} on {item.page}"
            )
