"""Headless Chromium for tests that look at pages as a person would, with the internet cut off.

The browser is the system's Chromium (Debian's `chromium`, which `make test` installs where it
can), driven by Playwright; Playwright's own browser downloads are never used. Every launch gets
a fresh profile, and its proxy is a port that answers nothing, so a request for any host but
the loopback (which Chromium never proxies) fails: a page that needs the internet shows it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
# Playwright adds `--headless` and a fresh temporary `--user-data-dir` to these itself.
FLAGS = (
    "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, CANDIDATES)), None)


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOOPBACK_HOSTS


@contextlib.contextmanager
def dead_proxy() -> Iterator[str]:
    """A loopback address whose port is held but never listened on: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@contextlib.contextmanager
def offline_chromium(executable: str):
    """A launched Playwright `Browser` that can reach the loopback only."""
    from playwright.sync_api import sync_playwright

    with dead_proxy() as proxy, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=[*FLAGS, f"--proxy-server={proxy}"]
        )
        try:
            yield browser
        finally:
            browser.close()
