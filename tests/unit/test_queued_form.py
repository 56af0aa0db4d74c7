"""The queued form of a request reads back as the request written, the form of the previous
release still reads, and both name their booking without being read whole."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid

import pytest

from core.booking_requests import BookingRequest
from core.inventory import Line
from core.queued_form import QueuedId, RequestReader, booking_id_of, encode_request, request_fields

EVENT = uuid.uuid4()
AT = dt.datetime(2030, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)

PLAIN = BookingRequest(uuid.uuid4(), uuid.uuid4(), EVENT, 7, (Line(uuid.uuid4(), 2),), False, AT)
EVERYTHING = BookingRequest(
    booking_id=uuid.uuid4(), user_id=uuid.uuid4(), event_id=EVENT, seq=8,
    lines=(Line(uuid.uuid4(), 1), Line(uuid.uuid4(), 2, (uuid.uuid4(), uuid.uuid4()))),
    join_waitlist=True, requested_at=AT, idempotency_key="key|with%7Cpipes|%and percent",
    request_id="req-1:2.3_4", voucher_id=uuid.uuid4(),
    attendees={"a": [{"name": "Zoë | Bob", "email": "z@x.test", "answers": {"q": "100%"}}]},
    accessible=True, opening_at=AT + dt.timedelta(hours=1),
)  # fmt: skip


@pytest.mark.parametrize("request_", [PLAIN, EVERYTHING], ids=["plain", "every field"])
def test_a_request_reads_back_as_written(request_):
    member = f"{request_.seq}:{encode_request(request_)}"
    assert RequestReader(EVENT).read(member) == request_
    assert RequestReader(str(EVENT)).read_payload(request_.seq, encode_request(request_)) == request_


@pytest.mark.parametrize("request_", [PLAIN, EVERYTHING], ids=["plain", "every field"])
def test_a_request_queued_by_the_previous_release_still_reads(request_):
    """An upgrade in the middle of a sale decides what the old release queued (its JSON form)."""
    old = json.dumps(request_fields(request_), separators=(",", ":"))
    assert old.startswith('{"b":')
    assert RequestReader(EVENT).read(f"{request_.seq}:{old}") == request_
    assert booking_id_of(old) == str(request_.booking_id)


def test_the_booking_id_is_read_without_the_rest():
    assert booking_id_of(encode_request(EVERYTHING)) == str(EVERYTHING.booking_id)


def test_the_compact_form_is_shorter_than_the_old_one():
    assert len(encode_request(PLAIN)) < 2 / 3 * len(json.dumps(request_fields(PLAIN), separators=(",", ":")))


def test_ids_that_repeat_in_a_batch_are_parsed_once():
    reader = RequestReader(EVENT)
    ticket_type = uuid.uuid4()
    asked = [BookingRequest(uuid.uuid4(), uuid.uuid4(), EVENT, seq, (Line(ticket_type, 1),), True, AT)
             for seq in (1, 2)]  # fmt: skip
    first, second = (reader.read(f"{r.seq}:{encode_request(r)}") for r in asked)
    assert first.lines[0].ticket_type_id is second.lines[0].ticket_type_id


def test_ids_read_are_plain_ids_that_keep_their_text():
    request = RequestReader(EVENT).read(f"7:{encode_request(PLAIN)}")
    assert (request.booking_id, hash(request.booking_id)) == (PLAIN.booking_id, hash(PLAIN.booking_id))
    assert str(request.user_id) == str(PLAIN.user_id) and {PLAIN.user_id: 1}[request.user_id] == 1
    assert type(copy.copy(request.booking_id)) is uuid.UUID
    assert str(QueuedId(str(PLAIN.booking_id).upper())) == str(PLAIN.booking_id)
