"""Payments: Stripe's webhook, and the local provider's checkout page."""

from __future__ import annotations

from html import escape

from flask import Response, request
from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields, validate

from api.capability_links import capability_link
from api.db import committed, request_uow
from api.input import InputSchema
from api.json_body import Blueprint
from api.resources import examples
from core import runtime
from core.money import format_money
from core.payments.local_provider import OUTCOMES, Outcome
from core.payments.provider import SessionStatus
from core.services import booking_pages, webhooks

blp = Blueprint("payments", __name__, url_prefix="/api/v1/payments", description="Payment providers")


class WebhookAck(Schema):
    received = fields.Boolean(metadata={"description": "Always true: the event was read."})
    duplicate = fields.Boolean(
        metadata={"description": "True when this event was already handled (nothing was done again)."}
    )


class LocalOutcomeIn(InputSchema):
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(OUTCOMES),
        metadata={"description": "What the customer did on the test checkout page: `paid` or `cancelled`."},
    )


@blp.route("/stripe/webhook")
class StripeWebhook(MethodView):
    @blp.response(200, WebhookAck)
    def post(self):
        """Stripe's events, signed: verified, stored by id (a replay changes nothing), processed by a task."""
        stored = committed(
            webhooks.receive_webhook(request_uow(), "stripe", request.get_data(), request.headers)
        )
        return {"received": True, "duplicate": not stored}


@blp.route("/local/<string:session_id>/<string:token>")
@capability_link
class LocalCheckout(MethodView):
    @blp.response(200, content_type="text/html")
    def get(self, session_id, token):
        """The local provider's checkout page: the amount, and a button to pay or to give up.
        The URL is the booking's `checkout_url`; with any other token the page is a `404`. Once
        paid, it looks again every few seconds until the booking is confirmed."""
        return _page(webhooks.local_checkout_page(session_id, token))

    @blp.arguments(LocalOutcomeIn(), location="form", example=examples.LOCAL_OUTCOME)
    @blp.response(200, content_type="text/html")
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="The checkout is closed (`checkout_closed`): paid, expired or given up.",
    )
    def post(self, form, session_id, token):
        """Pay (`outcome=paid`) or give up (`outcome=cancelled`): reported exactly as a provider's webhook."""
        webhooks.settle_local_checkout(runtime.database(), session_id, token, form["outcome"])
        return _page(webhooks.local_checkout_page(session_id, token))


_HEADINGS = {
    SessionStatus.OPEN: "Pay for your tickets",
    SessionStatus.COMPLETE: "Payment received",
    SessionStatus.EXPIRED: "This checkout has ended; nothing was charged",
}
BEING_CONFIRMED = "Payment received: your booking is being confirmed"
LOOK_AGAIN_SECONDS = 2


def _page(session: dict) -> Response:
    """Plain HTML for people; the test checkout of development and demos, not a shop front. Paid
    while the booking is still held, it reloads itself (a GET of its own address, also after the
    POST that paid) until the booking has its answer."""
    waiting = session["status"] == SessionStatus.COMPLETE and booking_pages.awaits_confirmation(
        request_uow(), session["metadata"]["booking_id"]
    )
    heading = BEING_CONFIRMED if waiting else _HEADINGS[session["status"]]
    refresh = (
        f'<meta http-equiv="refresh" content="{LOOK_AGAIN_SECONDS};url={escape(request.path)}">'
        if waiting
        else ""
    )
    total = format_money(session["amount_total"], session["currency"])
    lines = "".join(
        f"<li>{quantity} × {escape(name)}: {format_money(unit, session['currency'])}</li>"
        for name, quantity, unit in session["lines"]
    )
    buttons = (
        f'<form method="post"><button name="outcome" value="{Outcome.PAID}">Pay {escape(total)}</button> '
        f'<button name="outcome" value="{Outcome.CANCELLED}">Cancel</button></form>'
        if session["status"] == SessionStatus.OPEN
        else f'<p><a href="{escape(session["success_url"])}">Back to your booking</a></p>'
    )
    body = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{refresh}<title>Boxoffice checkout</title>'
        f"</head><body><h1>{heading}</h1><ul>{lines}</ul>"
        f"<p>Total: <strong>{escape(total)}</strong></p>{buttons}"
        "<p><small>Test checkout: no real money moves.</small></p></body></html>"
    )
    return Response(body, mimetype="text/html")
