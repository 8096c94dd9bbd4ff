"""Sphinx extension: the reproduction report, generated from the check cells.

Every check cell calls ``linnet.book.checks.check``, which stores a record of the
claim with the notebook's outputs (a MyST-NB glue entry named ``claim:<id>``).
The ``{reproduction-report}`` directive becomes, once every page has been read,
one table per chapter of all those records: the claim, the registry ids of the
items it checks (``book/registry.yaml``, linked to the coverage page), measured
value, requirement, pass/fail and the cell (linked), under the parameters the
chapter ran with. No row is typed by hand.

Code cells of notebooks also get an anchor ``cell-<index>`` so the report (and
anyone) can link to a single cell.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util.docutils import SphinxDirective

CLAIM_PREFIX = "claim:"


class report_placeholder(nodes.General, nodes.Element):
    """Replaced by the report table once all documents are read."""


class figure_index_placeholder(nodes.General, nodes.Element):
    """Replaced by the figure index once all documents are read."""


class FigureIndex(SphinxDirective):
    has_content = False

    def run(self):
        return [figure_index_placeholder()]


class ReproductionReport(SphinxDirective):
    has_content = False

    def run(self):
        return [report_placeholder()]


class CellAnchors(SphinxTransform):
    """Give every notebook code cell an id ``cell-<index>`` (0-based, as in the .ipynb)."""

    default_priority = 500

    def apply(self, **kwargs):
        for node in self.document.findall(nodes.container):
            if (
                node.get("nb_element") == "cell_code"
                and node.get("cell_index") is not None
            ):
                node["ids"].append(f"cell-{node['cell_index']}")


def _parameters(nb) -> str:
    """The parameters a notebook ran with: its ``parameters`` cell (and papermill's injection)."""
    lines = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and (
            "parameters" in tags or "injected-parameters" in tags
        ):
            for line in cell.source.splitlines():
                code = line.split("#", 1)[0].strip()
                if re.match(r"^[A-Za-z_]\w*\s*=", code):
                    lines.append(re.sub(r"\s*=\s*", "=", code, count=1))
    return ", ".join(lines)


def claims_of_notebook(path: Path) -> list[dict]:
    """The claim records stored in a notebook's outputs, in cell order, with their cell index."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name", "")
            if name.startswith(CLAIM_PREFIX):
                data = output["data"]
                text = next(v for k, v in data.items() if k.endswith("text/plain"))
                record = json.loads(text)
                record["cell_index"] = index
                out.append(record)
    return out


def _executed_records(app: Sphinx, docname: str) -> dict[str, dict]:
    """Records of the last build's execution, from MyST-NB's glue cache."""
    folder = Path(app.env.mystnb_config.output_folder)  # type: ignore[attr-defined]
    path = folder.joinpath(*docname.split("/")).with_name(
        docname.split("/")[-1] + ".glue.json"
    )
    if not path.exists():
        return {}
    glue = json.loads(path.read_text())
    return {
        key[len(CLAIM_PREFIX) :]: json.loads(value["data"]["text/plain"])
        for key, value in glue.items()
        if key.startswith(CLAIM_PREFIX)
    }


def claim_anchor(claim_id: str) -> str:
    """HTML id of a claim's row in the reproduction report."""
    return nodes.make_id("claim-" + claim_id.replace(".", "-"))


def all_claims(app: Sphinx) -> list[dict]:
    """Every claim record of every notebook of the book, in chapter and cell order.

    Each record carries ``docname``, ``chapter`` (the page title), ``parameters`` and
    ``cell_index`` besides the fields :func:`linnet.book.checks.check` stores. Values come from the
    last build's execution where available (identical to the committed ones whenever nbval
    passes), else from the committed outputs.
    """
    env = app.env
    notebooks = sorted(
        d for d in env.found_docs if str(env.doc2path(d)).endswith(".ipynb")
    )
    out = []
    for docname in notebooks:
        source = Path(env.doc2path(docname))
        executed = _executed_records(app, docname)
        nb = nbformat.read(source, as_version=4)
        params = _parameters(nb)
        title = env.titles[docname].astext() if docname in env.titles else docname
        for record in claims_of_notebook(source):
            record = {**record, **executed.get(record["claim_id"], {})}
            record.update(docname=docname, chapter=title, parameters=params)
            record["items"] = list(record.get("items") or [])
            out.append(record)
    return out


COVERAGE_DOC = "book/coverage"


def item_reference(app: Sphinx, fromdocname: str, item_id: str) -> nodes.Node:
    """A link to the item's row on the coverage page (plain text when the page is absent)."""
    from linnet.book.registry import Item

    text = nodes.literal(text=item_id)
    if COVERAGE_DOC not in app.env.found_docs:
        return text
    anchor = Item(item_id, "", "", "", "", None, None, "checked").anchor
    uri = app.builder.get_relative_uri(fromdocname, COVERAGE_DOC) + "#" + anchor
    link = nodes.reference("", "", internal=True, refuri=uri)
    link += text
    return link


def _cell(*content) -> nodes.entry:
    para = nodes.paragraph()
    for c in content:
        para += c
    return nodes.entry("", para)


def table_with_header(
    classes: list[str], headers: list[str], widths
) -> tuple[nodes.table, nodes.tbody]:
    """An empty table with fixed column widths and a header row; returns it and its body."""
    table = nodes.table(classes=classes)
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for h in headers:
        row += _cell(nodes.Text(h))
    head += row
    body = nodes.tbody()
    group += body
    return table, body


def _report_table(app: Sphinx, fromdocname: str) -> nodes.Node:
    """The claims, one table per chapter, narrow enough for a 1280 px page."""
    claims = all_claims(app)
    container = nodes.container()
    chapters = list(dict.fromkeys(c["docname"] for c in claims))
    failed = sum(not c["passed"] for c in claims)
    container += nodes.paragraph(
        text=f"{len(claims)} claims checked in {len(chapters)} chapters"
        + (f"; {failed} failed." if failed else "; all passed.")
    )
    headers = [
        "claim",
        "checks (registry ids)",
        "measured",
        "required",
        "result",
        "cell",
    ]
    widths = (40, 22, 10, 10, 7, 11)
    for docname in chapters:
        rows = [c for c in claims if c["docname"] == docname]
        title = rows[0]["chapter"]
        stem = docname.split("/")[-1]
        heading = nodes.rubric(ids=[nodes.make_id("report-" + stem)])
        link = nodes.reference(
            "",
            "",
            internal=True,
            refuri=app.builder.get_relative_uri(fromdocname, docname),
        )
        link += nodes.Text(title)
        heading += link
        heading += nodes.Text(f" ({len(rows)} claims)")
        container += heading
        params = nodes.paragraph()
        params += nodes.Text("Parameters: ")
        params += nodes.literal(text=rows[0]["parameters"] or "(none)")
        container += params
        table, body = table_with_header(
            ["reproduction-report", "linnet-wrap", "colwidths-given"], headers, widths
        )
        for record in rows:
            uri = (
                app.builder.get_relative_uri(fromdocname, docname)
                + f"#cell-{record['cell_index']}"
            )
            cell_link = nodes.reference("", "", internal=True, refuri=uri)
            cell_link += nodes.Text(f"cell {record['cell_index']}")
            refs = []
            for n, item_id in enumerate(record["items"]):
                if n:
                    refs.append(nodes.Text(", "))
                refs.append(item_reference(app, fromdocname, item_id))
            row = nodes.row(ids=[claim_anchor(record["claim_id"])])
            row += _cell(
                nodes.Text(record["statement"] + " "),
                nodes.literal(text=f"[{record['claim_id']}]"),
            )
            row += _cell(*(refs or [nodes.Text("—")]))
            row += _cell(nodes.literal(text=record["shown"]))
            row += _cell(
                nodes.literal(text=f"{record['relation']} {record['bound']:g}")
            )
            row += _cell(nodes.strong(text="pass" if record["passed"] else "FAIL"))
            row += _cell(cell_link)
            body += row
        container += table
    return container


FIGURE_KEY = "linnet_figure"
ALT_KEY = "linnet_alt"


def _install_alt_text() -> None:
    """Put a figure's alternative text on its ``<img>``.

    ``linnet.book.figures.publish_figure`` stores the text in the image output's
    metadata (``{"image/png": {"alt": ...}}``). MyST-NB 1.x copies only
    ``width``/``height`` from there (``NbElementRenderer.render_image``) and
    otherwise names the image by its hash, so without this every figure's alt
    would be a file name. The wrapper adds ``alt`` from the same metadata.
    """
    from myst_nb.core.render import NbElementRenderer

    original = NbElementRenderer.render_image
    if getattr(original, "_linnet_alt", False):
        return

    def render_image(self, data):
        result = original(self, data)
        alt = (data.output_metadata.get(data.mime_type) or {}).get("alt")
        if alt:
            for node in result:
                if isinstance(node, nodes.image):
                    node["alt"] = str(alt)
        return result

    render_image._linnet_alt = True
    NbElementRenderer.render_image = render_image


def figures_of_notebook(path: Path) -> list[dict]:
    """Figures published by a notebook (``linnet.book.figures.publish_figure``), with cell and caption."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for index, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        for i, output in enumerate(outputs):
            stem = output.get("metadata", {}).get(FIGURE_KEY)
            if stem:
                caption = ""
                if i + 1 < len(outputs):
                    caption = outputs[i + 1].get("data", {}).get("text/markdown", "")
                alt = output.get("metadata", {}).get(ALT_KEY, "")
                out.append(
                    {"stem": stem, "cell_index": index, "caption": caption, "alt": alt}
                )
    return out


def _figure_table(app: Sphinx, fromdocname: str) -> nodes.Node:
    env = app.env
    notebooks = sorted(
        d for d in env.found_docs if str(env.doc2path(d)).endswith(".ipynb")
    )
    items = nodes.bullet_list()
    count = 0
    for docname in notebooks:
        title = env.titles[docname].astext() if docname in env.titles else docname
        for fig in figures_of_notebook(Path(env.doc2path(docname))):
            command = (
                fig["caption"].split("Regenerate: `")[-1].split("`")[0]
                if "Regenerate: `" in fig["caption"]
                else ""
            )
            uri = (
                app.builder.get_relative_uri(fromdocname, docname)
                + f"#cell-{fig['cell_index']}"
            )
            para = nodes.paragraph()
            para += nodes.literal(text=fig["stem"])
            para += nodes.Text(" — ")
            link = nodes.reference("", "", internal=True, refuri=uri)
            link += nodes.Text(f"{title}, cell {fig['cell_index']}")
            para += link
            para += nodes.Text(
                f"; files figures/{fig['stem']}.svg and .png; regenerate: "
            )
            para += nodes.literal(text=command)
            if fig["alt"]:
                para += nodes.Text(f". Shows: {fig['alt']}")
            items += nodes.list_item("", para)
            count += 1
    return nodes.container(
        "",
        nodes.paragraph(text=f"{count} figures in {len(notebooks)} chapters."),
        items,
    )


def _resolve(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    for node in list(doctree.findall(report_placeholder)):
        node.replace_self(_report_table(app, fromdocname))
    for node in list(doctree.findall(figure_index_placeholder)):
        node.replace_self(_figure_table(app, fromdocname))


def _depends_on_all_notebooks(app, env, added, changed, removed):
    # The report page must be rewritten whenever any notebook changes.
    # So must the coverage and citation pages, which list the claims too.
    reports = [
        d
        for d in env.found_docs
        if any(k in d for k in ("reproduction", "coverage", "book/cite"))
    ]
    return reports if (added or changed or removed) else []


def setup(app: Sphinx):
    _install_alt_text()
    app.add_node(report_placeholder)
    app.add_directive("reproduction-report", ReproductionReport)
    app.add_node(figure_index_placeholder)
    app.add_directive("figure-index", FigureIndex)
    app.add_transform(CellAnchors)
    app.connect("doctree-resolved", _resolve)
    app.connect("env-get-outdated", _depends_on_all_notebooks)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
