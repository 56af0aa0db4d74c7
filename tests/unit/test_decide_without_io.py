"""`decide` reads only what its caller locked: a voucher the inventory does not hold is unknown,
never fetched (the drainer locks the batch's vouchers before deciding)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from core.booking_requests import BookingRequest, CustomerState
from core.booking_rules import decide
from core.inventory import Inventory, Line
from core.models import Event, TicketType

NOW = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_a_voucher_the_caller_did_not_lock_is_refused_without_a_query():
    event = Event(id=uuid.uuid4(), status="published", starts_at=NOW + dt.timedelta(days=5), max_per_booking=6,
                  max_per_user=8, waitlist_enabled=True, capacity=None, held=0, sold=0, sales_start=None,
                  sales_end=None)  # fmt: skip
    tt = TicketType(id=uuid.uuid4(), quota=10, held=0, sold=0, price=1000, currency="EUR", surge_price=None,
                    surge_threshold=None, hidden=False, sales_start=None, sales_end=None,
                    min_per_booking=1)  # fmt: skip
    fetched = []
    inventory = Inventory(event, [tt], load_vouchers=lambda ids: fetched.extend(ids) or [])
    request = BookingRequest(uuid.uuid4(), uuid.uuid4(), event.id, 1, (Line(tt.id, 1),), False, NOW)
    request = dataclasses.replace(request, voucher_id=uuid.uuid4())

    decision = decide(request, inventory, CustomerState())

    assert (decision.status, decision.reason) == ("rejected", "invalid_request")
    assert fetched == []
    assert tt.held == 0
