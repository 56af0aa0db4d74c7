"""Reserved seating: the plan (organizers), the seat map (anyone, from Redis), blocking seats."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt, jwt_required, verify_jwt_in_request
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import current_actor
from api.db import request_uow
from api.input import InputSchema
from api.json_body import Blueprint
from api.resources import examples
from core import runtime
from core.seating import plans
from core.seating.reading import STAFF_ROLES, seat_map

blp = Blueprint("seating", __name__, url_prefix="/api/v1/events", description="Reserved seating")
# A plan of 100,000 seats written out seat by seat is about 15 MB of JSON: this blueprint takes
# bodies up to this size (the API's other endpoints keep their 1 MB limit).
PLAN_BODY_LIMIT = 20 * 1024 * 1024


@blp.before_request
def _allow_large_plans() -> None:
    request.max_content_length = PLAN_BODY_LIMIT


COORDINATE = {
    "allow_nan": True,
    "required": True,
}  # non-finite values are refused by the plan, naming the seat


class PointIn(InputSchema):
    x = fields.Float(**COORDINATE, metadata={"description": "Across, in any unit the plan uses throughout."})
    y = fields.Float(**COORDINATE, metadata={"description": "Away from the stage (the SVG's downwards)."})


class SeatIn(InputSchema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=20),
                          metadata={"description": "The seat's name in its row, e.g. `12`."})  # fmt: skip
    x = fields.Float(**COORDINATE, metadata={"description": "Where the seat is, across."})
    y = fields.Float(**COORDINATE, metadata={"description": "Where the seat is, away from the stage."})
    ticket_type_id = fields.UUID(
        required=True, metadata={"description": "A seated ticket type of the event."}
    )
    accessible = fields.Boolean(load_default=False, metadata={"description": "A wheelchair space."})
    companion = fields.Boolean(load_default=False, metadata={"description": "Beside an accessible seat."})
    blocked = fields.Boolean(load_default=False, metadata={"description": "Out of sale from the start."})


class RowIn(InputSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=20),
                         metadata={"description": "The row's name, e.g. `B`."})  # fmt: skip
    seats = fields.List(fields.Nested(SeatIn), required=True,
                        metadata={"description": "The row's seats in order along the row."})  # fmt: skip


class SectionIn(InputSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60),
                         metadata={"description": "The section's name, e.g. `Stalls`."})  # fmt: skip
    rows = fields.Raw(required=True, metadata={
        "description": "The rows (`[{name, seats}]`), or for a regular block their number (with `seats_per_row`)."})  # fmt: skip
    seats_per_row = fields.Integer(strict=True, validate=validate.Range(min=1, max=1000),
                                   metadata={"description": "Block shorthand: seats in each row, labelled 1..M."})  # fmt: skip
    ticket_type_id = fields.UUID(metadata={"description": "Block shorthand: the seats' ticket type."})
    origin = fields.Nested(PointIn, metadata={"description": "Block shorthand: the front row's first seat."})
    seat_spacing = fields.Float(allow_nan=True, load_default=1.0,
                                metadata={"description": "Block shorthand: the step between seats."})  # fmt: skip
    row_spacing = fields.Float(allow_nan=True, load_default=1.0,
                               metadata={"description": "Block shorthand: the step between rows."})  # fmt: skip

    @validates_schema
    def _rows(self, data, **_kwargs):
        rows = data["rows"]
        if isinstance(rows, int) and not isinstance(rows, bool):
            if not 1 <= rows <= 1000:
                raise ValidationError("Between 1 and 1000 rows.", "rows")
            if "seats_per_row" not in data or "ticket_type_id" not in data:
                raise ValidationError("A block needs seats_per_row and ticket_type_id.", "rows")
            return
        if not isinstance(rows, list):
            raise ValidationError("A list of rows, or a number of rows.", "rows")
        data["rows"] = RowIn(many=True).load(rows)


class SeatingIn(InputSchema):
    focal_point = fields.Nested(
        PointIn, required=True, metadata={"description": "The stage: best available measures from here."}
    )
    sections = fields.List(
        fields.Nested(SectionIn), required=True, metadata={"description": "The plan's sections."}
    )


class PlanSeatOut(Schema):
    id = fields.UUID(metadata={"description": "The seat's id (the `seat_ids` of a booking's items)."})
    label = fields.String(metadata={"description": "The seat's name in its row."})
    x = fields.Float(metadata={"description": "Where the seat is, across."})
    y = fields.Float(metadata={"description": "Where the seat is, away from the stage."})
    ticket_type_id = fields.UUID(metadata={"description": "The seated ticket type it is sold as."})
    accessible = fields.Boolean(
        metadata={"description": "A wheelchair space: best available gives it only to `accessible` requests."}
    )
    companion = fields.Boolean(metadata={"description": "Beside an accessible seat, kept like it."})
    blocked = fields.Boolean(metadata={"description": "Out of sale (`POST /events/{id}/seats/block`)."})


class RowOut(Schema):
    name = fields.String(metadata={"description": "The row's name."})
    seats = fields.List(
        fields.Nested(PlanSeatOut), metadata={"description": "Its seats, in order along the row."}
    )


class SectionOut(Schema):
    name = fields.String(metadata={"description": "The section's name."})
    rows = fields.List(fields.Nested(RowOut), metadata={"description": "Its rows, from the front."})


class PointOut(Schema):
    x = fields.Float(metadata={"description": "Across."})
    y = fields.Float(metadata={"description": "Away from the stage."})


class SeatingOut(Schema):
    focal_point = fields.Nested(
        PointOut, metadata={"description": "The stage: best available measures from here."}
    )
    sections = fields.List(
        fields.Nested(SectionOut), metadata={"description": "The plan's sections, with every seat's id."}
    )


class BlockIn(InputSchema):
    seat_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=100_000),
                           metadata={"description": "Seats of the event's plan."})  # fmt: skip
    blocked = fields.Boolean(
        required=True, metadata={"description": "`true` takes them out of sale, `false` puts them back."}
    )


class BlockOut(Schema):
    blocked = fields.List(fields.UUID(), metadata={"description": "Every blocked seat of the plan now."})


@blp.route("/<uuid:event_id>/seating")
class Seating(MethodView):
    @jwt_required()
    @blp.arguments(SeatingIn(), example=examples.SEATING)
    @blp.response(200, SeatingOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Seats are held or sold (`seating_in_use`).")
    def put(self, data, event_id):
        """Lay out the event's seats (or replace them while none is held or sold). A seated ticket
        type's quota becomes its number of seats that are not blocked. Bad plans are a `422`
        naming the seat: `duplicate_seat`, `unknown_ticket_type`, `unseated_ticket_type`,
        `invalid_coordinates`, `too_many_seats` (more than 100,000)."""
        uow = request_uow()
        state = plans.put_plan(uow, current_actor(), event_id, data)
        uow.commit()
        return plans.plan_view(state)

    @jwt_required()
    @blp.response(200, SeatingOut)
    def get(self, event_id):
        """The plan as laid out, with every seat's id (organizers)."""
        return plans.plan_view(plans.get_plan(request_uow(), current_actor(), event_id))


@blp.route("/<uuid:event_id>/seats/block")
class BlockSeats(MethodView):
    @jwt_required()
    @blp.arguments(BlockIn(), example=examples.SEATS_BLOCK)
    @blp.response(200, BlockOut)
    @blp.alt_response(
        409, schema=ErrorSchema, description="A held or sold seat cannot be blocked (`seat_in_use`)."
    )
    def post(self, data, event_id):
        """Block seats (never allocated: camera positions, house seats) or unblock them."""
        uow = request_uow()
        state = plans.block_seats(uow, current_actor(), event_id, data["seat_ids"], data["blocked"])
        uow.commit()
        return {"blocked": sorted(state.blocked, key=str)}


def _seat_map_response(event_id, fmt: str, mimetype: str) -> Response:
    verify_jwt_in_request(optional=True)
    claims = get_jwt()
    actor = current_actor() if claims.get("role") in STAFF_ROLES else None
    etag, body = seat_map(runtime.database(), request_uow(), event_id, fmt, actor)
    answer = (
        Response(status=304) if request.if_none_match.contains(etag) else Response(body, mimetype=mimetype)
    )
    answer.set_etag(etag)
    answer.headers["Cache-Control"] = "no-cache"
    return answer


@blp.route("/<uuid:event_id>/seats")
class Seats(MethodView):
    @blp.response(200, content_type="application/json")
    def get(self, event_id):
        """`{focal_point, seats: [{id, section, row, label, x, y, ticket_type_id, accessible,
        companion, status}]}`: `status` is `available` or `unavailable`, or for the event's
        organizers and staff `available`, `held`, `sold` or `blocked`. From a cache the
        allocation keeps current; send `If-None-Match` with the `ETag` to be told `304`."""
        return _seat_map_response(event_id, "json", "application/json")


@blp.route("/<uuid:event_id>/seatmap.svg")
class SeatMapSvg(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    def get(self, event_id):
        """The seat map drawn: a circle per seat (`data-seat-id`), coloured by its status (as in
        `GET /seats`), rows and sections named, the stage marked."""
        return _seat_map_response(event_id, "svg", "image/svg+xml")
