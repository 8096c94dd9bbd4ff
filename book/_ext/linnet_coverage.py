"""Sphinx extension: the coverage map, generated from ``book/registry.yaml`` and the claims.

``book/registry.yaml`` (read by :mod:`linnet.book.registry`) lists every numbered item of the paper
and of Arora et al. (2018a) the book treats, and the book's own results, with where the book
states each and a status. The check cells name the items they check by registry id, and their
records travel with the notebooks' outputs (see ``linnet_report``). This extension joins the two:

- ``{coverage-counts}``: counts by kind and status, at the top of the coverage page;
- ``{coverage-table}`` with arguments ``eft 2`` (source and section), ``arora`` or ``book``: one
  row per item with its status (and reason), a link to where it is stated and links to the
  report rows of the claims that check it;
- ``{result-citations}``: one entry, with its own anchor, per checked item (citation page).

The build warns (an error with ``-W``) when a claim names an id the registry does not list,
when an item marked ``checked`` has no passing claim, or when an item's ``stated_at`` label
does not resolve to its page.
"""

from __future__ import annotations

from collections import Counter

from docutils import nodes
from linnet_cite import book_commit, book_version
from linnet_report import _cell, all_claims, claim_anchor, table_with_header
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

REPORT_DOC = "book/reproduction"
STATUS_WORDS = {
    "checked": "checked",
    "proof-only": "proof-only",
    "not reproduced": "not reproduced",
}


class coverage_placeholder(nodes.General, nodes.Element):
    """Replaced once all documents are read (the claims come from every notebook)."""


class CoverageCounts(SphinxDirective):
    has_content = False

    def run(self):
        return [coverage_placeholder(what="counts")]


class CoverageTable(SphinxDirective):
    has_content = False
    required_arguments = 1
    optional_arguments = 1

    def run(self):
        return [
            coverage_placeholder(
                what="table",
                source=self.arguments[0],
                section=self.arguments[1] if len(self.arguments) > 1 else "",
            )
        ]


class ResultCitations(SphinxDirective):
    has_content = False

    def run(self):
        return [coverage_placeholder(what="citations")]


def _registry():
    from linnet.book.registry import load

    return load()


def _kind_group(item) -> str:
    if item.source == "book":
        return "erratum" if item.kind == "erratum" else "book result"
    if item.kind == "equation":
        return "numbered equation"
    if item.kind == "remark":
        return "numbered remark"
    return "named item"


def _resolve_label(env, label: str):
    """(docname, anchor) of a box, equation or section label, or None."""
    proofs = getattr(env, "proof_list", {}) or {}
    if label in proofs:
        return proofs[label]["docname"], label
    std = env.domaindata.get("std", {}).get("labels", {}).get(label)
    if std and std[0]:
        return std[0], std[1]
    # A target on an untitled element (e.g. "(eq-6)=" before display math in a .md page).
    anon = env.domaindata.get("std", {}).get("anonlabels", {}).get(label)
    if anon and anon[0]:
        return anon[0], anon[1]
    math = env.domaindata.get("math", {}).get("objects", {}).get(label)
    if math:
        # The math domain stores (docname, equation number); the HTML anchor of a
        # labelled equation is "equation-<label>".
        return math[0], f"equation-{label}"
    return None


def _claims_by_item(app):
    by_item: dict[str, list[dict]] = {}
    for record in all_claims(app):
        for item_id in record["items"]:
            by_item.setdefault(item_id, []).append(record)
    return by_item


def _consistency_warnings(app, registry, by_item, docname):
    for item_id, records in by_item.items():
        if item_id not in registry:
            claims = ", ".join(sorted({r["claim_id"] for r in records}))
            logger.warning(
                f"registry: claims [{claims}] name {item_id!r}, which book/registry.yaml does not list",
                location=docname,
            )
    for item in registry.values():
        passing = [r for r in by_item.get(item.id, []) if r["passed"]]
        if item.status == "checked" and not passing:
            logger.warning(
                f"registry: {item.id} is marked checked but no passing claim names it",
                location=docname,
            )
        if item.page is not None and item.page not in app.env.found_docs:
            logger.warning(
                f"registry: {item.id}: page {item.page!r} is not a page of the book",
                location=docname,
            )
        if item.stated_at is not None:
            target = _resolve_label(app.env, item.stated_at)
            if target is None:
                logger.warning(
                    f"registry: {item.id}: label {item.stated_at!r} not found",
                    location=docname,
                )
            elif target[0] != item.page:
                logger.warning(
                    f"registry: {item.id}: label {item.stated_at!r} is on {target[0]}, not on {item.page}",
                    location=docname,
                )


def _stated_link(app, fromdocname, item) -> list[nodes.Node]:
    if item.page is None:
        return [nodes.Text("not stated")]
    title = (
        app.env.titles[item.page].astext() if item.page in app.env.titles else item.page
    )
    uri = app.builder.get_relative_uri(fromdocname, item.page)
    label = "no label yet"
    if item.stated_at is not None:
        target = _resolve_label(app.env, item.stated_at)
        if target is not None:
            uri = app.builder.get_relative_uri(fromdocname, target[0]) + "#" + target[1]
            label = item.stated_at
    link = nodes.reference("", "", internal=True, refuri=uri)
    link += nodes.Text(title)
    return [link, nodes.Text(f" ({label})")]


def _claim_links(app, fromdocname, records) -> list[nodes.Node]:
    if not records:
        return [nodes.Text("—")]
    out: list[nodes.Node] = []
    report = (
        app.builder.get_relative_uri(fromdocname, REPORT_DOC)
        if REPORT_DOC in app.env.found_docs
        else None
    )
    for n, record in enumerate(records):
        if n:
            out.append(nodes.Text(", "))
        text = nodes.literal(
            text=record["claim_id"] + ("" if record["passed"] else " (FAIL)")
        )
        if report is None:
            out.append(text)
        else:
            link = nodes.reference(
                "",
                "",
                internal=True,
                refuri=report + "#" + claim_anchor(record["claim_id"]),
            )
            link += text
            out.append(link)
    return out


def _status_cell(item) -> nodes.entry:
    para = nodes.paragraph()
    para += nodes.strong(
        text=STATUS_WORDS[item.status],
        classes=["linnet-status-" + item.status.replace(" ", "-")],
    )
    if item.reason:
        para += nodes.Text(": " + item.reason)
    if item.note:
        para += nodes.Text((". " if item.reason else ": ") + item.note)
    return nodes.entry("", para)


def _table(app, fromdocname, items, by_item) -> nodes.Node:
    headers = ["item", "status", "stated", "checked by"]
    table, body = table_with_header(
        ["coverage-map", "linnet-wrap", "colwidths-given"], headers, (34, 30, 16, 20)
    )
    for item in items:
        row = nodes.row(ids=[item.anchor])
        row += _cell(
            nodes.strong(text=item.title),
            nodes.Text(" "),
            nodes.literal(text=item.id),
            nodes.Text(" — " + item.description),
        )
        row += _status_cell(item)
        row += _cell(*_stated_link(app, fromdocname, item))
        row += _cell(*_claim_links(app, fromdocname, by_item.get(item.id, [])))
        body += row
    return table


PLURAL = {
    "named item": "named items",
    "numbered equation": "numbered equations",
    "numbered remark": "numbered remarks",
    "book result": "results of its own",
    "erratum": "errata",
}


def _count_line(items) -> str:
    """'named items 5 (checked 3, not reproduced 2); numbered equations ...' for a list of items."""
    parts = []
    for kind in PLURAL:
        chosen = [i for i in items if _kind_group(i) == kind]
        if chosen:
            status = Counter(i.status for i in chosen)
            inner = ", ".join(
                f"{s} {status[s]}"
                for s in ("checked", "proof-only", "not reproduced")
                if status[s]
            )
            parts.append(f"{PLURAL[kind]} {len(chosen)} ({inner})")
    return "; ".join(parts) + "."


def _counts(registry, by_item) -> nodes.Node:
    container = nodes.container()
    groups = [
        (
            "Eftekhari (2020)",
            "eft",
            ("named item", "numbered equation", "numbered remark"),
        ),
        ("Arora et al. (2018a)", "arora", ("named item",)),
        ("This book", "book", ("book result", "erratum")),
    ]
    plural = PLURAL
    bullets = nodes.bullet_list()
    for label, source, kinds in groups:
        for kind in kinds:
            chosen = [
                i
                for i in registry.values()
                if i.source == source and _kind_group(i) == kind
            ]
            if not chosen:
                continue
            status = Counter(i.status for i in chosen)
            parts = ", ".join(
                f"{s} {status[s]}"
                for s in ("checked", "proof-only", "not reproduced")
                if status[s]
            )
            para = nodes.paragraph()
            para += nodes.strong(text=f"{label}, {plural[kind]}: {len(chosen)}")
            para += nodes.Text(f" — {parts}.")
            bullets += nodes.list_item("", para)
    container += bullets
    claims = {r["claim_id"]: r for rs in by_item.values() for r in rs}
    container += nodes.paragraph(
        text=f"{len(claims)} claims name at least one registry id."
    )
    return container


def _citations(app, fromdocname, registry, by_item) -> nodes.Node:
    version, commit = book_version(), book_commit()
    bullets = nodes.bullet_list()
    for item in registry.values():
        records = [r for r in by_item.get(item.id, []) if r["passed"]]
        if item.status != "checked" or not records:
            continue
        chapters = list(dict.fromkeys(r["chapter"] for r in records))
        what = {
            "eft": "reproduction of Eftekhari (2020)",
            "arora": "reproduction of Arora et al. (2018a)",
            "book": "result of the book",
        }[item.source]
        text = (
            f"The linnet-book authors (2026). linnet-book, {what}: {item.title}. "
            f"Version {version}, commit {commit}; chapter{'s' if len(chapters) > 1 else ''} "
            f"{'; '.join(chapters)}; registry id {item.id}."
        )
        para = nodes.paragraph(ids=["cite-" + item.anchor[len("item-") :]])
        para += nodes.strong(text=item.title)
        para += nodes.Text(" ")
        cov = nodes.reference(
            "",
            "",
            internal=True,
            refuri=app.builder.get_relative_uri(fromdocname, "book/coverage")
            + "#"
            + item.anchor,
        )
        cov += nodes.literal(text=item.id)
        para += cov
        para += nodes.Text(" — " + text + " Claims: ")
        for node in _claim_links(app, fromdocname, records):
            para += node
        bullets += nodes.list_item("", para)
    return bullets


def _resolve(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    placeholders = list(doctree.findall(coverage_placeholder))
    if not placeholders:
        return
    registry = _registry()
    by_item = _claims_by_item(app)
    if any(p["what"] == "counts" for p in placeholders):
        _consistency_warnings(app, registry, by_item, fromdocname)
    for node in placeholders:
        if node["what"] == "counts":
            node.replace_self(_counts(registry, by_item))
        elif node["what"] == "citations":
            node.replace_self(_citations(app, fromdocname, registry, by_item))
        else:
            source, section = node["source"], node["section"]
            items = [
                i
                for i in registry.values()
                if i.source == source and (not section or i.section == section)
            ]
            if not items:
                logger.warning(
                    f"coverage-table {source} {section}: no items", location=fromdocname
                )
            counts = nodes.paragraph()
            counts += nodes.strong(text="In this section: ")
            counts += nodes.Text(_count_line(items))
            node.replace_self([counts, _table(app, fromdocname, items, by_item)])


def _static(app: Sphinx, config) -> None:
    from pathlib import Path

    static = str(Path(__file__).parent / "static")
    if static not in config.html_static_path:
        config.html_static_path.append(static)


def setup(app: Sphinx):
    app.add_node(coverage_placeholder)
    app.add_directive("coverage-counts", CoverageCounts)
    app.add_directive("coverage-table", CoverageTable)
    app.add_directive("result-citations", ResultCitations)
    app.connect("config-inited", _static)
    app.add_css_file("linnet-tables.css")
    app.connect("doctree-resolved", _resolve)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
