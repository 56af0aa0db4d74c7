"""An event's life cycle: the one place where an event's status changes.

An event is born a `draft` (the model's default), seen by its organizers only:

    draft → published        on sale, visible to everyone (`publish`): `published_at` set
    published → draft        off sale again, only while nothing is held or sold (`unpublish`):
                             `published_at` cleared
    draft | published → cancelled
                             called off (`cancel`): `cancelled_at` set; what follows for its
                             bookings is `core.services.event_cancellation`'s

Every transition bumps `version` (the event's ETag) with the status. `cancelled` is the end;
any other edge is refused with `Conflict(name="invalid_transition")`, and the services answer
the expected ones (publishing a cancelled event, say) with their own reasons before asking.
"""

from __future__ import annotations

import datetime as dt

from core.errors import Conflict
from core.models import Event
from core.state_machines import check_edge
from core.statuses import EventStatus

DRAFT, PUBLISHED, CANCELLED = EventStatus.DRAFT, EventStatus.PUBLISHED, EventStatus.CANCELLED

TRANSITIONS: dict[EventStatus, dict[EventStatus, str]] = {
    DRAFT: {PUBLISHED: "publish", CANCELLED: "cancel"},
    PUBLISHED: {DRAFT: "unpublish", CANCELLED: "cancel"},
    CANCELLED: {},
}


def transition(event: Event, target: EventStatus) -> None:
    """Move the event to `target` (its version bumped), or refuse before anything is written."""
    check_edge(TRANSITIONS, "event", event.status, target)
    event.status = target
    event.version += 1


def publish(event: Event, now: dt.datetime) -> None:
    transition(event, PUBLISHED)
    event.published_at = now


def unpublish(event: Event) -> None:
    """Back to draft: refused while tickets are held or sold (cancel the event instead)."""
    if event.held or event.sold:
        raise Conflict(
            "Tickets are already held or sold: cancel the event instead.", name="event_has_bookings"
        )
    transition(event, DRAFT)
    event.published_at = None


def cancel(event: Event, now: dt.datetime) -> None:
    transition(event, CANCELLED)
    event.cancelled_at = now
