"""Who may read and who may act on what, in one place: customers on their own bookings,
organizers and staff on their organization's events, admins on all.

Views never decide this; they ask the services, which ask here.
"""

from __future__ import annotations

import uuid

from core.errors import Forbidden
from core.models import Event, User
from core.statuses import Role

ORGANIZERS = frozenset({Role.ORGANIZER})
ORGANIZERS_AND_STAFF = frozenset({Role.ORGANIZER, Role.STAFF})


def is_admin(actor: User | None) -> bool:
    return actor is not None and actor.role == Role.ADMIN


def require_admin(actor: User) -> None:
    if not is_admin(actor):
        raise Forbidden("Only administrators may do this.")


def is_member_of_organization(actor: User, organization_id: uuid.UUID, roles: frozenset[Role]) -> bool:
    if is_admin(actor):
        return True
    return actor.role in roles and actor.organization_id == organization_id


def is_member_of_event_organization(actor: User, event: Event, roles: frozenset[Role]) -> bool:
    return is_member_of_organization(actor, event.organization_id, roles)


def is_organizer_of(actor: User | None, event: Event) -> bool:
    """An admin, or an organizer of the event's organization (nobody, for an anonymous reader)."""
    return actor is not None and is_member_of_event_organization(actor, event, ORGANIZERS)


def is_staff_of(actor: User | None, event: Event) -> bool:
    """An admin, or door staff or an organizer of the event's organization."""
    return actor is not None and is_member_of_event_organization(actor, event, ORGANIZERS_AND_STAFF)


def may_read_booking(actor: User, customer_id: uuid.UUID, event: Event | None) -> bool:
    """A booking is read by its customer, the event's organizers and admins."""
    return actor.id == customer_id or (event is not None and is_organizer_of(actor, event))


def require_organizer_of(actor: User, event: Event) -> None:
    if not is_organizer_of(actor, event):
        raise Forbidden("Only the event's organizers may do this.")


def require_door_staff_of(actor: User, event: Event) -> None:
    if not is_staff_of(actor, event):
        raise Forbidden("Only the event's staff and organizers may do this.")


def require_organizer(actor: User) -> None:
    if is_admin(actor):
        return
    if actor.role != Role.ORGANIZER or actor.organization_id is None:
        raise Forbidden("Only organizers may create events.")


def require_member_of_organization(
    actor: User, organization_id: uuid.UUID, roles: frozenset[Role] = ORGANIZERS_AND_STAFF
) -> None:
    if not is_member_of_organization(actor, organization_id, roles):
        raise Forbidden("Only the organization's own people may see this.")
