"""The price a ticket type sells at right now: its list price, or its surge price once enough are sold."""

from __future__ import annotations

from core.models import TicketType


def current_price(ticket_type: TicketType) -> int:
    if ticket_type.surge_price is not None and ticket_type.sold >= ticket_type.surge_threshold:
        return ticket_type.surge_price
    return ticket_type.price
