"""Every answer to a capability link (the booking page's signed link, the local checkout's
address) carries the same private headers: success, refusal and redirect alike."""

from __future__ import annotations

import pytest

from api.capability_links import PRIVATE_HEADERS
from tests.api.test_booking_pages import BASE, held  # noqa: F401 - the fixture
from tests.integration.payment_helpers import payment_of


def page(link) -> str:
    return link.url.removeprefix(BASE)


def checkout(db, link) -> str:
    return payment_of(db, link.booking_id).checkout_url.removeprefix(BASE)


def wrong(path: str) -> str:
    return path[:-1] + ("A" if path[-1] != "A" else "B")


# route: (how to call it, the status it answers)
ROUTES = {
    "booking page": (lambda client, db, link: client.get(page(link)), 200),
    "booking page, wrong token": (lambda client, db, link: client.get(wrong(page(link))), 404),
    "booking as JSON": (lambda client, db, link: client.get(page(link) + "/booking"), 200),
    "booking as JSON, wrong token": (
        lambda client, db, link: client.get(wrong(page(link)) + "/booking"),
        404,
    ),
    "tickets before payment": (lambda client, db, link: client.get(page(link) + "/tickets.pdf"), 409),
    "cancel, redirected back": (
        lambda client, db, link: client.post(
            f"/api/v1/pages/bookings/{link.booking_id}/cancel", data={"token": link.token}
        ),
        303,
    ),
    "cancel, wrong token": (
        lambda client, db, link: client.post(
            f"/api/v1/pages/bookings/{link.booking_id}/cancel", data={"token": wrong(link.token)}
        ),
        404,
    ),
    "local checkout page": (lambda client, db, link: client.get(checkout(db, link)), 200),
    "local checkout, wrong token": (lambda client, db, link: client.get(wrong(checkout(db, link))), 404),
    "local checkout, paid": (
        lambda client, db, link: client.post(checkout(db, link), data={"outcome": "paid"}),
        200,
    ),
    "local checkout, bad form": (
        lambda client, db, link: client.post(checkout(db, link), data={"outcome": "maybe"}),
        422,
    ),
}


@pytest.mark.parametrize("route", ROUTES)
def test_every_capability_link_answer_carries_the_private_headers(client, db, held, route):  # noqa: F811
    call, status = ROUTES[route]
    answer = call(client, db, held)
    assert answer.status_code == status
    assert {name: answer.headers.get(name) for name in PRIVATE_HEADERS} == PRIVATE_HEADERS


def test_the_private_headers_are_those_the_issue_asks_for():
    assert PRIVATE_HEADERS["Cache-Control"] == "no-store"
    assert PRIVATE_HEADERS["Referrer-Policy"] == "no-referrer"
    assert PRIVATE_HEADERS["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert PRIVATE_HEADERS["X-Content-Type-Options"] == "nosniff"


def test_other_answers_do_not_claim_them(client):
    answer = client.get("/api/v1/events")
    assert answer.status_code == 200 and "Referrer-Policy" not in answer.headers
