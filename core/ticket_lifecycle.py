"""A ticket's life cycle: the one place where a ticket's status changes.

A ticket is born `valid` when its booking is confirmed (`issue_ticket`) and admits its holder
once (the check-in is recorded beside the status, not as one):

    valid → cancelled        given back, or its booking cancelled: it no longer admits anyone
                             (`void_tickets`, `void_tickets_of_bookings`)

`cancelled` is the end. Any other edge is refused with `Conflict(name="invalid_transition")`
(`transition`); the bulk forms are one UPDATE guarded by the statuses the diagram lets become
`cancelled`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update

from core.db import UnitOfWork
from core.models import Ticket
from core.state_machines import check_edge
from core.statuses import TicketStatus

VALID, CANCELLED = TicketStatus.VALID, TicketStatus.CANCELLED

TRANSITIONS: dict[TicketStatus, dict[TicketStatus, str]] = {
    VALID: {CANCELLED: "void_tickets"},
    CANCELLED: {},
}


def transition(ticket: Ticket, target: TicketStatus) -> None:
    """Move one ticket to `target`, or refuse before anything is written."""
    check_edge(TRANSITIONS, "ticket", ticket.status, target)
    ticket.status = target


def issue_ticket(**fields) -> Ticket:
    """A new `valid` ticket."""
    return Ticket(status=VALID, **fields)


def void_tickets(uow: UnitOfWork, ticket_ids: list[uuid.UUID]) -> None:
    """Bulk `valid` → `cancelled` for these tickets (given back from a booking that stays confirmed)."""
    _void_where(uow, Ticket.id.in_(ticket_ids))


def void_tickets_of_bookings(uow: UnitOfWork, booking_ids: list[uuid.UUID]) -> None:
    """Bulk `valid` → `cancelled` for every ticket of bookings cancelled in this unit of work."""
    if booking_ids:
        _void_where(uow, Ticket.booking_id.in_(booking_ids))


def _void_where(uow: UnitOfWork, which) -> None:
    voidable = [status for status, following in TRANSITIONS.items() if CANCELLED in following]
    uow.session.execute(
        update(Ticket)
        .where(which, Ticket.status.in_(voidable))
        .values(status=CANCELLED)
        .execution_options(synchronize_session=False)
    )
