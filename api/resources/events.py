"""Events: browse and search (anyone), create and edit (organizers), the calendar file."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt, jwt_required, verify_jwt_in_request
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import current_actor
from api.db import committed, request_uow
from api.extensions import rate_limits
from api.input import InputSchema
from api.json_body import Blueprint
from api.pagination import paginate_select
from api.resources import examples
from api.resources.questions import QuestionOut
from api.voucher_guesses import voucher_guess_limits
from core.errors import PreconditionRequired
from core.services import events, questions
from core.services.calendar import event_calendar

blp = Blueprint("events", __name__, url_prefix="/api/v1/events", description="Events and ticket types")

CURRENCY = validate.Regexp(r"^[A-Za-z]{3}$", error="Use a three-letter ISO 4217 code such as EUR.")
TOTAL_BOUND = (f"A price (or surge price) times the event's max_per_booking may not exceed "
               f"{events.MAX_BOOKING_TOTAL:,} minor units (422 booking_total_too_large).")  # fmt: skip


class TicketTypeIn(InputSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=120),
        metadata={
            "description": "What the ticket is called, as customers see it (1 to 120 characters), e.g. `Standard`."
        },
    )
    price = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100_000_000),
                           metadata={"description": f"In minor units. {TOTAL_BOUND}"})  # fmt: skip
    currency = fields.String(
        required=True,
        validate=CURRENCY,
        metadata={
            "description": "The ISO 4217 code of `price` and `surge_price`, e.g. `EUR` (every type of an event shares one currency)."
        },
    )
    quota = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=1_000_000),
        metadata={"description": "How many tickets of this type exist (0 to 1,000,000)."},
    )
    surge_price = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=100_000_000),
        metadata={
            "description": "The price once `surge_threshold` tickets are sold, in minor units of `currency`; null or absent: no surge."
        },
    )
    surge_threshold = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=1_000_000),
        metadata={
            "description": "How many sold tickets switch the price to `surge_price`; null or absent: no surge."
        },
    )
    hidden = fields.Boolean(metadata={"description": "Sold and shown only with a voucher that unlocks it."})
    seated = fields.Boolean(
        metadata={
            "description": "Sold as seats of the event's seating plan (`PUT /events/{id}/seating`): its quota "
            "is then the number of its seats in the plan that are not blocked, and `quota` given here is ignored."
        }
    )
    sales_start = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When this type goes on sale (ISO 8601 with its UTC offset); null: with the event's sales."
        },
    )
    sales_end = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When this type's sales stop (ISO 8601 with its UTC offset); null: with the event's sales."
        },
    )
    min_per_booking = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "The fewest tickets of this type a booking may ask for (default 1)."},
    )


class TicketTypePatch(TicketTypeIn):
    """The same fields, each optional (loaded with `partial=True`)."""


class EventFields(InputSchema):
    title = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The event's name (1 to 200 characters)."},
    )
    description = fields.String(
        validate=validate.Length(max=10_000),
        metadata={"description": "What the event is, in plain text (up to 10,000 characters)."},
    )
    category = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=60),
        metadata={
            "description": "A free word to browse by (e.g. `concert`); null: none. `GET /events?category=` filters on it."
        },
    )
    venue = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "Where it takes place, as people call it (e.g. `Paradiso`)."},
    )
    address = fields.String(
        validate=validate.Length(max=500), metadata={"description": "The venue's postal address."}
    )
    latitude = fields.Float(
        allow_none=True,
        validate=validate.Range(min=-90, max=90),
        metadata={
            "description": "The venue's latitude in decimal degrees (-90 to 90); null: unknown (the event is left out of searches by distance)."
        },
    )
    longitude = fields.Float(
        allow_none=True,
        validate=validate.Range(min=-180, max=180),
        metadata={"description": "The venue's longitude in decimal degrees (-180 to 180); null: unknown."},
    )
    starts_at = fields.AwareDateTime(
        metadata={"description": "When the event begins (ISO 8601 with its UTC offset); read back in UTC."}
    )
    ends_at = fields.AwareDateTime(
        metadata={"description": "When the event ends (ISO 8601 with its UTC offset); after `starts_at`."}
    )
    timezone = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "The venue's IANA time zone (e.g. `Europe/Amsterdam`): mails, tickets and analytics show times in it."
        },
    )
    sales_start = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When tickets go on sale (ISO 8601 with its UTC offset); null: as soon as it is published."
        },
    )
    sales_end = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When sales stop (ISO 8601 with its UTC offset); null: when the event starts (sales always stop then)."
        },
    )
    waiting_room_opens_at = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When the waiting room opens (ISO 8601 with its UTC offset), before `sales_start`: requests made from then until `sales_start` are shuffled into a random order at the opening (see `GET /api/v1/events/{id}/waiting-room`); null: no waiting room, first come first served. Fixed once the room is open."
        },
    )
    hold_seconds = fields.Integer(
        strict=True,
        validate=validate.Range(min=60, max=86_400),
        metadata={
            "description": "How long a held booking keeps its tickets while the customer pays, in seconds (60 to 86,400)."
        },
    )
    max_per_booking = fields.Integer(strict=True, validate=validate.Range(min=1, max=100),
                                     metadata={"description": TOTAL_BOUND})  # fmt: skip
    max_per_user = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=1_000),
        metadata={
            "description": "The most tickets one customer may hold or have for this event, over all their bookings."
        },
    )
    waitlist_enabled = fields.Boolean(
        metadata={"description": "Whether customers may wait on a waitlist when it is sold out."}
    )
    refund_until = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "Until when a confirmed booking may be cancelled for a refund (ISO 8601 with its UTC offset); null: the customer cannot cancel for a refund (organizers always can). A free booking may always be given back."
        },
    )
    capacity = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=10_000_000),
        metadata={
            "description": "The most tickets of all types together that may be held and sold (e.g. the room's size); null: only the types' quotas bound it."
        },
    )


class EventCreate(EventFields):
    title = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The event's name (1 to 200 characters)."},
    )
    starts_at = fields.AwareDateTime(
        required=True,
        metadata={"description": "When the event begins (ISO 8601 with its UTC offset); read back in UTC."},
    )
    ends_at = fields.AwareDateTime(
        required=True,
        metadata={"description": "When the event ends (ISO 8601 with its UTC offset); after `starts_at`."},
    )
    organization_id = fields.UUID(metadata={"description": "Admins only: the organizing company."})
    ticket_types = fields.List(
        fields.Nested(TicketTypeIn),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "The kinds of ticket on sale (1 to 50), each with its price and quota."},
    )


class TicketTypeOut(Schema):
    id = fields.UUID(
        metadata={"description": "The ticket type's id (the `ticket_type_id` of a booking's items)."}
    )
    name = fields.String(metadata={"description": "What the ticket is called."})
    price = fields.Integer(
        metadata={"description": "The price now (surge price once its threshold is sold)."}
    )
    list_price = fields.Integer(
        metadata={"description": "The price before any surge or voucher, in minor units of `currency`."}
    )
    currency = fields.String(metadata={"description": "The ISO 4217 code of the prices."})
    quota = fields.Integer(metadata={"description": "How many tickets of this type exist."})
    held = fields.Integer(metadata={"description": "Tickets kept for bookings being paid."})
    sold = fields.Integer(metadata={"description": "Tickets of confirmed bookings."})
    available = fields.Integer(
        metadata={
            "description": "Tickets still to be had: the quota less what is held and sold (and within the event's capacity)."
        }
    )
    surge_price = fields.Integer(
        allow_none=True,
        metadata={
            "description": "The price once `surge_threshold` tickets are sold, in minor units; null: no surge."
        },
    )
    surge_threshold = fields.Integer(
        allow_none=True,
        metadata={"description": "How many sold tickets switch the price to `surge_price`; null: no surge."},
    )
    hidden = fields.Boolean(
        metadata={"description": "Whether it is sold and shown only with a voucher that unlocks it."}
    )
    seated = fields.Boolean(metadata={"description": "Whether it is sold as seats of the seating plan."})
    sales_start = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When this type goes on sale (ISO 8601 with its UTC offset); null: with the event's sales."
        },
    )
    sales_end = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When this type's sales stop (ISO 8601 with its UTC offset); null: with the event's sales."
        },
    )
    min_per_booking = fields.Integer(
        metadata={"description": "The fewest tickets of this type a booking may ask for."}
    )


class EventOut(EventFields):
    id = fields.UUID(metadata={"description": "The event's id."})
    organization_id = fields.UUID(metadata={"description": "The organization that runs the event."})
    status = fields.String(
        metadata={
            "description": "`draft` (only its organizers see it), `published` (on sale, visible to everyone) or `cancelled`."
        }
    )
    version = fields.Integer(
        metadata={
            "description": "Increases with every change; the `ETag` to send back in `If-Match` when editing."
        }
    )
    published_at = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "When it was last published (ISO 8601, in UTC); null while a draft."},
    )
    available = fields.Method(
        "_available", metadata={"description": "Tickets still to be had over all types."}
    )
    ticket_types = fields.Method(
        "_ticket_types",
        metadata={
            "description": "The kinds of ticket (hidden ones only with a voucher that unlocks them, or for its organizers)."
        },
    )

    def _available(self, event) -> int:
        return events.event_availability(event)

    def _ticket_types(self, event) -> list:
        return TicketTypeOut(many=True).dump(
            [events.ticket_type_view(event, tt, getattr(event, "voucher", None)) for tt in event.ticket_types]
        )


class EventDetailOut(EventOut):
    questions = fields.Method("_questions", metadata={"description": "Asked of each attendee when booking."})

    def _questions(self, event) -> list:
        return QuestionOut(many=True).dump(
            [questions.question_view(q) for q in questions.public_questions(event)]
        )


class EventByIdQuery(InputSchema):
    voucher = fields.String(validate=validate.Length(min=1, max=64),
                            metadata={"description": "A code: the hidden types it unlocks, prices after its discount."})  # fmt: skip


class EventQuery(InputSchema):
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Text to find in the title, description or venue (case-insensitive)."},
    )
    category = fields.String(
        validate=validate.Length(min=1, max=60), metadata={"description": "Only events of this category."}
    )
    starts_after = fields.AwareDateTime(
        metadata={
            "description": "Only events that start at or after this time (ISO 8601 with its UTC offset)."
        }
    )
    starts_before = fields.AwareDateTime(
        metadata={"description": "Only events that start before this time (ISO 8601 with its UTC offset)."}
    )
    lat = fields.Float(
        validate=validate.Range(min=-90, max=90),
        metadata={"description": "With `lng` and `radius_km`: the centre's latitude in decimal degrees."},
    )
    lng = fields.Float(
        validate=validate.Range(min=-180, max=180),
        metadata={"description": "With `lat` and `radius_km`: the centre's longitude in decimal degrees."},
    )
    radius_km = fields.Float(
        validate=validate.Range(min=0, max=20_000, min_inclusive=False),
        metadata={
            "description": "With `lat` and `lng`: only events within this many kilometres of the centre."
        },
    )
    available = fields.Boolean(
        metadata={"description": "true: only events with tickets left; false: only sold-out ones."}
    )

    @validates_schema
    def _location_together(self, data, **_kwargs):
        given = [name for name in ("lat", "lng", "radius_km") if name in data]
        if given and len(given) != 3:
            raise ValidationError("lat, lng and radius_km go together.", "radius_km")


def _etag(event) -> str:
    return f'"{event.version}"'


def documents_if_match(view):
    """The answers of a change guarded by the event's ETag (`_expected_version`): `428` without
    `If-Match`, `412` when the event changed since it was read."""
    view = blp.alt_response(
        412,
        schema=ErrorSchema,
        description="The event changed since you read it (`version_mismatch`): read it again.",
    )(view)
    return blp.alt_response(
        428,
        schema=ErrorSchema,
        description="No `If-Match` header (`if_match_required`): send the ETag you read.",
    )(view)


def _expected_version() -> int:
    """The version the client read, from `If-Match` (a change without it is refused with 428)."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired(
            "Send If-Match with the ETag you read, so edits never cross.", name="if_match_required"
        )
    try:
        return int(header.strip().removeprefix("W/").strip('"'))
    except ValueError:
        return -1


def _with_etag(event, status=200):
    return event, status, {"ETag": _etag(event)}


@blp.route("")
class Events(MethodView):
    @blp.arguments(EventQuery(), location="query")
    @blp.response(200, EventOut(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Published upcoming events, soonest first, narrowed by the filters."""
        query = events.search_events_query(events.EventFilters(**args))
        return [
            events.public_event(e)
            for e in paginate_select(request_uow().session, query, pagination_parameters)
        ]

    @jwt_required()
    @blp.arguments(EventCreate(), example=examples.EVENT_CREATE)
    @blp.response(201, EventOut)
    def post(self, data):
        """Create an event (a draft) with its ticket types."""
        return _with_etag(committed(events.create_event(request_uow(), current_actor(), data)), 201)


@blp.route("/<uuid:event_id>")
class EventById(MethodView):
    decorators = rate_limits(*voucher_guess_limits("GET"))

    @blp.arguments(EventByIdQuery(), location="query")
    @blp.response(200, EventDetailOut)
    def get(self, args, event_id):
        """An event with its ticket types and what is still available (`?voucher=CODE`: with
        the hidden types that code unlocks and its prices)."""
        verify_jwt_in_request(optional=True)
        actor = current_actor() if get_jwt() else None
        return _with_etag(events.event_for(request_uow(), event_id, actor, args.get("voucher")))

    @jwt_required()
    @blp.arguments(EventFields(), example=examples.EVENT_PATCH)
    @documents_if_match
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="A cancelled event (`event_cancelled`), or a capacity below what is held and sold (`capacity_below_allocated`).",
    )
    @blp.response(200, EventOut)
    def patch(self, data, event_id):
        """Edit an event; send `If-Match` with its ETag."""
        event = committed(
            events.update_event(request_uow(), current_actor(), event_id, data, _expected_version())
        )
        return _with_etag(event)


@blp.route("/<uuid:event_id>/ticket-types")
class TicketTypes(MethodView):
    @jwt_required()
    @blp.arguments(TicketTypeIn(), example=examples.NEW_TICKET_TYPE)
    @documents_if_match
    @blp.alt_response(409, schema=ErrorSchema, description="A cancelled event (`event_cancelled`).")
    @blp.response(201, EventOut)
    def post(self, data, event_id):
        """Add a ticket type; send `If-Match` with the event's ETag."""
        event = committed(
            events.add_ticket_type(request_uow(), current_actor(), event_id, data, _expected_version())
        )
        return _with_etag(event, 201)


@blp.route("/<uuid:event_id>/ticket-types/<uuid:ticket_type_id>")
class TicketTypeById(MethodView):
    @jwt_required()
    @blp.arguments(TicketTypePatch(partial=True), example=examples.TICKET_TYPE_PATCH)
    @documents_if_match
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="A quota below what is held and sold (`quota_below_allocated`), a currency that can no longer change (`currency_locked`), a cancelled event (`event_cancelled`).",
    )
    @blp.response(200, EventOut)
    def patch(self, data, event_id, ticket_type_id):
        """Edit a ticket type (price, quota...); send `If-Match` with the event's ETag."""
        event = committed(
            events.update_ticket_type(
                request_uow(), current_actor(), event_id, ticket_type_id, data, _expected_version()
            )
        )
        return _with_etag(event)


@blp.route("/<uuid:event_id>/publish")
class Publish(MethodView):
    @jwt_required()
    @blp.response(200, EventOut)
    @blp.alt_response(409, schema=ErrorSchema, description="A cancelled event (`event_cancelled`).")
    def post(self, event_id):
        """Put the event on sale (visible to everyone)."""
        return _with_etag(committed(events.publish_event(request_uow(), current_actor(), event_id)))


@blp.route("/<uuid:event_id>/cancel")
class Cancel(MethodView):
    @jwt_required()
    @blp.response(200, EventOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Already cancelled (`event_cancelled`).")
    def post(self, event_id):
        """Cancel the event: sales stop, every booking ends, every payment is refunded, everyone is told."""
        return _with_etag(committed(events.cancel_event(request_uow(), current_actor(), event_id)))


@blp.route("/<uuid:event_id>/unpublish")
class Unpublish(MethodView):
    @jwt_required()
    @blp.response(200, EventOut)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="A cancelled event, or one with tickets held or sold (`event_has_bookings`).",
    )
    def post(self, event_id):
        """Back to draft, while no ticket is held or sold."""
        return _with_etag(committed(events.unpublish_event(request_uow(), current_actor(), event_id)))


@blp.route("/<uuid:event_id>/calendar.ics")
class CalendarFile(MethodView):
    @blp.response(200, content_type="text/calendar")
    def get(self, event_id):
        """The event as an iCalendar file."""
        event = events.get_visible_event(request_uow(), event_id, None)
        body = event_calendar(event)
        return Response(
            body,
            mimetype="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="event-{event.id}.ics"'},
        )
