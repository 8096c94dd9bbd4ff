"""Sphinx extension: small fixes to the HTML pages of the book.

Both were found by the browser test (tests/test_book.py), which fails on any
JavaScript console error.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.application import Sphinx

# pydata-sphinx-theme starts from localStorage's mode or an empty string (the
# book theme does not expose its ``default_mode``); the empty mode makes the
# theme log "Got invalid theme mode" on a reader's first visit. This runs after
# that inline snippet and before the (deferred) theme script.
DEFAULT_MODE = 'if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = "auto"; }'


def _unique_scripts(app, pagename, templatename, context, doctree):
    # MyST-NB's execution table makes Sphinx read its page twice, and
    # sphinx-thebe registers its inline configuration script on every read:
    # the second copy redeclares a const and raises a JavaScript error.
    scripts = context.get("script_files")
    if scripts:
        seen, unique = set(), []
        for script in scripts:
            key = (
                str(getattr(script, "filename", script) or ""),
                tuple(sorted(getattr(script, "attributes", {}).items())),
            )
            if key not in seen:
                seen.add(key)
                unique.append(script)
        context["script_files"] = unique


_PAPER_TITLE = re.compile(r"^\((\w+) (\d.*)\)$", re.S)


def _paper_numbered_titles(app, doctree, docname):
    # A :nonumber: box titled with the paper's number, "Definition 2.1 (name)",
    # renders as "Definition (Definition 2.1 (name))": sphinx-proof wraps the
    # title in parentheses after its own type label. Keep the number only, so
    # it reads "Definition 2.1 (name)".
    for node in doctree.traverse(lambda n: type(n).__name__ == "unenumerable_node"):
        realtype = str(node.get("realtype", "")).lower()
        for title in node.findall(nodes.title):
            match = _PAPER_TITLE.match(title.astext().strip())
            if match and match.group(1).lower() == realtype:
                title.children = []
                title += nodes.Text(match.group(2))
            break


def setup(app: Sphinx):
    app.add_js_file(None, body=DEFAULT_MODE, priority=1)
    # After the other extensions have added their scripts for the page.
    app.connect("html-page-context", _unique_scripts, priority=900)
    app.connect("doctree-resolved", _paper_numbered_titles)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
