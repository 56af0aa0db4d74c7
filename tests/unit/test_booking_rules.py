"""The decision rules, one branch at a time, on plain objects (no database)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from core.booking_rules import BookingRequest, CustomerState, decide
from core.inventory import Inventory, Line
from core.models import Event, TicketType

NOW = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)


def inventory(quota=10, held=0, sold=0, price=1000, capacity=None, **event_fields) -> Inventory:
    values = {"status": "published", "starts_at": NOW + dt.timedelta(days=5), "max_per_booking": 6,
              "max_per_user": 8, "waitlist_enabled": True, "capacity": capacity, "held": held, "sold": sold,
              "sales_start": None, "sales_end": None, **event_fields}  # fmt: skip
    event = Event(id=uuid.uuid4(), **values)
    tt = TicketType(id=uuid.uuid4(), quota=quota, held=held, sold=sold, price=price, currency="EUR",
                    surge_price=None, surge_threshold=None, hidden=False, sales_start=None, sales_end=None,
                    min_per_booking=1)  # fmt: skip
    return Inventory(event, [tt])


def ask(inv: Inventory, quantity=2, join_waitlist=False, at=NOW) -> BookingRequest:
    [tt_id] = inv.ticket_types
    return BookingRequest(
        uuid.uuid4(), uuid.uuid4(), inv.event.id, 1, (Line(tt_id, quantity),), join_waitlist, at
    )


def the_type(inv: Inventory) -> TicketType:
    return next(iter(inv.ticket_types.values()))


def test_a_request_that_fits_is_held_and_counted():
    inv = inventory()
    decision = decide(ask(inv, 3), inv, CustomerState())
    assert decision.status == "held"
    assert (the_type(inv).held, inv.event.held) == (3, 3)


def test_free_tickets_are_confirmed_at_once_and_sold():
    inv = inventory(price=0)
    assert decide(ask(inv, 2), inv, CustomerState()).status == "confirmed"
    assert (the_type(inv).held, the_type(inv).sold) == (0, 2)


def test_the_last_tickets_go_then_the_next_request_is_sold_out():
    inv = inventory(quota=3)
    assert decide(ask(inv, 3), inv, CustomerState()).status == "held"
    decision = decide(ask(inv, 1), inv, CustomerState())
    assert (decision.status, decision.reason) == ("rejected", "sold_out")


def test_sold_out_request_joins_the_waitlist_when_asked_and_enabled():
    inv = inventory(quota=1, held=1)
    assert decide(ask(inv, 1, join_waitlist=True), inv, CustomerState()).status == "waitlisted"
    closed = inventory(quota=1, held=1, waitlist_enabled=False)
    assert decide(ask(closed, 1, join_waitlist=True), closed, CustomerState()).reason == "sold_out"


def test_capacity_caps_across_ticket_types():
    inv = inventory(quota=10, capacity=3, held=2)
    the_type(inv).held = 0  # the other two are held in another ticket type
    assert decide(ask(inv, 2), inv, CustomerState()).reason == "sold_out"
    assert decide(ask(inv, 1), inv, CustomerState()).status == "held"


@pytest.mark.parametrize(
    ("fields", "at", "reason"),
    [({"status": "cancelled"}, NOW, "event_cancelled"), ({"status": "draft"}, NOW, "sales_closed"),
     ({"sales_start": NOW + dt.timedelta(hours=1)}, NOW, "sales_closed"),
     ({"sales_end": NOW}, NOW, "sales_closed"), ({"starts_at": NOW}, NOW, "sales_closed")],
)  # fmt: skip
def test_closed_sales_are_rejected_with_the_reason(fields, at, reason):
    inv = inventory(**fields)
    decision = decide(ask(inv, 1, at=at), inv, CustomerState())
    assert (decision.status, decision.reason) == ("rejected", reason)
    assert the_type(inv).held == 0


def test_sales_window_is_judged_when_the_request_was_accepted_not_when_decided():
    inv = inventory(sales_end=NOW + dt.timedelta(seconds=1))
    assert decide(ask(inv, 1, at=NOW), inv, CustomerState()).status == "held"


def test_limits_per_booking_and_per_customer():
    inv = inventory()
    assert decide(ask(inv, 7), inv, CustomerState()).reason == "limit_exceeded"
    assert decide(ask(inv, 2), inv, CustomerState(tickets=7)).reason == "limit_exceeded"
    assert decide(ask(inv, 1), inv, CustomerState(tickets=7)).status == "held"


def test_one_pending_booking_per_customer_per_event():
    inv = inventory()
    customer = CustomerState()
    assert decide(ask(inv, 1), inv, customer).status == "held"
    assert decide(ask(inv, 1), inv, customer).reason == "hold_exists"


def test_unknown_ticket_type_is_rejected_as_invalid():
    inv = inventory()
    request = BookingRequest(
        uuid.uuid4(), uuid.uuid4(), inv.event.id, 1, (Line(uuid.uuid4(), 1),), False, NOW
    )
    assert decide(request, inv, CustomerState()).reason == "invalid_request"


def test_surge_price_applies_once_the_threshold_is_sold():
    inv = inventory(quota=10, sold=4)
    the_type(inv).surge_price, the_type(inv).surge_threshold = 1500, 5
    assert set(decide(ask(inv, 1), inv, CustomerState()).unit_prices.values()) == {1000}
    the_type(inv).sold = 5
    assert set(decide(ask(inv, 1), inv, CustomerState()).unit_prices.values()) == {1500}


def test_a_hidden_type_without_a_code_that_unlocks_it_is_rejected_as_invalid():
    inv = inventory()
    the_type(inv).hidden = True
    decision = decide(ask(inv, 1), inv, CustomerState())
    assert (decision.status, decision.reason) == ("rejected", "invalid_request")
    assert the_type(inv).held == 0


def test_a_types_own_sales_window_and_minimum_are_decided_per_line():
    inv = inventory()
    the_type(inv).sales_end = NOW
    assert decide(ask(inv, 1), inv, CustomerState()).reason == "sales_closed"
    the_type(inv).sales_end, the_type(inv).min_per_booking = None, 3
    assert decide(ask(inv, 2), inv, CustomerState()).reason == "limit_exceeded"
    assert decide(ask(inv, 3), inv, CustomerState()).status == "held"
