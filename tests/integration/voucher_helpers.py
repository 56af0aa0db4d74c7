"""Helpers for voucher tests: make a voucher as an organizer would, ask with a code."""

from __future__ import annotations

import uuid

from core import runtime
from core.inventory import Line
from core.models import Voucher
from core.services import bookings, vouchers


def make_voucher(db, organizer, event, code: str = "SPRING", **terms) -> Voucher:
    data = {"code": code, "discount": {"percent": 20}, "max_redemptions": 100, **terms}
    with db.unit_of_work() as uow:
        [voucher] = vouchers.create_vouchers(uow, organizer, event.id, data)
        return voucher


def ask_with_code(
    user, event, code: str | None, quantity: int = 1, join_waitlist: bool = False, ticket_type=None
) -> uuid.UUID:
    ticket_type = ticket_type or event.ticket_types[0]
    ask = bookings.BookingAsk(event.id, (Line(ticket_type.id, quantity),), join_waitlist, voucher_code=code)
    return bookings.request_booking(runtime.database(), user.id, ask, session_id="s")["id"]


def redeemed(db, voucher) -> int:
    with db.unit_of_work() as uow:
        return uow.session.get(Voucher, voucher.id).redeemed
