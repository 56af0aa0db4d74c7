"""What the allocation decides on and what it decides: the request as queued, the customer's
standing at the event, and the decision.

Plain data, shared by the rules (`core.booking_rules`), the life cycle that writes a decision
(`core.lifecycle`), the queue and the services; it imports neither the rules nor the life cycle,
so those two never import each other to name a type.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from operator import attrgetter

from core.inventory import Line
from core.statuses import AdmissionReason, BookingStatus, RejectionReason

_QUANTITY = attrgetter("quantity")


@dataclass(frozen=True)
class BookingRequest:
    """One request as the API accepted it and queued it."""

    booking_id: uuid.UUID
    user_id: uuid.UUID
    event_id: uuid.UUID
    seq: int
    lines: tuple[Line, ...]
    join_waitlist: bool
    requested_at: dt.datetime
    idempotency_key: str | None = None
    # An organizer's guest (press, artists): free, outside the per-customer limits and sales window.
    complimentary: bool = False
    # The id of the HTTP request that asked (`core.request_ids`), for the drainer's log line.
    request_id: str | None = None
    # The voucher whose code the request carried (the API found the code valid).
    voucher_id: uuid.UUID | None = None
    # The attendees the customer named, by ticket type id (`core.services.attendees` checked them).
    attendees: dict[str, list[dict]] | None = None
    # Asked for accessible seats (`core.seating`): only such requests get them by best available.
    accessible: bool = False
    # A request made in a waiting room is judged as of the opening it waited for, not its arrival.
    opening_at: dt.datetime | None = None

    @classmethod
    def of_fields(cls, **fields) -> BookingRequest:
        """A request from every one of its fields, read back from its queued form: set at once,
        not through the frozen dataclass's `__init__`, which pays a call per field, fourteen
        a request, a thousand requests a batch."""
        request = object.__new__(cls)
        request.__dict__.update(fields)
        return request

    @property
    def quantity(self) -> int:
        return sum(map(_QUANTITY, self.lines))

    @property
    def judged_at(self) -> dt.datetime:
        """The moment the sales window, the voucher's validity and the type's window apply at."""
        return self.opening_at or self.requested_at


@dataclass
class CustomerState:
    """What one customer already has at this event: a pending booking (held or waitlisted) and
    how many tickets they hold, bought or wait for."""

    has_pending: bool = False
    tickets: int = 0


@dataclass(frozen=True)
class Decision:
    status: BookingStatus  # held, confirmed, waitlisted or rejected
    reason: RejectionReason | AdmissionReason | None = None
    unit_prices: dict[uuid.UUID, int] = field(default_factory=dict)
