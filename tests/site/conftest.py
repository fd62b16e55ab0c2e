"""Fixtures for the browser test of the built book (``make site-test``).

The test runs only when ``STARCONN_SITE`` names a built site (``_build/html``), so ``make unit``
(``pytest tests``) skips it. The site is served over HTTP on 127.0.0.1 and opened through
Playwright in the system's Chromium (``$CHROMIUM``, Debian's ``chromium``, or one on ``PATH``) or,
where there is none, Playwright's managed browser (``python -m playwright install chromium``);
with neither, the session stops with one line saying what to install. Every request to another
host is blocked and recorded, so the test also proves that the site works offline.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _site() -> Path | None:
    site = os.environ.get("STARCONN_SITE")
    return Path(site).resolve() if site else None


def pytest_collection_modifyitems(config, items):
    site = _site()
    if site is None:
        reason = "browser test of the built book: run `make site-test` (sets STARCONN_SITE=_build/html)"
    elif not (site / "index.html").is_file():
        reason = f"STARCONN_SITE={site} has no index.html: build the book first (make book PROFILE=smoke)"
    else:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
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


NO_BROWSER = ("the browser test needs Chromium: install the system's (Debian/Ubuntu: apt-get install chromium; "
              "or set CHROMIUM=/path/to/chrome) or Playwright's (python -m playwright install chromium)")


def system_chromium() -> str | None:
    """$CHROMIUM, Debian's chromium (the real binary, not the /usr/bin shell wrapper) or a Chromium
    on PATH; None if there is none."""
    for cand in (os.environ.get("CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def launch(chromium, executable: str | None):
    """Headless Chromium: ``executable`` (the system's), else Playwright's own managed browser;
    with neither, stop the session with one line saying what to install."""
    from playwright.sync_api import Error

    try:
        return chromium.launch(executable_path=executable, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
    except Error as err:
        if executable is None and "Executable doesn't exist" in str(err):
            pytest.exit(NO_BROWSER, returncode=1)
        raise


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.exit("the browser test needs Playwright for Python: pip install playwright", returncode=1)
    with sync_playwright() as pw:
        b = launch(pw.chromium, system_chromium())
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
