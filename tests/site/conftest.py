"""Fixtures for the browser test of the built book (``make site-test``).

The browser tests run only when ``STARCONN_SITE`` names a built site (``_build/html``), so ``make
unit`` (``pytest tests``) skips them (a ``STARCONN_SITE`` without a site stops the session). The
site is served over HTTP on 127.0.0.1 and opened through Playwright in the system's Chromium (``$CHROMIUM``, Debian's ``chromium``, or one on ``PATH``) or,
where there is none, Playwright's managed browser (``python -m playwright install chromium``);
with neither, the session stops with one line saying what to install. Every request to another
host is blocked and recorded, so the test also proves that the site works offline.
"""
from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import chromium
import pytest

REPO = Path(__file__).resolve().parents[2]


def _site() -> Path | None:
    site = os.environ.get("STARCONN_SITE")
    return Path(site).resolve() if site else None


NEEDS_SITE = {"site", "base_url", "browser", "visit"}


def pytest_collection_modifyitems(config, items):
    site = _site()
    if site is None:
        reason = "browser test of the built book: run `make site-test` (sets STARCONN_SITE=_build/html)"
    elif not (site / "index.html").is_file():  # asked for a site that is not there: an error, not a skip
        pytest.exit(f"STARCONN_SITE={site} has no index.html: build the book first (make book PROFILE=smoke)",
                    returncode=1)
    else:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents and NEEDS_SITE & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def site() -> Path:
    return _site()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    out = Path(os.environ.get("STARCONN_SCREENSHOTS", REPO / "_build" / "screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def base_url(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.exit("the browser test needs Playwright for Python: pip install playwright", returncode=1)
    with sync_playwright() as pw:
        b = chromium.launch(pw.chromium, chromium.system_chromium())
        yield b
        b.close()


class Visit:
    """One browser context whose every request leaves a trace: console errors, uncaught
    exceptions, failed or 4xx/5xx requests, and requests to other hosts (blocked)."""

    def __init__(self, browser, base_url: str):
        self.base = base_url
        self.errors: list[str] = []
        self.offsite: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"exception: {e}"))
        self.page.on("requestfailed", lambda r: r.url.startswith(self.base)
                     and self.errors.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.offsite.append(url)
            route.abort()

    def open(self, path: str):
        """Load a page, wait for MathJax's first typeset; return the errors this page raised."""
        start = len(self.errors)
        self.page.goto(self.base + path, wait_until="load")
        self.page.evaluate("""async () => {
            if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
            await document.fonts.ready;
        }""")
        return self.errors[start:]

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def visit(browser, base_url):
    v = Visit(browser, base_url)
    yield v
    v.close()
