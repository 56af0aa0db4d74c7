"""Events and their ticket types: create, edit with optimistic locking, publish, search.

Each change works in the caller's unit of work, which the caller commits (the snapshot of the
event that booking reads is dropped once it does). An event's status changes only through
`core.event_lifecycle`; what its cancellation does to its bookings is
`core.services.event_cancellation`'s.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from core import event_lifecycle
from core.booking_rules import unlocks, voucher_usable
from core.db import UnitOfWork
from core.errors import Conflict, Invalid, InvalidVoucher, NotFound, PreconditionFailed
from core.event_snapshots import forget_event_snapshot
from core.event_times import check_event_times
from core.inventory import Inventory, event_free, event_free_sql, lock_inventory, ticket_type_free
from core.models import Event, Organization, Seat, TicketType, User, Voucher, utcnow
from core.pricing import current_price, discounted_price
from core.services import audit, follow_ups, waiting_room
from core.services.audit import AuditAction
from core.services.permissions import is_organizer_of, require_organizer, require_organizer_of
from core.services.waitlist import promote_waitlist
from core.statuses import EventStatus

EVENT_FIELDS = (
    "title", "description", "category", "venue", "address", "latitude", "longitude",
    "starts_at", "ends_at", "timezone", "sales_start", "sales_end", "waiting_room_opens_at", "hold_seconds",
    "max_per_booking", "max_per_user", "waitlist_enabled", "refund_until", "capacity",
)  # fmt: skip
TICKET_TYPE_FIELDS = ("name", "price", "currency", "quota", "surge_price", "surge_threshold", "hidden",
                      "sales_start", "sales_end", "min_per_booking", "seated")  # fmt: skip
KM_PER_DEGREE = 111.32
# The most one booking may cost, in minor units (10 million in a currency with cents): the
# price of a ticket type (or its surge price) times the event's `max_per_booking` may not exceed
# it, so a total always fits the 64-bit money columns with room to spare.
MAX_BOOKING_TOTAL = 10**9


def _scalar_defaults(model) -> dict:
    """The model's plain column defaults, which SQLAlchemy would only apply at INSERT time;
    rules are checked before that, on the object as it will be stored."""
    return {
        column.key: column.default.arg
        for column in model.__table__.columns
        if column.default is not None and column.default.is_scalar
    }


EVENT_DEFAULTS = _scalar_defaults(Event)
TICKET_TYPE_DEFAULTS = _scalar_defaults(TicketType)


def get_event(uow: UnitOfWork, event_id: uuid.UUID) -> Event:
    event = uow.session.get(Event, event_id, options=[selectinload(Event.ticket_types)])
    if event is None:
        raise NotFound("No such event.")
    return event


def get_event_for_organizers(uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> Event:
    """The event, for its organizers and admins only (its payments, refunds, waitlist, figures)."""
    event = get_event(uow, event_id)
    require_organizer_of(actor, event)
    return event


def get_visible_event(uow: UnitOfWork, event_id: uuid.UUID, actor: User | None) -> Event:
    """Published and cancelled events are public; a draft is visible to its organizers only."""
    event = get_event(uow, event_id)
    if event.status == EventStatus.DRAFT and not is_organizer_of(actor, event):
        raise NotFound("No such event.")
    return event


def create_event(uow: UnitOfWork, actor: User, data: dict) -> Event:
    require_organizer(actor)
    organization_id = actor.organization_id or data.get("organization_id")
    if organization_id is None:
        raise Invalid("Say which organization the event belongs to.", name="organization_required")
    if uow.session.get(Organization, organization_id) is None:
        raise Invalid("There is no such organization.", name="unknown_organization")
    ticket_types = data.get("ticket_types") or []
    if not ticket_types:
        raise Invalid("An event needs at least one ticket type.", name="ticket_types_required")
    event = Event(
        organization_id=organization_id,
        **{**EVENT_DEFAULTS, **{k: data[k] for k in EVENT_FIELDS if k in data}},
    )
    _check_event_rules(event)
    check_event_times(data, event.timezone)
    for position, tt_data in enumerate(ticket_types):
        ticket_type = _new_ticket_type(tt_data, position)
        _check_ticket_type_rules(ticket_type)
        event.ticket_types.append(ticket_type)
    _check_ticket_types_together(event)
    uow.session.add(event)
    uow.session.flush()  # gives the event its id, for the audit entry
    waiting_room.prepare_room(uow, event)
    created = {name: getattr(event, name) for name in ("title", "starts_at", "ends_at", "capacity")}
    created["ticket_types"] = [tt.name for tt in event.ticket_types]
    _audit_event(uow, actor, AuditAction.EVENT_CREATE, event, created)
    return event


def update_event(
    uow: UnitOfWork, actor: User, event_id: uuid.UUID, changes: dict, expected_version: int
) -> Event:
    event = _lock_event_for_edit(uow, actor, event_id, expected_version).event
    # Refused before anything is set: a capacity below the counters would be flushed by the next
    # query (the ticket types' lazy load) and refused by the CHECK constraint as a 500.
    capacity = changes.get("capacity", event.capacity)
    if capacity is not None and capacity < event.held + event.sold:
        raise Conflict(
            f"Capacity cannot go below the {event.held + event.sold} tickets already held or sold.",
            name="capacity_below_allocated",
        )
    waiting_room.check_change(event, changes, utcnow())
    _audit_event(uow, actor, AuditAction.EVENT_UPDATE, event, audit.diff(event, changes, EVENT_FIELDS))
    for name in EVENT_FIELDS:
        if name in changes:
            setattr(event, name, changes[name])
    _check_event_rules(event)
    check_event_times(changes, event.timezone)
    _check_booking_total(event)
    waiting_room.prepare_room(uow, event)
    event.version += 1
    return event


def add_ticket_type(
    uow: UnitOfWork, actor: User, event_id: uuid.UUID, data: dict, expected_version: int
) -> Event:
    event = _lock_event_for_edit(uow, actor, event_id, expected_version).event
    ticket_type = _new_ticket_type(data, len(event.ticket_types))
    _check_ticket_type_rules(ticket_type)
    event.ticket_types.append(ticket_type)
    _check_ticket_types_together(event)
    event.version += 1
    uow.session.flush()  # gives the ticket type its id, for the audit entry
    audit.record(uow, actor, AuditAction.TICKET_TYPE_CREATE, "ticket_type", ticket_type.id,
                 event.organization_id, {"event_id": event.id, **_ticket_type_values(data)})  # fmt: skip
    return event


def update_ticket_type(
    uow: UnitOfWork,
    actor: User,
    event_id: uuid.UUID,
    ticket_type_id: uuid.UUID,
    changes: dict,
    expected_version: int,
) -> Event:
    """Edit a ticket type; its quota may not drop below what is already held or sold."""
    inventory = _lock_event_for_edit(uow, actor, event_id, expected_version)
    event = inventory.event
    ticket_type = next((tt for tt in event.ticket_types if tt.id == ticket_type_id), None)
    if ticket_type is None:
        raise NotFound("No such ticket type for this event.")
    if (
        "currency" in changes
        and changes["currency"].upper() != ticket_type.currency
        and ticket_type.held + ticket_type.sold
    ):
        raise Conflict("The currency cannot change once tickets are held or sold.", name="currency_locked")
    values = _ticket_type_values(changes)
    _check_seated_change(uow, ticket_type, values)
    audit.record(uow, actor, AuditAction.TICKET_TYPE_UPDATE, "ticket_type", ticket_type.id,
                 event.organization_id, {"event_id": event.id, **audit.diff(ticket_type, values, values)})  # fmt: skip
    for name, value in values.items():
        setattr(ticket_type, name, value)
    allocated = ticket_type.held + ticket_type.sold
    if ticket_type.quota < allocated:
        raise Conflict(
            f"The quota cannot go below the {allocated} tickets already held or sold.",
            name="quota_below_allocated",
        )
    _check_ticket_type_rules(ticket_type)
    _check_ticket_types_together(event)
    event.version += 1
    # A raised quota gives tickets back: the waitlist is served first, in order.
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, utcnow()))
    return event


def _new_ticket_type(data: dict, position: int) -> TicketType:
    ticket_type = TicketType(**{**TICKET_TYPE_DEFAULTS, "position": position, **_ticket_type_values(data)})
    if ticket_type.seated:
        ticket_type.quota = 0  # a seated type's quota is its seats: the plan sets it
    return ticket_type


def _check_seated_change(uow: UnitOfWork, ticket_type: TicketType, values: dict) -> None:
    """A seated type's quota is its seats in the plan (`core.seating.plans`): not edited by
    hand, and the type stays seated while it has seats or tickets out."""
    seated = values.get("seated", ticket_type.seated)
    if seated and "quota" in values and values["quota"] != ticket_type.quota:
        raise Invalid("A seated ticket type's quota is the number of its seats in the plan.",
                      name="quota_set_by_plan")  # fmt: skip
    if seated == ticket_type.seated:
        return
    if ticket_type.held + ticket_type.sold or uow.session.scalar(
        select(func.count()).select_from(Seat).where(Seat.ticket_type_id == ticket_type.id)
    ):
        raise Conflict("This ticket type has seats or tickets: whether it is seated cannot change now.",
                       name="seated_locked")  # fmt: skip
    values["quota"] = 0 if seated else ticket_type.quota


def publish_event(uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> Event:
    """On sale; publishing a published event changes nothing."""
    event = _lock_event(uow, event_id).event
    require_organizer_of(actor, event)
    if event.status == EventStatus.CANCELLED:
        raise Conflict("A cancelled event cannot be published.", name="event_cancelled")
    if event.status == EventStatus.DRAFT:
        event_lifecycle.publish(event, utcnow())
        _audit_event(uow, actor, AuditAction.EVENT_PUBLISH, event, {"status": ["draft", "published"]})
    return event


def unpublish_event(uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> Event:
    """Back to draft, allowed only while nobody holds or has bought a ticket."""
    event = _lock_event(uow, event_id).event
    require_organizer_of(actor, event)
    if event.status == EventStatus.CANCELLED:
        raise Conflict("A cancelled event cannot be unpublished.", name="event_cancelled")
    if event.status == EventStatus.PUBLISHED:
        event_lifecycle.unpublish(event)
        _audit_event(uow, actor, AuditAction.EVENT_UNPUBLISH, event, {"status": ["published", "draft"]})
    return event


def cancel_event(uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> Event:
    """Call the event off. Sales stop at once (queued requests are rejected `event_cancelled`
    by the drainer); a task then ends every open booking and refunds every payment
    (`core.services.event_cancellation`), once the caller commits.

    Cancelling again changes nothing but sends that task once more, which resumes it if it
    was interrupted.
    """
    event = _lock_event(uow, event_id).event
    require_organizer_of(actor, event)
    if event.status != EventStatus.CANCELLED:
        _audit_event(
            uow, actor, AuditAction.EVENT_CANCEL, event, {"status": [event.status, EventStatus.CANCELLED]}
        )
        event_lifecycle.cancel(event, utcnow())
    follow_ups.event_cancelled(uow, event.id)
    return event


def _audit_event(uow: UnitOfWork, actor: User, action: AuditAction, event: Event, changes: dict) -> None:
    audit.record(uow, actor, action, "event", event.id, event.organization_id, changes)


def _lock_event(uow: UnitOfWork, event_id: uuid.UUID) -> Inventory:
    """Lock the event and its inventory; the booking snapshot is dropped once the change commits."""
    inventory = lock_inventory(uow, event_id)
    uow.after_commit(lambda: forget_event_snapshot(event_id))
    return inventory


def _lock_event_for_edit(
    uow: UnitOfWork, actor: User, event_id: uuid.UUID, expected_version: int
) -> Inventory:
    inventory = _lock_event(uow, event_id)
    event = inventory.event
    require_organizer_of(actor, event)
    if event.version != expected_version:
        raise PreconditionFailed(
            "The event changed since you read it: fetch it again and reapply your change.",
            name="version_mismatch",
        )
    if event.status == EventStatus.CANCELLED:
        raise Conflict("A cancelled event cannot be edited.", name="event_cancelled")
    return inventory


def _ticket_type_values(data: dict) -> dict:
    values = {k: data[k] for k in TICKET_TYPE_FIELDS if k in data}
    if "currency" in values:
        values["currency"] = values["currency"].upper()
    return values


def _check_event_rules(event: Event) -> None:
    if event.ends_at <= event.starts_at:
        raise Invalid(
            "The event must end after it starts.",
            name="ends_before_start",
            details={"ends_at": ["must be after starts_at"]},
        )
    try:
        zoneinfo.ZoneInfo(event.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"Unknown time zone {event.timezone!r}.",
            name="unknown_timezone",
            details={"timezone": ["not an IANA time zone"]},
        ) from None
    if event.sales_start and event.sales_end and event.sales_end <= event.sales_start:
        raise Invalid(
            "Sales must end after they start.",
            name="sales_end_before_start",
            details={"sales_end": ["must be after sales_start"]},
        )
    waiting_room.check_opening_time(event)
    if event.sales_end and event.sales_end > event.ends_at:
        raise Invalid(
            "Sales cannot go on after the event ends.",
            name="sales_after_event",
            details={"sales_end": ["must not be after ends_at"]},
        )
    if (event.latitude is None) != (event.longitude is None):
        raise Invalid("Give both latitude and longitude, or neither.", name="incomplete_location")
    if event.max_per_user < event.max_per_booking:
        raise Invalid("max_per_user cannot be smaller than max_per_booking.", name="limits_inconsistent")


def _check_ticket_type_rules(ticket_type: TicketType) -> None:
    if (ticket_type.surge_price is None) != (ticket_type.surge_threshold is None):
        raise Invalid("Give both surge_price and surge_threshold, or neither.", name="incomplete_surge")
    if ticket_type.surge_threshold is not None and ticket_type.surge_threshold > ticket_type.quota:
        raise Invalid("surge_threshold cannot exceed the quota.", name="surge_threshold_too_high")
    if ticket_type.sales_start and ticket_type.sales_end and ticket_type.sales_end <= ticket_type.sales_start:
        raise Invalid("A ticket type's sales must end after they start.", name="sales_end_before_start",
                      details={"sales_end": ["must be after sales_start"]})  # fmt: skip


def _check_ticket_types_together(event: Event) -> None:
    names = [tt.name.strip().lower() for tt in event.ticket_types]
    if len(set(names)) != len(names):
        raise Invalid("Ticket type names must be unique within an event.", name="duplicate_ticket_type")
    if len({tt.currency for tt in event.ticket_types}) > 1:
        raise Invalid("All ticket types of an event must use one currency.", name="mixed_currencies")
    _check_booking_total(event)


def _check_booking_total(event: Event) -> None:
    highest = max((max(tt.price, tt.surge_price or 0) for tt in event.ticket_types), default=0)
    if highest * event.max_per_booking > MAX_BOOKING_TOTAL:
        raise Invalid(
            f"One booking may cost at most {MAX_BOOKING_TOTAL} in minor units: lower the price "
            "or max_per_booking.",
            name="booking_total_too_large",
            details={"max_per_booking": [f"times the highest price must not exceed {MAX_BOOKING_TOTAL}"]},
        )


# --- reading ---------------------------------------------------------------------------------


def event_availability(event: Event) -> int:
    """Tickets still free: the sum over ticket types, capped by the event's overall capacity."""
    return event_free(event, event.ticket_types)


@dataclass(frozen=True)
class PublicEvent:
    """An event as someone who is not its organizer sees it: without the hidden ticket types,
    except those the voucher they gave unlocks, whose prices are shown after its discount."""

    event: Event
    ticket_types: list[TicketType]
    voucher: Voucher | None = None

    def __getattr__(self, name):
        return getattr(self.event, name)


def public_event(event: Event, voucher: Voucher | None = None) -> PublicEvent:
    return PublicEvent(event, [tt for tt in event.ticket_types if unlocks(voucher, tt)], voucher)


def event_for(
    uow: UnitOfWork, event_id: uuid.UUID, actor: User | None, code: str | None = None
) -> Event | PublicEvent:
    """The event as `actor` may see it: whole for its organizers; for anyone else the public
    view, with what the voucher `code` unlocks (an unknown, unusable or used-up code is a
    422 `invalid_voucher`, all alike)."""
    event = get_visible_event(uow, event_id, actor)
    if code is None and is_organizer_of(actor, event):
        return event
    voucher = None
    if code is not None:
        voucher = uow.session.scalar(
            select(Voucher).where(Voucher.event_id == event.id, Voucher.code == code.strip().upper())
        )
        used_up = (
            voucher is not None
            and voucher.max_redemptions is not None
            and (voucher.redeemed >= voucher.max_redemptions)
        )
        if used_up or not voucher_usable(voucher, event.id, utcnow(), [tt.id for tt in event.ticket_types]):
            raise InvalidVoucher()
    return public_event(event, voucher)


def ticket_type_view(event: Event, ticket_type: TicketType, voucher: Voucher | None = None) -> dict:
    return {
        "id": ticket_type.id,
        "name": ticket_type.name,
        "price": discounted_price(current_price(ticket_type), voucher, ticket_type.id),
        "list_price": ticket_type.price,
        "currency": ticket_type.currency,
        "quota": ticket_type.quota,
        "held": ticket_type.held,
        "sold": ticket_type.sold,
        "available": ticket_type_free(event, ticket_type),
        "surge_price": ticket_type.surge_price,
        "surge_threshold": ticket_type.surge_threshold,
        "hidden": ticket_type.hidden,
        "sales_start": ticket_type.sales_start,
        "sales_end": ticket_type.sales_end,
        "min_per_booking": ticket_type.min_per_booking,
        "seated": ticket_type.seated,
    }


@dataclass(frozen=True)
class EventFilters:
    q: str | None = None
    category: str | None = None
    starts_after: dt.datetime | None = None
    starts_before: dt.datetime | None = None
    lat: float | None = None
    lng: float | None = None
    radius_km: float | None = None
    available: bool | None = None


def search_events_query(filters: EventFilters, now: dt.datetime | None = None) -> Select:
    """Published events that have not ended, narrowed by the filters, soonest first."""
    now = now or utcnow()
    query = (
        select(Event)
        .where(Event.status == EventStatus.PUBLISHED, Event.ends_at > now)
        .options(selectinload(Event.ticket_types))
        .order_by(Event.starts_at, Event.id)
    )
    if filters.q:
        pattern = f"%{_escape_like(filters.q.lower())}%"
        query = query.where(
            or_(
                func.lower(Event.title).like(pattern, escape="\\"),
                func.lower(Event.description).like(pattern, escape="\\"),
                func.lower(Event.venue).like(pattern, escape="\\"),
            )
        )
    if filters.category:
        query = query.where(func.lower(Event.category) == filters.category.lower())
    if filters.starts_after:
        query = query.where(Event.starts_at >= filters.starts_after)
    if filters.starts_before:
        query = query.where(Event.starts_at <= filters.starts_before)
    if filters.radius_km is not None:
        query = query.where(_within_radius(filters.lat, filters.lng, filters.radius_km))
    if filters.available is not None:
        has_free = event_free_sql(public=True) > 0
        query = query.where(has_free if filters.available else ~has_free)
    return query


def _within_radius(lat: float, lng: float, radius_km: float):
    """Distance by the equirectangular approximation: plain arithmetic, so it runs on SQLite
    too, and within 0.5 % of the great-circle distance at city scale.
    A bounding box first lets the planner discard most rows cheaply."""
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlat_deg = radius_km / KM_PER_DEGREE
    dlng_deg = radius_km / (KM_PER_DEGREE * cos_lat)
    dy = (Event.latitude - lat) * KM_PER_DEGREE
    dx = (Event.longitude - lng) * (KM_PER_DEGREE * cos_lat)
    return and_(
        Event.latitude.is_not(None),
        Event.latitude.between(lat - dlat_deg, lat + dlat_deg),
        Event.longitude.between(lng - dlng_deg, lng + dlng_deg),
        dx * dx + dy * dy <= radius_km * radius_km,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
