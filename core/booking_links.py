"""Signed links to a booking's page: whoever holds one acts as the booking's customer, without
signing in, for what a person does with a booking in a browser, and nothing else.

A link may: see the booking (status, queue or waitlist position, hold expiry), pay it (it is
shown the checkout link), download its tickets, and cancel it as its customer could (the
customer's refund period applies). It opens no account, no other booking, and no API call that
needs a bearer token.

The token is `<expiry>.<mac>`: an HMAC-SHA256 of the booking id and the expiry under a key
derived from the application's secret (so it is worth nothing where else that secret is used).
The expiry is fixed by the event — `LINK_LIFETIME_AFTER_EVENT` after it ends — so one booking
always gets the same link: a payment retry sends identical return URLs to the provider, and a
mail composed twice is identical. Nothing is stored; rotating the secret revokes every link.

`FRONTEND_URL`, when set, is where the links lead instead of the built-in page: the operator's
own front end receives `booking_id` and `token` as query parameters, and calls the link's JSON,
tickets and cancel routes with them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode, urlsplit, urlunsplit

from core import links, runtime
from core.errors import NotFound
from core.models import Booking
from core.statuses import OPEN_BOOKING_STATUSES, BookingStatus

LINK_LIFETIME_AFTER_EVENT = dt.timedelta(days=30)
_KEY_INFO = b"boxoffice booking page link"


class LinkAction(StrEnum):
    """What a booking page offers, each only while it makes sense for the booking."""

    PAY = "pay"
    DOWNLOAD_TICKETS = "download_tickets"
    CANCEL = "cancel"


@dataclass(frozen=True)
class BookingLink:
    booking_id: uuid.UUID
    token: str

    @property
    def url(self) -> str:
        """Where a person opens it: the built-in page, or the operator's front end."""
        frontend = runtime.settings().frontend_url
        if not frontend:
            return links.BOOKING_PAGE.url(booking_id=self.booking_id, token=self.token)
        parts = urlsplit(frontend)
        query = "&".join(
            filter(None, (parts.query, urlencode({"booking_id": str(self.booking_id), "token": self.token})))
        )
        return urlunsplit(parts._replace(query=query))


def _key(secret: str) -> bytes:
    return hmac.digest(secret.encode("utf-8"), _KEY_INFO, hashlib.sha256)


def _mac(secret: str, booking_id: uuid.UUID, expires: int) -> str:
    digest = hmac.digest(_key(secret), f"{booking_id}:{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def link_expiry(event_ends_at: dt.datetime) -> dt.datetime:
    return event_ends_at + LINK_LIFETIME_AFTER_EVENT


def make_link(booking_id: uuid.UUID, event_ends_at: dt.datetime, *, secret: str | None = None) -> BookingLink:
    expires = int(link_expiry(event_ends_at).timestamp())
    secret = secret or runtime.settings().jwt_secret_key
    return BookingLink(booking_id, f"{expires}.{_mac(secret, booking_id, expires)}")


def link_for(booking: Booking) -> BookingLink:
    """The booking's link, as every mail and checkout hands it out."""
    return make_link(booking.id, booking.event.ends_at)


def check_token(booking_id: uuid.UUID, token: str, now: dt.datetime, *, secret: str | None = None) -> None:
    """Raise `NotFound` unless `token` is a genuine, unexpired link to this booking.

    A wrong, altered or expired token reads exactly as a booking that does not exist, so a link
    tells nobody anything about bookings it was not made for."""
    secret = secret or runtime.settings().jwt_secret_key
    expires, _, mac = token.partition(".")
    if not (token.isascii() and expires.isdigit() and len(expires) <= 12):
        raise _missing()
    expected = _mac(secret, booking_id, int(expires))
    if not hmac.compare_digest(mac, expected):
        raise _missing()
    if now.timestamp() >= int(expires):
        raise NotFound("This booking link has expired; use the link in a newer email.", name="link_expired")


def allowed_actions(
    status: str, *, checkout_url: str | None, total: int | None, refund_until: dt.datetime | None,
    now: dt.datetime,
) -> frozenset[LinkAction]:  # fmt: skip
    """What the page offers now; the services still check each action when it is taken."""
    actions = set()
    if status == BookingStatus.HELD and checkout_url:
        actions.add(LinkAction.PAY)
    if status == BookingStatus.CONFIRMED:
        actions.add(LinkAction.DOWNLOAD_TICKETS)
    refundable = total == 0 or (refund_until is not None and now < refund_until)
    if status in OPEN_BOOKING_STATUSES and (status != BookingStatus.CONFIRMED or refundable):
        actions.add(LinkAction.CANCEL)
    return frozenset(actions)


def _missing() -> NotFound:
    return NotFound("No such booking.")
