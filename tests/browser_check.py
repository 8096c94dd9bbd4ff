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

# Collected in the page: math left untypeset, broken images, proof boxes, links.
PAGE_PROBE = """() => {
  const main = document.querySelector('main') || document.body;
  const maths = [...main.querySelectorAll('.math')];
  const untypeset = maths.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60));
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, .math, mjx-container, script, style').forEach(e => e.remove());
  const text = clone.textContent;
  const rawTex = (text.match(/\\$\\$|\\\\\\(|\\\\\\[|\\\\begin\\{/g) || []).length;
  const images = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  const boxes = document.querySelectorAll('div.proof').length;
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  // Horizontal overflow: of the page, and of any table beyond the box that holds it
  // (the theme wraps tables in a scrollable container, which hides page overflow).
  const root = document.documentElement;
  const pageOverflow = root.scrollWidth - root.clientWidth;
  const wideTables = [...main.querySelectorAll('table')]
    .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1)
    .map(t => `${t.className || 'table'}: ${t.scrollWidth} px in ${t.parentElement.clientWidth} px`);
  return {maths: maths.length, untypeset, rawTex, images, boxes, links, pageOverflow, wideTables};
}"""

#: Pages whose tables are generated (coverage map, reproduction report, citations): they must
#: fit a 1280 px window without horizontal scrolling.
NO_OVERFLOW_PAGES = ("book/coverage", "book/reproduction", "book/cite")


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


def check_site(executable: str, html_root: Path, pages: list[str], chapters: list[str],
               boxes: dict[str, int], screenshots: Path) -> list[str]:
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
            for scheme in ("light", "dark"):
                context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)

                def route(r):
                    if r.request.url.startswith(base):
                        r.continue_()
                    else:
                        blocked.append(r.request.url)
                        r.abort()

                context.route("**/*", route)
                for name in pages if scheme == "light" else chapters:
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
                    page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
                    url = urljoin(base, f"{name}.html")
                    page.goto(url, wait_until="load")
                    # MathJax (loaded only on pages with math) typesets asynchronously;
                    # wait until it says it is done.
                    try:
                        page.wait_for_function(
                            "() => !document.querySelector('.math') || (window.MathJax && MathJax.startup && MathJax.startup.promise)",
                            timeout=30_000,
                        )
                        page.evaluate("() => window.MathJax && MathJax.startup.promise")
                    except Exception as exc:  # a timeout is a finding, not a crash
                        problems.append(f"{name} ({scheme}): MathJax did not finish: {exc}")
                    page.evaluate(f"() => document.documentElement.dataset.theme = '{scheme}'")
                    info = page.evaluate(PAGE_PROBE)
                    if scheme == "light":
                        if errors:
                            problems.append(f"{name}: JavaScript errors: {errors[:3]}")
                        if info["untypeset"]:
                            problems.append(f"{name}: {len(info['untypeset'])} math elements not typeset, e.g. {info['untypeset'][:2]}")
                        if info["rawTex"]:
                            problems.append(f"{name}: {info['rawTex']} raw TeX delimiters left in the text")
                        if info["images"]:
                            problems.append(f"{name}: images not loaded: {info['images'][:3]}")
                        if name in NO_OVERFLOW_PAGES:
                            if info["pageOverflow"] > 1:
                                problems.append(f"{name}: the page overflows horizontally by {info['pageOverflow']} px at 1280 px")
                            if info["wideTables"]:
                                problems.append(f"{name}: tables wider than the page column: {info['wideTables'][:3]}")
                        if info["boxes"] < boxes.get(name, 0):
                            problems.append(f"{name}: {info['boxes']} theorem boxes rendered, {boxes[name]} in the source")
                        for link in info["links"]:
                            target, fragment = urldefrag(link)
                            if not target.startswith(base):
                                continue
                            path = urlparse(target).path.lstrip("/") or "index.html"
                            if path.endswith("/"):
                                path += "index.html"
                            if not (html_root / path).exists():
                                problems.append(f"{name}: broken link {link}")
                            elif fragment and path.endswith(".html") and fragment not in _anchors(html_root, path, anchor_cache):
                                problems.append(f"{name}: link to a missing anchor {link}")
                    if name in chapters:
                        page.screenshot(path=str(screenshots / f"{name.replace('/', '-')}-{scheme}.png"), full_page=True)
                    page.close()
                context.close()
            browser.close()
    finally:
        server.shutdown()
    if blocked:
        problems.append(f"requests to the network were blocked: {sorted(set(blocked))[:5]}")
    return problems
