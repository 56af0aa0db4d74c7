"""Every fixed vocabulary of the domain, spelled once: statuses, reasons, roles.

Each is a `StrEnum`, so a member is the very string stored in the database and sent in JSON;
the CHECK constraints in `core.models` and the API's `enum` metadata are built from these
classes. The groups of booking statuses the services ask about (final, pending, counted, open)
are defined here, beside the statuses, and nowhere else (as tuples, so SQL `IN` takes them). Which status may follow which is the
business of `core.lifecycle`.
"""

from __future__ import annotations

from enum import StrEnum


class BookingStatus(StrEnum):
    """docs/architecture.md, "State machines". `queued` lives in Redis only; the others are rows
    in `booking`."""

    QUEUED = "queued"
    HELD = "held"
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# Nothing more will happen to the booking unless money arrives late (`expired` → `confirmed`).
FINAL_BOOKING_STATUSES = (
    BookingStatus.CONFIRMED,
    BookingStatus.REJECTED,
    BookingStatus.EXPIRED,
    BookingStatus.CANCELLED,
)
# A customer has at most one of these per event: a hold, or a place on the waitlist.
PENDING_BOOKING_STATUSES = (BookingStatus.HELD, BookingStatus.WAITLISTED)
# What counts towards a customer's per-event ticket limit.
COUNTED_BOOKING_STATUSES = (*PENDING_BOOKING_STATUSES, BookingStatus.CONFIRMED)
# What a cancelled event must still settle (release, drop, or refund).
OPEN_BOOKING_STATUSES = COUNTED_BOOKING_STATUSES


class RejectionReason(StrEnum):
    """Why the allocation refused a request (`rejected`)."""

    SOLD_OUT = "sold_out"
    SALES_CLOSED = "sales_closed"
    LIMIT_EXCEEDED = "limit_exceeded"
    HOLD_EXISTS = "hold_exists"
    EVENT_CANCELLED = "event_cancelled"
    INVALID_REQUEST = "invalid_request"
    # The request's voucher had no redemption left when its turn came (the tickets were there).
    VOUCHER_EXHAUSTED = "voucher_exhausted"
    # A chosen seat was taken by an earlier request, or blocked, when this one's turn came.
    SEAT_UNAVAILABLE = "seat_unavailable"


class AdmissionReason(StrEnum):
    """Why a request was admitted outside the usual rules (recorded in the booking's `reason`)."""

    COMPLIMENTARY = "complimentary"  # an organizer's guest: free, decided within the quotas


class RefundReason(StrEnum):
    """Why money goes back. A cancelled booking carries the reason its payment is (or would be)
    refunded for; `duplicate_payment` and `amount_mismatch` leave the booking as it is."""

    CUSTOMER_CANCELLED = "customer_cancelled"
    ORGANIZER_REFUNDED = "organizer_refunded"
    PAID_AFTER_HOLD_EXPIRED = "paid_after_hold_expired"
    DUPLICATE_PAYMENT = "duplicate_payment"
    EVENT_CANCELLED = "event_cancelled"
    AMOUNT_MISMATCH = "amount_mismatch"


class EventStatus(StrEnum):
    """Which may follow which is `core.event_lifecycle`'s."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    """`pending`: a checkout exists (or is being made) and may still be paid; `failed`: an
    asynchronous method failed and a new checkout may be made; `expired`: closed unpaid;
    `partially_refunded`: some of it was given back; `refunded`: its refunds add up to it.
    Which may follow which is `core.payment_lifecycle`'s."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


# Money that reached us, whether or not it was given back since.
RECEIVED_PAYMENT_STATUSES = (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)
# Money that reached us and is not all given back yet: what a cancellation refunds (what is left of).
REFUNDABLE_PAYMENT_STATUSES = (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED)


class RefundStatus(StrEnum):
    """Which may follow which is `core.refund_lifecycle`'s."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TicketStatus(StrEnum):
    """Which may follow which is `core.ticket_lifecycle`'s (a check-in is not a status)."""

    VALID = "valid"
    CANCELLED = "cancelled"


class SeatStatus(StrEnum):
    """A seat on the map. Organizers and staff see `available`, `held`, `sold` and `blocked`;
    the public sees only whether it can be had: `available` or `unavailable`."""

    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"
    HELD = "held"
    SOLD = "sold"
    BLOCKED = "blocked"


class QuestionType(StrEnum):
    """What an attendee's answer to a question is: free text, one of the options, yes or no."""

    TEXT = "text"
    CHOICE = "choice"
    BOOLEAN = "boolean"


class Role(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ORGANIZER = "organizer"
    ADMIN = "admin"
    # Not an account: an organizer's guest, the recipient of one comp (core/services/comps.py).
    # Never signs in, is never found by address, and may share its address with an account.
    GUEST = "guest"


# The roles of accounts: what a person signs in as, and what an administrator can give.
ACCOUNT_ROLES = tuple(role for role in Role if role != Role.GUEST)
