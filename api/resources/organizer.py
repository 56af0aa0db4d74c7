"""An event seen by its organizers: the waitlist in the order it will be served."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.auth import current_actor
from api.db import request_uow
from api.pagination import paginate_select
from core.services import events
from core.services.permissions import require_organizer_of
from core.services.waitlist import waitlist_query

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
        uow = request_uow()
        require_organizer_of(current_actor(), events.get_event(uow, event_id))
        page = paginate_select(uow.session, waitlist_query(event_id), pagination_parameters)
        return [
            {
                "position": pagination_parameters.first_item + index + 1,
                "booking_id": booking.id,
                "user_id": booking.user_id,
                "customer_name": booking.user.name,
                "customer_email": booking.user.email,
                "quantity": sum(line.quantity for line in booking.lines),
                "requested_at": booking.requested_at,
            }
            for index, booking in enumerate(page)
        ]
