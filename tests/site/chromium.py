"""Which Chromium the browser test drives: the system's, else Playwright's managed one, else a
one-line stop that says what to install (never a silent skip)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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


def launch(browser_type, executable: str | None):
    """Headless Chromium: ``executable`` (the system's), else Playwright's own managed browser;
    with neither, stop the session with one line saying what to install."""
    from playwright.sync_api import Error

    try:
        return browser_type.launch(executable_path=executable, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
    except Error as err:
        if executable is None and "Executable doesn't exist" in str(err):
            pytest.exit(NO_BROWSER, returncode=1)
        raise
