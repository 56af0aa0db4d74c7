"""The queued form of a booking request: what the booking step writes into Redis (the queue's
member, a waiting room's entry, the in-flight status) and the drainer and the polls read back.

The drainer reads a thousand of them per batch, so the form is made to be read fast
(docs/architecture.md, "How a booking flows"): one line of fields split at `|`, led by the form's
version,

    2|booking id|user id|requested at|flags|lines|voucher id|opening at|request id|Idempotency-Key|attendees

`requested at` and `opening at` are POSIX timestamps; `flags` holds `w` (join the waitlist) and
`x` (accessible seats); `lines` is `ticket type id:quantity[:seat id.seat id...]` joined by `,`;
`attendees` is JSON. An empty field is an absent value (the API refuses an empty request id or
Idempotency-Key). The free-text fields (request id, key, attendees) have `%` and `|` escaped as
`%25` and `%7C`. The event is not written: the queue's key names it, so the reader supplies it.
What repeats through a batch (a ticket type's id, a voucher's, a line like `one ticket of this
type`) is parsed once per batch (`RequestReader`), and the ids read keep their text (`QueuedId`).

Requests queued by a release before this form are JSON objects (`{"b": booking id, ...}`); they
are still read, so an upgrade in the middle of a sale decides what was already queued. The same
JSON object is how a dead letter shows its request to organizers (`request_fields`).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from urllib.parse import unquote

from core.booking_requests import BookingRequest
from core.inventory import Line

VERSION = "2"
SEP = "|"


def _escape(text: str | None) -> str:
    return "" if text is None else text.replace("%", "%25").replace(SEP, "%7C")


def _unescape(field: str) -> str | None:
    if not field:
        return None
    return unquote(field) if "%" in field else field


def _timestamp(at: dt.datetime | None) -> str:
    return "" if at is None else repr(at.timestamp())


def _line(line: Line) -> str:
    text = f"{line.ticket_type_id}:{line.quantity}"
    return f"{text}:{'.'.join(map(str, line.seat_ids))}" if line.seat_ids else text


def encode_request(request: BookingRequest) -> str:
    """The queued form of a request (the queue number is added by Redis, the event is the queue's)."""
    flags = ("w" if request.join_waitlist else "") + ("x" if request.accessible else "")
    attendees = json.dumps(request.attendees, separators=(",", ":")) if request.attendees else None
    return SEP.join((
        VERSION, str(request.booking_id), str(request.user_id), _timestamp(request.requested_at), flags,
        ",".join(map(_line, request.lines)), str(request.voucher_id) if request.voucher_id else "",
        _timestamp(request.opening_at), _escape(request.request_id), _escape(request.idempotency_key),
        _escape(attendees),
    ))  # fmt: skip


class QueuedId(uuid.UUID):
    """A customer's or a booking's id read from a queued form, which keeps its text: a batch
    writes each of its ids as text several times (COPY, Redis keys, the log), and `UUID`
    formats its text anew every time. Equal to, and hashed like, the plain `UUID`; a copy of it
    is a plain `UUID`."""

    __slots__ = ("_text",)

    def __init__(self, text: str):
        if not (len(text) == 36 and text.islower() and text[8] == text[13] == text[18] == text[23] == "-"):
            text = str(uuid.UUID(text))  # the queued form is written by `str(UUID)`: this is rare
        super().__init__(int=int(text.replace("-", ""), 16))
        object.__setattr__(self, "_text", text)

    def __str__(self) -> str:
        return self._text

    def __reduce__(self):
        return uuid.UUID, (self._text,)


def booking_id_of(payload: str) -> str:
    """The booking id of a queued form, without reading the rest."""
    if payload.startswith("{"):
        return json.loads(payload)["b"]
    return payload.split(SEP, 2)[1]


class RequestReader:
    """Reads the queued forms of one event's requests; ids met before are not parsed again, so
    a batch's ticket types and voucher cost one parse each, not one per request."""

    def __init__(self, event_id: uuid.UUID | str):
        self.event_id = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(event_id)
        self._ids: dict[str, uuid.UUID] = {}
        self._lines: dict[str, Line] = {}  # a line is immutable: requests asking alike share one

    def _id(self, text: str) -> uuid.UUID:
        found = self._ids.get(text)
        if found is None:
            found = self._ids[text] = uuid.UUID(text)
        return found

    def _line(self, text: str) -> Line:
        found = self._lines.get(text)
        if found is None:
            ticket_type_id, quantity, *seats = text.split(":")
            seat_ids = tuple(uuid.UUID(seat_id) for seat_id in seats[0].split(".")) if seats else ()
            found = self._lines[text] = Line(self._id(ticket_type_id), int(quantity), seat_ids)
        return found

    def read(self, member: str) -> BookingRequest:
        """A queue's member, `seq:payload`."""
        seq, payload = member.split(":", 1)
        return self.read_payload(int(seq), payload)

    def read_payload(self, seq: int, payload: str) -> BookingRequest:
        if payload.startswith("{"):
            return _from_fields(json.loads(payload), seq)
        (_, booking_id, user_id, requested_at, flags, lines, voucher_id, opening_at, request_id, key,
         attendees) = payload.split(SEP)  # fmt: skip
        return BookingRequest.of_fields(
            booking_id=QueuedId(booking_id),
            user_id=QueuedId(user_id),
            event_id=self.event_id,
            seq=seq,
            lines=tuple(map(self._line, lines.split(","))) if lines else (),
            join_waitlist="w" in flags,
            requested_at=dt.datetime.fromtimestamp(float(requested_at), dt.UTC),
            idempotency_key=_unescape(key),
            complimentary=False,  # a guest's tickets are decided at once, never queued
            request_id=_unescape(request_id),
            voucher_id=self._id(voucher_id) if voucher_id else None,
            attendees=json.loads(_unescape(attendees)) if attendees else None,
            accessible="x" in flags,
            opening_at=dt.datetime.fromtimestamp(float(opening_at), dt.UTC) if opening_at else None,
        )


def request_fields(request: BookingRequest) -> dict:
    """The request as a JSON object: how a dead letter shows it, and the queued form of the
    releases before the compact one (`_from_fields` reads it back)."""
    return {
        "b": str(request.booking_id),
        "u": str(request.user_id),
        "e": str(request.event_id),
        "l": [
            [
                str(line.ticket_type_id),
                line.quantity,
                *([list(map(str, line.seat_ids))] if line.seat_ids else []),
            ]
            for line in request.lines
        ],
        "w": request.join_waitlist,
        "t": request.requested_at.timestamp(),
        "k": request.idempotency_key,
        "r": request.request_id,
        **({"v": str(request.voucher_id)} if request.voucher_id else {}),
        **({"a": request.attendees} if request.attendees else {}),
        **({"x": True} if request.accessible else {}),
        **({"o": request.opening_at.timestamp()} if request.opening_at else {}),
    }


def _from_fields(data: dict, seq: int) -> BookingRequest:
    return BookingRequest(
        booking_id=uuid.UUID(data["b"]),
        user_id=uuid.UUID(data["u"]),
        event_id=uuid.UUID(data["e"]),
        seq=seq,
        lines=tuple(
            Line(uuid.UUID(tt), quantity, tuple(uuid.UUID(s) for s in seats[0]) if seats else ())
            for tt, quantity, *seats in data["l"]
        ),  # fmt: skip
        join_waitlist=data["w"],
        requested_at=dt.datetime.fromtimestamp(data["t"], dt.UTC),
        idempotency_key=data["k"],
        request_id=data.get("r"),  # absent from requests queued before request ids were kept
        voucher_id=uuid.UUID(data["v"]) if "v" in data else None,
        attendees=data.get("a"),
        accessible=data.get("x", False),
        opening_at=dt.datetime.fromtimestamp(data["o"], dt.UTC) if "o" in data else None,
    )
