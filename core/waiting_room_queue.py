"""The Redis side of the waiting room: who is in each event's room, and how the room becomes the
head of the event's queue at the opening.

Keys, per event E (every one carries the event's hash tag, so one event's keys share a slot):
  wr:{E}:room      hash: customer id -> the queued form of their request (one entry a customer)
  wr:{E}:opening   hash: `first`, `count` (the queue numbers reserved for the entrants when the
                   room closed), then `shuffled` (when every entrant had its number)
  wr:{E}:numbers   hash: booking id -> queue number, for an entrant's status (expires)
  live:{E}:status  the pub/sub channel on which the drainer announces decisions (`core.live_status`)

Entering is the booking step itself (`core.booking_queue`, one script): the request goes into
the room instead of the queue, `HSETNX` by customer refusing a second entry. The opening has
three steps, each one script, each safe to run again:
  1. close: the first step after `sales_start` (a request queueing, or a drain) reserves the next
     `count` queue numbers for the room and records them in `opening`; entering is refused from
     then on, so the room is frozen, and later requests get numbers above the reserved ones;
  2. place, in chunks: entrant at rank r of the seed's order (`core.shuffle_order`) goes into the
     queue as number `first + r`; the values are a function of the seed and the frozen room, so
     a chunk written twice (a drainer killed and replaced, two drainers) writes the same thing;
  3. finish: checks that all `count` numbers are in the queue, deletes the room and marks
     `shuffled`; from then on the drainer decides, entrants first.
Nothing is decided until `shuffled` is set, so no later request can overtake an entrant.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import redis

from core import live_status
from core.queued_form import booking_id_of

# How long an entrant's queue number stays readable after the shuffle (it is decided long before).
NUMBERS_TTL = 24 * 3600

# Shared by the booking step and `close`: reserve the next `count` numbers for the room's entrants.
CLOSE_ROOM = """
local function close_room(room, opening, seq)
  local count = redis.call('HLEN', room)
  local last = tonumber(redis.call('GET', seq) or '0')
  redis.call('HSET', opening, 'first', last + 1, 'count', count)
  redis.call('SET', seq, last + count)
end
"""

# KEYS: room, opening, seq.
_CLOSE = (
    CLOSE_ROOM
    + """
if redis.call('EXISTS', KEYS[2]) == 0 then close_room(KEYS[1], KEYS[2], KEYS[3]) end
return redis.call('HMGET', KEYS[2], 'first', 'count', 'shuffled')
"""
)

# KEYS: queue, numbers, opening; ARGV: (queue number, booking id, request) for each entrant.
_PLACE = """
if redis.call('HEXISTS', KEYS[3], 'shuffled') == 1 then return 0 end
for i = 1, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i] .. ':' .. ARGV[i + 2])
  redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i])
end
return 1
"""

# KEYS: opening, room, queue, numbers; ARGV: when, numbers' expiry, channel, message.
_FINISH = """
local opening = redis.call('HMGET', KEYS[1], 'first', 'count', 'shuffled')
if opening[3] then return opening[3] end
local first, count = tonumber(opening[1]), tonumber(opening[2])
if count > 0 and redis.call('ZCOUNT', KEYS[3], first, first + count - 1) ~= count then
  return redis.error_reply('waiting room: not every entrant is placed')
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'shuffled', ARGV[1])
if count > 0 then redis.call('EXPIRE', KEYS[4], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return ARGV[1]
"""


def room_key(event_id) -> str:
    return f"wr:{{{event_id}}}:room"


def opening_key(event_id) -> str:
    return f"wr:{{{event_id}}}:opening"


def numbers_key(event_id) -> str:
    return f"wr:{{{event_id}}}:numbers"


@dataclass(frozen=True)
class Opening:
    """The room's state once closed: its entrants' numbers are `first` .. `first + count - 1`."""

    first: int
    count: int
    shuffled_at: str | None  # ISO 8601, once every entrant has its number


class WaitingRoomQueue:
    """The opening's steps on one Redis client (`bq` keys named by `core.booking_queue`)."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._close = client.register_script(_CLOSE)
        self._place = client.register_script(_PLACE)
        self._finish = client.register_script(_FINISH)

    def entrants(self, event_id) -> int:
        return self.redis.hlen(room_key(event_id))

    def opening(self, event_id) -> Opening | None:
        first, count, shuffled = self.redis.hmget(opening_key(event_id), "first", "count", "shuffled")
        return Opening(int(first), int(count), shuffled) if first is not None else None

    def close(self, event_id, seq_key: str) -> Opening:
        """Freeze the room and reserve its numbers (once; later calls read what the first did)."""
        first, count, shuffled = self._close(keys=[room_key(event_id), opening_key(event_id), seq_key])
        return Opening(int(first), int(count), shuffled)

    def room_requests(self, event_id) -> dict[str, str]:
        """booking id -> queued request, for every entrant (read in steps: the room may be huge)."""
        return {
            booking_id_of(payload): payload
            for _, payload in self.redis.hscan_iter(room_key(event_id), count=1000)
        }

    def place(self, event_id, queue_key: str, numbered: list[tuple[int, str, str]]) -> None:
        """Write (queue number, booking id, request) triples into the queue; idempotent."""
        args = [value for triple in numbered for value in triple]
        self._place(keys=[queue_key, numbers_key(event_id), opening_key(event_id)], args=args)

    def finish(self, event_id, queue_key: str, when: str) -> str:
        """Mark the room shuffled once every entrant is placed; returns when it was (the first time)."""
        keys = [opening_key(event_id), room_key(event_id), queue_key, numbers_key(event_id)]
        args = [when, NUMBERS_TTL, live_status.channel(event_id), live_status.shuffled_message()]
        return self._finish(keys=keys, args=args)


@functools.lru_cache(maxsize=8)
def room_queue_for(client: redis.Redis) -> WaitingRoomQueue:
    return WaitingRoomQueue(client)
