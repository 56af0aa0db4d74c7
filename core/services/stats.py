"""An event's figures for its organizers: inventory, bookings by status, money, the door."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from core.db import UnitOfWork
from core.models import Booking, Payment, Refund
from core.services import tickets
from core.services.events import event_availability, get_event, ticket_type_view
from core.statuses import RECEIVED_PAYMENT_STATUSES, RefundStatus


def event_stats(uow: UnitOfWork, event_id: uuid.UUID) -> dict:
    event = get_event(uow, event_id)
    by_status = dict(
        uow.session.execute(
            select(Booking.status, func.count()).where(Booking.event_id == event_id).group_by(Booking.status)
        ).all()
    )
    paid = uow.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0))
        .join(Booking, Booking.id == Payment.booking_id)
        .where(Booking.event_id == event_id, Payment.status.in_(RECEIVED_PAYMENT_STATUSES))
    )
    refunded = uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0))
        .join(Booking, Booking.id == Refund.booking_id)
        .where(Booking.event_id == event_id, Refund.status == RefundStatus.SUCCEEDED)
    )
    return {
        "event_id": event.id,
        "status": event.status,
        "capacity": event.capacity,
        "held": event.held,
        "sold": event.sold,
        "available": event_availability(event),
        "ticket_types": [ticket_type_view(event, tt) for tt in event.ticket_types],
        "bookings": by_status,
        "currency": event.ticket_types[0].currency if event.ticket_types else None,
        "paid": int(paid),
        "refunded": int(refunded),
        "tickets_issued": tickets.issued_count(uow, event_id),
        "checked_in": tickets.checked_in_count(uow, event_id),
    }
