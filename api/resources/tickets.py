"""Tickets: the booking's list and PDF, the public key scanners verify with, and check-in."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields, validate

from api.auth import current_actor
from api.db import committed, request_uow
from api.input import InputSchema
from api.json_body import Blueprint
from api.resources import examples
from core.formatting import booking_reference
from core.services import bookings, tickets

blp = Blueprint("tickets", __name__, url_prefix="/api/v1", description="Tickets and check-in")


class TicketSeatOut(Schema):
    section = fields.String(metadata={"description": "The seat's section."})
    row = fields.String(metadata={"description": "The seat's row."})
    label = fields.String(metadata={"description": "The seat's name in its row."})


class TicketOut(Schema):
    id = fields.UUID(metadata={"description": "The ticket's id."})
    code = fields.String(
        metadata={
            "description": "The ticket's code (16 characters of Crockford base32); the check-in takes it typed, as well as the whole `qr_payload`."
        }
    )
    qr_payload = fields.String(
        metadata={
            "description": "The text of the ticket's QR code (`BX1.<claims>.<signature>`): its code, event and ticket signed with Ed25519, verifiable offline with the key of `GET /api/v1/tickets/public-key`."
        }
    )
    ticket_type_id = fields.UUID(metadata={"description": "The ticket type."})
    ticket_type = fields.String(metadata={"description": "The ticket type's name."})
    attendee_name = fields.String(metadata={"description": "The name printed on the ticket."})
    status = fields.String(
        metadata={
            "description": "`valid`, or `cancelled` (its booking or this ticket was cancelled: refused at the door)."
        }
    )
    checked_in_at = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "When it was scanned at the door (ISO 8601, in UTC); null until then."},
    )
    attendee_email = fields.String(
        allow_none=True, metadata={"description": "The attendee's email, if given."}
    )
    answers = fields.Dict(metadata={"description": "The attendee's answers, by question id."})
    seat = fields.Nested(TicketSeatOut, allow_none=True, metadata={
        "description": "A reserved seat: `{section, row, label}` (also in the signed QR claims); null for general admission."})  # fmt: skip


class CheckInOut(TicketOut):
    checked_in_by = fields.UUID(metadata={"description": "The account that scanned it."})


class CheckInIn(InputSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=1024),
                         metadata={"description": "The ticket code, or the whole QR payload"})  # fmt: skip


class TicketPatch(InputSchema):
    attendee_name = fields.String(validate=validate.Length(min=1, max=200),
                                  metadata={"description": "Who the ticket is for (printed, shown at the door)."})  # fmt: skip
    attendee_email = fields.Email(allow_none=True, validate=validate.Length(max=320),
                                  metadata={"description": "The attendee's email; null removes it."})  # fmt: skip
    answers = fields.Dict(keys=fields.UUID(), values=fields.Raw(allow_none=False), validate=validate.Length(max=50),
                          metadata={"description": "All the attendee's answers, by question id (replaces them)."})  # fmt: skip
    seat_id = fields.UUID(metadata={"description": "The event's organizers: move the ticket to this free seat of its "
                                    "type (alone, without the attendee fields); it is signed again."})  # fmt: skip


class PublicKeyOut(Schema):
    algorithm = fields.String(metadata={"description": "The signature algorithm of `qr_payload`: `Ed25519`."})
    public_key_pem = fields.String(
        metadata={"description": "The public key, PEM-encoded (SubjectPublicKeyInfo)."}
    )
    public_key_b64 = fields.String(
        metadata={
            "description": "The raw 32-byte public key as unpadded base64url, for a scanner's configuration."
        }
    )


def _readable_booking(booking_id):
    uow = request_uow()
    return uow, bookings.readable_booking(uow, current_actor(), booking_id)


@blp.route("/bookings/<uuid:booking_id>/tickets")
class BookingTickets(MethodView):
    @jwt_required()
    @blp.response(200, TicketOut(many=True))
    def get(self, booking_id):
        """The booking's tickets (empty until it is confirmed and they are issued)."""
        uow, booking = _readable_booking(booking_id)
        return tickets.ticket_views(uow, tickets.booking_tickets(uow, booking.id))


@blp.route("/bookings/<uuid:booking_id>/tickets.pdf")
class BookingTicketsPdf(MethodView):
    @jwt_required()
    @blp.response(200, content_type="application/pdf")
    def get(self, booking_id):
        """The booking's valid tickets as a PDF, one page each."""
        uow, booking = _readable_booking(booking_id)
        filename = f"tickets-{booking_reference(booking.id)}.pdf"
        return Response(tickets.booking_pdf(uow, booking), mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@blp.route("/tickets/<uuid:ticket_id>")
class TicketById(MethodView):
    @jwt_required()
    @blp.arguments(TicketPatch(), example=examples.TICKET_PATCH)
    @blp.response(200, TicketOut)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="Cancelled (`ticket_cancelled`), used (`already_checked_in`), or the event started (`event_started`).",
    )
    def patch(self, data, ticket_id):
        """Change who a ticket is for (the booking's customer, until the event starts), or move it
        to another free seat of its type (`seat_id`, the event's organizers): it gets a new code
        and QR, and the old ones stop working at the door."""
        uow = request_uow()
        ticket = committed(tickets.edit_ticket(uow, current_actor(), ticket_id, data))
        return tickets.ticket_views(uow, [ticket])[0]


@blp.route("/tickets/public-key")
class PublicKey(MethodView):
    @blp.response(200, PublicKeyOut)
    def get(self):
        """The Ed25519 key that verifies ticket QR payloads (format: see core/ticket_signing.py)."""
        signer = tickets.ticket_signer()
        return {"algorithm": "Ed25519", "public_key_pem": signer.public_key_pem(),
                "public_key_b64": signer.public_key_b64()}  # fmt: skip


@blp.route("/events/<uuid:event_id>/checkins")
class CheckIns(MethodView):
    @jwt_required()
    @blp.arguments(CheckInIn(), example=examples.CHECK_IN)
    @blp.response(200, CheckInOut)
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="Already checked in (`already_checked_in`), with when and by whom.",
    )
    def post(self, data, event_id):
        """Admit a ticket holder: 409 if already in (with when and by whom), 404 unknown, 422 void."""
        return committed(tickets.check_in(request_uow(), current_actor(), event_id, data["code"]))
