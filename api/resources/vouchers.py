"""Vouchers of an event (its organizers): create one or generate many, list (and CSV), edit, disable."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.auth import current_actor
from api.db import request_uow
from api.exports import csv_response, paginate_or_csv
from api.input import InputSchema
from api.json_body import Blueprint
from api.pagination import paginate_select
from api.resources import examples
from core import runtime
from core.services import vouchers
from core.services.events import get_event_for_organizers

blp = Blueprint("vouchers", __name__, url_prefix="/api/v1/events", description="Vouchers and promo codes")

CURRENCY = validate.Regexp(r"^[A-Za-z]{3}$", error="Use a three-letter ISO 4217 code such as EUR.")


class DiscountIn(InputSchema):
    percent = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=100),
        metadata={
            "description": "A discount of this many percent (0 to 100); give either `percent` or `amount`."
        },
    )
    amount = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=100_000_000),
        metadata={
            "description": "A discount of this much per ticket, in minor units of `currency`; with `currency`."
        },
    )
    currency = fields.String(
        validate=CURRENCY,
        metadata={"description": "With `amount`: its ISO 4217 code (the event's currency)."},
    )


class VoucherFields(InputSchema):
    discount = fields.Nested(DiscountIn, metadata={"description": "`{percent}` or `{amount, currency}`."})
    max_redemptions = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=10_000_000),
                                     metadata={"description": "Bookings that may carry the code; none: no limit."})  # fmt: skip
    valid_from = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When the code starts to work (ISO 8601 with its UTC offset); null: at once."
        },
    )
    valid_until = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "When the code stops working (ISO 8601 with its UTC offset); null: never."},
    )
    ticket_type_ids = fields.List(fields.UUID(), validate=validate.Length(max=50),
                                  metadata={"description": "The types it applies to (and unlocks); empty: all."})  # fmt: skip
    unlocks_hidden = fields.Boolean(
        metadata={"description": "Whether it unlocks the hidden types it applies to."}
    )


class VoucherCreate(VoucherFields):
    discount = fields.Nested(
        DiscountIn, required=True, metadata={"description": "`{percent}` or `{amount, currency}`."}
    )
    code = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "The code customers type (6 to 64 characters, compared case-insensitively); "
            "or give `generate`. A shorter one is a `422 invalid_code`."
        },
    )
    generate = fields.Integer(strict=True, validate=validate.Range(min=1, max=vouchers.MAX_GENERATED),
                              metadata={"description": "Make this many unique random codes instead of `code`."})  # fmt: skip
    prefix = fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "With `generate`: what each random code begins with."},
    )


class VoucherPatch(VoucherFields):
    disabled = fields.Boolean(
        metadata={"description": "True stops the code from working (bookings already made keep it)."}
    )


class DiscountOut(Schema):
    percent = fields.Integer(metadata={"description": "The discount in percent; absent for an amount."})
    amount = fields.Integer(
        metadata={
            "description": "The discount per ticket, in minor units of `currency`; absent for a percent."
        }
    )
    currency = fields.String(metadata={"description": "The ISO 4217 code of `amount`."})


class VoucherOut(Schema):
    id = fields.UUID(metadata={"description": "The voucher's id."})
    code = fields.String(metadata={"description": "The code customers type."})
    discount = fields.Nested(DiscountOut, metadata={"description": "`{percent}` or `{amount, currency}`."})
    max_redemptions = fields.Integer(
        allow_none=True, metadata={"description": "Bookings that may carry the code; null: no limit."}
    )
    redeemed = fields.Integer(metadata={"description": "Bookings held or confirmed with the code."})
    remaining = fields.Integer(allow_none=True, metadata={"description": "Redemptions left; null: no limit."})
    valid_from = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "When the code starts to work (ISO 8601, in UTC); null: at once."},
    )
    valid_until = fields.AwareDateTime(
        allow_none=True, metadata={"description": "When it stops working (ISO 8601, in UTC); null: never."}
    )
    ticket_type_ids = fields.List(
        fields.UUID(), metadata={"description": "The types it applies to (and unlocks); empty: all."}
    )
    unlocks_hidden = fields.Boolean(
        metadata={"description": "Whether it unlocks the hidden types it applies to."}
    )
    disabled = fields.Boolean(metadata={"description": "Whether it was switched off."})
    created_at = fields.AwareDateTime(metadata={"description": "When it was made (ISO 8601, in UTC)."})


def _views(event, items) -> list[dict]:
    currency = vouchers.event_currency(event)
    return [vouchers.voucher_view(voucher, currency) for voucher in items]


@blp.route("/<uuid:event_id>/vouchers")
class Vouchers(MethodView):
    @jwt_required()
    @blp.arguments(VoucherCreate(), example=examples.VOUCHER)
    @blp.response(201, description="The voucher made for `code`; with `generate`, the list of those made.")
    @blp.doc(responses={"201": {"content": {"application/json": {"schema": {"oneOf": [
        {"$ref": "#/components/schemas/VoucherOut"},
        {"type": "array", "items": {"$ref": "#/components/schemas/VoucherOut"}},
    ]}}}}})  # fmt: skip
    def post(self, data, event_id):
        """Create a voucher (`code`: answers it), or `generate` N of them with random codes after
        `prefix` (answers the list)."""
        uow = request_uow()
        created = vouchers.create_vouchers(uow, current_actor(), event_id, data)
        views = VoucherOut(many=True).dump(
            _views(get_event_for_organizers(uow, current_actor(), event_id), created)
        )
        return (views if data.get("generate") else views[0]), 201

    @jwt_required()
    @blp.response(200, VoucherOut(many=True))
    @paginate_or_csv(blp)
    def get(self, event_id, pagination_parameters):
        """The event's vouchers with what each has `redeemed` and has `remaining`; `Accept: text/csv` exports them all."""
        uow, actor = request_uow(), current_actor()
        if pagination_parameters is None:
            return csv_response(
                vouchers.export_vouchers(runtime.database(), uow, actor, event_id), f"vouchers-{event_id}.csv"
            )
        event = get_event_for_organizers(uow, actor, event_id)
        return _views(
            event, paginate_select(uow.session, vouchers.vouchers_query(event_id), pagination_parameters)
        )


@blp.route("/<uuid:event_id>/vouchers/<uuid:voucher_id>")
class VoucherById(MethodView):
    @jwt_required()
    @blp.arguments(VoucherPatch(), example=examples.VOUCHER_PATCH)
    @blp.response(200, VoucherOut)
    def patch(self, data, event_id, voucher_id):
        """Edit a voucher's terms, or disable (`disabled: true`) and enable it again."""
        uow = request_uow()
        voucher = vouchers.update_voucher(uow, current_actor(), event_id, voucher_id, data)
        return _views(get_event_for_organizers(uow, current_actor(), event_id), [voucher])[0]

    @jwt_required()
    @blp.response(204)
    def delete(self, event_id, voucher_id):
        """Delete a voucher nobody used; a used one is disabled instead."""
        vouchers.delete_voucher(request_uow(), current_actor(), event_id, voucher_id)
