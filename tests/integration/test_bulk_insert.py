"""The drainer's COPY (binary, every table) writes every value as given: text a text format
would have to escape, text beyond ASCII, NULLs, JSON, 64-bit numbers, times of any zone and
before PostgreSQL's epoch; a column of a type it has no binary form for is refused before
anything is sent; chunks copied in the background belong to the caller's transaction, and their
errors are the caller's."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import uuid

import pytest
from sqlalchemy import Column, MetaData, Numeric, Table, Uuid, select
from sqlalchemy.exc import IntegrityError

from core.bulk_insert import BackgroundCopy, insert_rows
from core.models import Booking, BookingLine, SeatAssignment, utcnow
from tests.integration.seating_helpers import seat_ids, seated_event

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


def test_ids_and_times_are_written_as_given(db, organizer, make_event, customers):
    event = seated_event(make_event, organizer, rows=1, seats_per_row=4)
    seats = sorted(seat_ids(db, event).values())
    booking = booking_row(event, customers[0], None, 1, utcnow())
    times = [  # another zone, a time before PostgreSQL's epoch (2000), a microsecond, NULL
        dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC),
        None,
    ]
    rows = [{"booking_id": booking["id"], "seat_id": seat, "assigned_at": times[0], "event_id": event.id,
             "released_at": released} for seat, released in zip(seats, times, strict=True)]  # fmt: skip
    with db.unit_of_work() as uow:
        insert_rows(
            uow.session.connection(), [(Booking.__table__, [booking]), (SeatAssignment.__table__, rows)]
        )
        uow.commit()
    with db.unit_of_work() as uow:
        written = uow.session.scalars(select(SeatAssignment).where(SeatAssignment.event_id == event.id))
        assert sorted(({name: getattr(a, name) for name in rows[0]} for a in written),
                      key=lambda row: row["seat_id"]) == rows  # fmt: skip


def test_a_row_the_database_refuses_is_raised_as_an_integrity_error(db, organizer, make_event, customers):
    """A seat of another event: the composite key refuses it, as `IntegrityError` (the drainer
    halves the batch on it)."""
    event, other = (seated_event(make_event, organizer, rows=1, seats_per_row=2) for _ in range(2))
    booking = booking_row(event, customers[0], None, 1, utcnow())
    row = {"booking_id": booking["id"], "seat_id": next(iter(seat_ids(db, other).values())),
           "assigned_at": utcnow(), "event_id": event.id}  # fmt: skip
    with db.unit_of_work() as uow, pytest.raises(IntegrityError):
        insert_rows(
            uow.session.connection(), [(Booking.__table__, [booking]), (SeatAssignment.__table__, [row])]
        )


def test_a_column_without_a_binary_form_is_refused_before_anything_is_sent(
    db, organizer, make_event, customers
):
    event = make_event(organizer, quota=5)
    priced = Table(
        "priced", MetaData(), Column("id", Uuid, primary_key=True), Column("price", Numeric(10, 2))
    )
    with db.unit_of_work() as uow:
        with pytest.raises(TypeError, match=r"priced\.price"):
            insert_rows(uow.session.connection(), [
                (Booking.__table__, [booking_row(event, customers[0], None, 1, utcnow())]),
                (priced, [{"id": uuid.uuid4(), "price": 1}]),
            ])  # fmt: skip
        uow.commit()  # the bookings before it were not sent either
    assert written_ids(db, event) == set()


def chunks_of_bookings(event, customers, count: int) -> list[list[tuple]]:
    """`count` chunks of two bookings each, with their lines (as the drainer sends them)."""
    at = utcnow()
    chunks = []
    for chunk in range(count):
        rows = [booking_row(event, customers[2 * chunk + i], None, 2 * chunk + i + 1, at) for i in range(2)]
        lines = [{"booking_id": row["id"], "ticket_type_id": event.ticket_types[0].id, "quantity": 1,
                  "unit_price": 0, "attendees": None} for row in rows]  # fmt: skip
        chunks.append([(Booking.__table__, rows), (BookingLine.__table__, lines)])
    return chunks


def written_ids(db, event) -> set:
    with db.unit_of_work() as uow:
        return set(uow.session.scalars(select(Booking.id).where(Booking.event_id == event.id)))


def test_chunks_copied_in_the_background_are_the_callers_transaction(db, organizer, make_event, customers):
    """Every chunk is written by the time the block ends, in the caller's transaction: a rollback
    takes them all back, a commit keeps them all; the switch interval is CPython's again."""
    event = make_event(organizer, quota=50)
    chunks = chunks_of_bookings(event, customers, 3)
    every_id = {row["id"] for chunk in chunks for row in chunk[0][1]}
    interval = sys.getswitchinterval()
    for commit in (False, True):
        with db.unit_of_work() as uow:
            with BackgroundCopy(uow.session.connection()) as copy:
                for chunk in chunks:
                    copy.send(chunk)
                assert sys.getswitchinterval() == pytest.approx(BackgroundCopy.SWITCH_INTERVAL)
            assert (
                set(uow.session.scalars(select(Booking.id).where(Booking.event_id == event.id))) == every_id
            )
            if commit:
                uow.commit()
        assert written_ids(db, event) == (every_id if commit else set())
        assert sys.getswitchinterval() == pytest.approx(interval)


def test_a_chunk_refused_in_the_background_is_raised_as_its_own_error(db, organizer, make_event, customers):
    """The first error is the one raised (the drainer halves the batch on `IntegrityError`), not
    the aborted transaction's refusals of the chunks after it; nothing is kept."""
    event = make_event(organizer, quota=50)
    chunks = chunks_of_bookings(event, customers, 3)
    chunks[1][1][1][0]["ticket_type_id"] = uuid.uuid4()  # a line of no ticket type: its key refuses it
    with (
        db.unit_of_work() as uow,
        pytest.raises(IntegrityError, match="ticket_type"),
        BackgroundCopy(uow.session.connection()) as copy,
    ):
        for chunk in chunks:
            copy.send(chunk)
    assert written_ids(db, event) == set()


def test_the_callers_error_ends_the_copy_and_is_raised(db, organizer, make_event, customers):
    event = make_event(organizer, quota=50)
    interval = sys.getswitchinterval()
    with (
        db.unit_of_work() as uow,
        pytest.raises(ZeroDivisionError),
        BackgroundCopy(uow.session.connection()) as copy,
    ):
        copy.send(chunks_of_bookings(event, customers, 1)[0])
        raise ZeroDivisionError
    assert not [t for t in threading.enumerate() if t.name == "background-copy"]
    assert sys.getswitchinterval() == pytest.approx(interval)
    assert written_ids(db, event) == set()


def test_copies_that_overlap_put_the_switch_interval_back_once_the_last_ends(db):
    """Two drains of one process (threads) copying at once: the first to end leaves the interval
    short for the other, the last puts back the one from before."""
    interval = sys.getswitchinterval()
    with db.unit_of_work() as first_uow, db.unit_of_work() as second_uow:
        first = BackgroundCopy(first_uow.session.connection()).__enter__()
        with BackgroundCopy(second_uow.session.connection()):
            first.__exit__(None, None, None)
            assert sys.getswitchinterval() == pytest.approx(BackgroundCopy.SWITCH_INTERVAL)
        assert sys.getswitchinterval() == pytest.approx(interval)


def test_a_copy_not_in_the_background_inserts_each_chunk_on_the_spot(db, organizer, make_event, customers):
    """A batch of one chunk has nothing to overlap with: no thread, no change of interval."""
    event = make_event(organizer, quota=50)
    (chunk,) = chunks_of_bookings(event, customers, 1)
    interval = sys.getswitchinterval()
    with db.unit_of_work() as uow, BackgroundCopy(uow.session.connection(), in_background=False) as copy:
        assert not copy.in_background
        copy.send(chunk)
        ids = set(uow.session.scalars(select(Booking.id).where(Booking.event_id == event.id)))
        assert ids == {row["id"] for row in chunk[0][1]}
        assert sys.getswitchinterval() == pytest.approx(interval)
        assert not [t for t in threading.enumerate() if t.name == "background-copy"]
