"""A ticket's row id is time-ordered like every other id; its code, the secret at the door, is not."""

from __future__ import annotations

from core.models import new_id
from core.services import tickets
from core.ticket_signing import CODE_LENGTH
from tests.integration.booking_helpers import ask, drain, issue_tickets


def test_ticket_ids_are_uuid7_made_at_issue(db, organizer, make_event, make_user):
    event = make_event(organizer, price=0, quota=10)
    booking_id = ask(make_user(), event, 4)
    drain(event)
    # Ids made just before and just after: UUIDv7 generators keep ids monotonic (a burst of ids
    # may run their clock ahead of the wall clock), so order, not the wall clock, is the promise.
    before = new_id()
    issue_tickets(db, [booking_id])
    after = new_id()
    with db.unit_of_work() as uow:
        issued = tickets.booking_tickets(uow, booking_id)
    assert len(issued) == 4
    for ticket in issued:
        assert ticket.id.version == 7
        assert before < ticket.id < after
        assert len(ticket.code) == CODE_LENGTH
    assert len({ticket.code for ticket in issued}) == 4
