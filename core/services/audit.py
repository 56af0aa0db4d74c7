"""The audit log: who changed what through the API, written in the transaction of the change.

Services that make a change for an organizer, staff member or admin call `record` before their
commit, so a change and its entry are durable together or not at all. Entries are only ever
added; no route edits or deletes them.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Select, select

from core.csv_export import csv_chunks
from core.db import UnitOfWork
from core.models import AuditEntry, User


class AuditAction(enum.StrEnum):
    EVENT_CREATE = "event.create"
    EVENT_UPDATE = "event.update"
    EVENT_PUBLISH = "event.publish"
    EVENT_UNPUBLISH = "event.unpublish"
    EVENT_CANCEL = "event.cancel"
    TICKET_TYPE_CREATE = "ticket_type.create"
    TICKET_TYPE_UPDATE = "ticket_type.update"
    BOOKING_CANCEL = "booking.cancel"
    BOOKING_COMP = "booking.comp"
    BOOKING_RESEND = "booking.resend"
    TICKET_CHECK_IN = "ticket.check_in"
    VOUCHER_CREATE = "voucher.create"
    VOUCHER_UPDATE = "voucher.update"
    VOUCHER_DELETE = "voucher.delete"
    QUESTION_CREATE = "question.create"
    QUESTION_UPDATE = "question.update"
    QUESTION_DELETE = "question.delete"
    USER_UPDATE = "user.update"
    ORGANIZATION_CREATE = "organization.create"


def _plain(value):
    """A value as JSON keeps it (times in ISO 8601 with their offset)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def diff(obj, changes: dict, names: Iterable[str]) -> dict:
    """`{field: [before, after]}` for each of `names` that `changes` would set to a new value."""
    return {
        name: [_plain(getattr(obj, name)), _plain(changes[name])]
        for name in names
        if name in changes and getattr(obj, name) != changes[name]
    }


def record(
    uow: UnitOfWork, actor: User, action: AuditAction, target_type: str, target_id,
    organization_id: uuid.UUID | None, changes: dict | None = None,
) -> None:  # fmt: skip
    """Add the entry to the unit of work: it is committed with the change, or not at all."""
    uow.session.add(
        AuditEntry(
            organization_id=organization_id,
            actor_id=actor.id,
            actor_email=actor.email,
            action=str(action),
            target_type=target_type,
            target_id=str(target_id),
            changes={key: _plain(value) for key, value in (changes or {}).items()},
        )  # fmt: skip
    )


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    actor_id: uuid.UUID | None = None
    target_id: str | None = None
    after: dt.datetime | None = None
    before: dt.datetime | None = None


def organization_log_query(organization_id: uuid.UUID, filters: AuditFilters) -> Select:
    """The organization's entries, newest first."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.organization_id == organization_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.actor_id:
        query = query.where(AuditEntry.actor_id == filters.actor_id)
    if filters.target_id:
        query = query.where(AuditEntry.target_id == filters.target_id)
    if filters.after:
        query = query.where(AuditEntry.at >= filters.after)
    if filters.before:
        query = query.where(AuditEntry.at < filters.before)
    return query


def entry_view(entry: AuditEntry) -> dict:
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": {"id": entry.actor_id, "email": entry.actor_email},
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "changes": entry.changes,
    }


AUDIT_CSV_HEADER = ("at", "actor_id", "actor_email", "action", "target_type", "target_id", "changes")


def export_chunks(batches: Iterable[list[AuditEntry]]) -> Iterator[bytes]:
    return csv_chunks(
        AUDIT_CSV_HEADER,
        (
            [
                [
                    e.at,
                    e.actor_id,
                    e.actor_email,
                    e.action,
                    e.target_type,
                    e.target_id,
                    json.dumps(e.changes, ensure_ascii=False, sort_keys=True),
                ]
                for e in batch
            ]  # fmt: skip
            for batch in batches
        ),
    )
