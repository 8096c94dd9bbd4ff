"""Sphinx extension: citation entries for the book, a chapter or one claim.

The version comes from one place, ``pyproject.toml``; the commit from git (the
build's checkout); the book's URL from one place, ``html: baseurl:`` in
``_config.yml`` (Sphinx's ``html_baseurl``). ``{book-citation}`` renders a BibTeX
entry and a plain-text reference; with ``:chapter:`` or ``:claim:`` options it
cites that part, and ``:page:`` (a docname such as ``notebooks/00-setup``) points
the ``url`` field at that page (``howpublished`` names the book's URL).
"""

from __future__ import annotations

import subprocess
import textwrap
import tomllib
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
AUTHORS = "The linnet-book authors"
TITLE = (
    "linnet-book: an executable companion to Eftekhari (ICML 2020) and Arora et al. (ICLR 2019) "
    "on training deep linear networks"
)


def book_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def book_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (
        out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
    )


def book_url(baseurl: str, page: str | None = None) -> str:
    """The published book's URL (``baseurl``, with one trailing slash), or one page's."""
    if not baseurl.startswith(("https://", "http://")):
        raise ValueError(
            f"html_baseurl must be an absolute http(s) URL, got {baseurl!r} (set html: baseurl: in _config.yml)"
        )
    base = baseurl.rstrip("/") + "/"
    return base if not page else f"{base}{page}.html"


class BookCitation(SphinxDirective):
    option_spec = {
        "chapter": directives.unchanged,
        "claim": directives.unchanged,
        "key": directives.unchanged,
        "page": directives.unchanged,
    }

    def run(self):
        version, commit = book_version(), book_commit()
        page = self.options.get("page")
        if page and page not in self.env.found_docs:
            raise self.error(
                f"book-citation: :page: {page!r} is not a page of the book"
            )
        try:
            book, url = (
                book_url(self.config.html_baseurl),
                book_url(self.config.html_baseurl, page),
            )
        except ValueError as exc:
            raise self.error(f"book-citation: {exc}") from None
        key = self.options.get("key", "linnetbook")
        note = f"Version {version}, commit {commit}"
        part = ""
        if "chapter" in self.options:
            part = f"Chapter \u201c{self.options['chapter']}\u201d"
        if "claim" in self.options:
            part = (part + ", " if part else "") + f"claim {self.options['claim']}"
        title = TITLE if not part else f"{TITLE}. {part}"
        # Wrap the title (BibTeX reads a newline in a field as a space) so that the entry
        # fits the page column without a horizontal scroll bar.
        wrapped = textwrap.fill(
            title,
            width=76,
            initial_indent="  title  = {",
            subsequent_indent=" " * 12,
            break_long_words=False,
            break_on_hyphens=False,
        )
        bibtex = (
            f"@misc{{{key},\n"
            f"  author = {{{{{AUTHORS}}}}},\n"
            f"{wrapped}}},\n"
            f"  year   = {{2026}},\n"
            f"  howpublished = {{\\url{{{book}}}}},\n"
            f"  url    = {{{url}}},\n"
            f"  note   = {{{note}}}\n"
            f"}}"
        )
        plain = f"{AUTHORS} (2026). {title}. {note}. {url}"
        block = nodes.literal_block(bibtex, bibtex, language="bibtex")
        return [block, nodes.paragraph(text="Plain text: " + plain)]


def setup(app: Sphinx):
    app.add_directive("book-citation", BookCitation)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
