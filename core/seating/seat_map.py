"""The seat map in Redis: what `GET /events/{id}/seats` and `seatmap.svg` answer, with no
PostgreSQL read per request (docs/seating.md, "The cache").

Every transaction that changes a seat's state moves the plan's version and, once committed,
publishes the map of that version (`SeatingState` calls `publish`): the JSON and the SVG, for
the public and for the event's organizers and staff. The map of a 20,000-seat plan is about
19 MB; writing it whole after every batch of the drainer cost more than deciding the batch, so
each seat's status sits in a slot of fixed width in every rendering (JSON and SVG allow the
spaces that pad it) and a transaction that changed a few seats overwrites just their slots
(`SETRANGE`), in one Lua step, if the map in Redis is the version it started from (and of the
same layout); otherwise, or when the plan itself changed, the map is written whole. A map is
replaced only by a newer version, so two publishers racing after their commits never leave an
older map on top. Keys carry the event's hash tag:

  seats:{E}:map:version    the version of the map below
  seats:{E}:map:layout     the plan's layout id the map was drawn for (a patch must match it)
  seats:{E}:map:<variant>  public.json, staff.json, public.svg, staff.svg
  seats:{E}:types          seat id → ticket type id, for the booking path's `unknown_seat` check

A map missing from Redis (a flushed or restarted Redis) is rebuilt from PostgreSQL by the first
reader (`core.seating.reading`), and published under the same version rule.
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
    from core.seating.state import SeatingState

VARIANTS = ("public.json", "staff.json", "public.svg", "staff.svg")
COLOURS = {
    SeatStatus.AVAILABLE: "#2e7d32",
    SeatStatus.UNAVAILABLE: "#9e9e9e",
    SeatStatus.HELD: "#f9a825",
    SeatStatus.SOLD: "#c62828",
    SeatStatus.BLOCKED: "#37474f",
}
# A patch of more seats than this share of the plan costs Redis more than writing the map whole.
PATCH_SHARE = 0.25

_PUBLISH = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('MSET', KEYS[1], ARGV[1], KEYS[2], ARGV[2], KEYS[3], ARGV[3], KEYS[4], ARGV[4],
           KEYS[5], ARGV[5], KEYS[6], ARGV[6])
return 1
"""

# ARGV: the version the patch starts from, the new version, the layout id, then for each variant
# its pieces' byte offsets and lengths (`offset:length,...`) and their new text, end to end.
# Answers 1 (patched), 0 (a newer map is there already) or -1 (the map must be written whole).
_PATCH = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[2]) <= current then return 0 end
if current ~= tonumber(ARGV[1]) or redis.call('GET', KEYS[2]) ~= ARGV[3]
   or redis.call('EXISTS', KEYS[3], KEYS[4], KEYS[5], KEYS[6]) ~= 4 then return -1 end
for v = 1, 4 do
  local text, at = ARGV[2 * v + 3], 1
  for offset, length in string.gmatch(ARGV[2 * v + 2], '(%d+):(%d+)') do
    length = tonumber(length)
    redis.call('SETRANGE', KEYS[2 + v], tonumber(offset), string.sub(text, at, at + length - 1))
    at = at + length
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


def map_key(event_id, part: str) -> str:
    """One key of the map: `version`, `layout` or a variant."""
    return f"seats:{{{event_id}}}:map:{part}"


def map_keys(event_id) -> list[str]:
    return [map_key(event_id, part) for part in ("version", "layout", *VARIANTS)]


def types_key(event_id) -> str:
    return f"seats:{{{event_id}}}:types"


def public_status(status: SeatStatus) -> SeatStatus:
    return SeatStatus.AVAILABLE if status == SeatStatus.AVAILABLE else SeatStatus.UNAVAILABLE


@dataclass(frozen=True)
class Rendering:
    """One variant's fixed text around the seats' status slots, and where each slot lies."""

    head: str  # the text before the first seat's slot
    gaps: list[str]  # per seat but the last, in plan order: the text between its slot and the next one's
    tail: str  # the text after the last seat's slot
    slots: dict[SeatStatus, str]  # each status as it fills a slot, padded to one width
    offsets: list[int]  # per seat: the byte offset of its slot in the document

    @classmethod
    def of(cls, head: str, before: list[str], after: list[str], tail: str, slot_text) -> Rendering:
        """From the text before and after each seat's slot (`before`, `after`, per seat)."""
        width = max(len(slot_text(status)) for status in SeatStatus)
        slots = {status: slot_text(status).ljust(width) for status in SeatStatus}
        if not before:
            return cls(head + tail, [], "", slots, [])
        gaps = [behind + ahead for behind, ahead in zip(after, before[1:], strict=False)]
        head, tail = head + before[0], after[-1] + tail
        offsets, offset = [], len(head.encode())
        for gap in gaps:
            offsets.append(offset)
            offset += width + len(gap.encode())
        offsets.append(offset)
        return cls(head, gaps, tail, slots, offsets)

    @property
    def width(self) -> int:
        return len(self.slots[SeatStatus.AVAILABLE])

    def document(self, statuses: list[SeatStatus]) -> str:
        return f"{self.head}{self.stretch(statuses, 0)}{self.tail}"

    def stretch(self, statuses: list[SeatStatus], first: int) -> str:
        """The text from the slot of seat `first` (its number in plan order) to the slot of the
        seat `len(statuses) - 1` places further, the slots filled with `statuses`: the seats'
        slots and the fixed text between them, interleaved."""
        if not statuses:
            return ""
        parts = [""] * (2 * len(statuses) - 1)
        parts[::2] = map(self.slots.__getitem__, statuses)
        parts[1::2] = self.gaps[first : first + len(statuses) - 1]
        return "".join(parts)


def _statuses(state: SeatingState, seat_ids) -> dict[str, list[SeatStatus]]:
    """The seats' statuses for each variant: as staff see them, or as the public does."""
    staff = [state.status(seat_id) for seat_id in seat_ids]
    public = [public_status(status) for status in staff]
    return {variant: staff if variant.startswith("staff") else public for variant in VARIANTS}


def documents(state: SeatingState) -> dict[str, str]:
    """The four renderings of the map as it stands in `state`: the fixed pieces of each seat
    (made once per plan, `fragments`) around its status."""
    renderings = fragments(state)
    statuses = _statuses(state, state.seats)
    return {variant: renderings[variant].document(statuses[variant]) for variant in VARIANTS}


def fragments(state: SeatingState) -> dict[str, Rendering]:
    """The parts of the map that do not change while the plan stands, rendered once and kept
    with the plan's fixed part (`core.seating.state.FixedPlan`)."""
    cached = state.fixed.fragments
    if not cached:
        cached.update(_render_fixed(state))
    return cached


def _render_fixed(state: SeatingState) -> dict[str, Rendering]:
    seats = list(state.seats.values())
    fx, fy = state.plan.focal_x, state.plan.focal_y
    focal = json.dumps({"x": fx, "y": fy}, separators=(",", ":"))
    json_before = []
    for seat in seats:
        view = json.dumps({"id": str(seat.id), "section": seat.section, "row": seat.row, "label": seat.label,
                           "x": seat.x, "y": seat.y, "ticket_type_id": str(seat.ticket_type_id),
                           "accessible": seat.accessible, "companion": seat.companion}, separators=(",", ":"))  # fmt: skip
        json_before.append(f'{"," if json_before else ""}{view[:-1]},"status":"')
    radius = _seat_radius(state)
    svg_before = [f'<circle class="seat" data-seat-id="{seat.id}" data-status="' for seat in seats]
    svg_after = [f' cx="{seat.x:.2f}" cy="{seat.y:.2f}" r="{radius:.2f}"><title>{escape(seat.section)}, '
                 f"row {escape(seat.row)}, seat {escape(seat.label)}</title></circle>" for seat in seats]  # fmt: skip
    as_json = Rendering.of(f'{{"focal_point":{focal},"seats":[', json_before, [""] * len(seats), "]}",
                           lambda status: f'{status.value}"}}')  # fmt: skip
    as_svg = Rendering.of(_svg_head(state, seats, radius), svg_before, svg_after, "</svg>",
                          lambda status: f'{status.value}" fill="{COLOURS[status]}"')  # fmt: skip
    return {"public.json": as_json, "staff.json": as_json, "public.svg": as_svg, "staff.svg": as_svg}


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
    """Put the map of `state` in Redis unless a newer one is there; says whether it did. Only
    the slots of the seats the transaction changed are written when the map in Redis is the
    version the transaction started from; else the whole map. `with_types`: the plan's seats
    changed, so the seat → ticket type hash is written anew (and the map whole)."""
    client = runtime.redis_client()
    event_id = state.plan.event_id
    keys = map_keys(event_id)
    layout = str(state.fixed.layout_id)
    changed = state.changed_seats
    if with_types:
        pipe = client.pipeline()
        pipe.delete(types_key(event_id))
        pipe.hset(
            types_key(event_id), mapping={str(s.id): str(s.ticket_type_id) for s in state.seats.values()}
        )
        pipe.execute()
    elif changed is not None and len(changed) <= len(state.seats) * PATCH_SHARE:
        patched = client.register_script(_PATCH)(keys=keys, args=[state.base_version, state.plan.version,
                                                                   layout, *_patches(state, changed)])  # fmt: skip
        if patched >= 0:
            return bool(patched)
    rendered = documents(state)
    args = [state.plan.version, layout, *(rendered[variant] for variant in VARIANTS)]
    return bool(client.register_script(_PUBLISH)(keys=keys, args=args))


def _patches(state: SeatingState, changed) -> list:
    """For each variant in turn, the pieces to overwrite (their offsets and lengths) and their
    new text: one piece per run of changed seats next to each other in the plan (a group's
    seats, groups seated side by side), from the first one's slot to the last one's, with the
    fixed text between them."""
    renderings = fragments(state)
    layout = state.fixed.layout
    numbers = sorted(map(layout.index.__getitem__, changed))
    statuses = _statuses(state, [layout.seats[number].id for number in numbers])
    # Where each run of consecutive seats starts and ends, as positions in `numbers`.
    breaks = [i for i in range(1, len(numbers)) if numbers[i] != numbers[i - 1] + 1]
    runs = list(zip([0, *breaks], [*breaks, len(numbers)], strict=True))
    args = []
    for variant in VARIANTS:
        rendering, seen = renderings[variant], statuses[variant]
        offsets, width = rendering.offsets, rendering.width
        pieces, text = [], []
        for start, end in runs:
            first, last = numbers[start], numbers[end - 1]
            pieces.append(f"{offsets[first]}:{offsets[last] + width - offsets[first]}")
            text.append(rendering.stretch(seen[start:end], first))
        args += [",".join(pieces), "".join(text)]
    return args
