"""What every state machine of `core` shares: the refusal of an edge its diagram lacks.

Each machine keeps its diagram as a module-level `TRANSITIONS` dict keyed by status, whose
values are keyed by the statuses that may follow (`core.lifecycle` for bookings,
`core.payment_lifecycle`, `core.refund_lifecycle`, `core.ticket_lifecycle`,
`core.event_lifecycle`), and changes a status only through its own functions, which check the
edge here before anything moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from core.errors import Conflict


def refuse(thing: str, current: str, target: str) -> NoReturn:
    """A `409 invalid_transition`: the diagram of `thing` has no `current` → `target`."""
    raise Conflict(f"A {current} {thing} cannot become {target}.", name="invalid_transition",
                   details={"from": str(current), "to": str(target)})  # fmt: skip


def check_edge(transitions: Mapping, thing: str, current: str, target: str) -> None:
    """Refuse `current` → `target` unless the diagram has it (plain strings work: a member hashes as its value)."""
    if target not in transitions.get(current, ()):
        refuse(thing, current, target)
