"""A working example of every request body, shown by Swagger UI and ReDoc (and used by "Try it out").

Ids and mailed codes are placeholders (the constants below) that a reader replaces with their
own; `tests/api/test_openapi_examples.py` replaces them with real ones and sends each example,
in this order, expecting its documented success. Event dates are computed when the app starts,
so the example event is always in the future (a fixed date would one day be refused).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

ORGANIZATION_ID = "0190a5d2-0000-7000-8000-00000000a001"
USER_ID = "0190a5d2-0000-7000-8000-00000000a002"
EVENT_ID = "0190a5d2-0000-7000-8000-00000000a003"
TICKET_TYPE_ID = "0190a5d2-0000-7000-8000-00000000a004"
MAILED_CODE = "paste-the-code-from-the-email"
TICKET_CODE = "paste-the-ticket-code-or-qr-payload"
BOOKING_LINK_TOKEN = "paste-the-token-of-the-booking-link"
TICKET_ID = "0190a5d2-0000-7000-8000-00000000a005"
SEATED_TICKET_TYPE_ID = "0190a5d2-0000-7000-8000-00000000a006"
SEAT_ID = "0190a5d2-0000-7000-8000-00000000a007"


def _event_times() -> dict:
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    day = dt.date.today() + dt.timedelta(days=60)
    at = lambda hour: dt.datetime.combine(day, dt.time(hour), zone).isoformat()  # noqa: E731
    return {"starts_at": at(20), "ends_at": at(23), "refund_until": at(12)}


REGISTER = {"email": "cleo@example.com", "password": "correct horse battery", "name": "Cleo Martin"}
LOGIN = {"email": "cleo@example.com", "password": "correct horse battery"}
PASSWORD_RESET = {"email": "cleo@example.com"}
PASSWORD_RESET_CONFIRM = {"token": MAILED_CODE, "password": "a new long passphrase"}
VERIFY_EMAIL = {"token": MAILED_CODE}
PASSWORD_CHANGE = {"current_password": "a new long passphrase", "new_password": "another long passphrase"}
ORGANIZATION = {"name": "Garage Gigs", "contact_email": "hello@garagegigs.example"}
USER_PATCH = {"role": "organizer", "organization_id": ORGANIZATION_ID}
TICKET_TYPE = {"name": "Standard", "price": 2500, "currency": "EUR", "quota": 200}
EVENT_CREATE = {
    "title": "The Ohms, live",
    "description": "Four chords and the truth.",
    "category": "concert",
    "venue": "The Garage",
    "address": "12 Canal Street, Paris",
    "latitude": 48.8708,
    "longitude": 2.3656,
    "timezone": "Europe/Paris",
    **_event_times(),
    "hold_seconds": 600,
    "max_per_booking": 4,
    "max_per_user": 6,
    "waitlist_enabled": True,
    "ticket_types": [TICKET_TYPE, {"name": "Front row", "price": 4500, "currency": "EUR", "quota": 20}],
}
EVENT_PATCH = {"title": "The Ohms, live (extra date)", "max_per_booking": 6}
NEW_TICKET_TYPE = {"name": "Balcony", "price": 1800, "currency": "EUR", "quota": 0, "seated": True}
# The balcony as a regular block: rows A-E of seats 1-12, the stage in front of its middle.
SEATING = {"focal_point": {"x": 5.5, "y": -4.0}, "sections": [
    {"name": "Balcony", "rows": 5, "seats_per_row": 12, "ticket_type_id": SEATED_TICKET_TYPE_ID,
     "origin": {"x": 0.0, "y": 0.0}, "seat_spacing": 1.0, "row_spacing": 1.2}]}  # fmt: skip
SEATS_BLOCK = {"seat_ids": [SEAT_ID], "blocked": True}
TICKET_TYPE_PATCH = {"price": 2000, "quota": 60}
BOOKING = {
    "event_id": EVENT_ID,
    "items": [
        {
            "ticket_type_id": TICKET_TYPE_ID,
            "quantity": 2,
            "attendees": [{"name": "Cleo Martin"}, {"name": "Sam Martin", "email": "sam@example.com"}],
        }
    ],
    "join_waitlist": True,
}
VOUCHER = {
    "code": "EARLYBIRD",
    "discount": {"percent": 20},
    "max_redemptions": 100,
    "ticket_type_ids": [TICKET_TYPE_ID],
}
VOUCHER_PATCH = {"max_redemptions": 150}
QUESTION = {"label": "Meal", "type": "choice", "options": ["meat", "vegetarian"], "required": False}
QUESTION_PATCH = {"label": "Your meal at the interval"}
TICKET_PATCH = {"attendee_name": "Sam Martin-Ross", "attendee_email": "sam.ross@example.com"}
BOOKING_CANCEL = {"ticket_ids": [TICKET_ID]}
LOCAL_OUTCOME = {"outcome": "paid"}
PAGE_CANCEL = {"token": BOOKING_LINK_TOKEN}
CHECK_IN = {"code": TICKET_CODE}
COMP = {
    "name": "Dana Reviewer",
    "email": "dana@press.example",
    "items": [{"ticket_type_id": TICKET_TYPE_ID, "quantity": 2}],
    "note": "Press tickets for the review",
}
