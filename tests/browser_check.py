"""Open every page of a built book in headless Chromium with the network cut.

Used by ``tests/test_book.py``. The site is served from 127.0.0.1; every other
request is aborted and reported, so a page that needs the network fails.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: The alt text of an image is a problem when it is missing, empty or a file name (what
#: Sphinx writes when a figure has no alternative text: ``alt="../_images/<hash>.png"``), so
#: that a screen reader announces a file name. Returns the reason, or '' when the text is fine.
ALT_PROBLEM = r"""(alt, src) => {
  if (alt === null || alt === undefined) return 'no alt attribute';
  const a = alt.trim();
  if (!a) return 'empty alt text';
  const file = (src || '').split(/[?#]/)[0].split('/').pop();
  if (/\.(png|svg|jpe?g|gif|webp|pdf)$/i.test(a) || a.includes('_images/')
      || (file && a.includes(file)) || /^[0-9a-f]{12,}$/i.test(a)) return 'alt text is a file name';
  return '';
}"""

# Collected in the page: math left untypeset, broken images, alt text, proof boxes, links,
# and horizontal overflow of the page, of code blocks, tables, display math and prose.
# The template's braces are JavaScript, so ALT_PROBLEM goes in by name, not by format().
PAGE_PROBE = """() => {
  const altProblem = __ALT_PROBLEM__;
  const main = document.querySelector('main') || document.body;
  const maths = [...main.querySelectorAll('.math')];
  const untypeset = maths.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60));
  // MathJax typesets a TeX error as a red message (e.g. "\\tag not allowed in split environment").
  const texErrors = [...main.querySelectorAll('mjx-merror')].map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80));
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, .math, mjx-container, script, style').forEach(e => e.remove());
  const text = clone.textContent;
  const rawTex = (text.match(/\\$\\$|\\\\\\(|\\\\\\[|\\\\begin\\{/g) || []).length;
  const images = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  const badAlt = [...document.images]
    .map(i => [altProblem(i.getAttribute('alt'), i.getAttribute('src')), i.getAttribute('alt'), i.getAttribute('src')])
    .filter(r => r[0])
    .map(r => `${r[0]}: alt=${JSON.stringify(r[1])} (src ${r[2]})`);
  const boxes = document.querySelectorAll('div.proof').length;
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  // Horizontal overflow: of the page, and of any table beyond the box that holds it
  // (the theme wraps tables in a scrollable container, which hides page overflow);
  // of a code block (input or output) that needs a scroll bar to show its longest line;
  // of display math wider than its box; of a paragraph or list item (a long unbroken word).
  const root = document.documentElement;
  const pageOverflow = root.scrollWidth - root.clientWidth;
  const wideTables = [...main.querySelectorAll('table')]
    .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1)
    .map(t => `${t.className || 'table'}: ${t.scrollWidth} px in ${t.parentElement.clientWidth} px`);
  const where = e => { const c = e.closest('[id^="cell-"], section[id]'); return c ? '#' + c.id : '?'; };
  const wideCode = [...main.querySelectorAll('pre')]
    .filter(p => p.scrollWidth > p.clientWidth + 1)
    .map(p => {
      const line = p.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      return `${where(p)} (${line.length} characters, ${p.scrollWidth} px in ${p.clientWidth} px): ${line.trim().slice(0, 50)}`;
    });
  const wideMath = [...main.querySelectorAll('div.math, mjx-container[display="true"]')]
    .filter(m => m.scrollWidth > m.clientWidth + 1)
    .map(m => `${where(m)}: ${m.scrollWidth} px in ${m.clientWidth} px: ${m.textContent.trim().slice(0, 40)}`);
  const wideProse = [...main.querySelectorAll('p, li, dd, dt, h1, h2, h3, h4, figcaption')]
    .filter(e => !e.closest('pre, table, mjx-container') && e.scrollWidth > e.clientWidth + 1)
    .map(e => `${where(e)}: ${e.scrollWidth} px in ${e.clientWidth} px: ${e.textContent.trim().slice(0, 50)}`);
  return {maths: maths.length, untypeset, texErrors, rawTex, images, badAlt, boxes, links, pageOverflow,
          wideTables, wideCode, wideMath, wideProse};
}""".replace("__ALT_PROBLEM__", ALT_PROBLEM)

#: Window widths of the screenshots: a laptop and a phone (414 px, an iPhone Plus/Max in
#: portrait). Overflow fails the test at 1280 px; at 414 px it is only listed in a report
#: beside the screenshots (``overflow-414.txt``; ``overflow-1280.txt`` lists all of it at 1280 px).
WIDTHS = (1280, 414)

#: Pages whose tables are generated (coverage map, reproduction report, citations): they must
#: fit a 1280 px window without horizontal scrolling. Chapter pages are held to the same.
NO_OVERFLOW_PAGES = ("book/coverage", "book/reproduction", "book/cite")


#: Kinds of overflow that fail the test at 1280 px: the page itself, prose, tables, code
#: (issue 23) and display math (an equation wider than its column scrolls inside its own box,
#: hiding its end and its number; split it with ``aligned`` or ``gathered``, ending rows with
#: ``\cr`` when it has a ``\tag``: Sphinx wraps display math that contains ``\\`` in ``split``,
#: where MathJax refuses ``\tag``). All of them are also listed in overflow-1280.txt.
ASSERTED = ("wideCode", "wideTables", "wideMath", "wideProse")


def overflow_findings(
    info: dict,
    examples: int | None = 3,
    kinds=("wideCode", "wideTables", "wideMath", "wideProse"),
) -> list[str]:
    """Horizontal overflow found by PAGE_PROBE, one line per kind (``examples=None``: all)."""
    found = []
    if info["pageOverflow"] > 1:
        found.append(f"the page overflows horizontally by {info['pageOverflow']} px")
    for key, what in (
        ("wideCode", "code blocks that scroll sideways"),
        ("wideTables", "tables wider than the page column"),
        ("wideMath", "display math wider than the column"),
        ("wideProse", "prose wider than its column"),
    ):
        if key in kinds and info[key]:
            found.append(f"{len(info[key])} {what}, e.g. {info[key][:examples]}")
    return found


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _anchors(html_root: Path, path: str, cache: dict) -> set[str]:
    if path not in cache:
        import re

        file = html_root / path
        text = file.read_text(errors="replace") if file.is_file() else ""
        cache[path] = set(re.findall(r'\bid="([^"]+)"', text))
    return cache[path]


def check_site(
    executable: str,
    html_root: Path,
    pages: list[str],
    chapters: list[str],
    boxes: dict[str, int],
    screenshots: Path,
) -> list[str]:
    """Return a list of problems (empty when every page passes)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    screenshots.mkdir(parents=True, exist_ok=True)
    server, base = _serve(html_root)
    anchor_cache: dict = {}
    blocked: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            found: dict[int, list[str]] = {width: [] for width in WIDTHS}
            for width in WIDTHS:
                for scheme in ("light", "dark"):
                    context = browser.new_context(
                        viewport={"width": width, "height": 900}, color_scheme=scheme
                    )

                    def route(r):
                        if r.request.url.startswith(base):
                            r.continue_()
                        else:
                            blocked.append(r.request.url)
                            r.abort()

                    context.route("**/*", route)
                    full = width == WIDTHS[0] and scheme == "light"
                    for name in pages if full else chapters:
                        info = _visit(
                            context,
                            base,
                            html_root,
                            name,
                            scheme,
                            width,
                            full,
                            chapters,
                            boxes,
                            screenshots,
                            anchor_cache,
                            problems,
                        )
                        if scheme == "light" and name in chapters:
                            found[width] += [
                                f"{name}: {line}"
                                for line in overflow_findings(info, None)
                            ]
                    context.close()
            for width, lines in found.items():
                what = (
                    "fails the test" if width == WIDTHS[0] else "reported, not asserted"
                )
                (screenshots / f"overflow-{width}.txt").write_text(
                    f"Horizontal overflow of the chapter pages at {width} px ({what}; see the screenshots):\n"
                    + ("\n".join(lines) if lines else "none")
                    + "\n"
                )
            browser.close()
    finally:
        server.shutdown()
    if blocked:
        problems.append(
            f"requests to the network were blocked: {sorted(set(blocked))[:5]}"
        )
    return problems


def _visit(
    context,
    base,
    html_root,
    name,
    scheme,
    width,
    full,
    chapters,
    boxes,
    screenshots,
    anchor_cache,
    problems,
) -> dict:
    """Open one page, add what fails to ``problems``, screenshot a chapter; return the probe."""
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None
    )
    page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
    page.goto(urljoin(base, f"{name}.html"), wait_until="load")
    # MathJax (loaded only on pages with math) typesets asynchronously;
    # wait until it says it is done.
    try:
        page.wait_for_function(
            "() => !document.querySelector('.math') || (window.MathJax && MathJax.startup && MathJax.startup.promise)",
            timeout=30_000,
        )
        page.evaluate("() => window.MathJax && MathJax.startup.promise")
    except Exception as exc:  # a timeout is a finding, not a crash
        problems.append(f"{name} ({width} px, {scheme}): MathJax did not finish: {exc}")
    page.evaluate(f"() => document.documentElement.dataset.theme = '{scheme}'")
    info = page.evaluate(PAGE_PROBE)
    if full:
        if errors:
            problems.append(f"{name}: JavaScript errors: {errors[:3]}")
        if info["untypeset"]:
            problems.append(
                f"{name}: {len(info['untypeset'])} math elements not typeset, e.g. {info['untypeset'][:2]}"
            )
        if info["texErrors"]:
            problems.append(
                f"{name}: {len(info['texErrors'])} TeX errors typeset, e.g. {info['texErrors'][:2]}"
            )
        if info["rawTex"]:
            problems.append(
                f"{name}: {info['rawTex']} raw TeX delimiters left in the text"
            )
        if info["images"]:
            problems.append(f"{name}: images not loaded: {info['images'][:3]}")
        if info["badAlt"]:
            problems.append(
                f"{name}: {len(info['badAlt'])} images without alternative text, e.g. {info['badAlt'][:3]}"
            )
        if name in chapters or name in NO_OVERFLOW_PAGES:
            problems += [
                f"{name} at {width} px: {line}"
                for line in overflow_findings(info, kinds=ASSERTED)
            ]
        if info["boxes"] < boxes.get(name, 0):
            problems.append(
                f"{name}: {info['boxes']} theorem boxes rendered, {boxes[name]} in the source"
            )
        for link in info["links"]:
            target, fragment = urldefrag(link)
            if not target.startswith(base):
                continue
            path = urlparse(target).path.lstrip("/") or "index.html"
            if path.endswith("/"):
                path += "index.html"
            if not (html_root / path).exists():
                problems.append(f"{name}: broken link {link}")
            elif (
                fragment
                and path.endswith(".html")
                and fragment not in _anchors(html_root, path, anchor_cache)
            ):
                problems.append(f"{name}: link to a missing anchor {link}")
    if name in chapters:
        page.screenshot(
            path=str(screenshots / screenshot_name(name, width, scheme)), full_page=True
        )
    page.close()
    return info


def screenshot_name(page: str, width: int, scheme: str) -> str:
    """File name of a page's screenshot, e.g. ``notebooks-00-setup-1280-light.png``."""
    return f"{page.replace('/', '-')}-{width}-{scheme}.png"
