"""The HTML report as a reader sees it: served over HTTP on 127.0.0.1, opened in headless
Chromium (Debian's, driven by Playwright) at a desktop width and on a narrow phone screen,
measured, and photographed. ``look_at`` gathers what the page shows; ``problems`` lists what a
reader would see as broken (each problem one line, naming the element)."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageStat

from tests.conftest import CHROMIUM_FLAGS

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# What the page shows, gathered in the page in one call per width.
_PAGE_JS = r"""async () => {
  const vw = document.documentElement.clientWidth;
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.checkVisibility({visibilityProperty: true});
  };
  const name = (el) => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
    + ' "' + (el.innerText || el.alt || '').trim().slice(0, 60) + '"';
  const scroller = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') return a;
    }
    return null;
  };
  // anything a reader cannot reach: past the right or left edge, outside a scrolling box
  // (the outermost such element only, not each of its children)
  const outside = [], cut = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || scroller(el) || cut.some((c) => c.contains(el))) continue;
    if (r.right > vw + 1 || r.left < -1) {
      cut.push(el);
      outside.push(name(el) + ` spans ${Math.round(r.left)}..${Math.round(r.right)} px`);
    }
  }
  const images = await Promise.all([...document.images].map(async (img) => {
    let decoded = true;
    try { await img.decode(); } catch (e) { decoded = false; }
    const r = img.getBoundingClientRect();
    return {alt: img.alt, decoded, natural: [img.naturalWidth, img.naturalHeight],
            shown: [Math.round(r.width), Math.round(r.height)]};
  }));
  const svgs = [...document.querySelectorAll('svg')].filter((s) => !s.parentElement.closest('svg'))
    .map((s) => { const r = s.getBoundingClientRect();
                  return {alt: s.getAttribute('aria-label') || '', decoded: true, natural: [1, 1],
                          shown: [Math.round(r.width), Math.round(r.height)]}; });
  const headings = [...document.querySelectorAll('h1, h2, h3')]
    .map((h) => ({tag: h.tagName.toLowerCase(), text: h.innerText.trim(), shown: shown(h)}));
  const tables = [...document.querySelectorAll('table')].map((t) => ({
    section: (t.closest('section') || {}).id || '',
    header: [...t.querySelectorAll('thead th')].map((c) => c.innerText.trim()),
    rows: [...t.querySelectorAll('tbody tr')].map((r) => [...r.cells].map((c) => c.innerText.trim())),
    // numbers and dates broken over two lines ("2025-" above "01-01")
    wrapped: [...t.querySelectorAll('td')].filter((c) => {
      if (!/^[-+\d.,:%\s]+$/.test(c.innerText.trim())) return false;
      const range = document.createRange();
      range.selectNodeContents(c);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
    }).map((c) => c.innerText.trim()),
  }));
  return {width: vw, page_width: document.documentElement.scrollWidth, outside,
          figures: images.concat(svgs), headings, tables, text: document.body.innerText};
}"""


@dataclass
class PageView:
    """What one width of the page shows (``screen``: the width asked for, ``width``: the width
    the page was laid out at)."""

    screen: int
    width: int
    page_width: int
    outside: list[str]
    figures: list[dict]
    headings: list[dict]
    tables: list[dict]
    text: str


@dataclass
class ReportView:
    desktop: PageView
    phone: PageView
    screenshot: Path
    errors: list[str] = field(default_factory=list)  # console, page and request errors


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """An HTTP server for ``folder`` on 127.0.0.1 (a free port); yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the test output stays quiet
        pass


def look_at(html: Path, out: Path) -> ReportView:
    """Open ``html`` (served from its folder) in headless Chromium at 1280 px on a desktop and
    at 390 px on an emulated phone; screenshots go to ``out``: the whole desktop page
    (report-1280px.png) and the phone's first screen (report-390px.png)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []

    def watch(page, width: int) -> None:
        def console(message) -> None:
            if message.type == "error":
                errors.append(f"{width}px console: {message.text}")

        def response(answer) -> None:
            if answer.status >= 400:
                errors.append(f"{width}px {answer.url[:80]}: HTTP {answer.status}")

        page.on("console", console)
        page.on("response", response)
        page.on("pageerror", lambda e: errors.append(f"{width}px page error: {e}"))
        page.on("requestfailed", lambda r: errors.append(f"{width}px {r.url[:80]}: {r.failure}"))

    shot = out / "report-1280px.png"
    with serve(html.parent) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            views = {}
            for size, phone in ((DESKTOP, False), (PHONE, True)):
                context = browser.new_context(
                    viewport=size, is_mobile=phone, has_touch=phone, device_scale_factor=1
                )
                page = context.new_page()
                watch(page, size["width"])
                page.goto(f"{base}/{html.name}", wait_until="load")
                views[phone] = PageView(screen=size["width"], **page.evaluate(_PAGE_JS))
                if phone:  # the first screen, as evidence of the narrow layout
                    page.screenshot(path=str(out / "report-390px.png"))
                else:
                    page.screenshot(path=str(shot), full_page=True)
                context.close()
        finally:
            browser.close()
    return ReportView(desktop=views[False], phone=views[True], screenshot=shot, errors=errors)


# a whole number shown with decimals, as "1,825.000" or "12.000"
_SPURIOUS = re.compile(r"^-?[\d,]+\.0+$")
_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?%?$")


def _table_problems(table: dict) -> list[str]:
    """Counts shown with decimals: a number with a thousands separator and only zero decimals,
    or a column whose every number is whole yet shown with three decimals."""
    out = []
    for j, column in enumerate(table["header"]):
        cells = [row[j] for row in table["rows"] if j < len(row) and _NUMBER.match(row[j])]
        spurious = [c for c in cells if _SPURIOUS.match(c)]
        if any("," in c for c in spurious) or (
            len(cells) > 1 and len(spurious) == len(cells) and cells[0].endswith(".000")
        ):
            out.append(f"table in #{table['section']}: column {column!r} shows {spurious[:3]}")
    return out


def _screenshot_problems(path: Path) -> list[str]:
    if not path.exists():
        return [f"no screenshot at {path}"]
    with Image.open(path) as img:
        gray = img.convert("L")
        spread = ImageStat.Stat(gray).stddev[0]
        colours = len(img.convert("RGB").getcolors(maxcolors=1 << 20) or [])
        size = img.size
    if spread < 10 or colours < 100:
        return [f"the screenshot {size} is blank: grey spread {spread:.1f}, {colours} colours"]
    return []


def problems(
    view: ReportView, headings: list[str], texts: list[str], min_figures: int = 1
) -> list[str]:
    """Everything a reader would see as broken, one line each (empty: the page is fine)."""
    out = list(view.errors)
    if view.phone.width > PHONE["width"]:  # a page without a viewport tag is laid out at 980 px
        out.append(
            f"on a {PHONE['width']} px phone the page is laid out {view.phone.width} px wide"
        )
    for v in (view.desktop, view.phone):
        at = f"at {v.screen} px"
        if v.page_width > v.width:
            out.append(f"{at} the page scrolls sideways: {v.page_width} px wide")
        out += [f"{at} cut off: {o}" for o in v.outside[:10]]
        for f in v.figures:
            if not f["decoded"] or min(f["natural"]) <= 0 or min(f["shown"]) <= 0:
                out.append(f"{at} figure {f['alt']!r} not shown: {f}")
        shown = [h["text"] for h in v.headings if h["shown"]]
        out += [f"{at} heading {h!r} not shown" for h in headings if not any(h in s for s in shown)]
        out += [f"{at} text {t!r} not shown" for t in texts if t not in v.text]
        out += [
            f"{at} table in #{t['section']}: numbers broken over lines {t['wrapped'][:3]}"
            for t in v.tables
            if t["wrapped"]
        ]
    if len(view.desktop.figures) < min_figures:
        out.append(f"{len(view.desktop.figures)} figures, expected at least {min_figures}")
    for table in view.desktop.tables:
        out += _table_problems(table)
    return out + _screenshot_problems(view.screenshot)
