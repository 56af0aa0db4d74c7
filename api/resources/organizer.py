"""An event seen by its organizers: the waitlist in the order it will be served, its payments
and refunds, its figures."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.auth import current_actor
from api.db import request_uow
from api.input import Blueprint, InputSchema
from api.pagination import paginate_select
from api.resources.events import TicketTypeOut
from core.services import allocation, checkouts, events, refunds, stats, waitlist
from core.statuses import PaymentStatus, RefundStatus

blp = Blueprint("organizer", __name__, url_prefix="/api/v1/events", description="Organizer views of an event")


class WaitlistEntryOut(Schema):
    position = fields.Integer(metadata={"description": "Its place on the waitlist (1 is served first)."})
    booking_id = fields.UUID(metadata={"description": "The waiting booking."})
    user_id = fields.UUID(metadata={"description": "The customer's account."})
    customer_name = fields.String(metadata={"description": "The customer's name."})
    customer_email = fields.String(metadata={"description": "The customer's email address."})
    quantity = fields.Integer(metadata={"description": "How many tickets it waits for."})
    requested_at = fields.AwareDateTime(
        metadata={"description": "When the customer asked (ISO 8601, in UTC)."}
    )


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
    id = fields.UUID(metadata={"description": "The payment's id."})
    booking_id = fields.UUID(metadata={"description": "The booking it pays for."})
    provider = fields.String(
        metadata={"description": "Who takes the money: `stripe`, or `local` (the built-in test checkout)."}
    )
    status = fields.String(
        metadata={
            "description": "`pending` (may still be paid), `paid`, `failed` (a new checkout may be made), `expired` (closed unpaid) or `refunded`.",
            "enum": list(PaymentStatus),
        }
    )
    amount = fields.Integer(
        metadata={
            "description": "The amount, in minor units of `currency` (e.g. 2500 with `EUR` is 25.00 euros)."
        }
    )
    currency = fields.String(metadata={"description": "The ISO 4217 code of `amount`."})
    checkout_session_id = fields.String(
        allow_none=True,
        metadata={"description": "The provider's checkout session id; null before it is made."},
    )
    payment_intent_id = fields.String(
        allow_none=True,
        metadata={
            "description": "The provider's payment id once paid (Stripe's PaymentIntent); null otherwise."
        },
    )
    created_at = fields.AwareDateTime(
        metadata={"description": "When the checkout was made (ISO 8601, in UTC)."}
    )
    updated_at = fields.AwareDateTime(
        metadata={"description": "When the payment last changed (ISO 8601, in UTC)."}
    )


class RefundOut(Schema):
    id = fields.UUID(metadata={"description": "The refund's id."})
    booking_id = fields.UUID(metadata={"description": "The booking whose money goes back."})
    payment_id = fields.UUID(metadata={"description": "The payment refunded."})
    amount = fields.Integer(metadata={"description": "The amount given back, in minor units of `currency`."})
    currency = fields.String(metadata={"description": "The ISO 4217 code of `amount`."})
    reason = fields.String(
        metadata={
            "description": "Why: `customer_cancelled`, `organizer_refunded`, `paid_after_hold_expired`, `duplicate_payment`, `event_cancelled` or `amount_mismatch`."
        }
    )
    status = fields.String(
        metadata={
            "description": "`pending` (sent to the provider, or retried after a passing error), `succeeded`, or `failed` (the provider refused it: see `last_error`).",
            "enum": list(RefundStatus),
        }
    )
    provider_refund_id = fields.String(
        allow_none=True,
        metadata={"description": "The provider's refund id once it accepted it; null before."},
    )
    attempts = fields.Integer(metadata={"description": "How many times it was sent to the provider."})
    last_error = fields.String(
        allow_none=True,
        metadata={"description": "What the provider last answered when it failed; null when it did not."},
    )
    created_at = fields.AwareDateTime(
        metadata={"description": "When the refund was decided (ISO 8601, in UTC)."}
    )
    updated_at = fields.AwareDateTime(metadata={"description": "When it last changed (ISO 8601, in UTC)."})


class PaymentQuery(InputSchema):
    status = fields.String(
        validate=validate.OneOf(tuple(PaymentStatus)),
        metadata={"description": "Only payments with this status."},
    )


class RefundQuery(InputSchema):
    status = fields.String(
        validate=validate.OneOf(tuple(RefundStatus)),
        metadata={"description": "Only refunds with this status."},
    )


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
    booking_id = fields.UUID(metadata={"description": "The id the queued request was given."})
    user_id = fields.UUID(metadata={"description": "The customer who asked."})
    queue_seq = fields.Integer(metadata={"description": "its place in the queue"})
    request = fields.Dict(metadata={"description": "the request as it was queued"})
    error = fields.String(metadata={"description": "why the database refused its booking"})
    created_at = fields.AwareDateTime(metadata={"description": "When it was set aside (ISO 8601, in UTC)."})


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
    event_id = fields.UUID(metadata={"description": "The event."})
    status = fields.String(
        metadata={"description": "The event's status: `draft`, `published` or `cancelled`."}
    )
    capacity = fields.Integer(
        allow_none=True,
        metadata={"description": "The event's capacity; null: only the types' quotas bound it."},
    )
    held = fields.Integer(metadata={"description": "Tickets kept for bookings being paid."})
    sold = fields.Integer(metadata={"description": "Tickets of confirmed bookings."})
    available = fields.Integer(metadata={"description": "Tickets still to be had."})
    ticket_types = fields.List(
        fields.Nested(TicketTypeOut), metadata={"description": "The same figures per ticket type."}
    )
    bookings = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "count by status"}
    )
    currency = fields.String(
        allow_none=True,
        metadata={"description": "The ISO 4217 code of `paid` and `refunded`; null before any ticket type."},
    )
    paid = fields.Integer(metadata={"description": "Money received, in minor units of `currency`."})
    refunded = fields.Integer(metadata={"description": "Money given back, in minor units of `currency`."})
    tickets_issued = fields.Integer(metadata={"description": "Valid tickets issued."})
    checked_in = fields.Integer(metadata={"description": "Tickets scanned at the door."})


@blp.route("/<uuid:event_id>/stats")
class Stats(MethodView):
    @jwt_required()
    @blp.response(200, StatsOut)
    def get(self, event_id):
        """The event's figures: inventory, bookings by status, money taken and given back, check-ins."""
        return stats.event_stats(_organizers_event(event_id), event_id)
