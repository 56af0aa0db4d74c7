"""The back office: what organizers, staff and admins list, search and export about what they own.

Every list here is a query narrowed first by what the reader may see (one event, one
organization) and only then by the reader's filters, so no filter, search or export can reach
another organization's rows.

A page is found by ids first (the count and the OFFSET walk one index and nothing else), then
only its rows are read with their customer, lines or ticket type. An export is one statement
read through a server-side cursor in a unit of work of its own, as plain rows a batch at a time
(no ORM objects), so it streams in flat memory, in one snapshot, however many rows the event has.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, func, or_, select, union_all
from sqlalchemy.orm import selectinload

from core.csv_export import csv_chunks
from core.db import Database, UnitOfWork
from core.errors import NotFound
from core.formatting import booking_reference, booking_reference_sql
from core.lifecycle import shown_hold
from core.models import (
    Booking,
    BookingLine,
    Event,
    Organization,
    Payment,
    Seat,
    SeatAssignment,
    Ticket,
    TicketType,
    User,
    utcnow,
)
from core.seating.assigned import seat_words
from core.services import audit
from core.services.accounts import require_admin
from core.services.events import get_event
from core.services.permissions import (
    ORGANIZERS,
    ORGANIZERS_AND_STAFF,
    require_door_staff_of,
    require_member_of_organization,
    require_organizer_of,
)
from core.statuses import Role

EXPORT_BATCH = 1000


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column, text: str):
    # ILIKE, not lower() LIKE: PostgreSQL's trigram indexes (migration 0006) serve it.
    return column.ilike(f"%{escape_like(text)}%", escape="\\")


def _streamed(uow: UnitOfWork, query: Select, entities: bool = False) -> Iterator[Sequence]:
    """The rows of `query` (or its first column's objects), EXPORT_BATCH at a time, from one
    server-side cursor: one statement and one snapshot, and only a batch in memory at once."""
    result = uow.session.execute(query.execution_options(yield_per=EXPORT_BATCH))
    yield from (result.scalars() if entities else result).partitions()


# --- who may read ------------------------------------------------------------------------------


def organizers_event(uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> Event:
    event = get_event(uow, event_id)
    require_organizer_of(actor, event)
    return event


def door_staffs_event(uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> Event:
    event = get_event(uow, event_id)
    require_door_staff_of(actor, event)
    return event


def members_organization(
    uow: UnitOfWork, actor: User, organization_id: uuid.UUID, roles=ORGANIZERS_AND_STAFF
):
    organization = uow.session.get(Organization, organization_id)
    if organization is None:
        raise NotFound("No such organization.")
    require_member_of_organization(actor, organization_id, roles)
    return organization


# --- an event's bookings ----------------------------------------------------------------------


@dataclass(frozen=True)
class BookingFilters:
    statuses: tuple[str, ...] = ()
    ticket_type_id: uuid.UUID | None = None
    q: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    newest_first: bool = True


def _found(matches) -> Select:
    """The ids a search matched, as a set the list is filtered by."""
    # OFFSET 0 keeps PostgreSQL from turning the IN into a join: it then finds the matches once
    # (a hashed SubPlan) and filters the walk of the list's index by them, rather than looking up
    # each entry of the walk in the bookings and customers until a page is full (a random read
    # per entry: a second for a page when those tables are out of the cache).
    return select(matches.subquery()).offset(0)


REFERENCE = re.compile(r"[0-9A-F]{10}")


def _matching_bookings(event_id: uuid.UUID, q: str, by_name: bool) -> Select:
    """The ids of the event's bookings whose customer's email (and name, `by_name`) contains `q`,
    or whose reference is `q`."""
    # Each way of matching is a query of its own, joined by UNION rather than OR: PostgreSQL then
    # finds the customers by the trigram indexes and their bookings by (user_id, event_id), instead
    # of testing every booking of the event against every condition.
    found = [_contains(User.email, q), _contains(User.name, q)] if by_name else [_contains(User.email, q)]
    customers = select(User.id).where(or_(*found))
    matches = select(Booking.id).where(Booking.event_id == event_id, Booking.user_id.in_(customers))
    reference = q.strip().upper()
    if not REFERENCE.fullmatch(reference):
        return matches  # no reference (ten hex digits) could be equal to it: skip reading them all
    by_reference = select(Booking.id).where(
        Booking.event_id == event_id, booking_reference_sql(Booking.id) == reference
    )
    return union_all(matches, by_reference)


def _event_bookings(query: Select, event_id: uuid.UUID, filters: BookingFilters) -> Select:
    """`query` narrowed to the event's bookings the filters select, in their order."""
    # The filters touch other tables only as semi-joins, so counting the list or skipping to a
    # deep page reads the (event_id, requested_at, id) index and nothing else.
    query = query.where(Booking.event_id == event_id)
    if filters.statuses:
        query = query.where(Booking.status.in_(filters.statuses))
    if filters.ticket_type_id:
        query = query.where(
            exists().where(
                BookingLine.booking_id == Booking.id, BookingLine.ticket_type_id == filters.ticket_type_id
            )
        )
    if filters.q:
        query = query.where(Booking.id.in_(_found(_matching_bookings(event_id, filters.q, by_name=True))))
    if filters.created_after:
        query = query.where(Booking.requested_at >= filters.created_after)
    if filters.created_before:
        query = query.where(Booking.requested_at < filters.created_before)
    if filters.newest_first:
        return query.order_by(Booking.requested_at.desc(), Booking.id.desc())
    return query.order_by(Booking.requested_at, Booking.id)


def event_bookings_query(event_id: uuid.UUID, filters: BookingFilters) -> Select:
    """The ids of the event's bookings (`created_at` is when the customer asked), filtered and
    sorted: a page of them is then read by `bookings_page`."""
    return _event_bookings(select(Booking.id), event_id, filters)


def bookings_page(uow: UnitOfWork, booking_ids: list[uuid.UUID]) -> list[dict]:
    """The bookings of a page of ids, in that order, as the back office shows them."""
    bookings = uow.session.scalars(
        select(Booking).where(Booking.id.in_(booking_ids)).options(selectinload(Booking.user))
    ).all()
    by_id = {booking.id: booking for booking in bookings}
    return booking_rows(uow, [by_id[booking_id] for booking_id in booking_ids])


def latest_payment_statuses(uow: UnitOfWork, booking_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = uow.session.execute(
        select(Payment.booking_id, Payment.status)
        .where(Payment.booking_id.in_(booking_ids))
        .order_by(Payment.booking_id, Payment.created_at)
    )
    return dict(rows.all())  # the latest payment of each booking is the last one written


def booking_rows(uow: UnitOfWork, bookings: list[Booking]) -> list[dict]:
    """Bookings as the back office shows them, with each one's payment status."""
    statuses = latest_payment_statuses(uow, [booking.id for booking in bookings])
    return [booking_row(booking, statuses.get(booking.id)) for booking in bookings]


def booking_row(booking: Booking, payment_status: str | None) -> dict:
    status, hold_expires_at = shown_hold(booking.status, booking.hold_expires_at, utcnow())
    return {
        "id": booking.id,
        "reference": booking_reference(booking.id),
        "customer": {"id": booking.user.id, "name": booking.user.name, "email": booking.user.email},
        "status": status,
        "reason": booking.reason,
        "items": [
            {"ticket_type_id": line.ticket_type_id, "quantity": line.quantity, "unit_price": line.unit_price}
            for line in booking.lines
        ],
        "total": booking.total,
        "currency": booking.currency,
        "created_at": booking.requested_at,
        "decided_at": booking.decided_at,
        "hold_expires_at": hold_expires_at,
        "payment_status": payment_status,
    }


BOOKINGS_CSV_HEADER = (
    "id", "reference", "customer_id", "customer_name", "customer_email", "status", "reason", "items",
    "total", "currency", "created_at", "decided_at", "hold_expires_at", "payment_status",
)  # fmt: skip


def event_bookings_export_query(event_id: uuid.UUID, filters: BookingFilters) -> Select:
    """The columns of the bookings CSV but the lines and the payment status (read per batch)."""
    columns = select(
        Booking.id, User.id, User.name, User.email, Booking.status, Booking.reason, Booking.total,
        Booking.currency, Booking.requested_at, Booking.decided_at, Booking.hold_expires_at,
    ).join(User, User.id == Booking.user_id)  # fmt: skip
    return _event_bookings(columns, event_id, filters)


def export_event_bookings(
    db: Database, uow: UnitOfWork, actor: User, event_id: uuid.UUID, filters: BookingFilters
) -> Iterator[bytes]:
    """Every booking the filters select, as CSV chunks: the reader is checked in `uow`, the rows
    streamed from a unit of work of its own on `db` (the request's has ended by the time a
    streamed body is sent; nothing is written)."""
    event = organizers_event(uow, actor, event_id)
    names = {tt.id: tt.name for tt in event.ticket_types}
    query = event_bookings_export_query(event_id, filters)

    def batches():
        with db.unit_of_work() as export:
            for rows in _streamed(export, query):
                ids = [row[0] for row in rows]
                statuses = latest_payment_statuses(export, ids)
                items = _items_text(export, ids, names)
                yield [_booking_csv_row(row, items.get(row[0], ""), statuses.get(row[0])) for row in rows]

    return csv_chunks(BOOKINGS_CSV_HEADER, batches())


def _items_text(uow: UnitOfWork, booking_ids: Sequence[uuid.UUID], names: dict) -> dict[uuid.UUID, str]:
    """Each booking's lines as `2 x Standard; 1 x VIP`."""
    lines = uow.session.execute(
        select(BookingLine.booking_id, BookingLine.quantity, BookingLine.ticket_type_id)
        .where(BookingLine.booking_id.in_(booking_ids))
        .order_by(BookingLine.booking_id, BookingLine.ticket_type_id)
    )
    items: dict[uuid.UUID, list[str]] = {}
    for booking_id, quantity, ticket_type_id in lines:
        items.setdefault(booking_id, []).append(f"{quantity} x {names[ticket_type_id]}")
    return {booking_id: "; ".join(texts) for booking_id, texts in items.items()}


def _booking_csv_row(row: Sequence, items: str, payment_status: str | None) -> list:
    booking_id, customer_id, name, email, status, reason, total, currency, created, decided, expires = row
    status, expires = shown_hold(status, expires, utcnow())
    return [
        booking_id, booking_reference(booking_id), customer_id, name, email, status, reason, items, total,
        currency, created, decided, expires, payment_status,
    ]  # fmt: skip


# --- an event's attendees (one row per ticket) ------------------------------------------------


@dataclass(frozen=True)
class AttendeeFilters:
    checked_in: bool | None = None
    ticket_type_id: uuid.UUID | None = None
    q: str | None = None


def _event_attendees(query: Select, event_id: uuid.UUID, filters: AttendeeFilters) -> Select:
    """`query` narrowed to the event's tickets the filters select, in the order of a door list."""
    query = query.where(Ticket.event_id == event_id).order_by(Ticket.attendee_name, Ticket.id)
    if filters.checked_in is not None:
        checked = Ticket.checked_in_at.is_not(None)
        query = query.where(checked if filters.checked_in else ~checked)
    if filters.ticket_type_id:
        query = query.where(Ticket.ticket_type_id == filters.ticket_type_id)
    if filters.q:
        text = filters.q.strip()
        of_event = select(Ticket.id).where(Ticket.event_id == event_id)
        matches = union_all(
            of_event.where(_contains(Ticket.attendee_name, text)),
            of_event.where(_contains(Ticket.attendee_email, text)),
            of_event.where(Ticket.code == text.upper().replace("-", "")),
            of_event.where(Ticket.booking_id.in_(_matching_bookings(event_id, text, by_name=False))),
        )
        query = query.where(Ticket.id.in_(_found(matches)))
    return query


def event_attendees_query(event_id: uuid.UUID, filters: AttendeeFilters) -> Select:
    """The ids of the event's tickets, by attendee name: counting them or skipping to a deep page
    reads the (event_id, attendee_name, id) index alone; `attendees_page` reads a page's rows."""
    return _event_attendees(select(Ticket.id), event_id, filters)


def _attendee_columns() -> Select:
    """A ticket with its attendee's email (the customer's, for a ticket with nobody else named on
    it) and its type's name: the columns of `attendee_row`."""
    return (
        select(
            Ticket.id,
            Ticket.code,
            Ticket.attendee_name,
            func.coalesce(Ticket.attendee_email, User.email),
            TicketType.name,
            Ticket.booking_id,
            Ticket.status,
            Ticket.checked_in_at,
            Ticket.checked_in_by,
            Ticket.answers,
            Seat.section,
            Seat.row,
            Seat.label,
        )  # fmt: skip
        .join(Booking, Booking.id == Ticket.booking_id)
        .join(User, User.id == Booking.user_id)
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
        # A reserved seat: the live assignment naming the ticket (`core.seating.assigned`).
        .outerjoin(
            SeatAssignment, and_(SeatAssignment.ticket_id == Ticket.id, SeatAssignment.released_at.is_(None))
        )
        .outerjoin(Seat, Seat.id == SeatAssignment.seat_id)
    )


def attendees_page(uow: UnitOfWork, ticket_ids: list[uuid.UUID]) -> list[dict]:
    """The attendees of a page of ticket ids, in the list's order."""
    query = _attendee_columns().where(Ticket.id.in_(ticket_ids)).order_by(Ticket.attendee_name, Ticket.id)
    return [attendee_row(row) for row in uow.session.execute(query)]


def attendee_row(row: Sequence) -> dict:
    (
        ticket_id,
        code,
        name,
        email,
        ticket_type,
        booking_id,
        status,
        checked_in_at,
        checked_in_by,
        answers,
        *seat,
    ) = row
    return {
        "ticket_id": ticket_id,
        "code": code,
        "attendee_name": name,
        "attendee_email": email,
        "ticket_type": ticket_type,
        "booking_id": booking_id,
        "booking_reference": booking_reference(booking_id),
        "status": status,
        "checked_in_at": checked_in_at,
        "checked_in_by": checked_in_by,
        # By question id; the CSV writes one column per question of the event.
        "answers": answers or {},
        # A reserved seat in words (`Stalls, Row B, Seat 2`); null for general admission.
        "seat": seat_words(dict(zip(("section", "row", "label"), seat, strict=True))) if seat[0] else None,
    }


# Then one column per question the event asks, headed by its label; a second header row, only
# when it asks any, gives each question column's id (labels may repeat, and change).
ATTENDEES_CSV_HEADER = (
    "ticket_id", "code", "attendee_name", "attendee_email", "ticket_type", "booking_id",
    "booking_reference", "status", "checked_in_at", "checked_in_by", "seat",
)  # fmt: skip


def event_attendees_export_query(event_id: uuid.UUID, filters: AttendeeFilters) -> Select:
    return _event_attendees(_attendee_columns(), event_id, filters)


def _attendee_csv_row(row: Sequence, question_ids: list[str]) -> list:
    values = attendee_row(row)
    answers = values.pop("answers")
    return [*values.values(), *(answers.get(question_id) for question_id in question_ids)]


def export_event_attendees(
    db: Database, uow: UnitOfWork, actor: User, event_id: uuid.UUID, filters: AttendeeFilters
) -> Iterator[bytes]:
    """Every ticket the filters select, as CSV chunks (the reader is checked in `uow`, the rows
    streamed from `db` as for `export_event_bookings`)."""
    questions = door_staffs_event(uow, actor, event_id).questions
    question_ids = [str(question.id) for question in questions]
    query = event_attendees_export_query(event_id, filters)

    def batches():
        with db.unit_of_work() as export:
            for rows in _streamed(export, query):
                yield [_attendee_csv_row(row, question_ids) for row in rows]

    header = [*ATTENDEES_CSV_HEADER, *(question.label for question in questions)]
    ids_row = [*("" for _ in ATTENDEES_CSV_HEADER), *question_ids]
    return csv_chunks(header, batches(), more_header=[ids_row] if question_ids else [])


# --- an organization's events; organizations and users (admins) -----------------------------------


@dataclass(frozen=True)
class OrganizationEventFilters:
    status: str | None = None
    q: str | None = None
    starts_after: dt.datetime | None = None
    starts_before: dt.datetime | None = None


def organization_events_query(organization_id: uuid.UUID, filters: OrganizationEventFilters) -> Select:
    """Every event of the organization, drafts and cancelled ones included, soonest first."""
    query = (
        select(Event)
        .where(Event.organization_id == organization_id)
        .options(selectinload(Event.ticket_types))
        .order_by(Event.starts_at, Event.id)
    )
    if filters.status:
        query = query.where(Event.status == filters.status)
    if filters.q:
        query = query.where(or_(_contains(Event.title, filters.q), _contains(Event.venue, filters.q)))
    if filters.starts_after:
        query = query.where(Event.starts_at >= filters.starts_after)
    if filters.starts_before:
        query = query.where(Event.starts_at < filters.starts_before)
    return query


def organizations_query(actor: User, q: str | None) -> Select:
    require_admin(actor)
    query = select(Organization).order_by(Organization.name, Organization.id)
    if q:
        query = query.where(or_(_contains(Organization.name, q), _contains(Organization.contact_email, q)))
    return query


def users_query(actor: User, q: str | None, role: str | None, organization_id: uuid.UUID | None) -> Select:
    require_admin(actor)
    query = select(User).where(User.role != Role.GUEST).order_by(User.email)  # accounts, not guests
    if q:
        query = query.where(or_(_contains(User.name, q), _contains(User.email, q)))
    if role:
        query = query.where(User.role == role)
    if organization_id:
        query = query.where(User.organization_id == organization_id)
    return query


# --- the audit log --------------------------------------------------------------------------------


def organization_audit_log(uow: UnitOfWork, actor: User, organization_id: uuid.UUID, filters) -> Select:
    """The organization's audit log, for its organizers and admins."""
    members_organization(uow, actor, organization_id, ORGANIZERS)
    return audit.organization_log_query(organization_id, filters)


def export_audit_log(
    db: Database, uow: UnitOfWork, actor: User, organization_id: uuid.UUID, filters
) -> Iterator[bytes]:
    """The log entries the filters select, as CSV chunks (checked in `uow`, streamed from `db`)."""
    query = organization_audit_log(uow, actor, organization_id, filters)

    def batches():
        with db.unit_of_work() as export:
            yield from _streamed(export, query, entities=True)

    return audit.export_chunks(batches())
