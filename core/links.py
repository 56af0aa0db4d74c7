"""Every address of the API that core hands out (in mail, checkout, calendar files, responses).

The routes are the API's, but core writes them into emails and payment sessions, so each is
spelt once here, beside the name of the API endpoint it must reach; a test resolves every
`Link` in the Flask app's url_map and checks that it lands on that endpoint with the same
parameters. Absolute links start with `PUBLIC_BASE_URL`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import runtime

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Link:
    template: str  # below API_PREFIX, with `{name}` for each parameter of the route
    endpoint: str  # the API endpoint it reaches (checked by the tests, not used at run time)
    method: str = "GET"  # how the client is told to call it

    def path(self, **params) -> str:
        return API_PREFIX + self.template.format(**params)

    def url(self, *, base_url: str | None = None, **params) -> str:
        """The absolute link, from `PUBLIC_BASE_URL` unless another base is given."""
        return (base_url or runtime.settings().public_base_url) + self.path(**params)


BOOKING = Link("/bookings/{booking_id}", "bookings.BookingById")
BOOKING_TICKETS = Link("/bookings/{booking_id}/tickets", "tickets.BookingTickets")
EVENT = Link("/events/{event_id}", "events.EventById")
# A booking's page for people, reached by its signed link (see core/booking_links.py).
BOOKING_PAGE = Link("/pages/bookings/{booking_id}/{token}", "pages.BookingPage")
BOOKING_PAGE_DATA = Link("/pages/bookings/{booking_id}/{token}/booking", "pages.BookingPageData")
BOOKING_PAGE_TICKETS = Link("/pages/bookings/{booking_id}/{token}/tickets.pdf", "pages.BookingPageTickets")
BOOKING_PAGE_CANCEL = Link("/pages/bookings/{booking_id}/cancel", "pages.BookingPageCancel", method="POST")
LOCAL_CHECKOUT = Link("/payments/local/{session_id}/{token}", "payments.LocalCheckout")
RESEND_VERIFICATION = Link("/auth/verify-email/resend", "auth.ResendVerification", method="POST")

LINKS = (
    BOOKING,
    BOOKING_TICKETS,
    BOOKING_PAGE,
    BOOKING_PAGE_DATA,
    BOOKING_PAGE_TICKETS,
    BOOKING_PAGE_CANCEL,
    EVENT,
    LOCAL_CHECKOUT,
    RESEND_VERIFICATION,
)
