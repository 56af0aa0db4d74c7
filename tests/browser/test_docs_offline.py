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


def test_swagger_ui_authorize_sends_the_token(live_server, browser_page, browser_log, make_user, auth_header):
    """A person pastes a token into "Authorize" and tries `GET /auth/me`: it answers them."""
    user = make_user(email="ada@example.test")
    token = auth_header(user)["Authorization"].removeprefix("Bearer ")
    page = browser_page
    page.goto(f"{live_server}/api/v1/docs")
    page.get_by_role("button", name="Authorize").click()
    page.locator("#auth-bearer-value").fill(token)
    page.get_by_role("button", name="Apply credentials").click()
    page.locator(".modal-ux").get_by_role("button", name="Close").click()

    me = page.locator(".opblock-get", has=page.locator('[data-path="/api/v1/auth/me"]'))
    me.locator(".opblock-summary").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    response = me.locator(".live-responses-table .response")
    response.wait_for()
    assert response.locator(".response-col_status").inner_text().strip() == "200"
    assert "ada@example.test" in response.locator(".response-col_description").inner_text()
    assert browser_log.blocked == [] and browser_log.errors == []
