"""The book builds with zero warnings, and a notebook that raises fails the build."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
# Every test here builds the book or reads it with the report extension (Sphinx).
pytestmark = pytest.mark.requires("book")
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


def _build(
    source: Path, output: Path, config: Path | None = None
) -> subprocess.CompletedProcess:
    cmd = [
        str(JUPYTER_BOOK),
        "build",
        str(source),
        "--path-output",
        str(output),
        "-n",
        "-W",
        "--keep-going",
    ]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def _config(execute: str, root: Path = ROOT) -> dict:
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = execute
    # local_extensions paths are relative to the config file, which moves to tmp.
    local = config["sphinx"].get("local_extensions", {})
    config["sphinx"]["local_extensions"] = {
        name: str(root / path) for name, path in local.items()
    }
    return config


def _notebook_claims() -> dict[str, list[str]]:
    """Claim ids recorded in each committed notebook, in order."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from linnet_report import claims_of_notebook

    return {
        p.stem: [r["claim_id"] for r in claims_of_notebook(p)]
        for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
    }


def build_from_committed_outputs(out: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """Build the book into ``out`` without executing (nbval checks the outputs reproduce)."""
    config = out / "_config.yml"
    config.write_text(yaml.safe_dump(_config("off")))
    return _build(ROOT, out, config), out / "_build" / "html"


@pytest.mark.slow
def test_building_a_fresh_clone_leaves_it_clean(tmp_path):
    # Building never writes tracked files (or untracked ones outside _build/):
    # a fresh clone of the committed tree, built as a reader would, stays clean.
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120
    )
    config = tmp_path / "_config.yml"
    config.write_text(yaml.safe_dump(_config("off", clone)))
    result = _build(clone, clone, config)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (clone / "_build" / "html" / "index.html").is_file()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == "", f"the build changed the clone:\n{status}"


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    result, html = build_from_committed_outputs(tmp_path_factory.mktemp("book"))
    return result, html


@pytest.mark.slow
def test_book_builds_without_warnings_from_committed_outputs(built_book):
    # nbval has just shown the committed outputs reproduce, so this build does
    # not execute again: it checks the pages, references, glue and boxes.
    result, html = built_book
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert "WARNING" not in log, log[-5000:]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [
        c["file"] for part in toc["parts"] for c in part["chapters"]
    ]
    for name in files:
        assert (html / f"{name}.html").is_file(), f"missing page {name}.html"
    setup = (html / "notebooks" / "00-setup.html").read_text()
    assert "PASS [setup.whitened]" in setup, (
        "check-cell outputs must appear on the chapter page"
    )
    assert 'id="cell-' in setup, "code cells need anchors for the report's links"
    # The reproduction report lists exactly the claims the notebooks record.
    report = (html / "book" / "reproduction.html").read_text()
    claims = _notebook_claims()  # puts book/_ext on sys.path
    from linnet_report import claim_anchor

    rows = re.findall(r'<tr[^>]* id="(claim-[^"]+)"', report)
    recorded = [claim_anchor(cid) for ids in claims.values() for cid in ids]
    assert sorted(rows) == sorted(recorded), (
        f"report rows {sorted(set(rows) ^ set(recorded))} disagree with the check cells"
    )
    assert "FAIL" not in re.sub(
        r"<[^>]+>", "", report.split("claims checked")[1].split("Execution status")[0]
    )
    assert "Run Time" in report, "the execution-status table must be on the report page"
    # No page loads a script or stylesheet from the network (offline reading). The
    # rel="canonical" link (from html.baseurl) names the published page; it loads nothing.
    remote = set()
    for page in html.rglob("*.html"):
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", page.read_text()):
            if 'rel="canonical"' not in tag:
                remote |= set(re.findall(r'(?:src|href)="(https?://[^"]+)"', tag))
    assert not remote, f"remote assets: {sorted(remote)}"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file(), (
        "MathJax must be bundled"
    )


@pytest.mark.slow
def test_cite_page_from_committed_outputs_gives_the_book_url(built_book):
    # The cite page's BibTeX entries carry the URL configured once in _config.yml
    # (html.baseurl), the chapter entries that chapter's page.
    result, html = built_book
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    text = re.sub(r"<[^>]+>", "", (html / "book" / "cite.html").read_text())
    assert f"url    = {{{url}}}" in text, (
        "the book's BibTeX entry must give the book's URL"
    )
    assert f"url    = {{{url}notebooks/00-setup.html}}" in text, (
        "a chapter's entry must give its page's URL"
    )
    assert text.count("howpublished = ") == text.count("@misc{"), (
        "every BibTeX entry needs howpublished"
    )


def _cells_without_records(nb) -> list[int]:
    """Code cells that call check() but carry no claim record in their outputs."""
    missing = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and re.search(r"(^|[^\w.])check\(", cell.source):
            names = [
                o.get("metadata", {}).get("scrapbook", {}).get("name", "")
                for o in cell.get("outputs", [])
            ]
            if not any(n.startswith("claim:") for n in names):
                missing.append(index)
    return missing


def test_the_record_check_notices_a_check_cell_without_record():
    nb = new_notebook(
        cells=[
            new_code_cell('check("x", "a claim", 1.0, "<=", 2.0)'),
            new_code_cell("y = 1"),
        ]
    )
    assert _cells_without_records(nb) == [0]


def test_every_check_cell_records_its_claims():
    # A check cell whose record is missing from the outputs would be missing
    # from the report; ids must be unique across the book (they anchor rows).
    claims = _notebook_claims()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        missing = _cells_without_records(nbformat.read(path, as_version=4))
        assert not missing, (
            f"{path.name}: cells {missing} call check() but record no claim (re-execute the notebook)"
        )
    ids = [cid for cids in claims.values() for cid in cids]
    assert len(ids) == len(set(ids)), (
        f"duplicate claim ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    )


def _one_chapter_book(tmp_path, check_source: str) -> subprocess.CompletedProcess:
    """A minimal book with the project's configuration and one notebook whose check cell is ``check_source``."""
    book = tmp_path / "book-src"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "references.bib", book / "book" / "references.bib")
    config = _config("force")
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    (book / "_toc.yml").write_text(
        yaml.safe_dump(
            {"format": "jb-book", "root": "intro", "chapters": [{"file": "chapter"}]}
        )
    )
    (book / "intro.md").write_text("# Intro\n\nA book with one chapter.\n")
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Chapter\n\nOne check cell."),
            new_code_cell("seed = 0", metadata={"tags": ["parameters"]}),
            new_code_cell("from linnet.book.checks import check\n" + check_source),
        ]
    )
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(nb, book / "chapter.ipynb")
    return _build(book, tmp_path / "out")


@pytest.mark.slow
def test_a_passing_check_cell_builds(tmp_path):
    # The control for the test below: the same one-chapter book with a true
    # claim builds, so a failure there comes from the failing check alone.
    result = _one_chapter_book(tmp_path, 'check("ok", "a true claim", 0.25, "<=", 0.5)')
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


@pytest.mark.slow
def test_a_notebook_that_raises_fails_the_build(tmp_path):
    # A failing check cell must fail the build (what `make book` runs).
    result = _one_chapter_book(
        tmp_path, 'check("broken", "a false claim", 1.0, "<=", 0.5)'
    )
    log = result.stdout + result.stderr
    assert result.returncode != 0, "a failing check cell must fail the book build"
    assert "ClaimFailed" in log


# --- the built book in a real browser ---------------------------------------

SCREENSHOTS = ROOT / "_build" / "screenshots"
from browser_check import WIDTHS, check_site, screenshot_name  # noqa: E402  (tests/ is on the path)


def _browser() -> str | None:
    for name in (
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.slow
@pytest.mark.requires("chromium")
def test_pages_in_a_browser_without_network(built_book):
    """Every page in headless Chromium with the network cut: no JavaScript errors,
    all math typeset, all images loaded with alternative text that is not a file name,
    theorem boxes present, internal links resolve; no horizontal overflow at 1280 px
    (page, code blocks, tables, display math, prose) on the chapter pages and the generated
    pages; light and dark screenshots of each chapter page at 1280 and 414 px."""
    executable = _browser()

    result, html = built_book
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]] + [
        c["file"] for part in toc["parts"] for c in part["chapters"]
    ]
    chapters = [p for p in pages if p.startswith("notebooks/")]
    boxes = {p: _count_boxes(p) for p in pages}
    problems = check_site(executable, html, pages, chapters, boxes, SCREENSHOTS)
    assert not problems, "\n".join(problems)
    for chapter in chapters:
        for width in WIDTHS:
            for mode in ("light", "dark"):
                assert (
                    SCREENSHOTS / screenshot_name(chapter, width, mode)
                ).stat().st_size > 10_000


# A 1x1 PNG, so that the synthetic pages' images load.
_PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
# The theme's code box at a 1280 px window: 684 px wide with 16 px padding, 14 px monospace.
_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="../linnet-reading.css">
<style>main {{ width: 752px; }} pre {{ width: 684px; box-sizing: border-box; padding: 16px; overflow: auto;
font-family: ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, "DejaVu Sans Mono", monospace;
font-size: 14px; }}</style></head><body><main><section id="s"><h1>{title}</h1>{body}</section></main></body></html>"""


@pytest.mark.slow
@pytest.mark.requires("chromium")
def test_browser_check_flags_file_name_alt_text_and_overflow(tmp_path):
    """The probes on two synthetic pages: one with every fault, one clean (the control)."""
    import base64

    from browser_check import check_site

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pic.png").write_bytes(base64.b64decode(_PIXEL))
    shutil.copy(
        ROOT / "book" / "_ext" / "static" / "linnet-reading.css",
        tmp_path / "linnet-reading.css",
    )
    line88 = "x = " + "a" * 84
    cell = '<div class="cell"><div class="cell_input"><pre>{}</pre></div></div>'
    # A typeset display equation (MathJax's element, without MathJax) of the given width
    # in a 300 px box that scrolls, as the theme's does.
    wide_math = (
        '<mjx-container display="true" style="display: block; width: 300px; overflow-x: auto">'
        '<span style="display: inline-block; width: {}px">x</span></mjx-container>'
    )
    bad = (
        '<img src="../pic.png" alt="../_images/35843c4b.png">'
        '<img src="../pic.png" alt="">'
        '<img src="../pic.png">'
        + cell.format("y = " + "b" * 116)
        + f"<pre>{line88}</pre>"  # 88 characters at the theme's 14 px: too wide without the CSS
        + '<div style="width: 600px; overflow: auto"><table style="width: 900px"><tr><td>wide</td></tr></table></div>'
        + '<p style="width: 300px">'
        + "c" * 200
        + "</p>"
        + wide_math.format(900)
        # what MathJax typesets for a TeX error (e.g. a \\tag inside split)
        + '<span class="math"><mjx-container><mjx-merror data-mjx-error="tag not allowed">'
        "x</mjx-merror></mjx-container></span>"
    )
    good = (
        '<img src="../pic.png" alt="Loss against time for depths 1 to 8">'
        + cell.format(line88)
        + "<p>Prose.</p>"
        + wide_math.format(200)
    )
    for name, body in (("bad", bad), ("good", good)):
        (tmp_path / "notebooks" / f"{name}.html").write_text(
            _PAGE.format(title=name, body=body)
        )
    pages = ["notebooks/bad", "notebooks/good"]
    shots = tmp_path / "shots"
    problems = check_site(_browser(), tmp_path, pages, pages, {}, shots)
    text = "\n".join(problems)
    assert not [p for p in problems if p.startswith("notebooks/good")], text
    assert "3 images without alternative text" in text, text
    for reason in ("alt text is a file name", "empty alt text", "no alt attribute"):
        assert reason in text, text
    assert "2 code blocks that scroll sideways" in text, text
    assert "tables wider than the page column" in text, text
    assert "prose wider than its column" in text, text
    assert "1 display math wider than the column" in text, text
    assert "1 TeX errors typeset, e.g. ['tag not allowed']" in text, text
    for page in pages:
        for width in WIDTHS:
            for mode in ("light", "dark"):
                assert (shots / screenshot_name(page, width, mode)).is_file()
    assert "notebooks/bad: " in (shots / f"overflow-{WIDTHS[0]}.txt").read_text()
    narrow = (shots / f"overflow-{WIDTHS[1]}.txt").read_text()
    assert (
        "notebooks/bad: " in narrow and "code blocks that scroll sideways" in narrow
    ), narrow


def _count_boxes(page: str) -> int:
    """Number of sphinx-proof boxes (theorem, lemma, definition, ...) in a page's source."""
    md, ipynb = ROOT / f"{page}.md", ROOT / f"{page}.ipynb"
    if md.exists():
        text = md.read_text()
    else:
        nb = nbformat.read(ipynb, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return len(re.findall(r"^:::+\s*\{prf:\w+\}", text, flags=re.M)) + len(
        re.findall(r"^```+\s*\{prf:\w+\}", text, flags=re.M)
    )
