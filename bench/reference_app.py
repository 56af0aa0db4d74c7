"""The API reference: a bare Flask app whose one endpoint does what every JSON request costs.

`POST /ref` parses a body the size of a booking request and answers 202 like the booking
endpoint, with nothing else: no token check, no Redis. Served by gunicorn with the API's
settings, its rate is the ceiling the booking endpoint is measured against.
"""

from __future__ import annotations

import uuid

from flask import Flask, request

from core.logging_setup import configure_logging

# A stand-in for a customer's access token, as long as a real one, so headers weigh the same.
FAKE_ACCESS_TOKEN = "e" * 300


def booking_sized_body(i: int) -> dict:
    """A `POST /api/v1/bookings` body for request i, with ids as long as real ones."""
    return {
        "event_id": str(uuid.UUID(int=i + 1)),
        "items": [{"ticket_type_id": str(uuid.UUID(int=i + 2)), "quantity": 2}],
        "join_waitlist": True,
    }


def create_app() -> Flask:
    configure_logging()  # gunicorn.conf.py's one line per request, as the API writes it
    app = Flask(__name__)

    @app.post("/ref")
    def accept_reference():
        body = request.get_json()
        booking_id = str(uuid.uuid4())
        payload = {
            "id": booking_id,
            "status": "queued",
            "queue_position": len(body["items"]),
        }
        return payload, 202, {"Location": f"/ref/{booking_id}", "Retry-After": "1"}

    return app
