"""Every state machine of `core` other than the booking's (tested with its inventory in
tests/integration/test_lifecycle.py): the diagram's shape, each edge it has taken, every edge it
lacks refused with `409 invalid_transition` before anything is written, and the fields each
named transition moves together with the status."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest

from core import event_lifecycle, lifecycle, payment_lifecycle, refund_lifecycle, ticket_lifecycle
from core.errors import Conflict
from core.models import Event, Payment, Refund, Ticket
from core.payments.provider import Checkout, SessionStatus
from core.statuses import BookingStatus, EventStatus, PaymentStatus, RefundStatus, TicketStatus

NOW = dt.datetime(2026, 12, 20, 12, tzinfo=dt.UTC)


def payment(status: str, amount: int = 7500) -> Payment:
    return Payment(id=uuid.uuid4(), booking_id=uuid.uuid4(), amount=amount, currency="EUR", status=status)


def refund(status: str) -> Refund:
    return Refund(id=uuid.uuid4(), amount=2500, status=status, last_error=None)


def ticket(status: str) -> Ticket:
    return Ticket(id=uuid.uuid4(), status=status)


def event(status: str, held: int = 0, sold: int = 0) -> Event:
    return Event(id=uuid.uuid4(), status=status, version=3, held=held, sold=sold)


MACHINES = {
    "payment": (payment_lifecycle, PaymentStatus, payment),
    "refund": (refund_lifecycle, RefundStatus, refund),
    "ticket": (ticket_lifecycle, TicketStatus, ticket),
    "event": (event_lifecycle, EventStatus, event),
}


def edges(name: str, present: bool) -> list[tuple[str, str, str]]:
    module, statuses, _ = MACHINES[name]
    return [
        (name, current, target)
        for current, target in itertools.product(statuses, repeat=2)
        if (target in module.TRANSITIONS[current]) == present
    ]


@pytest.mark.parametrize(
    ("module", "statuses"),
    [(lifecycle, BookingStatus)] + [(module, statuses) for module, statuses, _ in MACHINES.values()],
)
def test_each_diagram_is_a_dict_of_every_status_to_the_statuses_that_may_follow(module, statuses):
    # The shape docs/architecture.md draws the diagrams from.
    assert set(module.TRANSITIONS) == set(statuses)
    for current, following in module.TRANSITIONS.items():
        assert isinstance(current, statuses) and isinstance(following, dict)
        assert all(isinstance(target, statuses) for target in following)


@pytest.mark.parametrize(("name", "current", "target"), [e for name in MACHINES for e in edges(name, False)])
def test_every_edge_a_diagram_lacks_is_refused_and_changes_nothing(name, current, target):
    module, _, make = MACHINES[name]
    thing = make(current)
    with pytest.raises(Conflict) as refused:
        module.transition(thing, target)
    assert (refused.value.name, refused.value.status_code) == ("invalid_transition", 409)
    assert refused.value.details == {"from": current, "to": target}
    assert thing.status == current


@pytest.mark.parametrize(("name", "current", "target"), [e for name in MACHINES for e in edges(name, True)])
def test_every_edge_a_diagram_has_is_taken(name, current, target):
    module, _, make = MACHINES[name]
    thing = make(current)
    module.transition(thing, target)
    assert thing.status == target


def test_a_payment_is_refunded_when_its_refunds_add_up_to_it_and_partly_refunded_before():
    paid = payment(PaymentStatus.PAID)
    payment_lifecycle.record_refunded(paid, 2500)
    assert paid.status == "partially_refunded"
    payment_lifecycle.record_refunded(paid, 5000)  # still partly: not a transition
    assert paid.status == "partially_refunded"
    payment_lifecycle.record_refunded(paid, 7500)
    assert paid.status == "refunded"
    with pytest.raises(Conflict):
        payment_lifecycle.record_paid(paid, "pi_again")
    assert paid.status == "refunded"


def test_a_payment_paid_records_its_intent_and_one_reopened_its_session():
    paid = payment(PaymentStatus.PENDING)
    payment_lifecycle.record_paid(paid, "pi_1")
    assert (paid.status, paid.payment_intent_id) == ("paid", "pi_1")
    closed = payment(PaymentStatus.EXPIRED)
    checkout = Checkout("cs_1", "https://pay.example/cs_1", NOW, None, SessionStatus.OPEN)
    payment_lifecycle.reopen(closed, checkout)
    assert (closed.status, closed.checkout_session_id, closed.checkout_url, closed.checkout_expires_at) == (
        "pending", "cs_1", "https://pay.example/cs_1", NOW,
    )  # fmt: skip


def test_a_refund_settles_with_its_error_or_without_one():
    refused, given = refund(RefundStatus.PENDING), refund(RefundStatus.PENDING)
    given.last_error = "timeout, retried"
    refund_lifecycle.fail(refused, "card closed")
    refund_lifecycle.succeed(given)
    assert (refused.status, refused.last_error) == ("failed", "card closed")
    assert (given.status, given.last_error) == ("succeeded", None)


def test_an_event_moves_its_dates_and_version_with_its_status():
    draft = event(EventStatus.DRAFT)
    event_lifecycle.publish(draft, NOW)
    assert (draft.status, draft.published_at, draft.version) == ("published", NOW, 4)
    event_lifecycle.unpublish(draft)
    assert (draft.status, draft.published_at, draft.version) == ("draft", None, 5)
    event_lifecycle.cancel(draft, NOW)
    assert (draft.status, draft.cancelled_at, draft.version) == ("cancelled", NOW, 6)


def test_an_event_with_tickets_held_or_sold_cannot_go_back_to_draft():
    for held, sold in ((1, 0), (0, 1)):
        on_sale = event(EventStatus.PUBLISHED, held=held, sold=sold)
        with pytest.raises(Conflict) as refused:
            event_lifecycle.unpublish(on_sale)
        assert refused.value.name == "event_has_bookings"
        assert (on_sale.status, on_sale.version) == ("published", 3)
