"""The choice of browser (runs without a built site, in `make unit` too)."""
import pytest
from playwright.sync_api import Error

import chromium


class FakeBrowserType:
    """A Playwright browser type whose managed browser is not installed."""

    def __init__(self):
        self.launched = []

    def launch(self, executable_path=None, **kw):
        if executable_path is None:
            raise Error("BrowserType.launch: Executable doesn't exist at /root/.cache/ms-playwright/chrome")
        self.launched.append(executable_path)
        return "browser"


def test_the_system_chromium_is_used_when_there_is_one(tmp_path, monkeypatch):
    exe = tmp_path / "chrome"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("CHROMIUM", str(exe))
    assert chromium.system_chromium() == str(exe)
    bt = FakeBrowserType()
    assert chromium.launch(bt, chromium.system_chromium()) == "browser" and bt.launched == [str(exe)]


def test_with_no_chromium_at_all_the_session_stops_with_one_line_saying_what_to_install():
    with pytest.raises(pytest.exit.Exception) as stop:
        chromium.launch(FakeBrowserType(), None)
    msg = str(stop.value)
    assert "\n" not in msg and "apt-get install chromium" in msg and "python -m playwright install chromium" in msg
    assert stop.value.returncode == 1
