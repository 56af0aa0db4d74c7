"""How a sale went over time: an event's figures for its organizers, the platform's for admins.

Every figure is aggregated by PostgreSQL from the rows (bookings, their lines, payments, refunds,
tickets), each row counted in the bucket of the moment it records, truncated with `date_trunc`
in the event's time zone (UTC for the platform), so the figures always agree with the rows:

- `requests`: every booking, when the customer asked (`requested_at`);
- `held`, `waitlisted`, `rejected`: bookings in that state now, when the queue decided
  (`decided_at`); `confirmed` when confirmed (`confirmed_at`); `expired` when the hold ended
  (`updated_at`: nothing changes an expired booking but a late payment, which moves it on);
  `cancelled` when cancelled (`cancelled_at`). Each booking is in exactly one of these, so
  they add up to `requests` (but for requests still in the queue);
- `tickets_sold`: tickets of the bookings confirmed in the bucket, whatever became of them since;
- `gross`: payments taken (paid, refunded later or not), at the booking's confirmation (a payment
  that came too late to confirm anything counts when its checkout began); `refunded`: refunds
  that succeeded, when they did (`updated_at`: a succeeded refund never changes again);
  `net` = `gross` - `refunded`. Per ticket type, a payment or refund is split over the booking's
  lines by their amounts;
- `check_ins`: tickets checked in (`checked_in_at`).

The conversion counts bookings that were given tickets to pay for (held now, expired, or paid);
a hold its customer cancelled before paying cannot be told from a cancelled waitlist place and is
left out. The queue figures come from the bookings too (not Redis, which keeps no history): the
decision latency is `decided_at - requested_at`, and the peak depth the most requests that were
asked and not yet decided at one moment. A waitlist place turned into a hold later has its
`decided_at` moved to that moment, so bookings that may have been (joined the waitlist and got
tickets) are left out of both.

The platform's money figures add minor units whatever their currency, which may differ between
organizations.

SQLite has neither `date_trunc` in a time zone nor `percentile_cont`: there the routes answer 501.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, false, func, literal, null, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from core.db import UnitOfWork
from core.errors import Invalid, NotSupported
from core.models import (
    Booking,
    BookingLine,
    Event,
    Organization,
    Payment,
    Refund,
    Ticket,
    User,
    UTCDateTime,
)
from core.services.events import get_event
from core.services.permissions import require_admin, require_organizer_of
from core.statuses import RECEIVED_PAYMENT_STATUSES, BookingStatus, RefundStatus

INTERVALS = ("hour", "day")
STEPS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}
MAX_BUCKETS = 2000
# The moment each current status was reached, as the booking row records it.
STATUS_MOMENTS = {
    BookingStatus.HELD: Booking.decided_at,
    BookingStatus.WAITLISTED: Booking.decided_at,
    BookingStatus.REJECTED: Booking.decided_at,
    BookingStatus.CONFIRMED: Booking.confirmed_at,
    BookingStatus.EXPIRED: Booking.updated_at,
    BookingStatus.CANCELLED: Booking.cancelled_at,
}
COUNTS = ("requests", *STATUS_MOMENTS, "tickets_sold", "check_ins")
MONEY = ("gross", "refunded", "net")
FIGURES = (*COUNTS, *MONEY)


@dataclass(frozen=True)
class Scope:
    """Whose rows, and how they are bucketed: `key` splits them (by ticket type, organization),
    `event_ids` narrows them (None: the whole platform), `since`/`until` bound the moments."""

    zone: str
    interval: str
    event_ids: tuple[uuid.UUID, ...] | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _require_postgresql(uow: UnitOfWork) -> None:
    if uow.session.get_bind().dialect.name != "postgresql":
        raise NotSupported(
            "Analytics need PostgreSQL (time-zone buckets and percentiles); this server runs on SQLite.",
            name="analytics_need_postgresql",
        )


def _require_interval(interval: str) -> None:
    if interval not in INTERVALS:
        raise Invalid(f"interval must be one of {', '.join(INTERVALS)}.", name="bad_interval")


# --- the queries ------------------------------------------------------------------------------


def _bucket(moment: ColumnElement, scope: Scope) -> ColumnElement:
    """The start of the bucket holding `moment`, truncated in the scope's zone, as a UTC instant."""
    local = func.timezone(scope.zone, moment)
    return func.timezone(scope.zone, func.date_trunc(scope.interval, local), type_=UTCDateTime())


def _within(query: Select, moment: ColumnElement, scope: Scope, event_id: ColumnElement) -> Select:
    query = query.where(moment.is_not(None))
    if scope.event_ids is not None:
        query = query.where(event_id.in_(scope.event_ids))
    if scope.since is not None:
        query = query.where(moment >= scope.since)
    if scope.until is not None:
        query = query.where(moment < scope.until)
    return query


def _line_share(amount: ColumnElement) -> ColumnElement:
    """A booking's payment or refund, split over its lines by their amounts."""
    return amount * BookingLine.unit_price * BookingLine.quantity / func.nullif(Booking.total, 0)


def _status_moment() -> ColumnElement:
    return case(*((Booking.status == status, moment) for status, moment in STATUS_MOMENTS.items()))


def _measures(by_line: bool) -> list[tuple[str | None, Select, ColumnElement, ColumnElement]]:
    """Each measure: (figure, or None when the query's `figure` column names it; the query
    `select_from` and joins; the moment; the value). `by_line` joins the booking lines, so the
    figures can be split by ticket type."""
    bookings = select().select_from(Booking)
    if by_line:
        bookings = bookings.join(BookingLine, BookingLine.booking_id == Booking.id)
    taken = bookings.join(Payment, Payment.booking_id == Booking.id).where(
        Payment.status.in_(RECEIVED_PAYMENT_STATUSES)
    )
    refunds = bookings.join(Refund, Refund.booking_id == Booking.id).where(
        Refund.status == RefundStatus.SUCCEEDED
    )
    sold_lines = select().select_from(Booking).join(BookingLine, BookingLine.booking_id == Booking.id)
    return [
        ("requests", bookings, Booking.requested_at, func.count()),
        (None, bookings.where(Booking.status.in_(STATUS_MOMENTS)), _status_moment(), func.count()),
        ("tickets_sold", sold_lines, Booking.confirmed_at, func.sum(BookingLine.quantity)),
        (
            "gross",
            taken,
            func.coalesce(Booking.confirmed_at, Payment.created_at),
            func.sum(_line_share(Payment.amount) if by_line else Payment.amount),
        ),
        (
            "refunded",
            refunds,
            Refund.updated_at,
            func.sum(_line_share(Refund.amount) if by_line else Refund.amount),
        ),
    ]


def _figure_rows(uow: UnitOfWork, scope: Scope, split: str | None) -> Iterable[tuple]:
    """(bucket, key, figure, value) rows; `split` is None (one key, None), "ticket_type" or
    "organization"."""
    for figure, base, moment, value in _measures(by_line=split == "ticket_type"):
        key = _key(split, "booking")
        figure_column = literal(figure) if figure else Booking.status
        query = base.add_columns(_bucket(moment, scope).label("bucket"), key.label("key"),
                                 figure_column.label("figure"), value.label("value"))  # fmt: skip
        if split == "organization":
            query = query.join(Event, Event.id == Booking.event_id)
        query = _within(query, moment, scope, Booking.event_id)
        yield from uow.session.execute(query.group_by("bucket", "key", "figure")).all()
    check_ins = select(
        _bucket(Ticket.checked_in_at, scope).label("bucket"),
        _key(split, "ticket").label("key"),
        literal("check_ins").label("figure"),
        func.count().label("value"),
    ).select_from(Ticket)
    if split == "organization":
        check_ins = check_ins.join(Event, Event.id == Ticket.event_id)
    check_ins = _within(check_ins, Ticket.checked_in_at, scope, Ticket.event_id)
    yield from uow.session.execute(check_ins.group_by("bucket", "key", "figure")).all()


def _key(split: str | None, rows: str) -> ColumnElement:
    if split == "ticket_type":
        return BookingLine.ticket_type_id if rows == "booking" else Ticket.ticket_type_id
    if split == "organization":
        return Event.organization_id
    return null()


def _first_decisions() -> ColumnElement:
    """Bookings whose `decided_at` is the queue's first decision (see the module docstring)."""
    return or_(
        Booking.join_waitlist.is_(false()),
        Booking.status.in_((BookingStatus.WAITLISTED, BookingStatus.REJECTED)),
    )


def _scoped_bookings(scope: Scope, *columns) -> Select:
    query = select(*columns).select_from(Booking).join(Event, Event.id == Booking.event_id)
    query = query.where(_first_decisions())
    return _within(query, Booking.requested_at, scope, Booking.event_id)


def _queue_rows(uow: UnitOfWork, scope: Scope, split: str | None) -> dict:
    key = _key(split, "booking")
    seconds = func.extract("epoch", Booking.decided_at - Booking.requested_at)
    latency = uow.session.execute(
        _scoped_bookings(
            scope,
            key.label("key"),
            func.count().label("decisions"),
            func.percentile_cont(0.5).within_group(seconds).label("p50"),
            func.percentile_cont(0.99).within_group(seconds).label("p99"),
        ).group_by("key")
    ).all()
    moves = union_all(
        _scoped_bookings(scope, key.label("key"), Booking.requested_at.label("at"), literal(1).label("step")),
        _scoped_bookings(scope, key.label("key"), Booking.decided_at.label("at"), literal(-1).label("step")),
    ).subquery()
    depth = func.sum(moves.c.step).over(partition_by=moves.c.key, order_by=(moves.c.at, moves.c.step))
    running = select(moves.c.key, depth.label("depth")).subquery()
    peaks = dict(
        uow.session.execute(select(running.c.key, func.max(running.c.depth)).group_by(running.c.key)).all()
    )
    return {
        row.key: {
            "source": "bookings",
            "decisions": row.decisions,
            "peak_depth": int(peaks.get(row.key) or 0),
            "decision_latency_seconds": {"p50": _seconds(row.p50), "p99": _seconds(row.p99)},
        }
        for row in latency
    }


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 3)


def _conversion_rows(uow: UnitOfWork, scope: Scope, split: str | None) -> dict:
    paid = and_(Booking.confirmed_at.is_not(None), Booking.total > 0)
    given = or_(Booking.status.in_((BookingStatus.HELD, BookingStatus.EXPIRED)), paid)
    query = select(
        _key(split, "booking").label("key"),
        func.count().filter(given).label("holds"),
        func.count().filter(paid).label("paid"),
    ).select_from(Booking)
    if split == "organization":
        query = query.join(Event, Event.id == Booking.event_id)
    query = _within(query, Booking.decided_at, scope, Booking.event_id)
    return {
        row.key: {
            "holds": row.holds,
            "paid": row.paid,
            "rate": round(row.paid / row.holds, 4) if row.holds else None,
        }
        for row in uow.session.execute(query.group_by("key")).all()
    }


# --- from rows to series ----------------------------------------------------------------------


def _bucket_starts(first: dt.datetime, last: dt.datetime, scope: Scope) -> list[dt.datetime]:
    """Every bucket start from `first` to `last` (both bucket starts), in the scope's zone:
    a day is a calendar day there, 23 or 25 hours long when the clocks change."""
    zone = ZoneInfo(scope.zone)
    starts, moment = [], first
    while moment <= last:
        starts.append(moment)
        if len(starts) > MAX_BUCKETS:
            raise Invalid(f"More than {MAX_BUCKETS} buckets: choose a longer interval or a shorter range.",
                          name="too_many_buckets")  # fmt: skip
        if scope.interval == "hour":
            moment += STEPS["hour"]
        else:
            local = moment.astimezone(zone).date() + STEPS["day"]
            moment = dt.datetime.combine(local, dt.time(), zone).astimezone(dt.UTC)
    return starts


def _floor(moment: dt.datetime, scope: Scope) -> dt.datetime:
    local = moment.astimezone(ZoneInfo(scope.zone))
    if scope.interval == "day":
        local = local.replace(hour=0)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def _empty() -> dict:
    return dict.fromkeys(FIGURES, 0)


def _series(values: dict, starts: list[dt.datetime]) -> dict:
    """`{series, totals}` from `{bucket: {figure: value}}`, a bucket for each start."""
    series, totals = [], _empty()
    for start in starts:
        bucket = values.get(start, _empty())
        bucket["net"] = bucket["gross"] - bucket["refunded"]
        series.append({"start": start, **bucket})
        for figure in FIGURES:
            totals[figure] += bucket[figure]
    return {"series": series, "totals": totals}


def _collect(uow: UnitOfWork, scope: Scope, split: str | None) -> dict:
    """`{key: {bucket: {figure: value}}}`."""
    values: dict = defaultdict(lambda: defaultdict(_empty))
    for bucket, key, figure, value in _figure_rows(uow, scope, split):
        values[key][bucket][figure] += int(value or 0)
    return values


def _span(*collections: dict) -> list[dt.datetime]:
    buckets = [bucket for values in collections for per_key in values.values() for bucket in per_key]
    return sorted(buckets)


# --- what the routes call ---------------------------------------------------------------------


def event_analytics(uow: UnitOfWork, actor: User, event_id: uuid.UUID, interval: str) -> dict:
    """An event's sale over time, overall and per ticket type (its organizers, admins)."""
    event = get_event(uow, event_id)
    require_organizer_of(actor, event)
    _require_interval(interval)
    _require_postgresql(uow)
    scope = Scope(zone=event.timezone, interval=interval, event_ids=(event.id,))
    overall = _collect(uow, scope, None)
    per_type = _collect(uow, scope, "ticket_type")
    buckets = _span(overall, per_type)
    starts = _bucket_starts(buckets[0], buckets[-1], scope) if buckets else []
    return {
        "event_id": event.id,
        "title": event.title,
        "timezone": event.timezone,
        "interval": interval,
        "currency": event.ticket_types[0].currency if event.ticket_types else None,
        **_series(overall.get(None, {}), starts),
        "ticket_types": [
            {"ticket_type_id": tt.id, "name": tt.name, **_series(per_type.get(tt.id, {}), starts)}
            for tt in event.ticket_types
        ],
        "conversion": _conversion_rows(uow, scope, None).get(None, _no_conversion()),
        "queue": _queue_rows(uow, scope, None).get(None, _no_queue()),
    }


def _no_conversion() -> dict:
    return {"holds": 0, "paid": 0, "rate": None}


def _no_queue() -> dict:
    return {"source": "bookings", "decisions": 0, "peak_depth": 0,
            "decision_latency_seconds": {"p50": None, "p99": None}}  # fmt: skip


def platform_analytics(
    uow: UnitOfWork, actor: User, since: dt.datetime, until: dt.datetime, interval: str
) -> dict:
    """The platform's figures from `since` to `until` (UTC buckets), overall and per organization."""
    require_admin(actor)
    _require_interval(interval)
    if until <= since:
        raise Invalid("`before` must come after `after`.", name="bad_range")
    _require_postgresql(uow)
    scope = Scope(zone="UTC", interval=interval, since=since, until=until)
    starts = _bucket_starts(_floor(since, scope), _floor(until - dt.timedelta(microseconds=1), scope), scope)
    overall = _collect(uow, scope, None)
    per_organization = _collect(uow, scope, "organization")
    conversions = _conversion_rows(uow, scope, "organization")
    queues = _queue_rows(uow, scope, "organization")
    names = dict(
        uow.session.execute(
            select(Organization.id, Organization.name).where(Organization.id.in_(list(per_organization)))
        ).all()
    )
    return {
        "after": since,
        "before": until,
        "timezone": "UTC",
        "interval": interval,
        **_series(overall.get(None, {}), starts),
        "conversion": _conversion_rows(uow, scope, None).get(None, _no_conversion()),
        "queue": _queue_rows(uow, scope, None).get(None, _no_queue()),
        "organizations": [
            {
                "organization_id": organization_id,
                "name": names[organization_id],
                **_series(per_organization[organization_id], starts),
                "conversion": conversions.get(organization_id, _no_conversion()),
                "queue": queues.get(organization_id, _no_queue()),
            }
            for organization_id in sorted(names, key=lambda oid: (names[oid], str(oid)))
        ],
    }
