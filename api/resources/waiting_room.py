"""An event's waiting room as anyone may see it: the seed's commitment before the opening, the
seed and how to recompute the order after it."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from marshmallow import Schema, fields

from api.auth import current_actor
from api.db import request_uow
from api.json_body import Blueprint
from core.services import waiting_room

blp = Blueprint(
    "waiting_room", __name__, url_prefix="/api/v1/events", description="The fair opening of an event's sales"
)


class WaitingRoomOut(Schema):
    event_id = fields.UUID(metadata={"description": "The event."})
    opens_at = fields.AwareDateTime(metadata={"description": "When the room opened (or opens)."})
    sales_start = fields.AwareDateTime(metadata={"description": "The opening: the room is shuffled then."})
    entrants = fields.Integer(metadata={"description": "Requests in the room (after the shuffle: shuffled)."})
    seed_commitment = fields.String(
        metadata={"description": "SHA-256 (hex) of the secret seed, published before the opening."}
    )
    seed = fields.String(
        metadata={"description": "After the shuffle: the seed (hex); its SHA-256 is `seed_commitment`."}
    )
    shuffled_at = fields.AwareDateTime(metadata={"description": "After the shuffle: when it was done."})
    first_queue_number = fields.Integer(
        metadata={"description": "After the shuffle: the queue number of the first entrant in the order."}
    )
    recompute = fields.String(
        metadata={
            "description": "After the shuffle: Python that recomputes every entrant's queue number from `SEED` (the seed), `BOOKING_IDS` (the entrants' booking ids) and `FIRST_QUEUE_SEQ` (`first_queue_number`)."
        }
    )


@blp.route("/<uuid:event_id>/waiting-room")
class WaitingRoom(MethodView):
    @blp.response(200, WaitingRoomOut)
    def get(self, event_id):
        """The event's waiting room: how many wait, the seed's commitment, and after the shuffle
        the seed and how to check the order."""
        verify_jwt_in_request(optional=True)
        actor = current_actor() if get_jwt() else None
        return waiting_room.waiting_room_view(request_uow(), event_id, actor)
