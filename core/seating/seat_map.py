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
    """The four renderings of the map as it stands in `state`: the fixed pieces of each seat
    (made once per plan, `fragments`) joined with its status."""
    pieces = fragments(state)
    staff = [state.status(seat_id) for seat_id in state.seats]
    public = [public_status(status) for status in staff]
    return {
        "public.json": _json(pieces, public),
        "staff.json": _json(pieces, staff),
        "public.svg": _svg(pieces, public),
        "staff.svg": _svg(pieces, staff),
    }


def _json(pieces: dict, statuses: list[SeatStatus]) -> str:
    seats = ",".join(
        f'{prefix}{status.value}"}}' for prefix, status in zip(pieces["json"], statuses, strict=True)
    )
    return f"{pieces['json_head']}{seats}]}}"


def _svg(pieces: dict, statuses: list[SeatStatus]) -> str:
    seats = "".join(f'{prefix}{status.value}" fill="{COLOURS[status]}"{suffix}'
                    for prefix, suffix, status in zip(pieces["svg"], pieces["svg_tail"], statuses, strict=True))  # fmt: skip
    return f"{pieces['svg_head']}{seats}</svg>"


def fragments(state: SeatingState) -> dict:
    """The parts of the map that do not change while the plan stands, rendered once and kept
    with the plan's fixed part (`core.seating.state.FixedPlan`)."""
    cached = state.fixed.fragments
    if not cached:
        cached.update(_render_fixed(state))
    return cached


def _render_fixed(state: SeatingState) -> dict:
    seats = list(state.seats.values())
    fx, fy = state.plan.focal_x, state.plan.focal_y
    focal = json.dumps({"x": fx, "y": fy}, separators=(",", ":"))
    json_pieces = []
    for seat in seats:
        view = json.dumps({"id": str(seat.id), "section": seat.section, "row": seat.row, "label": seat.label,
                           "x": seat.x, "y": seat.y, "ticket_type_id": str(seat.ticket_type_id),
                           "accessible": seat.accessible, "companion": seat.companion}, separators=(",", ":"))  # fmt: skip
        json_pieces.append(f'{view[:-1]},"status":"')
    radius = _seat_radius(state)
    svg_pieces = [f'<circle class="seat" data-seat-id="{seat.id}" data-status="' for seat in seats]
    svg_tails = [f' cx="{seat.x:.2f}" cy="{seat.y:.2f}" r="{radius:.2f}"><title>{escape(seat.section)}, '
                 f"row {escape(seat.row)}, seat {escape(seat.label)}</title></circle>" for seat in seats]  # fmt: skip
    return {"json_head": f'{{"focal_point":{focal},"seats":[', "json": json_pieces,
            "svg_head": _svg_head(state, seats, radius), "svg": svg_pieces, "svg_tail": svg_tails}  # fmt: skip


def _svg_head(state: SeatingState, seats: list, radius: float) -> str:
    """Everything of the SVG but the seats: the canvas, the stage at the focal point, each
    section's name above it and each row's name before its first seat."""
    fx, fy = state.plan.focal_x, state.plan.focal_y
    xs = [seat.x for seat in seats] + [fx]
    ys = [seat.y for seat in seats] + [fy]
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
    for seat in seats:
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
