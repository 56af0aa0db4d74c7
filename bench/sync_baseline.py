"""The baseline for the flash-sale benchmark: booking the usual way, inside the web request.

Each request locks the event's inventory, applies the very same rules (`core.booking_rules`),
writes the booking and its lines, updates the counters and commits — one transaction per
request, on the same database, behind the same JWT check. Only the architecture differs from
Boxoffice's queue and batched drainer, so the comparison measures the architecture.

Serve it with `gunicorn "bench.sync_baseline:create_app()"`.
"""

from __future__ import annotations

import uuid

from flask import Flask, jsonify, request
from flask_jwt_extended import JWTManager, get_jwt_identity, jwt_required
from sqlalchemy import insert

from core import runtime
from core.booking_requests import BookingRequest
from core.booking_rules import decide
from core.config import Settings
from core.inventory import Line, lock_inventory
from core.lifecycle import DecidedRows
from core.models import Booking, BookingLine, new_id, utcnow
from core.services.allocation import customer_states


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    runtime.configure(settings)
    app = Flask(__name__)
    app.config.update(JWT_SECRET_KEY=settings.jwt_secret_key)
    JWTManager(app)

    @app.post("/sync/bookings")
    @jwt_required()
    def book():
        body = request.get_json()
        event_id = uuid.UUID(body["event_id"])
        booking_request = BookingRequest(
            booking_id=new_id(),
            user_id=uuid.UUID(get_jwt_identity()),
            event_id=event_id,
            seq=0,
            lines=tuple(Line(uuid.UUID(i["ticket_type_id"]), int(i["quantity"])) for i in body["items"]),
            join_waitlist=bool(body.get("join_waitlist")),
            requested_at=utcnow(),
        )
        with runtime.database().unit_of_work() as uow:
            inventory = lock_inventory(uow, event_id)
            customer = customer_states(uow, event_id, {booking_request.user_id})[booking_request.user_id]
            decision = decide(booking_request, inventory, customer)
            rows = DecidedRows(inventory, utcnow())
            booking = rows.add(booking_request, decision)
            connection = uow.session.connection()
            connection.execute(insert(Booking.__table__), rows.bookings)
            if rows.lines:
                connection.execute(insert(BookingLine.__table__), rows.lines)
            uow.commit()
        return jsonify(id=str(booking["id"]), status=decision.status, reason=decision.reason), 201

    return app
