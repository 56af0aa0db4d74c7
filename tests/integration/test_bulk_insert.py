"""The drainer's COPY writes every value as given: text COPY would misread, NULLs, JSON, times."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from core.bulk_insert import insert_rows
from core.models import Booking, BookingLine, utcnow

AWKWARD = ["back\\slash", "tab\there", "line\nbreak", "carriage\rreturn", r"\N", "|pipe|", "ünïcødé"]


def booking_row(event, user, key: str | None, seq: int, at: dt.datetime) -> dict:
    return {
        "id": uuid.uuid4(), "user_id": user.id, "event_id": event.id, "queue_seq": seq, "join_waitlist": seq % 2 == 0,
        "accessible": False, "total": 2**40 + seq, "currency": "EUR", "hold_expires_at": None, "idempotency_key": key,
        "voucher_id": None, "requested_at": at, "confirmed_at": at, "status": "confirmed", "reason": None,
        "updated_at": at, "decided_at": at,
    }  # fmt: skip


def test_every_value_is_written_as_given(db, organizer, make_event, customers):
    event = make_event(organizer, quota=50)
    at = utcnow()
    rows = [booking_row(event, customer, key, seq, at) for seq, (customer, key) in
            enumerate(zip(customers, [*AWKWARD, None], strict=False), 1)]  # fmt: skip
    attendees = [{"name": text, "email": "a@b.test", "answers": {"q": text}} for text in AWKWARD]
    lines = [{"booking_id": row["id"], "ticket_type_id": event.ticket_types[0].id, "quantity": 1, "unit_price": 0,
              "attendees": attendees if i % 2 else None} for i, row in enumerate(rows)]  # fmt: skip
    with db.unit_of_work() as uow:
        insert_rows(uow.session.connection(), [(Booking.__table__, rows), (BookingLine.__table__, lines)])
        uow.commit()
    with db.unit_of_work() as uow:
        written = {b.id: b for b in uow.session.scalars(select(Booking).where(Booking.event_id == event.id))}
        written_lines = {line.booking_id: line for line in uow.session.scalars(select(BookingLine))}
    for row, line in zip(rows, lines, strict=True):
        booking = written[row["id"]]
        assert {name: getattr(booking, name) for name in row} == row
        assert written_lines[row["id"]].attendees == line["attendees"]


def test_a_naive_time_is_refused(db, organizer, make_event, customers):
    event = make_event(organizer, quota=5)
    with db.unit_of_work() as uow, pytest.raises(ValueError, match="naive"):
        row = booking_row(event, customers[0], None, 1, dt.datetime(2030, 1, 1))
        insert_rows(uow.session.connection(), [(Booking.__table__, [row])])
