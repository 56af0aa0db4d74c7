"""The back office: an event's bookings and attendees, an organization's events (lists and CSV).

The lists of organizations and users are in `admin`, beside the routes that change them."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields, validate

from api.auth import current_actor, roles_required
from api.db import request_uow
from api.exports import csv_response, paginate_or_csv
from api.input import InputSchema
from api.pagination import paginate_select
from api.resources import examples
from api.resources.events import EventOut
from core.analytics_chart import sale_chart_png
from core.inventory import Line
from core.services import analytics, back_office, comps
from core.services.audit import AuditAction, AuditFilters, entry_view
from core.statuses import BookingStatus, EventStatus, PaymentStatus, TicketStatus

blp = Blueprint(
    "back_office", __name__, url_prefix="/api/v1", description="The back office: lists, search, exports"
)


class CustomerOut(Schema):
    id = fields.UUID()
    name = fields.String()
    email = fields.String()


class BackOfficeItemOut(Schema):
    ticket_type_id = fields.UUID()
    quantity = fields.Integer()
    unit_price = fields.Integer()


class BackOfficeBookingOut(Schema):
    id = fields.UUID()
    reference = fields.String()
    customer = fields.Nested(CustomerOut)
    status = fields.String(metadata={"enum": list(BookingStatus)})
    reason = fields.String(allow_none=True)
    items = fields.List(fields.Nested(BackOfficeItemOut))
    total = fields.Integer()
    currency = fields.String()
    created_at = fields.AwareDateTime(metadata={"description": "When the customer asked."})
    decided_at = fields.AwareDateTime()
    hold_expires_at = fields.AwareDateTime(allow_none=True)
    payment_status = fields.String(allow_none=True, metadata={"enum": list(PaymentStatus)})


class BookingListQuery(InputSchema):
    status = fields.List(fields.String(validate=validate.OneOf(tuple(BookingStatus))),
                         metadata={"description": "Repeat for several."})  # fmt: skip
    ticket_type_id = fields.UUID()
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "Name, email or booking reference."})  # fmt: skip
    created_after = fields.AwareDateTime()
    created_before = fields.AwareDateTime()
    sort = fields.String(load_default="-created_at", validate=validate.OneOf(("created_at", "-created_at")))


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
            chunks = back_office.export_event_bookings(uow, actor, event_id, filters)
            return csv_response(chunks, f"bookings-{event_id}.csv")
        back_office.organizers_event(uow, actor, event_id)
        ids = back_office.event_bookings_query(event_id, filters)
        return back_office.bookings_page(uow, paginate_select(uow.session, ids, pagination_parameters))


class AttendeeOut(Schema):
    ticket_id = fields.UUID()
    code = fields.String()
    attendee_name = fields.String()
    attendee_email = fields.String()
    ticket_type = fields.String()
    booking_id = fields.UUID()
    booking_reference = fields.String()
    status = fields.String(metadata={"enum": list(TicketStatus)})
    checked_in_at = fields.AwareDateTime(allow_none=True)
    checked_in_by = fields.UUID(allow_none=True)
    answers = fields.Dict(metadata={"description": "The attendee's answers, by question id."})


class AttendeeQuery(InputSchema):
    checked_in = fields.Boolean()
    ticket_type_id = fields.UUID()
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "Name, email, ticket code or booking reference."})  # fmt: skip


@blp.route("/events/<uuid:event_id>/attendees")
class EventAttendees(MethodView):
    @jwt_required()
    @blp.arguments(AttendeeQuery(), location="query")
    @blp.response(200, AttendeeOut(many=True))
    @paginate_or_csv(blp)
    def get(self, args, event_id, pagination_parameters):
        """One row per ticket, by attendee name (organizers and staff); `Accept: text/csv` exports them all."""
        uow, actor, filters = request_uow(), current_actor(), back_office.AttendeeFilters(**args)
        if pagination_parameters is None:
            chunks = back_office.export_event_attendees(uow, actor, event_id, filters)
            return csv_response(chunks, f"attendees-{event_id}.csv")
        back_office.door_staffs_event(uow, actor, event_id)
        ids = back_office.event_attendees_query(event_id, filters)
        return back_office.attendees_page(uow, paginate_select(uow.session, ids, pagination_parameters))


class OrganizationEventQuery(InputSchema):
    status = fields.String(validate=validate.OneOf(tuple(EventStatus)))
    q = fields.String(validate=validate.Length(min=1, max=200))
    starts_after = fields.AwareDateTime()
    starts_before = fields.AwareDateTime()


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
    id = fields.UUID()
    email = fields.String()


class AuditEntryOut(Schema):
    id = fields.UUID()
    at = fields.AwareDateTime()
    actor = fields.Nested(ActorOut)
    action = fields.String(metadata={"enum": list(AuditAction)})
    target_type = fields.String()
    target_id = fields.String()
    changes = fields.Dict(metadata={"description": "`{field: [before, after]}`, or what was created"})


class AuditQuery(InputSchema):
    action = fields.String(validate=validate.OneOf(list(AuditAction)))
    actor_id = fields.UUID()
    target_id = fields.String(validate=validate.Length(min=1, max=64))
    after = fields.AwareDateTime()
    before = fields.AwareDateTime()


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
            chunks = back_office.export_audit_log(uow, actor, organization_id, filters)
            return csv_response(chunks, f"audit-log-{organization_id}.csv")
        query = back_office.organization_audit_log(uow, actor, organization_id, filters)
        return [entry_view(entry) for entry in paginate_select(uow.session, query, pagination_parameters)]


class CompItemIn(InputSchema):
    ticket_type_id = fields.UUID(required=True)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))


class CompIn(InputSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=320))
    items = fields.List(fields.Nested(CompItemIn), required=True, validate=validate.Length(min=1, max=20))
    note = fields.String(load_default="", validate=validate.Length(max=1000))


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
FiguresOut = Schema.from_dict(
    {figure: fields.Integer() for figure in analytics.FIGURES}, name="AnalyticsFiguresOut"
)
BucketOut = Schema.from_dict(
    {"start": fields.AwareDateTime(metadata={"description": "The bucket's first instant."}),
     **{figure: fields.Integer() for figure in analytics.FIGURES}},
    name="AnalyticsBucketOut",
)  # fmt: skip


class ConversionOut(Schema):
    holds = fields.Integer(metadata={"description": "Bookings given tickets to pay for."})
    paid = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "paid / holds"})


class LatencyOut(Schema):
    p50 = fields.Float(allow_none=True)
    p99 = fields.Float(allow_none=True)


class QueueOut(Schema):
    source = fields.String(metadata={"description": "Where the figures come from: the bookings' rows."})
    decisions = fields.Integer()
    peak_depth = fields.Integer()
    decision_latency_seconds = fields.Nested(LatencyOut)


class SeriesOut(Schema):
    series = fields.List(fields.Nested(BucketOut))
    totals = fields.Nested(FiguresOut)


class TicketTypeSeriesOut(SeriesOut):
    ticket_type_id = fields.UUID()
    name = fields.String()


class EventAnalyticsOut(SeriesOut):
    event_id = fields.UUID()
    title = fields.String()
    timezone = fields.String()
    interval = fields.String()
    currency = fields.String(allow_none=True)
    ticket_types = fields.List(fields.Nested(TicketTypeSeriesOut))
    conversion = fields.Nested(ConversionOut)
    queue = fields.Nested(QueueOut)


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
    organization_id = fields.UUID()
    name = fields.String()
    conversion = fields.Nested(ConversionOut)
    queue = fields.Nested(QueueOut)


class PlatformAnalyticsOut(SeriesOut):
    after = fields.AwareDateTime()
    before = fields.AwareDateTime()
    timezone = fields.String()
    interval = fields.String()
    conversion = fields.Nested(ConversionOut)
    queue = fields.Nested(QueueOut)
    organizations = fields.List(fields.Nested(OrganizationSeriesOut))


class PlatformAnalyticsQuery(InputSchema):
    after = fields.AwareDateTime(required=True)
    before = fields.AwareDateTime(required=True)
    interval = fields.String(load_default="day", validate=validate.OneOf(analytics.INTERVALS),
                             metadata={"description": "Buckets of an hour or a day, in UTC."})  # fmt: skip


@blp.route("/admin/analytics")
class PlatformAnalytics(MethodView):
    @roles_required("admin")
    @blp.arguments(PlatformAnalyticsQuery(), location="query")
    @blp.response(200, PlatformAnalyticsOut)
    def get(self, args):
        """The platform's figures from `after` to `before`, overall and per organization (admins)."""
        return analytics.platform_analytics(
            request_uow(), current_actor(), args["after"], args["before"], args["interval"]
        )
