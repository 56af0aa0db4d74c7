"""The price a ticket type sells at right now: its list price, or its surge price once enough are
sold; and what is left of it after a voucher's discount."""

from __future__ import annotations

import uuid
from typing import Protocol

from core.models import TicketType


class Discount(Protocol):
    """What the discount rule reads: a `Voucher` row, or the terms the API caches."""

    discount_percent: int | None
    discount_amount: int | None
    ticket_type_ids: list


def current_price(ticket_type: TicketType) -> int:
    if ticket_type.surge_price is not None and ticket_type.sold >= ticket_type.surge_threshold:
        return ticket_type.surge_price
    return ticket_type.price


def applies_to(voucher: Discount, ticket_type_id: uuid.UUID) -> bool:
    """An empty list of ticket types means every type of the event."""
    return not voucher.ticket_type_ids or str(ticket_type_id) in voucher.ticket_type_ids


def discounted_price(price: int, voucher: Discount | None, ticket_type_id: uuid.UUID) -> int:
    """The price after the voucher's discount, never below zero. A percentage is taken off and
    the result rounded half up to the minor unit; an amount is taken off each ticket."""
    if voucher is None or not applies_to(voucher, ticket_type_id):
        return price
    if voucher.discount_percent is not None:
        return (price * (100 - voucher.discount_percent) + 50) // 100
    return max(price - voucher.discount_amount, 0)
