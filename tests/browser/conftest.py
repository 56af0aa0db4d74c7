"""Fixtures for browser tests: the app on a real HTTP server, and an offline headless Chromium.

A test asks for `live_server` (the base URL) and `browser_page` (a fresh Playwright page);
`browser_log` lists what the page tried to load from outside and the script errors it hit.
Without a Chromium on the machine these tests are skipped, saying how to get one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import make_server

from tests.browser.chromium import find_chromium, is_loopback, offline_chromium


@pytest.fixture(scope="session")
def live_server(app):
    """The test app served over HTTP on the loopback, in a thread of this process: pages see
    the same database and Redis as the test that set them up."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "no Chromium here: `make test` installs Debian's `chromium` when run as root; "
            "install it (apt-get install chromium) to run the browser tests"
        )
    with offline_chromium(executable) as launched:
        yield launched


@dataclass
class BrowserLog:
    blocked: list[str] = field(default_factory=list)  # requests for other hosts, refused
    errors: list[str] = field(default_factory=list)  # uncaught script errors on the page


@pytest.fixture()
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture()
def browser_page(browser, browser_log):
    """A page in a context of its own (no cookies or storage from other tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)

    def route(route):
        if is_loopback(route.request.url):
            route.continue_()
        else:
            browser_log.blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda error: browser_log.errors.append(str(error)))
    yield page
    context.close()
