"""The back office: what organizers, staff and admins list, search and export about what they own.

Every list here is a query narrowed first by what the reader may see (one event, one
organization) and only then by the reader's filters, so no filter, search or export can reach
another organization's rows. An export walks the same query in keyset order, a batch at a time
in a unit of work of its own, so it streams in flat memory however many rows the event has.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Select, exists, func, or_, select, tuple_
from sqlalchemy.orm import selectinload

from core import runtime
from core.csv_export import csv_chunks
from core.db import UnitOfWork
from core.errors import NotFound
from core.formatting import booking_reference, booking_reference_sql
from core.models import (
    AuditEntry,
    Booking,
    BookingLine,
    Event,
    Organization,
    Payment,
    Ticket,
    TicketType,
    User,
)
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

EXPORT_BATCH = 1000


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column, text: str):
    return func.lower(column).like(f"%{escape_like(text.lower())}%", escape="\\")


def _keyset_batches(
    uow: UnitOfWork, query: Select, order: tuple, key: Callable, descending: bool, entities: bool
) -> Iterator[list]:
    """The rows of `query` (ordered by the columns `order`), a batch at a time: each batch
    starts after the last row of the one before, so no batch costs more than the first."""
    after = None
    while True:
        page = query
        if after is not None:
            position = tuple_(*order)
            page = page.where(position < tuple_(*after) if descending else position > tuple_(*after))
        result = uow.session.execute(page.limit(EXPORT_BATCH))
        rows = result.scalars().all() if entities else result.all()
        if not rows:
            return
        yield rows
        after = key(rows[-1])
        # Forget the batch: the identity map would otherwise hold every row exported so far.
        uow.session.expunge_all()


def _export_uow() -> UnitOfWork:
    """An export's own unit of work: the request's has ended by the time a streamed body is sent."""
    return runtime.database().unit_of_work()


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


def event_bookings_query(event_id: uuid.UUID, filters: BookingFilters) -> Select:
    """The event's bookings (`created_at` is when the customer asked), filtered and sorted."""
    # Only the filters touch other tables, as semi-joins: counting the list or skipping to a deep
    # page then reads the (event_id, requested_at, id) index and nothing else.
    query = (
        select(Booking)
        .where(Booking.event_id == event_id)
        .options(selectinload(Booking.user), selectinload(Booking.lines))
    )
    if filters.statuses:
        query = query.where(Booking.status.in_(filters.statuses))
    if filters.ticket_type_id:
        query = query.where(
            exists().where(
                BookingLine.booking_id == Booking.id, BookingLine.ticket_type_id == filters.ticket_type_id
            )
        )
    if filters.q:
        query = query.where(
            or_(
                Booking.user_id.in_(
                    select(User.id).where(
                        or_(_contains(User.name, filters.q), _contains(User.email, filters.q))
                    )
                ),
                booking_reference_sql(Booking.id) == filters.q.strip().upper(),
            )
        )
    if filters.created_after:
        query = query.where(Booking.requested_at >= filters.created_after)
    if filters.created_before:
        query = query.where(Booking.requested_at < filters.created_before)
    if filters.newest_first:
        return query.order_by(Booking.requested_at.desc(), Booking.id.desc())
    return query.order_by(Booking.requested_at, Booking.id)


def latest_payment_statuses(uow: UnitOfWork, booking_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = uow.session.execute(
        select(Payment.booking_id, Payment.status)
        .where(Payment.booking_id.in_(booking_ids))
        .order_by(Payment.booking_id, Payment.created_at)
    )
    return dict(rows.all())  # the latest payment of each booking is the last one written


def booking_rows(uow: UnitOfWork, bookings: list[Booking]) -> list[dict]:
    """A page of bookings as the back office shows them, with each one's payment status."""
    statuses = latest_payment_statuses(uow, [booking.id for booking in bookings])
    return [booking_row(booking, statuses.get(booking.id)) for booking in bookings]


def booking_row(booking: Booking, payment_status: str | None) -> dict:
    return {
        "id": booking.id,
        "reference": booking_reference(booking.id),
        "customer": {"id": booking.user.id, "name": booking.user.name, "email": booking.user.email},
        "status": booking.status,
        "reason": booking.reason,
        "items": [
            {"ticket_type_id": line.ticket_type_id, "quantity": line.quantity, "unit_price": line.unit_price}
            for line in booking.lines
        ],
        "total": booking.total,
        "currency": booking.currency,
        "created_at": booking.requested_at,
        "decided_at": booking.decided_at,
        "hold_expires_at": booking.hold_expires_at,
        "payment_status": payment_status,
    }


BOOKINGS_CSV_HEADER = (
    "id", "reference", "customer_id", "customer_name", "customer_email", "status", "reason", "items",
    "total", "currency", "created_at", "decided_at", "hold_expires_at", "payment_status",
)  # fmt: skip


def export_event_bookings(
    uow: UnitOfWork, actor: User, event_id: uuid.UUID, filters: BookingFilters
) -> Iterator[bytes]:
    """Every booking the filters select, as CSV chunks (the reader is checked before streaming)."""
    event = organizers_event(uow, actor, event_id)
    names = {tt.id: tt.name for tt in event.ticket_types}
    query = event_bookings_query(event_id, filters)

    def batches():
        with _export_uow() as export:
            for bookings in _keyset_batches(
                export, query, (Booking.requested_at, Booking.id), lambda b: (b.requested_at, b.id),
                filters.newest_first, entities=True,
            ):  # fmt: skip
                statuses = latest_payment_statuses(export, [booking.id for booking in bookings])
                yield [_booking_csv_row(booking, statuses.get(booking.id), names) for booking in bookings]

    return csv_chunks(BOOKINGS_CSV_HEADER, batches())


def _booking_csv_row(booking: Booking, payment_status: str | None, names: dict) -> list:
    row = booking_row(booking, payment_status)
    items = "; ".join(f"{line.quantity} x {names[line.ticket_type_id]}" for line in booking.lines)
    customer = row.pop("customer")
    return [
        row["id"], row["reference"], customer["id"], customer["name"], customer["email"], row["status"],
        row["reason"], items, row["total"], row["currency"], row["created_at"], row["decided_at"],
        row["hold_expires_at"], row["payment_status"],
    ]  # fmt: skip


# --- an event's attendees (one row per ticket) ------------------------------------------------


@dataclass(frozen=True)
class AttendeeFilters:
    checked_in: bool | None = None
    ticket_type_id: uuid.UUID | None = None
    q: str | None = None


def event_attendees_query(event_id: uuid.UUID, filters: AttendeeFilters) -> Select:
    """The event's tickets with their holder and type, in the order of a door list (by name)."""
    # The holder's email and the type's name are looked up per row shown, not joined: counting the
    # list or skipping to a deep page then reads the (event_id, attendee_name, id) index alone.
    email = (
        select(User.email).join(Booking, Booking.user_id == User.id).where(Booking.id == Ticket.booking_id)
    ).scalar_subquery()
    type_name = select(TicketType.name).where(TicketType.id == Ticket.ticket_type_id).scalar_subquery()
    query = (
        select(Ticket, email.label("attendee_email"), type_name.label("ticket_type"))
        .where(Ticket.event_id == event_id)
        .order_by(Ticket.attendee_name, Ticket.id)
    )
    if filters.checked_in is not None:
        checked = Ticket.checked_in_at.is_not(None)
        query = query.where(checked if filters.checked_in else ~checked)
    if filters.ticket_type_id:
        query = query.where(Ticket.ticket_type_id == filters.ticket_type_id)
    if filters.q:
        text = filters.q.strip()
        query = query.where(
            or_(
                _contains(Ticket.attendee_name, text),
                Ticket.booking_id.in_(
                    select(Booking.id)
                    .join(User, User.id == Booking.user_id)
                    .where(Booking.event_id == event_id, _contains(User.email, text))
                ),
                Ticket.code == text.upper().replace("-", ""),
                booking_reference_sql(Ticket.booking_id) == text.upper(),
            )
        )
    return query


def attendee_row(ticket: Ticket, email: str, ticket_type: str) -> dict:
    return {
        "ticket_id": ticket.id,
        "code": ticket.code,
        "attendee_name": ticket.attendee_name,
        "attendee_email": email,
        "ticket_type": ticket_type,
        "booking_id": ticket.booking_id,
        "booking_reference": booking_reference(ticket.booking_id),
        "status": ticket.status,
        "checked_in_at": ticket.checked_in_at,
        "checked_in_by": ticket.checked_in_by,
    }


ATTENDEES_CSV_HEADER = (
    "ticket_id", "code", "attendee_name", "attendee_email", "ticket_type", "booking_id",
    "booking_reference", "status", "checked_in_at", "checked_in_by",
)  # fmt: skip


def export_event_attendees(
    uow: UnitOfWork, actor: User, event_id: uuid.UUID, filters: AttendeeFilters
) -> Iterator[bytes]:
    """Every ticket the filters select, as CSV chunks (the reader is checked before streaming)."""
    door_staffs_event(uow, actor, event_id)
    query = event_attendees_query(event_id, filters)

    def batches():
        with _export_uow() as export:
            for rows in _keyset_batches(
                export, query, (Ticket.attendee_name, Ticket.id),
                lambda row: (row[0].attendee_name, row[0].id), False, entities=False,
            ):  # fmt: skip
                yield [list(attendee_row(*row).values()) for row in rows]

    return csv_chunks(ATTENDEES_CSV_HEADER, batches())


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
    query = select(User).order_by(User.email)
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


def export_audit_log(uow: UnitOfWork, actor: User, organization_id: uuid.UUID, filters) -> Iterator[bytes]:
    query = organization_audit_log(uow, actor, organization_id, filters)

    def batches():
        with _export_uow() as export:
            yield from _keyset_batches(
                export, query, (AuditEntry.at, AuditEntry.id), lambda e: (e.at, e.id), True, entities=True
            )

    return audit.export_chunks(batches())
