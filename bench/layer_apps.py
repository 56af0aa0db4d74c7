"""Apps that each stop at one layer of the booking endpoint, for `bench.api_layers`.

They answer `POST /layer/bookings` with the booking body and token the real endpoint takes,
and `GET /layer/bookings/<id>` (a poll of a queued booking) with the real poll's token, and
exist only to be measured: the goal is the API at 0.8 of `queue_only_app`'s rate for each, so
everything above the Redis steps every booking and every poll must take may add a quarter to
their cost.

- `queue_only_app`: bare Flask, then the queueing step (the Lua script of `core.booking_queue`),
  or the poll's reads of the queued status (`BookingQueue.queued_status`); no token check, no
  validation. No endpoint that queues or reads a queued booking can be faster.
- `hand_rolled_app`: the token verified with one PyJWT call, the body loaded with the API's
  marshmallow schema, then the same services as the API (`request_booking`, `read_booking`),
  the session's revocation checked as the API checks it (in the booking step; with the poll's
  pointer), the API's answer (a poll's dumped by the API's `BookingOut`), without
  flask-jwt-extended, flask-smorest or any hook. What bypassing the libraries would buy.
"""

from __future__ import annotations

import uuid

import jwt
from flask import Flask, abort, request

from core import runtime
from core.booking_queue import booking_queue
from core.booking_requests import BookingRequest
from core.config import Settings
from core.inventory import Line
from core.logging_setup import configure_logging
from core.models import new_id, utcnow
from core.services import bookings


def _answer(booking_id, queue_position):
    return (
        {"id": str(booking_id), "status": "queued", "queue_position": queue_position},
        202,
        {"Location": f"/api/v1/bookings/{booking_id}", "Retry-After": "1"},
    )


def _app() -> Flask:
    configure_logging()  # gunicorn.conf.py's one line per request, as the API writes it
    runtime.configure(Settings.from_env())
    runtime.set_dispatcher(lambda _job, _kwargs: None)  # nothing drains here
    app = Flask(__name__)
    app.get("/healthz")(lambda: "ok")
    return app


def queue_only_app() -> Flask:
    app = _app()

    @app.post("/layer/bookings")
    def queue_only():
        body = request.get_json()
        item = body["items"][0]
        accepted = booking_queue().accept(
            BookingRequest(
                booking_id=new_id(), user_id=uuid.uuid4(), event_id=uuid.UUID(body["event_id"]), seq=0,
                lines=(Line(uuid.UUID(item["ticket_type_id"]), item["quantity"]),),
                join_waitlist=body["join_waitlist"], requested_at=utcnow(),
            ),
            fingerprint="-",
            session_id="-",
        )  # fmt: skip
        return _answer(accepted.booking_id, accepted.queue_position)

    @app.get("/layer/bookings/<uuid:booking_id>")
    def queue_only_poll(booking_id):
        queued = booking_queue().queued_status(booking_id)
        return {"id": str(booking_id), "status": "queued", "queue_position": queued["queue_position"]}

    return app


def hand_rolled_app() -> Flask:
    from api.resources.bookings import BookingIn, BookingOut  # the API's own schemas, without webargs

    app = _app()
    schema, answer = BookingIn(), BookingOut()
    key = runtime.settings().jwt_secret_key

    def verified_claims() -> dict:
        claims = jwt.decode(
            request.headers["Authorization"].removeprefix("Bearer "), key, algorithms=["HS256"]
        )
        if claims["type"] != "access":
            abort(401)
        return claims

    @app.post("/layer/bookings")
    def hand_rolled():
        claims = verified_claims()
        data = schema.load(request.get_json())
        ask = bookings.BookingAsk(
            data["event_id"],
            tuple(Line(item["ticket_type_id"], item["quantity"]) for item in data["items"]),
            data["join_waitlist"],
        )
        accepted = bookings.request_booking(
            runtime.database(), uuid.UUID(claims["sub"]), ask, session_id=claims["sid"]
        )
        return _answer(accepted["id"], accepted["queue_position"])

    @app.get("/layer/bookings/<uuid:booking_id>")
    def hand_rolled_poll(booking_id):
        # The session's revocation is checked with the booking's pointer, as the API's poll does.
        claims = verified_claims()
        view = bookings.read_booking(
            runtime.database(), uuid.UUID(claims["sub"]), booking_id, session_id=claims["sid"]
        )
        return answer.dump(view)  # the API's answer, by its own schema

    return app
