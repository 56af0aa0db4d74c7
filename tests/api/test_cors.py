"""Cross-origin calls from a browser: only the origins in `CORS_ORIGINS` are answered with CORS
headers, and with none set (the default) no answer carries any."""

from __future__ import annotations

import pytest

from tests.faults import app_on

SHOP = "https://shop.example"


def _cors_headers(answer) -> list[str]:
    return [name for name, _ in answer.headers if name.lower().startswith("access-control-")]


@pytest.fixture()
def shop_client(settings, app):
    with app_on(settings, app, cors_origins=(SHOP,)) as client:
        yield client


def test_an_allowed_origin_may_read_the_answer_and_its_headers(shop_client):
    answer = shop_client.get("/healthz", headers={"Origin": SHOP, "X-Request-ID": "cors-request-0001"})
    assert answer.headers["Access-Control-Allow-Origin"] == SHOP
    exposed = {name.strip() for name in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"Location", "Retry-After", "ETag", "X-Request-ID"}


def test_a_preflight_from_an_allowed_origin_is_answered(shop_client):
    answer = shop_client.options("/api/v1/bookings", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})  # fmt: skip
    assert answer.headers["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]


def test_another_origin_gets_no_cors_headers(shop_client):
    answer = shop_client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
    assert not _cors_headers(answer)


def test_without_allowed_origins_no_answer_carries_cors_headers(client):
    for answer in (client.get("/healthz", headers={"Origin": SHOP}),
                   client.options("/api/v1/bookings", headers={"Origin": SHOP,
                                                               "Access-Control-Request-Method": "POST"})):  # fmt: skip
        assert not _cors_headers(answer)
