"""Questions an event's organizers ask of each attendee: create, list, edit, delete."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.auth import current_actor
from api.db import request_uow
from api.input import Blueprint, InputSchema
from api.resources import examples
from core.services import questions
from core.services.events import get_event_for_organizers
from core.statuses import QuestionType

blp = Blueprint(
    "questions", __name__, url_prefix="/api/v1/events", description="Questions asked of attendees"
)


class QuestionFields(InputSchema):
    label = fields.String(validate=validate.Length(min=1, max=200),
                          metadata={"description": "The question, as the customer reads it."})  # fmt: skip
    type = fields.String(validate=validate.OneOf(tuple(QuestionType)),
                         metadata={"description": "`text`, `choice` (one of `options`) or `boolean`."})  # fmt: skip
    options = fields.List(fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(max=50),
                          metadata={"description": "The answers a `choice` question allows."})  # fmt: skip
    required = fields.Boolean(metadata={"description": "Must be answered for each attendee at booking."})
    ticket_type_ids = fields.List(fields.UUID(), validate=validate.Length(max=50),
                                  metadata={"description": "The ticket types whose attendees are asked; empty: all."})  # fmt: skip


class QuestionCreate(QuestionFields):
    label = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "The question, as the customer reads it."})  # fmt: skip
    type = fields.String(required=True, validate=validate.OneOf(tuple(QuestionType)),
                         metadata={"description": "`text`, `choice` (one of `options`) or `boolean`."})  # fmt: skip


class QuestionOut(Schema):
    id = fields.UUID(metadata={"description": "The key of its answers in `attendees[].answers`."})
    label = fields.String(metadata={"description": "The question, as the customer reads it."})
    type = fields.String(metadata={"enum": list(QuestionType), "description": "What an answer is."})
    options = fields.List(
        fields.String(), metadata={"description": "The answers a `choice` question allows."}
    )
    required = fields.Boolean(metadata={"description": "Must be answered for each attendee at booking."})
    ticket_type_ids = fields.List(fields.UUID(), metadata={"description": "The types asked; empty: all."})


@blp.route("/<uuid:event_id>/questions")
class Questions(MethodView):
    @jwt_required()
    @blp.arguments(QuestionCreate(), example=examples.QUESTION)
    @blp.response(201, QuestionOut)
    def post(self, data, event_id):
        """Ask each attendee a question (of some ticket types, or all)."""
        return questions.question_view(
            questions.create_question(request_uow(), current_actor(), event_id, data)
        )

    @jwt_required()
    @blp.response(200, QuestionOut(many=True))
    def get(self, event_id):
        """The event's questions, in the order they are asked."""
        uow = request_uow()
        event = get_event_for_organizers(uow, current_actor(), event_id)
        return [questions.question_view(q) for q in event.questions]


@blp.route("/<uuid:event_id>/questions/<uuid:question_id>")
class QuestionById(MethodView):
    @jwt_required()
    @blp.arguments(QuestionFields(), example=examples.QUESTION_PATCH)
    @blp.response(200, QuestionOut)
    def patch(self, data, event_id, question_id):
        """Edit a question; bookings made before keep the answers they gave."""
        uow = request_uow()
        question = questions.update_question(uow, current_actor(), event_id, question_id, data)
        return questions.question_view(question)

    @jwt_required()
    @blp.response(204)
    def delete(self, event_id, question_id):
        """Stop asking a question; answers already given stay on their tickets."""
        questions.delete_question(request_uow(), current_actor(), event_id, question_id)
