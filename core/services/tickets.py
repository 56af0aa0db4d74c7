"""Tickets: issued on confirmation (one per admitted person), rendered as PDF, checked in at the door.

Each ticket has an unguessable code and a QR payload signed with Ed25519, so a scanner can tell a
forged ticket without the database (the public key is published); the check-in itself is one
conditional UPDATE, so two scanners racing on one code admit it once. A ticket's status changes
only through `core.ticket_lifecycle`; every service here works in the caller's unit of work,
which the caller commits.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from functools import lru_cache

from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from core import runtime
from core.db import UnitOfWork
from core.errors import Conflict, Invalid, NotFound
from core.formatting import booking_reference
from core.inventory import lock_inventory
from core.models import Booking, Event, Ticket, TicketType, User, new_id, utcnow
from core.seating.assigned import booking_seats, move_to_seat, seat_tickets, seat_words, ticket_seats
from core.services import audit, follow_ups
from core.services.attendees import asked_of, checked_attendee
from core.services.audit import AuditAction
from core.services.events import get_event
from core.services.permissions import require_door_staff_of, require_organizer_of
from core.statuses import BookingStatus, TicketStatus
from core.ticket_lifecycle import issue_ticket
from core.ticket_pdf import TicketSheet, render_tickets_pdf
from core.ticket_signing import (
    InvalidTicketPayload,
    TicketClaims,
    TicketSigner,
    new_ticket_code,
    parse_code_or_payload,
)


@lru_cache(maxsize=4)
def _signer_for(signing_key: str, fallback_secret: str) -> TicketSigner:
    if not signing_key:
        # Development only: production refuses to start without TICKET_SIGNING_KEY.
        return TicketSigner.from_secret(fallback_secret)
    try:
        return TicketSigner.from_seed(base64.b64decode(signing_key, validate=True))
    except (binascii.Error, ValueError) as error:
        raise ValueError("TICKET_SIGNING_KEY must be 32 bytes, base64-encoded") from error


def ticket_signer() -> TicketSigner:
    settings = runtime.settings()
    return _signer_for(settings.ticket_signing_key, settings.jwt_secret_key)


# --- issuing ---------------------------------------------------------------------------------


def issue_tickets(uow: UnitOfWork, booking_ids: list[str]) -> list[uuid.UUID]:
    """Issue the tickets of confirmed bookings that have none yet; returns the bookings served.

    Safe to run twice, or twice at once: each booking is locked, and skipped if it already has
    its tickets or is no longer confirmed. The emails go once the caller commits.
    """
    signer = ticket_signer()
    issued = []
    bookings = uow.session.scalars(
        select(Booking)
        .where(
            Booking.id.in_([uuid.UUID(str(b)) for b in booking_ids]),
            Booking.status == BookingStatus.CONFIRMED,
        )
        .order_by(Booking.id)
        .with_for_update()
        .options(selectinload(Booking.user))
    ).all()
    has_tickets = set(
        uow.session.scalars(select(Ticket.booking_id).where(Ticket.booking_id.in_([b.id for b in bookings])))
    )
    now = utcnow()
    seated = []
    for booking in bookings:
        if booking.id in has_tickets:
            continue
        seats = booking_seats(uow, booking.id)
        tickets = _new_tickets(booking, signer, now, seats)
        uow.session.add_all(tickets)
        seated.extend(_seated(tickets, seats))
        issued.append(booking.id)
    uow.session.flush()
    seat_tickets(uow, seated)
    follow_ups.tickets_issued(uow, issued)
    return issued


def _new_tickets(booking: Booking, signer: TicketSigner, now: dt.datetime, seats: dict) -> list[Ticket]:
    """One ticket per admitted person, for the attendee the customer named for it, or else for
    the customer; a seated line's tickets take its seats in plan order (signed with them)."""
    tickets = []
    for line in booking.lines:
        named = line.attendees or []
        line_seats = seats.get(line.ticket_type_id, [])
        for index in range(line.quantity):
            attendee = named[index] if index < len(named) else {"name": booking.user.name}
            ticket_id = new_id()  # a row id in time order
            seat = line_seats[index] if index < len(line_seats) else None
            code, qr_payload = _signed_code(signer, booking.event_id, ticket_id, now, seat)
            tickets.append(
                issue_ticket(
                    id=ticket_id,
                    booking_id=booking.id,
                    event_id=booking.event_id,
                    ticket_type_id=line.ticket_type_id,
                    code=code,
                    qr_payload=qr_payload,
                    attendee_name=attendee["name"],
                    attendee_email=attendee.get("email"),
                    answers=attendee.get("answers") or {},
                    created_at=now,
                )  # fmt: skip
            )
    return tickets


def _seated(tickets: list[Ticket], seats: dict) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(ticket id, seat id) of the new tickets of seated lines, as `_new_tickets` paired them."""
    taken: dict[uuid.UUID, int] = {}
    pairs = []
    for ticket in tickets:
        line_seats = seats.get(ticket.ticket_type_id, [])
        index = taken.get(ticket.ticket_type_id, 0)
        if index < len(line_seats):
            pairs.append((ticket.id, line_seats[index]["id"]))
        taken[ticket.ticket_type_id] = index + 1
    return pairs


def _signed_code(
    signer: TicketSigner,
    event_id: uuid.UUID,
    ticket_id: uuid.UUID,
    now: dt.datetime,
    seat: dict | None = None,
) -> tuple[str, str]:
    """A new secret code for the ticket and its signed QR payload (with its seat, if any)."""
    code = new_ticket_code()
    claims = TicketClaims(code=code, event_id=str(event_id), ticket_id=str(ticket_id),
                          issued_at=int(now.timestamp()), seat=seat_words(seat))  # fmt: skip
    return code, signer.sign(claims)


# --- the customer's edits ----------------------------------------------------------------------


def edit_ticket(uow: UnitOfWork, actor: User, ticket_id: uuid.UUID, changes: dict) -> Ticket:
    """Change who a valid ticket is for (name, email, answers), by the booking's customer until
    the event starts. The ticket gets a new code and QR payload: the old ones no longer admit
    anyone (the door answers them like an unknown code). A `seat_id` moves the ticket instead
    (`move_ticket`), and only on its own."""
    if "seat_id" in changes:
        if len(changes) > 1:
            raise Invalid(
                "Move a ticket (seat_id) on its own, without other changes.", name="seat_move_alone"
            )
        return move_ticket(uow, actor, ticket_id, changes["seat_id"])
    if not changes:
        raise Invalid(
            "Say what to change: attendee_name, attendee_email or answers.", name="nothing_to_change"
        )
    ticket = uow.session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    booking = uow.session.get(Booking, ticket.booking_id) if ticket else None
    if booking is None or booking.user_id != actor.id:
        raise NotFound("No such ticket.")
    event = uow.session.get(Event, ticket.event_id)
    now = utcnow()
    if ticket.status != TicketStatus.VALID:
        raise Conflict("This ticket was cancelled.", name="ticket_cancelled")
    if ticket.checked_in_at is not None:
        raise Conflict("This ticket was already used at the door.", name="already_checked_in")
    if now >= event.starts_at:
        raise Conflict("The event has started: its tickets can no longer be changed.", name="event_started")
    attendee = checked_attendee(
        asked_of(event.questions, ticket.ticket_type_id),
        {
            "name": changes.get("attendee_name", ticket.attendee_name),
            "email": changes.get("attendee_email", ticket.attendee_email),
            "answers": changes.get("answers", ticket.answers),
        },
    )
    ticket.attendee_name, ticket.attendee_email, ticket.answers = (
        attendee["name"], attendee["email"], attendee["answers"],
    )  # fmt: skip
    ticket.code, ticket.qr_payload = _signed_code(ticket_signer(), event.id, ticket.id, now)
    return ticket


def move_ticket(uow: UnitOfWork, actor: User, ticket_id: uuid.UUID, seat_id: uuid.UUID) -> Ticket:
    """Move a valid ticket to a free seat of its type (the event's organizers), under the event's
    inventory lock like every seat change; the ticket is signed again with its new seat, so the
    old code and QR no longer admit anyone, as after a rename."""
    event_id = uow.session.scalar(select(Ticket.event_id).where(Ticket.id == ticket_id))
    if event_id is None:
        raise NotFound("No such ticket.")
    inventory = lock_inventory(uow, event_id)
    require_organizer_of(actor, inventory.event)
    ticket = uow.session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket.status != TicketStatus.VALID:
        raise Conflict("This ticket was cancelled.", name="ticket_cancelled")
    now = utcnow()
    seat = move_to_seat(uow, inventory, ticket, seat_id, now)
    ticket.code, ticket.qr_payload = _signed_code(ticket_signer(), event_id, ticket.id, now, seat)
    return ticket


def tickets_of_booking(uow: UnitOfWork, booking_id: uuid.UUID, ticket_ids: list[uuid.UUID]) -> list[Ticket]:
    """The booking's valid tickets among `ticket_ids`, locked (a scan and a refund never cross)."""
    return list(
        uow.session.scalars(
            select(Ticket)
            .where(
                Ticket.booking_id == booking_id,
                Ticket.id.in_(ticket_ids),
                Ticket.status == TicketStatus.VALID,
            )
            .order_by(Ticket.id)
            .with_for_update()
        )
    )


def valid_ticket_count(uow: UnitOfWork, booking_id: uuid.UUID) -> int:
    return uow.session.scalar(
        select(func.count()).where(Ticket.booking_id == booking_id, Ticket.status == TicketStatus.VALID)
    )


def confirmed_bookings_without_tickets(
    uow: UnitOfWork, older_than: dt.timedelta = dt.timedelta(minutes=1)
) -> list[str]:
    """Confirmed bookings whose ticket job was lost (the sweep issues them again)."""
    rows = uow.session.scalars(
        select(Booking.id)
        .where(Booking.status == BookingStatus.CONFIRMED, Booking.confirmed_at <= utcnow() - older_than)
        .where(~select(Ticket.id).where(Ticket.booking_id == Booking.id).exists())
        .limit(1000)
    )
    return [str(booking_id) for booking_id in rows]


# --- reading ---------------------------------------------------------------------------------


def booking_tickets(uow: UnitOfWork, booking_id: uuid.UUID) -> list[Ticket]:
    return list(
        uow.session.scalars(
            select(Ticket).where(Ticket.booking_id == booking_id).order_by(Ticket.created_at, Ticket.id)
        )
    )


def bookings_with_valid_tickets(uow: UnitOfWork, booking_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(
        uow.session.scalars(
            select(Ticket.booking_id)
            .where(Ticket.booking_id.in_(booking_ids), Ticket.status == TicketStatus.VALID)
            .distinct()
        )
    )


def ticket_view(ticket: Ticket, ticket_type_name: str, seat: dict | None = None) -> dict:
    """A ticket as its readers see it; `seat` (`core.seating.assigned.ticket_seats`) for a
    reserved seat."""
    return {
        "id": ticket.id,
        "code": ticket.code,
        "qr_payload": ticket.qr_payload,
        "ticket_type_id": ticket.ticket_type_id,
        "ticket_type": ticket_type_name,
        "attendee_name": ticket.attendee_name,
        "attendee_email": ticket.attendee_email,
        "answers": ticket.answers,
        "status": ticket.status,
        "checked_in_at": ticket.checked_in_at,
        "seat": {key: seat[key] for key in ("section", "row", "label")} if seat else None,
    }


def ticket_views(uow: UnitOfWork, tickets: list[Ticket]) -> list[dict]:
    """Views of one event's tickets, with their type names and seats read once for all."""
    if not tickets:
        return []
    names = ticket_type_names(uow, tickets[0].event_id)
    seats = ticket_seats(uow, [ticket.id for ticket in tickets])
    return [ticket_view(ticket, names[ticket.ticket_type_id], seats.get(ticket.id)) for ticket in tickets]


def ticket_type_names(uow: UnitOfWork, event_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return dict(
        uow.session.execute(
            select(TicketType.id, TicketType.name).where(TicketType.event_id == event_id)
        ).all()
    )


def booking_pdf(uow: UnitOfWork, booking: Booking) -> bytes:
    """The booking's valid tickets as one PDF, one page each."""
    event = uow.session.get(Event, booking.event_id)
    names = ticket_type_names(uow, event.id)
    prices = {line.ticket_type_id: line.unit_price for line in booking.lines}
    valid = [ticket for ticket in booking_tickets(uow, booking.id) if ticket.status == TicketStatus.VALID]
    seats = ticket_seats(uow, [ticket.id for ticket in valid])
    sheets = [
        TicketSheet(
            event_title=event.title,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            timezone=event.timezone,
            venue=event.venue,
            address=event.address,
            attendee_name=ticket.attendee_name,
            ticket_type=names[ticket.ticket_type_id],
            price_minor=prices[ticket.ticket_type_id],
            currency=booking.currency,
            booking_reference=booking_reference(booking.id),
            code=ticket.code,
            qr_payload=ticket.qr_payload,
            seat=seats.get(ticket.id),
        )  # fmt: skip
        for ticket in valid
    ]
    if not sheets:
        raise NotFound("This booking has no valid tickets.", name="no_tickets")
    return render_tickets_pdf(sheets)


# --- the door --------------------------------------------------------------------------------


def check_in(uow: UnitOfWork, actor: User, event_id: uuid.UUID, code_or_payload: str) -> dict:
    """Admit the holder of a ticket once; a second scan is a 409 that says when and by whom."""
    event = get_event(uow, event_id)
    require_door_staff_of(actor, event)
    try:
        code = parse_code_or_payload(code_or_payload, ticket_signer().public_key)
    except InvalidTicketPayload as error:
        raise Invalid(f"This is not a valid ticket: {error}", name="invalid_ticket") from None
    now = utcnow()
    admitted = uow.session.scalar(
        update(Ticket)
        .where(
            Ticket.code == code,
            Ticket.event_id == event_id,
            Ticket.status == TicketStatus.VALID,
            Ticket.checked_in_at.is_(None),
        )
        .values(checked_in_at=now, checked_in_by=actor.id)
        .returning(Ticket.id)
    )
    if admitted is not None:
        audit.record(uow, actor, AuditAction.TICKET_CHECK_IN, "ticket", admitted, event.organization_id,
                     {"code": code, "event_id": event_id})  # fmt: skip
    # Another event's ticket is answered like an unknown code: the door learns nothing more.
    ticket = uow.session.scalar(select(Ticket).where(Ticket.code == code, Ticket.event_id == event_id))
    if ticket is None:
        raise NotFound("This event has no ticket with this code.", name="unknown_ticket")
    if admitted is None:
        _refuse(uow, ticket)
    return {**ticket_views(uow, [ticket])[0], "checked_in_by": actor.id}


def _refuse(uow: UnitOfWork, ticket: Ticket) -> None:
    if ticket.status != TicketStatus.VALID:
        raise Invalid("This ticket was cancelled.", name="ticket_cancelled")
    by = uow.session.get(User, ticket.checked_in_by)
    raise Conflict(
        f"Already checked in at {ticket.checked_in_at.isoformat()}.",
        name="already_checked_in",
        details={"checked_in_at": ticket.checked_in_at.isoformat(), "checked_in_by": by.name if by else None},
    )


def checked_in_count(uow: UnitOfWork, event_id: uuid.UUID) -> int:
    return uow.session.scalar(
        select(func.count()).where(Ticket.event_id == event_id, Ticket.checked_in_at.is_not(None))
    )


def issued_count(uow: UnitOfWork, event_id: uuid.UUID) -> int:
    return uow.session.scalar(
        select(func.count()).where(Ticket.event_id == event_id, Ticket.status == TicketStatus.VALID)
    )
