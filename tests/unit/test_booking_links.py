"""The rules of a booking's signed link: one link per booking, valid until a while after its
event, good for that booking only; and what its page offers for each status."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from core import booking_links
from core.booking_links import LinkAction
from core.errors import NotFound

SECRET = "a-secret-of-the-application-for-tests"
ENDS = dt.datetime(2030, 6, 1, 22, 0, tzinfo=dt.UTC)
BOOKING = uuid.UUID("01900000-0000-7000-8000-000000000001")


def test_a_booking_always_gets_the_same_link():
    assert booking_links.make_link(BOOKING, ENDS, secret=SECRET) == booking_links.make_link(
        BOOKING, ENDS, secret=SECRET
    )


def test_a_link_works_until_its_lifetime_after_the_event_ends():
    token = booking_links.make_link(BOOKING, ENDS, secret=SECRET).token
    last_moment = ENDS + booking_links.LINK_LIFETIME_AFTER_EVENT - dt.timedelta(seconds=1)
    booking_links.check_token(BOOKING, token, last_moment, secret=SECRET)
    with pytest.raises(NotFound) as expired:
        booking_links.check_token(BOOKING, token, last_moment + dt.timedelta(seconds=1), secret=SECRET)
    assert expired.value.name == "link_expired"


@pytest.mark.parametrize(
    ("booking_id", "secret"),
    [(uuid.UUID(int=BOOKING.int + 1), SECRET), (BOOKING, "another-secret-of-another-deployment")],
    ids=["another booking", "another secret"],
)
def test_a_link_opens_nothing_else(booking_id, secret):
    token = booking_links.make_link(BOOKING, ENDS, secret=SECRET).token
    with pytest.raises(NotFound) as refused:
        booking_links.check_token(booking_id, token, ENDS, secret=secret)
    assert refused.value.name == "not_found"


@pytest.mark.parametrize("token", ["", ".", "1.", "²³.abc", "99999999999999.abc", "1\udc00.x"])
def test_malformed_tokens_read_as_no_booking(token):
    with pytest.raises(NotFound):
        booking_links.check_token(BOOKING, token, ENDS, secret=SECRET)


NOW = dt.datetime(2030, 5, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("status", "checkout_url", "total", "refund_until", "actions"),
    [
        ("queued", None, None, None, set()),
        ("held", None, 2500, None, {LinkAction.CANCEL}),
        ("held", "https://pay.example/cs_1", 2500, None, {LinkAction.PAY, LinkAction.CANCEL}),
        ("waitlisted", None, 2500, None, {LinkAction.CANCEL}),
        (
            "confirmed",
            None,
            2500,
            NOW + dt.timedelta(days=1),
            {LinkAction.DOWNLOAD_TICKETS, LinkAction.CANCEL},
        ),
        ("confirmed", None, 2500, NOW, {LinkAction.DOWNLOAD_TICKETS}),
        ("confirmed", None, 2500, None, {LinkAction.DOWNLOAD_TICKETS}),
        ("confirmed", None, 0, None, {LinkAction.DOWNLOAD_TICKETS, LinkAction.CANCEL}),
        ("cancelled", None, 2500, NOW + dt.timedelta(days=1), set()),
        ("expired", None, 2500, None, set()),
    ],
)
def test_the_page_offers_what_the_booking_allows_now(status, checkout_url, total, refund_until, actions):
    offered = booking_links.allowed_actions(
        status, checkout_url=checkout_url, total=total, refund_until=refund_until, now=NOW
    )
    assert offered == actions
