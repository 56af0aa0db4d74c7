"""An event seen by its organizers: the waitlist in the order it will be served, its payments
and refunds, its figures."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_actor
from api.db import request_uow
from api.input import InputSchema
from api.pagination import paginate_select
from api.resources.events import TicketTypeOut
from core.services import allocation, checkouts, events, refunds, stats, waitlist
from core.statuses import PaymentStatus, RefundStatus

blp = Blueprint("organizer", __name__, url_prefix="/api/v1/events", description="Organizer views of an event")


class WaitlistEntryOut(Schema):
    position = fields.Integer()
    booking_id = fields.UUID()
    user_id = fields.UUID()
    customer_name = fields.String()
    customer_email = fields.String()
    quantity = fields.Integer()
    requested_at = fields.AwareDateTime()


@blp.route("/<uuid:event_id>/waitlist")
class Waitlist(MethodView):
    @jwt_required()
    @blp.response(200, WaitlistEntryOut(many=True))
    @blp.paginate()
    def get(self, event_id, pagination_parameters):
        """The waitlist, first to be served first."""
        uow = _organizers_event(event_id)
        page = paginate_select(uow.session, waitlist.waitlist_query(event_id), pagination_parameters)
        return waitlist.waitlist_entries(page, first_position=pagination_parameters.first_item + 1)


class PaymentOut(Schema):
    id = fields.UUID()
    booking_id = fields.UUID()
    provider = fields.String()
    status = fields.String(metadata={"enum": list(PaymentStatus)})
    amount = fields.Integer()
    currency = fields.String()
    checkout_session_id = fields.String(allow_none=True)
    payment_intent_id = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class RefundOut(Schema):
    id = fields.UUID()
    booking_id = fields.UUID()
    payment_id = fields.UUID()
    amount = fields.Integer()
    currency = fields.String()
    reason = fields.String()
    status = fields.String(metadata={"enum": list(RefundStatus)})
    provider_refund_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class PaymentQuery(InputSchema):
    status = fields.String(validate=validate.OneOf(tuple(PaymentStatus)))


class RefundQuery(InputSchema):
    status = fields.String(validate=validate.OneOf(tuple(RefundStatus)))


def _organizers_event(event_id):
    uow = request_uow()
    events.get_event_for_organizers(uow, current_actor(), event_id)
    return uow


@blp.route("/<uuid:event_id>/payments")
class Payments(MethodView):
    @jwt_required()
    @blp.arguments(PaymentQuery(), location="query")
    @blp.response(200, PaymentOut(many=True))
    @blp.paginate()
    def get(self, args, event_id, pagination_parameters):
        """The event's payments, newest first; filter by `status`."""
        uow = _organizers_event(event_id)
        query = checkouts.event_payments_query(event_id, args.get("status"))
        return paginate_select(uow.session, query, pagination_parameters)


@blp.route("/<uuid:event_id>/refunds")
class Refunds(MethodView):
    @jwt_required()
    @blp.arguments(RefundQuery(), location="query")
    @blp.response(200, RefundOut(many=True))
    @blp.paginate()
    def get(self, args, event_id, pagination_parameters):
        """The event's refunds, newest first, with each one's attempts and last error; filter by `status`."""
        uow = _organizers_event(event_id)
        query = refunds.event_refunds_query(event_id, args.get("status"))
        return paginate_select(uow.session, query, pagination_parameters)


class DeadLetterOut(Schema):
    booking_id = fields.UUID()
    user_id = fields.UUID()
    queue_seq = fields.Integer(metadata={"description": "its place in the queue"})
    request = fields.Dict(metadata={"description": "the request as it was queued"})
    error = fields.String(metadata={"description": "why the database refused its booking"})
    created_at = fields.AwareDateTime()


@blp.route("/<uuid:event_id>/dead-letters")
class DeadLetters(MethodView):
    @jwt_required()
    @blp.response(200, DeadLetterOut(many=True))
    @blp.paginate()
    def get(self, event_id, pagination_parameters):
        """Requests the allocation could not decide (their booking could not be written), set
        aside so the rest of the queue went on; in queue order."""
        uow = _organizers_event(event_id)
        return paginate_select(uow.session, allocation.dead_letters_query(event_id), pagination_parameters)


class StatsOut(Schema):
    event_id = fields.UUID()
    status = fields.String()
    capacity = fields.Integer(allow_none=True)
    held = fields.Integer()
    sold = fields.Integer()
    available = fields.Integer()
    ticket_types = fields.List(fields.Nested(TicketTypeOut))
    bookings = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "count by status"}
    )
    currency = fields.String(allow_none=True)
    paid = fields.Integer()
    refunded = fields.Integer()
    tickets_issued = fields.Integer()
    checked_in = fields.Integer()


@blp.route("/<uuid:event_id>/stats")
class Stats(MethodView):
    @jwt_required()
    @blp.response(200, StatsOut)
    def get(self, event_id):
        """The event's figures: inventory, bookings by status, money taken and given back, check-ins."""
        return stats.event_stats(_organizers_event(event_id), event_id)
