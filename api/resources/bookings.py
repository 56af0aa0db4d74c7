"""Bookings: ask for tickets (answered at once with 202), poll the status, list, cancel."""

from __future__ import annotations

import math
import re

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt, jwt_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_actor, current_session_id, current_user_id
from api.db import request_uow
from api.extensions import limiter
from api.input import InputSchema
from api.pagination import paginate_select
from core import links, runtime
from core.errors import Invalid
from core.inventory import Line
from core.services import accounts, bookings, checkouts
from core.statuses import PENDING_BOOKING_STATUSES, BookingStatus, PaymentStatus

blp = Blueprint(
    "bookings", __name__, url_prefix="/api/v1/bookings", description="Booking requests and bookings"
)

MAX_RETRY_AFTER = 10
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


class ItemIn(InputSchema):
    ticket_type_id = fields.UUID(required=True)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))


class BookingIn(InputSchema):
    event_id = fields.UUID(required=True)
    items = fields.List(fields.Nested(ItemIn), required=True, validate=validate.Length(min=1, max=20))
    join_waitlist = fields.Boolean(load_default=False)


class BookingAccepted(Schema):
    """The answer to a booking request: where it stands now. Poll `Location` for the rest."""

    id = fields.UUID()
    status = fields.String(metadata={"enum": list(BookingStatus)})
    queue_position = fields.Integer(allow_none=True)


_ACCEPTED = BookingAccepted()


class ItemOut(Schema):
    ticket_type_id = fields.UUID()
    quantity = fields.Integer()
    unit_price = fields.Integer(allow_none=True)


class BookingPaymentOut(Schema):
    provider = fields.String()
    status = fields.String(metadata={"enum": list(PaymentStatus)})
    checkout_url = fields.String(allow_none=True, metadata={"description": "While it can be paid."})
    expires_at = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "Pay before this to be sure of the tickets (the hold's end)."},
    )


class CheckoutOut(Schema):
    checkout_url = fields.String()
    expires_at = fields.AwareDateTime()


class BookingOut(Schema):
    id = fields.UUID()
    event_id = fields.UUID()
    status = fields.String(metadata={"enum": list(BookingStatus)})
    items = fields.List(fields.Nested(ItemOut))
    total = fields.Integer(allow_none=True)
    currency = fields.String(allow_none=True)
    queue_position = fields.Integer(allow_none=True)
    waitlist_position = fields.Integer(allow_none=True)
    estimated_wait_seconds = fields.Float(allow_none=True)
    hold_expires_at = fields.AwareDateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    join_waitlist = fields.Boolean()
    requested_at = fields.AwareDateTime()
    decided_at = fields.AwareDateTime(allow_none=True)
    payment = fields.Nested(BookingPaymentOut, allow_none=True)
    tickets_url = fields.String(
        allow_none=True, metadata={"description": "Once confirmed: the tickets (and `.pdf`)"}
    )


class BookingQuery(InputSchema):
    status = fields.String(validate=validate.OneOf(tuple(BookingStatus)))


def _booking_limit() -> str:
    return runtime.settings().booking_rate_limit


def _retry_after(view: dict) -> dict:
    """How long a client should wait before polling again, while the booking is not final."""
    if view["status"] == BookingStatus.QUEUED:
        wait = view.get("estimated_wait_seconds") or 1
        return {"Retry-After": str(max(1, min(MAX_RETRY_AFTER, math.ceil(wait))))}
    if view["status"] in PENDING_BOOKING_STATUSES:
        return {"Retry-After": str(MAX_RETRY_AFTER)}
    return {}


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise Invalid(
            "Idempotency-Key must be 1 to 200 visible ASCII characters.", name="bad_idempotency_key"
        )
    return key


@blp.route("")
class Bookings(MethodView):
    decorators = [limiter.limit(_booking_limit, methods=["POST"])]

    # The session's revocation is checked by the queueing step itself (`request_booking`).
    @jwt_required(skip_revocation_check=True)
    @blp.arguments(BookingIn())
    @blp.response(202, BookingAccepted)
    @blp.doc(
        parameters=[
            {"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 200}}
        ]
    )
    def post(self, data):
        """Ask for tickets. Answered at once; poll the `Location` until the status is final."""
        claims = get_jwt()
        accounts.check_may_book(claims.get("role", ""), bool(claims.get("email_verified")))
        key = _idempotency_key()
        ask = bookings.BookingAsk(
            event_id=data["event_id"],
            items=tuple(Line(item["ticket_type_id"], item["quantity"]) for item in data["items"]),
            join_waitlist=data["join_waitlist"],
        )
        user_id = current_user_id()
        accepted = bookings.request_booking(user_id, ask, key, session_id=current_session_id())
        view = bookings.read_booking(user_id, accepted["id"]) if accepted.get("duplicate") else accepted
        # The busiest endpoint builds its answer itself: flask-smorest passes a ready Response
        # through (its decorator still documents the schema), and the path comes from
        # `core.links` rather than `url_for`. Same bytes and headers (tests/api/test_booking_answer.py).
        answer = current_app.json.response(_ACCEPTED.dump(view))
        answer.status_code = 202
        answer.headers["Location"] = links.BOOKING.path(booking_id=view["id"])
        answer.headers.update(_retry_after(view))
        return answer

    @jwt_required()
    @blp.arguments(BookingQuery(), location="query")
    @blp.response(200, BookingOut(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """My bookings, newest first (a request appears here once it is decided)."""
        uow = request_uow()
        query = bookings.my_bookings_query(current_user_id(), args.get("status"))
        return [
            bookings.booking_view(uow, b) for b in paginate_select(uow.session, query, pagination_parameters)
        ]


@blp.route("/<uuid:booking_id>")
class BookingById(MethodView):
    @jwt_required()
    @blp.response(200, BookingOut)
    def get(self, booking_id):
        """A booking's status; `Retry-After` says when to poll again while it is not final."""
        view = bookings.read_booking(current_user_id(), booking_id)
        return view, 200, _retry_after(view)


@blp.route("/<uuid:booking_id>/cancel")
class CancelBooking(MethodView):
    @jwt_required()
    @blp.response(200, BookingOut)
    def post(self, booking_id):
        """Let go of a hold, leave the waitlist, or cancel a confirmed booking and refund it."""
        uow = request_uow()
        booking = bookings.cancel_booking(uow, current_actor(), booking_id)
        return bookings.booking_view(uow, booking)


@blp.route("/<uuid:booking_id>/checkout")
class Checkout(MethodView):
    @jwt_required()
    @blp.response(200, CheckoutOut)
    def post(self, booking_id):
        """Pay for a held booking: its open checkout, or a new one (its customer only)."""
        # No request transaction is opened here: the service calls the payment provider, and
        # that never happens while a transaction is open.
        return checkouts.create_checkout(current_user_id(), booking_id)
