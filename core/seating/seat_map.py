"""The seat map in Redis: what `GET /events/{id}/seats` and `seatmap.svg` answer, with no
PostgreSQL read per request (docs/seating.md, "The cache").

Every transaction that changes a seat's state moves the plan's version and, once committed,
publishes the map of that version (`SeatingState` calls `publish`): the JSON and the SVG, for
the public and for the event's organizers and staff, all rendered once per change, not per
request. The hash is replaced only by a newer version (one Lua step), so two publishers racing
after their commits never leave an older map on top. Keys carry the event's hash tag:

  seats:{E}:map    version, public.json, staff.json, public.svg, staff.svg
  seats:{E}:types  seat id → ticket type id, for the booking path's `unknown_seat` check

A map missing from Redis (a flushed or restarted Redis) is rebuilt from PostgreSQL by the first
reader (`core.seating.reading`), and published under the same version rule.
"""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from typing import TYPE_CHECKING

from core import runtime
from core.statuses import SeatStatus

if TYPE_CHECKING:
    from core.seating.state import SeatingState

VARIANTS = ("public.json", "staff.json", "public.svg", "staff.svg")
COLOURS = {
    SeatStatus.AVAILABLE: "#2e7d32",
    SeatStatus.UNAVAILABLE: "#9e9e9e",
    SeatStatus.HELD: "#f9a825",
    SeatStatus.SOLD: "#c62828",
    SeatStatus.BLOCKED: "#37474f",
}

_PUBLISH = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'public.json', ARGV[2], 'staff.json', ARGV[3],
           'public.svg', ARGV[4], 'staff.svg', ARGV[5])
return 1
"""


def map_key(event_id) -> str:
    return f"seats:{{{event_id}}}:map"


def types_key(event_id) -> str:
    return f"seats:{{{event_id}}}:types"


def public_status(status: SeatStatus) -> SeatStatus:
    return SeatStatus.AVAILABLE if status == SeatStatus.AVAILABLE else SeatStatus.UNAVAILABLE


def documents(state: SeatingState) -> dict[str, str]:
    """The four renderings of the map as it stands in `state`."""
    focal = {"x": state.plan.focal_x, "y": state.plan.focal_y}
    seats, public, staff = [], [], []
    for seat in state.seats.values():
        status = state.status(seat.id)
        view = {"id": str(seat.id), "section": seat.section, "row": seat.row, "label": seat.label,
                "x": seat.x, "y": seat.y, "ticket_type_id": str(seat.ticket_type_id),
                "accessible": seat.accessible, "companion": seat.companion}  # fmt: skip
        seats.append((seat, status))
        public.append({**view, "status": public_status(status).value})
        staff.append({**view, "status": status.value})
    return {
        "public.json": json.dumps({"focal_point": focal, "seats": public}, separators=(",", ":")),
        "staff.json": json.dumps({"focal_point": focal, "seats": staff}, separators=(",", ":")),
        "public.svg": render_svg(state, [(seat, public_status(status)) for seat, status in seats]),
        "staff.svg": render_svg(state, seats),
    }


def render_svg(state: SeatingState, seats: list[tuple]) -> str:
    """The map drawn: one circle per seat (`data-seat-id`, filled by status), each row's name
    before its first seat, each section's name above it, and the stage at the focal point."""
    fx, fy = state.plan.focal_x, state.plan.focal_y
    xs = [seat.x for seat, _ in seats] + [fx]
    ys = [seat.y for seat, _ in seats] + [fy]
    radius = _seat_radius(state)
    margin = radius * 6
    left, top = min(xs) - margin, min(ys) - margin
    width, height = max(xs) - left + margin, max(ys) - top + margin
    font = radius * 1.6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{left:.2f} {top:.2f} {width:.2f} {height:.2f}" '
        f'width="{min(1600, max(400, width * 20)):.0f}" preserveAspectRatio="xMidYMid meet" '
        f'font-family="sans-serif">',
        f'<rect x="{left:.2f}" y="{top:.2f}" width="{width:.2f}" height="{height:.2f}" fill="#ffffff"/>',
        f'<g class="stage"><rect x="{fx - radius * 8:.2f}" y="{fy - radius * 1.5:.2f}" width="{radius * 16:.2f}" '
        f'height="{radius * 3:.2f}" fill="#5c6bc0"/><text x="{fx:.2f}" y="{fy + radius * 0.6:.2f}" '
        f'font-size="{font:.2f}" text-anchor="middle" fill="#ffffff">STAGE</text></g>',
    ]
    rows: dict[tuple, list] = defaultdict(list)
    sections: dict[str, list] = defaultdict(list)
    for seat, _ in seats:
        rows[(seat.section, seat.row)].append(seat)
        sections[seat.section].append(seat)
    for name, members in sections.items():
        x = sum(seat.x for seat in members) / len(members)
        y = min(seat.y for seat in members) - radius * 3
        parts.append(f'<text class="section" x="{x:.2f}" y="{y:.2f}" font-size="{font * 1.3:.2f}" '
                     f'text-anchor="middle" fill="#212121">{escape(name)}</text>')  # fmt: skip
    for (_, row), members in rows.items():
        first = members[0]
        parts.append(f'<text class="row" x="{first.x - radius * 2:.2f}" y="{first.y + radius * 0.5:.2f}" '
                     f'font-size="{font:.2f}" text-anchor="end" fill="#616161">{escape(row)}</text>')  # fmt: skip
    for seat, status in seats:
        parts.append(f'<circle class="seat" data-seat-id="{seat.id}" data-status="{status.value}" '
                     f'cx="{seat.x:.2f}" cy="{seat.y:.2f}" r="{radius:.2f}" fill="{COLOURS[status]}">'
                     f"<title>{escape(seat.section)}, row {escape(seat.row)}, seat {escape(seat.label)}</title>"
                     f"</circle>")  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _seat_radius(state: SeatingState) -> float:
    """Four tenths of the shortest step between neighbouring seats of a row (1 without rows)."""
    steps = [
        abs(b.x - a.x) + abs(b.y - a.y)
        for row in state.picture.rows
        for a, b in zip(row, row[1:], strict=False)
        if (b.x, b.y) != (a.x, a.y)
    ]
    return 0.4 * min(steps) if steps else 1.0


def publish(state: SeatingState, with_types: bool = False) -> bool:
    """Put the map of `state` in Redis unless a newer one is there; says whether it did.
    `with_types`: the plan's seats changed, so the seat → ticket type hash is written anew."""
    client = runtime.redis_client()
    event_id = state.plan.event_id
    rendered = documents(state)
    if with_types:
        pipe = client.pipeline()
        pipe.delete(types_key(event_id))
        pipe.hset(
            types_key(event_id), mapping={str(s.id): str(s.ticket_type_id) for s in state.seats.values()}
        )
        pipe.execute()
    args = [state.plan.version, *(rendered[variant] for variant in VARIANTS)]
    return bool(client.register_script(_PUBLISH)(keys=[map_key(event_id)], args=args))
