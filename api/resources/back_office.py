"""The back office: an event's bookings and attendees, an organization's events (lists and CSV).

The lists of organizations and users are in `admin`, beside the routes that change them."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields, validate

from api.auth import current_actor, roles_required
from api.db import request_uow
from api.exports import csv_response, paginate_or_csv
from api.input import InputSchema
from api.json_body import Blueprint
from api.pagination import paginate_select
from api.resources import examples
from api.resources.events import EventOut
from core import runtime
from core.analytics_chart import sale_chart_png
from core.inventory import Line
from core.services import analytics, back_office, comps
from core.services.audit import AuditAction, AuditFilters, entry_view
from core.statuses import BookingStatus, EventStatus, PaymentStatus, Role, TicketStatus

blp = Blueprint(
    "back_office", __name__, url_prefix="/api/v1", description="The back office: lists, search, exports"
)


class CustomerOut(Schema):
    id = fields.UUID(
        metadata={
            "description": "The customer's account id; for a comp, its guest's own id (not an account)."
        }
    )
    name = fields.String(metadata={"description": "The customer's name."})
    email = fields.String(metadata={"description": "The customer's email address."})


class BackOfficeItemOut(Schema):
    ticket_type_id = fields.UUID(metadata={"description": "The ticket type booked."})
    quantity = fields.Integer(metadata={"description": "How many tickets of this type."})
    unit_price = fields.Integer(
        metadata={
            "description": "The price of one ticket as booked, in minor units of the booking's `currency`."
        }
    )


class BackOfficeBookingOut(Schema):
    id = fields.UUID(metadata={"description": "The booking's id."})
    reference = fields.String(
        metadata={"description": "The booking's short reference, as the customer quotes it."}
    )
    customer = fields.Nested(
        CustomerOut,
        metadata={
            "description": "Who booked; for a comp, the guest as the organizer named them (never an account)."
        },
    )
    status = fields.String(
        metadata={
            "description": "`held`, `confirmed`, `waitlisted`, `rejected`, `expired` or `cancelled`.",
            "enum": list(BookingStatus),
        }
    )
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why it ended as it did, as a machine name (`sold_out`, `complimentary`, `customer_cancelled`...); null otherwise."
        },
    )
    items = fields.List(
        fields.Nested(BackOfficeItemOut),
        metadata={"description": "The tickets booked, one entry per ticket type."},
    )
    total = fields.Integer(metadata={"description": "What the booking costs, in minor units of `currency`."})
    currency = fields.String(
        metadata={"description": "The ISO 4217 code of `total` and the items' `unit_price`."}
    )
    created_at = fields.AwareDateTime(metadata={"description": "When the customer asked."})
    decided_at = fields.AwareDateTime(
        metadata={"description": "When the allocation decided (ISO 8601, in UTC)."}
    )
    hold_expires_at = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "While `held`: when the tickets are let go unless paid (ISO 8601, in UTC); otherwise null."
        },
    )
    payment_status = fields.String(
        allow_none=True,
        metadata={
            "description": "The latest payment's status (`pending`, `paid`, `failed`, `expired`, `refunded`); null when none was made.",
            "enum": list(PaymentStatus),
        },
    )


class BookingListQuery(InputSchema):
    status = fields.List(fields.String(validate=validate.OneOf(tuple(BookingStatus))),
                         metadata={"description": "Repeat for several."})  # fmt: skip
    ticket_type_id = fields.UUID(metadata={"description": "Only bookings with tickets of this type."})
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "Name, email or booking reference."})  # fmt: skip
    created_after = fields.AwareDateTime(
        metadata={
            "description": "Only bookings asked for at or after this time (ISO 8601 with its UTC offset)."
        }
    )
    created_before = fields.AwareDateTime(
        metadata={"description": "Only bookings asked for before this time (ISO 8601 with its UTC offset)."}
    )
    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(("created_at", "-created_at")),
        metadata={"description": "`-created_at` (newest first, the default) or `created_at` (oldest first)."},
    )


def _booking_filters(args: dict) -> back_office.BookingFilters:
    return back_office.BookingFilters(
        statuses=tuple(args.get("status") or ()),
        ticket_type_id=args.get("ticket_type_id"),
        q=args.get("q"),
        created_after=args.get("created_after"),
        created_before=args.get("created_before"),
        newest_first=args["sort"] == "-created_at",
    )


@blp.route("/events/<uuid:event_id>/bookings")
class EventBookings(MethodView):
    @jwt_required()
    @blp.arguments(BookingListQuery(), location="query")
    @blp.response(200, BackOfficeBookingOut(many=True))
    @paginate_or_csv(blp)
    def get(self, args, event_id, pagination_parameters):
        """The event's bookings, newest first (its organizers); `Accept: text/csv` exports them all."""
        uow, actor, filters = request_uow(), current_actor(), _booking_filters(args)
        if pagination_parameters is None:
            chunks = back_office.export_event_bookings(runtime.database(), uow, actor, event_id, filters)
            return csv_response(chunks, f"bookings-{event_id}.csv")
        back_office.organizers_event(uow, actor, event_id)
        ids = back_office.event_bookings_query(event_id, filters)
        return back_office.bookings_page(uow, paginate_select(uow.session, ids, pagination_parameters))


class AttendeeOut(Schema):
    ticket_id = fields.UUID(metadata={"description": "The ticket's id."})
    code = fields.String(metadata={"description": "The ticket's short code."})
    attendee_name = fields.String(metadata={"description": "The name on the ticket."})
    attendee_email = fields.String(
        metadata={"description": "The attendee's email; the customer's, for a ticket with no attendee named."}
    )
    ticket_type = fields.String(metadata={"description": "The ticket type's name."})
    booking_id = fields.UUID(metadata={"description": "The ticket's booking."})
    booking_reference = fields.String(metadata={"description": "The booking's short reference."})
    status = fields.String(
        metadata={"description": "`valid`, or `cancelled` (refused at the door).", "enum": list(TicketStatus)}
    )
    checked_in_at = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "When it was scanned at the door (ISO 8601, in UTC); null until then."},
    )
    checked_in_by = fields.UUID(
        allow_none=True, metadata={"description": "The account that scanned it; null until then."}
    )
    answers = fields.Dict(metadata={"description": "The attendee's answers, by question id."})
    seat = fields.String(
        allow_none=True,
        metadata={"description": "A reserved seat in words (`Stalls, Row B, Seat 2`); null otherwise."},
    )


class AttendeeQuery(InputSchema):
    checked_in = fields.Boolean(
        metadata={"description": "true: only tickets already scanned; false: only those not yet scanned."}
    )
    ticket_type_id = fields.UUID(metadata={"description": "Only tickets of this type."})
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "Name, email, ticket code or booking reference."})  # fmt: skip


@blp.route("/events/<uuid:event_id>/attendees")
class EventAttendees(MethodView):
    @jwt_required()
    @blp.arguments(AttendeeQuery(), location="query")
    @blp.response(200, AttendeeOut(many=True))
    @paginate_or_csv(blp)
    def get(self, args, event_id, pagination_parameters):
        """One row per ticket, by attendee name (organizers and staff); `Accept: text/csv` exports them
        all, with one column per question headed by its label (and, when the event asks any, a
        second header row giving each question column's id)."""
        uow, actor, filters = request_uow(), current_actor(), back_office.AttendeeFilters(**args)
        if pagination_parameters is None:
            chunks = back_office.export_event_attendees(runtime.database(), uow, actor, event_id, filters)
            return csv_response(chunks, f"attendees-{event_id}.csv")
        back_office.door_staffs_event(uow, actor, event_id)
        ids = back_office.event_attendees_query(event_id, filters)
        return back_office.attendees_page(uow, paginate_select(uow.session, ids, pagination_parameters))


class OrganizationEventQuery(InputSchema):
    status = fields.String(
        validate=validate.OneOf(tuple(EventStatus)),
        metadata={"description": "Only events with this status: `draft`, `published` or `cancelled`."},
    )
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Text to find in the title or venue, case-insensitive."},
    )
    starts_after = fields.AwareDateTime(
        metadata={
            "description": "Only events that start at or after this time (ISO 8601 with its UTC offset)."
        }
    )
    starts_before = fields.AwareDateTime(
        metadata={"description": "Only events that start before this time (ISO 8601 with its UTC offset)."}
    )


@blp.route("/organizations/<uuid:organization_id>/events")
class OrganizationEvents(MethodView):
    @jwt_required()
    @blp.arguments(OrganizationEventQuery(), location="query")
    @blp.response(200, EventOut(many=True))
    @blp.paginate()
    def get(self, args, organization_id, pagination_parameters):
        """Every event of the organization, drafts and cancelled included (its organizers and staff)."""
        uow = request_uow()
        back_office.members_organization(uow, current_actor(), organization_id)
        query = back_office.organization_events_query(
            organization_id, back_office.OrganizationEventFilters(**args)
        )
        return paginate_select(uow.session, query, pagination_parameters)


class ActorOut(Schema):
    id = fields.UUID(metadata={"description": "The account that acted."})
    email = fields.String(metadata={"description": "Its email address."})


class AuditEntryOut(Schema):
    id = fields.UUID(metadata={"description": "The entry's id."})
    at = fields.AwareDateTime(metadata={"description": "When it happened (ISO 8601, in UTC)."})
    actor = fields.Nested(ActorOut, metadata={"description": "Who did it."})
    action = fields.String(
        metadata={
            "description": "What was done, as `target.verb` (e.g. `event.update`, `booking.cancel`, `ticket.check_in`).",
            "enum": list(AuditAction),
        }
    )
    target_type = fields.String(
        metadata={"description": "The kind of thing changed, e.g. `event`, `booking` or `voucher`."}
    )
    target_id = fields.String(metadata={"description": "The id of the thing changed."})
    changes = fields.Dict(metadata={"description": "`{field: [before, after]}`, or what was created"})


class AuditQuery(InputSchema):
    action = fields.String(
        validate=validate.OneOf(list(AuditAction)), metadata={"description": "Only entries of this action."}
    )
    actor_id = fields.UUID(metadata={"description": "Only what this account did."})
    target_id = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Only entries about this thing (its id)."},
    )
    after = fields.AwareDateTime(
        metadata={"description": "Only entries at or after this time (ISO 8601 with its UTC offset)."}
    )
    before = fields.AwareDateTime(
        metadata={"description": "Only entries before this time (ISO 8601 with its UTC offset)."}
    )


@blp.route("/organizations/<uuid:organization_id>/audit-log")
class AuditLog(MethodView):
    @jwt_required()
    @blp.arguments(AuditQuery(), location="query")
    @blp.response(200, AuditEntryOut(many=True))
    @paginate_or_csv(blp)
    def get(self, args, organization_id, pagination_parameters):
        """Who changed what, newest first (the organization's organizers); `Accept: text/csv` exports it all."""
        uow, actor, filters = request_uow(), current_actor(), AuditFilters(**args)
        if pagination_parameters is None:
            chunks = back_office.export_audit_log(runtime.database(), uow, actor, organization_id, filters)
            return csv_response(chunks, f"audit-log-{organization_id}.csv")
        query = back_office.organization_audit_log(uow, actor, organization_id, filters)
        return [entry_view(entry) for entry in paginate_select(uow.session, query, pagination_parameters)]


class CompItemIn(InputSchema):
    ticket_type_id = fields.UUID(
        required=True,
        metadata={"description": "The ticket type to give (one of the event's, hidden ones too)."},
    )
    quantity = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "How many tickets of this type (1 to 100)."},
    )


class CompIn(InputSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The guest's name, printed on the tickets."},
    )
    email = fields.Email(
        required=True,
        validate=validate.Length(max=320),
        metadata={"description": "Where the tickets are mailed."},
    )
    items = fields.List(
        fields.Nested(CompItemIn),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "The tickets to give, one entry per ticket type (1 to 20)."},
    )
    note = fields.String(
        load_default="",
        validate=validate.Length(max=1000),
        metadata={"description": "Why they are given, for the audit log (up to 1,000 characters)."},
    )


@blp.route("/events/<uuid:event_id>/comps")
class Comps(MethodView):
    @jwt_required()
    @blp.arguments(CompIn(), example=examples.COMP)
    @blp.response(201, BackOfficeBookingOut)
    def post(self, data, event_id):
        """Give a guest free tickets (within the quotas); they are mailed to the given address."""
        uow = request_uow()
        ask = comps.CompAsk(
            name=data["name"], email=data["email"], note=data["note"],
            items=tuple(Line(item["ticket_type_id"], item["quantity"]) for item in data["items"]),
        )  # fmt: skip
        booking = comps.issue_comp(uow, current_actor(), event_id, ask)
        return back_office.booking_rows(uow, [booking])[0]


@blp.route("/bookings/<uuid:booking_id>/resend")
class ResendTickets(MethodView):
    @jwt_required()
    @blp.response(202, BackOfficeBookingOut)
    @blp.alt_response(
        409, schema=ErrorSchema, description="Only a confirmed booking has tickets to send (`not_confirmed`)."
    )
    def post(self, booking_id):
        """Mail the tickets again as a new message (the customer or the event's organizers; 3 an hour)."""
        uow = request_uow()
        booking = comps.resend_tickets(uow, current_actor(), booking_id)
        return back_office.booking_rows(uow, [booking])[0]


# --- analytics --------------------------------------------------------------------------------


# One field per figure, each named once (in `core.services.analytics`).
FIGURE_TEXT = {
    "requests": "Booking requests made.",
    BookingStatus.HELD: "Bookings now held, counted when they were decided.",
    BookingStatus.WAITLISTED: "Bookings now on the waitlist, counted when they were decided.",
    BookingStatus.REJECTED: "Requests refused, counted when they were decided.",
    BookingStatus.CONFIRMED: "Bookings paid, counted when they were confirmed.",
    BookingStatus.EXPIRED: "Holds that ended unpaid.",
    BookingStatus.CANCELLED: "Bookings cancelled.",
    "tickets_sold": "Tickets of the bookings confirmed in the bucket, whatever became of them since.",
    "check_ins": "Tickets scanned at the door.",
    "gross": "Payments taken (refunded later or not), in minor units of `currency`.",
    "refunded": "Money given back, in minor units of `currency`.",
    "net": "`gross` less `refunded`, in minor units of `currency`.",
}
FiguresOut = Schema.from_dict(
    {figure: fields.Integer(metadata={"description": FIGURE_TEXT[figure]}) for figure in analytics.FIGURES},
    name="AnalyticsFiguresOut",
)
BucketOut = Schema.from_dict(
    {"start": fields.AwareDateTime(metadata={"description": "The bucket's first instant."}),
     **{figure: fields.Integer(metadata={"description": FIGURE_TEXT[figure]}) for figure in analytics.FIGURES}},
    name="AnalyticsBucketOut",
)  # fmt: skip


class ConversionOut(Schema):
    holds = fields.Integer(metadata={"description": "Bookings given tickets to pay for."})
    paid = fields.Integer(metadata={"description": "Of those, bookings paid."})
    rate = fields.Float(allow_none=True, metadata={"description": "paid / holds"})


class LatencyOut(Schema):
    p50 = fields.Float(
        allow_none=True,
        metadata={"description": "Median seconds from request to decision; null without decisions."},
    )
    p99 = fields.Float(
        allow_none=True,
        metadata={
            "description": "99th percentile of the seconds from request to decision; null without decisions."
        },
    )


class QueueOut(Schema):
    source = fields.String(metadata={"description": "Where the figures come from: the bookings' rows."})
    decisions = fields.Integer(metadata={"description": "Requests decided in the period."})
    peak_depth = fields.Integer(metadata={"description": "The most requests waiting in the queue at once."})
    decision_latency_seconds = fields.Nested(
        LatencyOut, metadata={"description": "How long requests waited for their decision, in seconds."}
    )


class SeriesOut(Schema):
    series = fields.List(
        fields.Nested(BucketOut),
        metadata={"description": "One bucket per hour or day of the period, oldest first."},
    )
    totals = fields.Nested(FiguresOut, metadata={"description": "The figures over the whole period."})


class TicketTypeSeriesOut(SeriesOut):
    ticket_type_id = fields.UUID(metadata={"description": "The ticket type."})
    name = fields.String(metadata={"description": "Its name."})


class EventAnalyticsOut(SeriesOut):
    event_id = fields.UUID(metadata={"description": "The event."})
    title = fields.String(metadata={"description": "The event's title."})
    timezone = fields.String(
        metadata={"description": "The IANA time zone the buckets are cut in (the event's)."}
    )
    interval = fields.String(metadata={"description": "The bucket size: `hour` or `day`."})
    currency = fields.String(
        allow_none=True,
        metadata={"description": "The ISO 4217 code of the money figures; null before any ticket type."},
    )
    ticket_types = fields.List(
        fields.Nested(TicketTypeSeriesOut),
        metadata={"description": "The same figures per ticket type (money split over the booking's lines)."},
    )
    conversion = fields.Nested(ConversionOut, metadata={"description": "Holds that were paid."})
    queue = fields.Nested(QueueOut, metadata={"description": "How the booking queue served the event."})


class AnalyticsQuery(InputSchema):
    interval = fields.String(load_default="hour", validate=validate.OneOf(analytics.INTERVALS),
                             metadata={"description": "Buckets of an hour or a day in the event's time zone."})  # fmt: skip


@blp.route("/events/<uuid:event_id>/analytics")
class EventAnalytics(MethodView):
    @jwt_required()
    @blp.arguments(AnalyticsQuery(), location="query")
    @blp.response(200, EventAnalyticsOut)
    def get(self, args, event_id):
        """The sale over time, overall and per ticket type (the event's organizers; PostgreSQL only, else 501)."""
        return analytics.event_analytics(request_uow(), current_actor(), event_id, args["interval"])


@blp.route("/events/<uuid:event_id>/analytics.png")
class EventAnalyticsChart(MethodView):
    @jwt_required()
    @blp.arguments(AnalyticsQuery(), location="query")
    @blp.response(200, content_type="image/png")
    def get(self, args, event_id):
        """Tickets sold and check-ins over time as a chart (1200 x 600 PNG) for a report."""
        figures = analytics.event_analytics(request_uow(), current_actor(), event_id, args["interval"])
        return Response(sale_chart_png(figures), mimetype="image/png", headers={"Cache-Control": "no-store"})


class OrganizationSeriesOut(SeriesOut):
    organization_id = fields.UUID(metadata={"description": "The organization."})
    name = fields.String(metadata={"description": "Its name."})
    conversion = fields.Nested(ConversionOut, metadata={"description": "Its holds that were paid."})
    queue = fields.Nested(QueueOut, metadata={"description": "How the booking queue served its events."})


class PlatformAnalyticsOut(SeriesOut):
    after = fields.AwareDateTime(metadata={"description": "The period's start (ISO 8601, in UTC)."})
    before = fields.AwareDateTime(metadata={"description": "The period's end (ISO 8601, in UTC)."})
    timezone = fields.String(metadata={"description": "The time zone the buckets are cut in: always `UTC`."})
    interval = fields.String(metadata={"description": "The bucket size: `hour` or `day`."})
    conversion = fields.Nested(ConversionOut, metadata={"description": "Holds that were paid."})
    queue = fields.Nested(QueueOut, metadata={"description": "How the booking queue served the platform."})
    organizations = fields.List(
        fields.Nested(OrganizationSeriesOut),
        metadata={
            "description": "The same figures per organization (money in each event's own currency, added up as is)."
        },
    )


class PlatformAnalyticsQuery(InputSchema):
    after = fields.AwareDateTime(
        required=True, metadata={"description": "The period's start (ISO 8601 with its UTC offset)."}
    )
    before = fields.AwareDateTime(
        required=True,
        metadata={"description": "The period's end (ISO 8601 with its UTC offset), after `after`."},
    )
    interval = fields.String(load_default="day", validate=validate.OneOf(analytics.INTERVALS),
                             metadata={"description": "Buckets of an hour or a day, in UTC."})  # fmt: skip


@blp.route("/admin/analytics")
class PlatformAnalytics(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(PlatformAnalyticsQuery(), location="query")
    @blp.response(200, PlatformAnalyticsOut)
    def get(self, args):
        """The platform's figures from `after` to `before`, overall and per organization (admins)."""
        return analytics.platform_analytics(
            request_uow(), current_actor(), args["after"], args["before"], args["interval"]
        )
