"""The seat map: what `GET /events/{id}/seats` and `seatmap.svg` answer, with no PostgreSQL
read per request (docs/seating.md, "The cache").

Redis holds each seat's status, not the renderings: one byte a seat, in plan order
(`STATUS_CODES`), written whole under the plan's version by every transaction that changes a
seat, once it has committed (`publish`): 20 KB for a 20,000-seat stadium, whose four renderings
weigh 19 MB. Patching the renderings in Redis instead cost a rush 2.6 MB of patch a batch, which
Redis took 12 to 26 ms to apply while it answered nobody else. A status vector is only ever
replaced by a newer version, so two publishers racing after their commits never leave an older
one on top. Keys carry the event's hash tag:

  seats:{E}:map:version   the version of the statuses below
  seats:{E}:map:layout    the plan's layout id, whose seat order the statuses follow
  seats:{E}:map:statuses  one byte a seat, in plan order
  seats:{E}:types         seat id → ticket type id, for the booking path's `unknown_seat` check

Each web process draws the renderings (`fill`): the fixed text of each seat (its id, place and
tooltip), rendered once per layout and kept (`fragments`), around its status.
`core.seating.reading` keeps the last rendering of each version it drew, so a version is drawn
once per process and rendering, however many clients ask for it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from core import runtime
from core.statuses import SeatStatus

if TYPE_CHECKING:
    from core.seating.state import FixedPlan, SeatingState

VARIANTS = ("public.json", "staff.json", "public.svg", "staff.svg")
COLOURS = {
    SeatStatus.AVAILABLE: "#2e7d32",
    SeatStatus.UNAVAILABLE: "#9e9e9e",
    SeatStatus.HELD: "#f9a825",
    SeatStatus.SOLD: "#c62828",
    SeatStatus.BLOCKED: "#37474f",
}
_PUBLISH = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('MSET', KEYS[1], ARGV[1], KEYS[2], ARGV[2], KEYS[3], ARGV[3])
return 1
"""
# A seat's status as one byte of the vector in Redis (staff's view: the public's is derived).
STATUS_CODES = {
    SeatStatus.AVAILABLE: "a",
    SeatStatus.HELD: "h",
    SeatStatus.SOLD: "s",
    SeatStatus.BLOCKED: "b",
}
_STATUS_OF_CODE = {code: status for status, code in STATUS_CODES.items()}


def map_key(event_id, part: str) -> str:
    """One key of the map: `version`, `layout` or `statuses`."""
    return f"seats:{{{event_id}}}:map:{part}"


def map_keys(event_id) -> list[str]:
    return [map_key(event_id, part) for part in ("version", "layout", "statuses")]


def types_key(event_id) -> str:
    return f"seats:{{{event_id}}}:types"


def public_status(status: SeatStatus) -> SeatStatus:
    return SeatStatus.AVAILABLE if status == SeatStatus.AVAILABLE else SeatStatus.UNAVAILABLE


@dataclass(frozen=True)
class Rendering:
    """One variant's fixed text around the seats' statuses."""

    head: str  # the text before the first seat's status
    gaps: list[str]  # per seat but the last, in plan order: the text between its status and the next one's
    tail: str  # the text after the last seat's status
    slots: dict[SeatStatus, str]  # each status as it is written in the seat's place

    @classmethod
    def of(cls, head: str, before: list[str], after: list[str], tail: str, slot_text) -> Rendering:
        """From the text before and after each seat's status (`before`, `after`, per seat)."""
        slots = {status: slot_text(status) for status in SeatStatus}
        if not before:
            return cls(head + tail, [], "", slots)
        gaps = [behind + ahead for behind, ahead in zip(after, before[1:], strict=False)]
        return cls(head + before[0], gaps, after[-1] + tail, slots)

    def document(self, slots: list[str]) -> str:
        """The rendering with each seat's status written as `slots` says, in plan order."""
        if not slots:
            return self.head + self.tail
        parts = [""] * (2 * len(slots) - 1)
        parts[::2] = slots
        parts[1::2] = self.gaps
        return f"{self.head}{''.join(parts)}{self.tail}"


def fill(rendering: Rendering, variant: str, statuses: str) -> str:
    """One rendering of the map with the seats' statuses (`statuses`: one `STATUS_CODES` byte
    a seat, in plan order), as the variant's readers see them."""
    public = variant.startswith("public")
    slot = {code: rendering.slots[public_status(status) if public else status]
            for code, status in _STATUS_OF_CODE.items()}  # fmt: skip
    return rendering.document(list(map(slot.__getitem__, statuses)))


def documents(state: SeatingState) -> dict[str, str]:
    """The four renderings of the map as it stands in `state`."""
    renderings = fragments(state.fixed)
    statuses = state.statuses()
    return {variant: fill(renderings[variant], variant, statuses) for variant in VARIANTS}


def fragments(fixed: FixedPlan) -> dict[str, Rendering]:
    """The parts of the map that do not change while the plan stands, rendered once and kept
    with the plan's fixed part (`core.seating.state.FixedPlan`)."""
    cached = fixed.fragments
    if not cached:
        cached.update(_render_fixed(fixed))
    return cached


def _render_fixed(fixed: FixedPlan) -> dict[str, Rendering]:
    seats = list(fixed.seats.values())
    fx, fy = fixed.focal
    focal = json.dumps({"x": fx, "y": fy}, separators=(",", ":"))
    json_before = []
    for seat in seats:
        view = json.dumps({"id": str(seat.id), "section": seat.section, "row": seat.row, "label": seat.label,
                           "x": seat.x, "y": seat.y, "ticket_type_id": str(seat.ticket_type_id),
                           "accessible": seat.accessible, "companion": seat.companion}, separators=(",", ":"))  # fmt: skip
        json_before.append(f'{"," if json_before else ""}{view[:-1]},"status":"')
    radius = _seat_radius(seats)
    svg_before = [f'<circle class="seat" data-seat-id="{seat.id}" data-status="' for seat in seats]
    svg_after = [f' cx="{seat.x:.2f}" cy="{seat.y:.2f}" r="{radius:.2f}"><title>{escape(seat.section)}, '
                 f"row {escape(seat.row)}, seat {escape(seat.label)}</title></circle>" for seat in seats]  # fmt: skip
    as_json = Rendering.of(f'{{"focal_point":{focal},"seats":[', json_before, [""] * len(seats), "]}",
                           lambda status: f'{status.value}"}}')  # fmt: skip
    as_svg = Rendering.of(_svg_head(fixed, seats, radius), svg_before, svg_after, "</svg>",
                          lambda status: f'{status.value}" fill="{COLOURS[status]}"')  # fmt: skip
    return {"public.json": as_json, "staff.json": as_json, "public.svg": as_svg, "staff.svg": as_svg}


def _svg_head(fixed: FixedPlan, seats: list, radius: float) -> str:
    """Everything of the SVG but the seats: the canvas, the stage at the focal point, each
    section's name above it and each row's name before its first seat."""
    fx, fy = fixed.focal
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


def _seat_radius(seats: list) -> float:
    """Four tenths of the shortest step between neighbouring seats of a row (1 without rows)."""
    rows: dict[tuple, list] = defaultdict(list)
    for seat in seats:
        rows[(seat.section, seat.row)].append(seat)
    steps = [
        abs(b.x - a.x) + abs(b.y - a.y)
        for row in rows.values()
        for a, b in zip(row, row[1:], strict=False)
        if (b.x, b.y) != (a.x, a.y)
    ]
    return 0.4 * min(steps) if steps else 1.0


def publish(state: SeatingState, with_types: bool = False) -> bool:
    """Put the seats' statuses of `state` in Redis unless a newer version is there; says whether
    it did. `with_types`: the plan's seats changed, so the seat → ticket type hash is written
    anew too."""
    client = runtime.redis_client()
    event_id = state.plan.event_id
    if with_types:
        pipe = client.pipeline()
        pipe.delete(types_key(event_id))
        pipe.hset(
            types_key(event_id), mapping={str(s.id): str(s.ticket_type_id) for s in state.seats.values()}
        )
        pipe.execute()
    args = [state.plan.version, str(state.fixed.layout_id), state.statuses()]
    return bool(client.register_script(_PUBLISH)(keys=map_keys(event_id), args=args))
