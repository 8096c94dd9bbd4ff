"""Sphinx extension: the reproduction report, generated from the check cells.

Every check cell calls ``linnet.checks.check``, which stores a record of the
claim with the notebook's outputs (a MyST-NB glue entry named ``claim:<id>``).
The ``{reproduction-report}`` directive becomes, once every page has been read,
a table of all those records: paper item, claim, measured value, requirement,
pass/fail, the chapter and the cell (linked), and the parameters the chapter ran
with. No row is typed by hand.

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
            if node.get("nb_element") == "cell_code" and node.get("cell_index") is not None:
                node["ids"].append(f"cell-{node['cell_index']}")


def _parameters(nb) -> str:
    """The parameters a notebook ran with: its ``parameters`` cell (and papermill's injection)."""
    lines = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and ("parameters" in tags or "injected-parameters" in tags):
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
    path = folder.joinpath(*docname.split("/")).with_name(docname.split("/")[-1] + ".glue.json")
    if not path.exists():
        return {}
    glue = json.loads(path.read_text())
    return {
        key[len(CLAIM_PREFIX):]: json.loads(value["data"]["text/plain"])
        for key, value in glue.items()
        if key.startswith(CLAIM_PREFIX)
    }


def _report_table(app: Sphinx, fromdocname: str) -> nodes.Node:
    env = app.env
    notebooks = sorted(d for d in env.found_docs if str(env.doc2path(d)).endswith(".ipynb"))
    headers = ["paper item", "claim", "measured", "required", "result", "chapter, cell", "parameters"]
    table = nodes.table(classes=["reproduction-report"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in (10, 34, 9, 9, 6, 14, 18):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for h in headers:
        row += nodes.entry("", nodes.paragraph(text=h))
    head += row
    body = nodes.tbody()
    group += body
    count = 0
    for docname in notebooks:
        source = Path(env.doc2path(docname))
        executed = _executed_records(app, docname)
        nb = nbformat.read(source, as_version=4)
        params = _parameters(nb)
        title = env.titles[docname].astext() if docname in env.titles else docname
        for record in claims_of_notebook(source):
            # Values from the last build's execution where available (identical
            # to the committed ones whenever nbval passes).
            record = {**record, **executed.get(record["claim_id"], {})}
            uri = app.builder.get_relative_uri(fromdocname, docname) + f"#cell-{record['cell_index']}"
            link = nodes.reference("", "", internal=True, refuri=uri)
            link += nodes.Text(f"{title}, cell {record['cell_index']}")
            cells = [
                nodes.Text(record.get("item") or "—"),
                nodes.Text(f"{record['statement']} [{record['claim_id']}]"),
                nodes.literal(text=record["shown"]),
                nodes.literal(text=f"{record['relation']} {record['bound']:g}"),
                nodes.strong(text="pass" if record["passed"] else "FAIL"),
                link,
                nodes.literal(text=params),
            ]
            row = nodes.row(ids=[f"claim-{record['claim_id']}".replace(".", "-")])
            for content in cells:
                para = nodes.paragraph()
                para += content
                row += nodes.entry("", para)
            body += row
            count += 1
    summary = nodes.paragraph(text=f"{count} claims checked in {len(notebooks)} chapters.")
    return nodes.container("", summary, table)


FIGURE_KEY = "linnet_figure"


def figures_of_notebook(path: Path) -> list[dict]:
    """Figures published by a notebook (``linnet.plotting.publish_figure``), with cell and caption."""
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
                out.append({"stem": stem, "cell_index": index, "caption": caption})
    return out


def _figure_table(app: Sphinx, fromdocname: str) -> nodes.Node:
    env = app.env
    notebooks = sorted(d for d in env.found_docs if str(env.doc2path(d)).endswith(".ipynb"))
    items = nodes.bullet_list()
    count = 0
    for docname in notebooks:
        title = env.titles[docname].astext() if docname in env.titles else docname
        for fig in figures_of_notebook(Path(env.doc2path(docname))):
            command = fig["caption"].split("Regenerate: `")[-1].split("`")[0] if "Regenerate: `" in fig["caption"] else ""
            uri = app.builder.get_relative_uri(fromdocname, docname) + f"#cell-{fig['cell_index']}"
            para = nodes.paragraph()
            para += nodes.literal(text=fig["stem"])
            para += nodes.Text(" — ")
            link = nodes.reference("", "", internal=True, refuri=uri)
            link += nodes.Text(f"{title}, cell {fig['cell_index']}")
            para += link
            para += nodes.Text(f"; files figures/{fig['stem']}.svg and .png; regenerate: ")
            para += nodes.literal(text=command)
            items += nodes.list_item("", para)
            count += 1
    return nodes.container("", nodes.paragraph(text=f"{count} figures in {len(notebooks)} chapters."), items)


def _resolve(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    for node in list(doctree.findall(report_placeholder)):
        node.replace_self(_report_table(app, fromdocname))
    for node in list(doctree.findall(figure_index_placeholder)):
        node.replace_self(_figure_table(app, fromdocname))


def _depends_on_all_notebooks(app, env, added, changed, removed):
    # The report page must be rewritten whenever any notebook changes.
    reports = [d for d in env.found_docs if "reproduction" in d]
    return reports if (added or changed or removed) else []


def setup(app: Sphinx):
    app.add_node(report_placeholder)
    app.add_directive("reproduction-report", ReproductionReport)
    app.add_node(figure_index_placeholder)
    app.add_directive("figure-index", FigureIndex)
    app.add_transform(CellAnchors)
    app.connect("doctree-resolved", _resolve)
    app.connect("env-get-outdated", _depends_on_all_notebooks)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
