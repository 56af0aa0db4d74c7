"""Bookings: ask for tickets (answered at once with 202), poll the status, list, cancel."""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator

from flask import Response, current_app, request
from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import (
    by_account,
    current_actor,
    current_claims,
    current_session_id,
    current_user_id,
    is_revoked,
)
from api.db import committed, request_uow
from api.extensions import limiter, rate_limits
from api.input import InputSchema
from api.json_body import Blueprint
from api.metrics import LIVE_WAITERS
from api.pagination import paginate_select
from api.resources import examples
from api.rush_path import lean
from api.voucher_guesses import voucher_guess_limits
from core import links, runtime
from core.errors import Invalid
from core.inventory import Line
from core.models import utcnow
from core.services import accounts, booking_updates, bookings, checkouts
from core.statuses import PENDING_BOOKING_STATUSES, BookingStatus, PaymentStatus

blp = Blueprint(
    "bookings", __name__, url_prefix="/api/v1/bookings", description="Booking requests and bookings"
)

MAX_RETRY_AFTER = 10
MAX_ROOM_RETRY_AFTER = 3600
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


class AttendeeIn(InputSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "Printed on the ticket and shown at check-in."})  # fmt: skip
    email = fields.Email(validate=validate.Length(max=320), metadata={"description": "The attendee's email."})
    answers = fields.Dict(keys=fields.UUID(), values=fields.Raw(allow_none=False), validate=validate.Length(max=50),
                          metadata={"description": "Answers by question id: text, an option, or true/false."})  # fmt: skip


class ItemIn(InputSchema):
    ticket_type_id = fields.UUID(
        required=True,
        metadata={"description": "The ticket type to book (one of the event's `ticket_types[].id`)."},
    )
    quantity = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=100),
        metadata={
            "description": "How many tickets of this type (1 to 100, and within the event's `max_per_booking`); "
            "for a seated type without `seat_ids`, the engine chooses the best available seats."
        },
    )
    seat_ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=100),
                           metadata={"description": "A seated type: the seats chosen (`GET /events/{id}/seats`), "
                                     "instead of `quantity`; a seat already taken when the request's turn comes "
                                     "rejects it with `seat_unavailable`."})  # fmt: skip
    attendees = fields.List(fields.Nested(AttendeeIn), validate=validate.Length(max=100),
                            metadata={"description": "Who the tickets are for, one each, in order (at most `quantity`)."})  # fmt: skip

    @validates_schema
    def _quantity_or_seats(self, data, **_kwargs):
        seats = data.get("seat_ids")
        if seats is None:
            if "quantity" not in data:
                raise ValidationError("Give quantity, or seat_ids for chosen seats.", "quantity")
            return
        if len(set(seats)) != len(seats):
            raise ValidationError("List each seat once.", "seat_ids")
        if data.setdefault("quantity", len(seats)) != len(seats):
            raise ValidationError("quantity must be the number of seat_ids.", "quantity")


class BookingIn(InputSchema):
    event_id = fields.UUID(required=True, metadata={"description": "The event to book."})
    items = fields.List(
        fields.Nested(ItemIn),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "The tickets asked for, one entry per ticket type (1 to 20 entries). All or nothing: the booking is held whole or not at all."
        },
    )
    join_waitlist = fields.Boolean(
        load_default=False,
        metadata={
            "description": "When sold out: wait on the event's waitlist (status `waitlisted`) instead of being `rejected`. Default false."
        },
    )
    voucher_code = fields.String(validate=validate.Length(min=1, max=64),
                                 metadata={"description": "A voucher of the event: a discount, hidden types."})  # fmt: skip
    accessible = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Seats for someone who needs an accessible seat: best available gives accessible "
            "seats (and the companion seats beside them) only to such requests. Default false."
        },
    )


class BookingAccepted(Schema):
    """The answer to a booking request: where it stands now. Poll `Location` for the rest."""

    id = fields.UUID(
        metadata={
            "description": "The booking's id; poll `GET /api/v1/bookings/{id}` (the `Location` header) for its decision."
        }
    )
    status = fields.String(
        metadata={
            "description": "Where the request stands: `queued` until the allocation decides, then `held`, `waitlisted` or `rejected` (a repeated `Idempotency-Key` answers the booking's current status).",
            "enum": list(BookingStatus),
        }
    )
    queue_position = fields.Integer(
        allow_none=True,
        metadata={
            "description": "While `queued`: its place in the event's queue (1 is next); null once decided, and in the waiting room."
        },
    )
    waiting_room = fields.Boolean(
        metadata={
            "description": "True when the request waits in the event's waiting room until `sales_start`, when the room is shuffled (see `GET /api/v1/events/{id}/waiting-room`)."
        }
    )


_ACCEPTED = BookingAccepted()


class SeatRefOut(Schema):
    id = fields.UUID(metadata={"description": "The seat's id in the event's plan."})
    section = fields.String(metadata={"description": "The seat's section."})
    row = fields.String(metadata={"description": "The seat's row."})
    label = fields.String(metadata={"description": "The seat's name in its row."})


class ItemOut(Schema):
    ticket_type_id = fields.UUID(metadata={"description": "The ticket type booked."})
    quantity = fields.Integer(metadata={"description": "How many tickets of this type."})
    unit_price = fields.Integer(
        allow_none=True,
        metadata={
            "description": "The price of one ticket as booked, in minor units of the booking's `currency` (after any voucher); null while the request is not decided."
        },
    )
    seats = fields.List(fields.Nested(SeatRefOut), metadata={
        "description": "A seated type: the seats held or confirmed for the booking, in plan order (empty otherwise)."})  # fmt: skip


class BookingPaymentOut(Schema):
    provider = fields.String(
        metadata={"description": "Who takes the money: `stripe`, or `local` (the built-in test checkout)."}
    )
    status = fields.String(
        metadata={
            "description": "The payment's state: `pending` (a checkout may still be paid), `paid`, `failed` (a new checkout may be made), `expired` (closed unpaid) or `refunded`.",
            "enum": list(PaymentStatus),
        }
    )
    checkout_url = fields.String(allow_none=True, metadata={"description": "While it can be paid."})
    expires_at = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "Pay before this to be sure of the tickets (the hold's end)."},
    )


class CheckoutOut(Schema):
    checkout_url = fields.String(metadata={"description": "The payment page to send the customer to."})
    expires_at = fields.AwareDateTime(
        metadata={"description": "Pay before this (ISO 8601 with its UTC offset): the hold ends then."}
    )


class BookingOut(Schema):
    id = fields.UUID(metadata={"description": "The booking's id."})
    event_id = fields.UUID(metadata={"description": "The event booked."})
    status = fields.String(
        metadata={
            "description": "`queued` (waiting for the allocation), `held` (tickets kept for you until `hold_expires_at`: pay), `waitlisted`, `confirmed` (paid; tickets issued), `rejected` (see `reason`), `expired` (the hold ended unpaid) or `cancelled`. The last four are final.",
            "enum": list(BookingStatus),
        }
    )
    items = fields.List(
        fields.Nested(ItemOut), metadata={"description": "The tickets asked for, one entry per ticket type."}
    )
    total = fields.Integer(
        allow_none=True,
        metadata={
            "description": "What the booking costs, in minor units of `currency` (e.g. 2500 with `EUR` is 25.00 euros); null while it is not decided."
        },
    )
    currency = fields.String(
        allow_none=True,
        metadata={
            "description": "The ISO 4217 code of `total` and of the items' `unit_price`; null while not decided."
        },
    )
    queue_position = fields.Integer(
        allow_none=True,
        metadata={
            "description": "While `queued`: its place in the event's queue (1 is next); otherwise null."
        },
    )
    waitlist_position = fields.Integer(
        allow_none=True,
        metadata={
            "description": "While `waitlisted`: its place on the waitlist (1 is next); otherwise null."
        },
    )
    waiting_room = fields.Boolean(
        metadata={
            "description": "While `queued`: true in the event's waiting room (no position until the shuffle at `sales_start`)."
        }
    )
    sales_start = fields.AwareDateTime(
        metadata={"description": "In the waiting room: the opening, when the room is shuffled."}
    )
    estimated_wait_seconds = fields.Float(
        allow_none=True,
        metadata={
            "description": "While `queued`: the expected wait for a decision, in seconds; otherwise null."
        },
    )
    hold_expires_at = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "While `held`: when the tickets are let go unless paid (ISO 8601 with its UTC offset); otherwise null."
        },
    )
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why it ended as it did, as a machine name: for `rejected`, `sold_out`, `sales_closed`, `limit_exceeded`, `hold_exists`, `event_cancelled`, `invalid_request` or `voucher_exhausted`; `complimentary` for an organizer's guest; for a refunded `cancelled` booking, the refund's reason (`customer_cancelled`, `organizer_refunded`, `event_cancelled`...). Null otherwise."
        },
    )
    join_waitlist = fields.Boolean(
        metadata={"description": "Whether the customer asked to wait on the waitlist when sold out."}
    )
    requested_at = fields.AwareDateTime(
        metadata={"description": "When the customer asked (ISO 8601 with its UTC offset)."}
    )
    decided_at = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When the allocation decided (ISO 8601 with its UTC offset); null while `queued`."
        },
    )
    payment = fields.Nested(
        BookingPaymentOut,
        allow_none=True,
        metadata={"description": "The booking's latest payment; null before a checkout was made."},
    )
    tickets_url = fields.String(
        allow_none=True, metadata={"description": "Once confirmed: the tickets (and `.pdf`)"}
    )
    booking_page_url = fields.String(
        metadata={
            "description": "To its customer, once decided: the booking's page, the signed link its emails carry (pay, tickets, cancel)."
        }
    )


class BookingQuery(InputSchema):
    status = fields.String(
        validate=validate.OneOf(tuple(BookingStatus)),
        metadata={
            "description": "Only bookings with this status (`held`, `confirmed`, `waitlisted`, `rejected`, `expired`, `cancelled`)."
        },
    )


def _booking_limit() -> str:
    return runtime.settings().booking_rate_limit


def _retry_after(view: dict) -> dict:
    """How long a client should wait before polling again, while the booking is not final: in
    the waiting room, until the opening; queued, its expected wait (position / decision rate)."""
    if view.get("waiting_room") and view.get("sales_start"):
        until_opening = (view["sales_start"] - utcnow()).total_seconds()
        return {"Retry-After": str(max(1, min(MAX_ROOM_RETRY_AFTER, math.ceil(until_opening))))}
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
    decorators = rate_limits(
        limiter.limit(_booking_limit, key_func=by_account, methods=["POST"]), *voucher_guess_limits("POST")
    )

    # The session's revocation is checked by the queueing step itself (`request_booking`).
    @lean(blp, body=BookingIn(), skip_revocation_check=True, example=examples.BOOKING)
    @blp.response(202, BookingAccepted)
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "description": "Any 1 to 200 visible ASCII characters chosen by the client (a UUID will do): "
                "a retry with the same key answers the booking already made instead of making another.",
                "schema": {"type": "string", "maxLength": 200},
            }
        ]
    )
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="Not on sale now (`sales_closed`) or cancelled (`event_cancelled`).",
    )
    def post(self, data):
        """Ask for tickets. Answered at once; poll the `Location` until the status is final."""
        claims = current_claims()
        accounts.check_may_book(claims.get("role", ""), bool(claims.get("email_verified")))
        key = _idempotency_key()
        ask = bookings.BookingAsk(
            event_id=data["event_id"],
            items=tuple(
                Line(item["ticket_type_id"], item["quantity"], tuple(item.get("seat_ids", ())))
                for item in data["items"]
            ),  # fmt: skip
            join_waitlist=data["join_waitlist"],
            accessible=data["accessible"],
            voucher_code=data.get("voucher_code"),
            attendees={
                item["ticket_type_id"]: item["attendees"] for item in data["items"] if "attendees" in item
            },
        )
        user_id = current_user_id()
        accepted = bookings.request_booking(
            runtime.database(), user_id, ask, key, session_id=current_session_id()
        )
        view = (
            bookings.read_booking(runtime.database(), user_id, accepted["id"])
            if accepted.get("duplicate")
            else accepted
        )
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


class BookingWaitQuery(InputSchema):
    wait = fields.Integer(
        strict=False,
        validate=validate.Range(min=0, max=booking_updates.MAX_WAIT_SECONDS),
        metadata={
            "description": "Long poll: answer as soon as the status, the queue position (by a tenth or more) or the waitlist position changes, or after this many seconds (0 to 60) with the booking as it is."
        },
    )


@blp.route("/<uuid:booking_id>")
class BookingById(MethodView):
    # A poll's session is checked with the booking's pointer, in one Redis round trip
    # (`read_booking`), and once more before a long poll waits.
    @lean(blp, query=BookingWaitQuery(), revocation_in_view=True)
    @blp.response(200, BookingOut)
    def get(self, args, booking_id):
        """A booking's status; `Retry-After` says when to poll again while it is not final
        (or wait for the next change with `?wait=N`, or follow `/events`)."""
        wait = args.get("wait")
        if wait:
            if is_revoked(current_claims()):
                raise bookings.signed_out()
            with LIVE_WAITERS.track_inprogress():
                view = booking_updates.wait_for_change(
                    runtime.database(), current_user_id(), booking_id, wait
                )
        else:
            view = bookings.read_booking(
                runtime.database(), current_user_id(), booking_id, session_id=current_session_id()
            )
        # Built here, as the 202 of `post` is: flask-smorest passes a ready Response through.
        answer = current_app.json.response(_dump_booking(view))
        answer.headers.update(_retry_after(view))
        return answer


_BOOKING_OUT_FIELDS = frozenset(BookingOut().fields)
_BOOKING_OUT_BY_SHAPE: dict[frozenset[str], BookingOut] = {}


def _dump_booking(view: dict) -> dict:
    """`BookingOut`'s dump of a booking view, by an instance of the schema limited to the fields
    the view has (one per shape: queued, held, confirmed...). The schema writes no field its
    object lacks, so the answer is the same, without asking every absent field for its value
    on each poll of a rush (tests/api/test_rush_path.py compares the answers)."""
    shape = _BOOKING_OUT_FIELDS.intersection(view)
    schema = _BOOKING_OUT_BY_SHAPE.get(shape)
    if schema is None:
        schema = _BOOKING_OUT_BY_SHAPE[shape] = BookingOut(only=shape)
    return schema.dump(view)


@blp.route("/<uuid:booking_id>/events")
class BookingEvents(MethodView):
    @lean(blp)
    @blp.response(200, content_type="text/event-stream")
    def get(self, booking_id):
        """The booking's status as Server-Sent Events: one `status` event (the booking, as `GET`
        answers it) at once and one at each change; the stream ends at a final status. A comment
        line keeps an idle stream open (`LIVE_STATUS_KEEPALIVE`, 15 s)."""
        updates = booking_updates.status_updates(
            runtime.database(), current_user_id(), booking_id, runtime.settings().live_status_keepalive
        )
        return Response(_event_stream(updates), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


def _event_stream(updates) -> Iterator[str]:
    """The updates in the text/event-stream format; closing it (the client left) forgets the watch."""
    with LIVE_WAITERS.track_inprogress(), contextlib.closing(updates):
        for view in updates:
            if view is None:
                yield ": keep-alive\n\n"
            else:
                yield f"event: status\ndata: {json.dumps(_dump_booking(view))}\n\n"


class BookingCancelIn(InputSchema):
    ticket_ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=100),
                             metadata={"description": "Only these tickets of a confirmed booking."})  # fmt: skip


@blp.route("/<uuid:booking_id>/cancel")
class CancelBooking(MethodView):
    @jwt_required()
    @blp.arguments(BookingCancelIn(), required=False, example=examples.BOOKING_CANCEL)
    @blp.response(200, BookingOut)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="Still queued (`not_decided_yet`), already final (`not_cancellable`), or past the refund period (`refund_window_closed`).",
    )
    def post(self, data, booking_id):
        """Let go of a hold, leave the waitlist, or cancel a confirmed booking (or some of its
        tickets, `ticket_ids`) and refund it."""
        uow = request_uow()
        booking = committed(
            bookings.cancel_booking(uow, current_actor(), booking_id, (data or {}).get("ticket_ids"))
        )
        return bookings.booking_view(uow, booking)


@blp.route("/<uuid:booking_id>/checkout")
class Checkout(MethodView):
    @jwt_required()
    @blp.response(200, CheckoutOut)
    @blp.alt_response(
        409, schema=ErrorSchema, description="Not held (`not_held`), or the hold ended (`hold_expired`)."
    )
    def post(self, booking_id):
        """Pay for a held booking: its open checkout, or a new one (its customer only)."""
        # No request transaction is opened here: the service calls the payment provider, and
        # that never happens while a transaction is open.
        return checkouts.create_checkout(runtime.database(), current_user_id(), booking_id)
