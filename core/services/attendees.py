"""Who a booking's tickets are for: the attendees a customer names and their answers.

One rule checks them, at booking (against the event's cached snapshot, off PostgreSQL) and when
the customer edits a ticket (against the questions in the database): at most one attendee per
ticket, answers only to the questions asked of that ticket type, each of the question's type,
and every required question answered for every ticket of a type it is asked of. Required
questions are answered at booking, so every issued ticket has its answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol

from core.errors import Invalid
from core.pricing import applies_to
from core.statuses import QuestionType

MAX_TEXT_ANSWER = 1000


class QuestionTerms(Protocol):
    """What the rule reads: the `Question` row, or the snapshot's copy of it."""

    id: uuid.UUID
    label: str
    type: str
    options: list
    required: bool
    ticket_type_ids: list


def asked_of(questions: Iterable[QuestionTerms], ticket_type_id: uuid.UUID) -> dict[str, QuestionTerms]:
    """The questions asked of the attendees of a ticket type, by id."""
    return {str(q.id): q for q in questions if applies_to(q, ticket_type_id)}


def checked_attendees(
    questions: Iterable[QuestionTerms], ticket_type_id: uuid.UUID, quantity: int, attendees: list[dict] | None
) -> list[dict] | None:
    """The attendees of one booking line as they are stored, or a 422 saying what is wrong."""
    asked = asked_of(questions, ticket_type_id)
    attendees = attendees or []
    if len(attendees) > quantity:
        raise Invalid(f"At most {quantity} attendees for {quantity} tickets of this type.",
                      name="too_many_attendees", details={"ticket_type_id": str(ticket_type_id)})  # fmt: skip
    if len(attendees) < quantity and any(q.required for q in asked.values()):
        raise Invalid("This ticket type asks required questions: name an attendee for each ticket.",
                      name="answers_required", details={"ticket_type_id": str(ticket_type_id)})  # fmt: skip
    checked = [checked_attendee(asked, attendee) for attendee in attendees]
    return checked or None


def checked_attendee(asked: dict[str, QuestionTerms], attendee: dict) -> dict:
    """One attendee `{name, email, answers}`, with the answers checked against `asked`."""
    answers = {str(question_id): value for question_id, value in (attendee.get("answers") or {}).items()}
    unknown = sorted(set(answers) - set(asked))
    if unknown:
        raise Invalid("These questions are not asked of this ticket type.", name="unknown_question",
                      details={"question_ids": unknown})  # fmt: skip
    missing = sorted(
        question_id for question_id, q in asked.items() if q.required and question_id not in answers
    )
    if missing:
        raise Invalid("Answer the required questions for each attendee.", name="answers_required",
                      details={"question_ids": missing})  # fmt: skip
    for question_id, value in answers.items():
        refusal = _answer_refusal(asked[question_id], value)
        if refusal:
            raise Invalid(refusal, name="invalid_answer", details={"question_id": question_id})
    return {
        "name": attendee["name"].strip(),
        "email": attendee.get("email"),
        "answers": {k: v.strip() if isinstance(v, str) else v for k, v in answers.items()},
    }


def _answer_refusal(question: QuestionTerms, value) -> str | None:
    if question.type == QuestionType.BOOLEAN:
        return None if isinstance(value, bool) else f"“{question.label}” is answered with true or false."
    if not isinstance(value, str) or not value.strip():
        return f"“{question.label}” is answered with a non-empty text."
    if question.type == QuestionType.CHOICE and value.strip() not in question.options:
        return f"“{question.label}” is answered with one of its options."
    if len(value) > MAX_TEXT_ANSWER:
        return f"An answer to “{question.label}” is at most {MAX_TEXT_ANSWER} characters."
    return None
