"""The API documentation pages, opened in headless Chromium with the internet cut off, show the
API's operations: everything they need comes from the app itself."""

from __future__ import annotations

BOOKING_POST = '.opblock-post .opblock-summary-path[data-path="/api/v1/bookings"]'


def _operation_count(page, base: str) -> int:
    spec = page.request.get(f"{base}/api/v1/openapi.json").json()
    return sum(method != "parameters" for item in spec["paths"].values() for method in item)


def test_swagger_ui_renders_every_operation_offline(live_server, browser_page, browser_log):
    browser_page.goto(f"{live_server}/api/v1/docs")
    browser_page.wait_for_selector(BOOKING_POST)
    assert browser_page.locator(".opblock").count() == _operation_count(browser_page, live_server)
    assert browser_page.get_by_role("button", name="Authorize").is_visible()
    assert browser_page.get_by_text("Getting a token").is_visible()
    assert browser_log.blocked == [] and browser_log.errors == []


def test_redoc_renders_the_operations_offline(live_server, browser_page, browser_log):
    browser_page.goto(f"{live_server}/api/v1/redoc")
    for section in ("paths/~1api~1v1~1bookings/post", "paths/~1api~1v1~1auth~1login/post"):
        operation = browser_page.locator(f'[data-section-id$="{section}"]')
        operation.wait_for(state="attached")
        operation.scroll_into_view_if_needed()
        assert operation.locator("h2").first.is_visible()
    assert browser_log.blocked == [] and browser_log.errors == []
