"""The questions an event's organizers ask of each attendee: create, list, edit, delete.

A question is `text`, `choice` (one of its `options`) or `boolean`, asked of some ticket types
or all; `core.services.attendees` checks the answers. The questions travel in the event's
booking snapshot (`core.event_snapshots`), so every change drops it once committed.
"""

from __future__ import annotations

import uuid

from core.db import UnitOfWork
from core.errors import Invalid, NotFound
from core.event_snapshots import forget_event_snapshot
from core.models import Event, Question, User
from core.pricing import applies_to
from core.services import audit
from core.services.audit import AuditAction
from core.services.events import get_event_for_organizers
from core.services.vouchers import checked_ticket_type_ids
from core.statuses import QuestionType

EDITABLE = ("label", "type", "options", "required", "ticket_type_ids")
MAX_QUESTIONS = 50


def create_question(uow: UnitOfWork, actor: User, event_id: uuid.UUID, data: dict) -> Question:
    event = get_event_for_organizers(uow, actor, event_id)
    if len(event.questions) >= MAX_QUESTIONS:
        raise Invalid(f"An event asks at most {MAX_QUESTIONS} questions.", name="too_many_questions")
    values = {"options": [], "required": False, "ticket_type_ids": [], **_values(event, data)}
    question = Question(event_id=event.id, position=len(event.questions), **values)
    _check(question)
    event.questions.append(question)
    uow.session.flush()
    _changed(uow, actor, AuditAction.QUESTION_CREATE, event, question, values)
    return question


def update_question(
    uow: UnitOfWork, actor: User, event_id: uuid.UUID, question_id: uuid.UUID, changes: dict
) -> Question:
    event = get_event_for_organizers(uow, actor, event_id)
    question = _question_of(event, question_id)
    values = _values(event, changes)
    diff = audit.diff(question, values, values)
    for name, value in values.items():
        setattr(question, name, value)
    _check(question)
    _changed(uow, actor, AuditAction.QUESTION_UPDATE, event, question, diff)
    return question


def delete_question(uow: UnitOfWork, actor: User, event_id: uuid.UUID, question_id: uuid.UUID) -> None:
    """Stop asking a question; the answers already given stay on their tickets."""
    event = get_event_for_organizers(uow, actor, event_id)
    question = _question_of(event, question_id)
    event.questions.remove(question)
    _changed(uow, actor, AuditAction.QUESTION_DELETE, event, question, {"label": question.label})


def public_questions(event) -> list[Question]:
    """The questions asked of the ticket types `event` shows (a public view hides some types)."""
    shown = [tt.id for tt in event.ticket_types]
    return [q for q in event.questions if any(applies_to(q, tt) for tt in shown)]


def question_view(question: Question) -> dict:
    return {
        "id": question.id,
        "label": question.label,
        "type": question.type,
        "options": question.options,
        "required": question.required,
        "ticket_type_ids": question.ticket_type_ids,
    }


def _question_of(event: Event, question_id: uuid.UUID) -> Question:
    question = next((q for q in event.questions if q.id == question_id), None)
    if question is None:
        raise NotFound("No such question for this event.")
    return question


def _values(event: Event, data: dict) -> dict:
    values = {name: data[name] for name in EDITABLE if name in data}
    if "label" in values:
        values["label"] = values["label"].strip()
    if "options" in values:
        values["options"] = [option.strip() for option in values["options"]]
    if "ticket_type_ids" in values:
        values["ticket_type_ids"] = checked_ticket_type_ids(event, values["ticket_type_ids"])
    return values


def _check(question: Question) -> None:
    if not question.label:
        raise Invalid("A question needs a label.", name="label_required")
    if question.type == QuestionType.CHOICE:
        if not question.options or not all(question.options):
            raise Invalid("A choice question needs its options (none empty).", name="options_required")
        if len(set(question.options)) != len(question.options):
            raise Invalid("List each option once.", name="duplicate_option")
    elif question.options:
        raise Invalid("Only a choice question has options.", name="options_not_allowed")


def _changed(
    uow: UnitOfWork, actor: User, action: AuditAction, event: Event, question: Question, changes: dict
):
    audit.record(uow, actor, action, "question", question.id, event.organization_id,
                 {"event_id": str(event.id), **changes})  # fmt: skip
    event.version += 1  # the event's view shows its questions: a cached copy (its ETag) is stale
    event_id = event.id
    uow.after_commit(lambda: forget_event_snapshot(event_id))
    uow.commit()
