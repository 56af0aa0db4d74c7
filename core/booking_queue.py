"""The Redis side of the booking path: each event's allocation queue and in-flight statuses.

Keys, per event E and booking B. Every key of an event carries its hash tag `{E}`, so they share
one slot of a Redis Cluster and each script below touches one slot (`core.redis_cluster`):
  bq:{E}:seq         counter handing out queue sequence numbers (the order of acceptance)
  bq:{E}:queue       sorted set of accepted requests, scored by sequence number
  bq:{E}:decided     highest sequence number decided so far (queue position = seq - decided)
  bq:{E}:pending     set while a drain is scheduled or under way (`next_batch`)
  bq:{E}:lock        the drainer's lock: one drainer per event at a time
  bq:{E}:rate        recent decisions per second, for the estimated wait
  bq:{E}:booking:B   hash describing a request while it is queued
  bq:{E}:idem:U:K    booking id and request fingerprint behind customer U's Idempotency-Key K
                     for this event
  booking:{B}        the event B was queued for: how a poll, which knows B alone, finds the
                     event's slot

Accepting is one Lua script on the event's slot, so a request is either fully queued or not at
all; before it, one pipelined round trip checks that the session was not signed out
(`core.sessions`: the API skips its own revocation check on this path) and writes `booking:{B}`
(a pointer to an event where B never got queued leads a poll to PostgreSQL, as an unknown id
does). A poll is two round trips: the pointer, then a script reading the status and position.
The sweep's list of queues to look at comes from PostgreSQL (the events on sale), not from a
global key every request would write. Removing a decided batch is by sequence number, so
replaying a batch (after a crash) removes nothing twice, and announces the batch to the
waiting clients in the same step (`core.live_status`). An event with a waiting room
(`core.waiting_room_queue`) takes requests into its room before the opening, in the same one
step as queueing.

Before its 202 the booking step can wait (Redis's WAIT) until `replicas` replicas have the
request, so a failover that promotes one of them loses no accepted request
(docs/scaling.md, "Failover"). The replicas not reached in time are an outage (`NotReplicated`,
a 503): the request may still be decided, and a retry with the same Idempotency-Key finds it.

A Redis that loses its data (no append-only file, or a failover without WAIT) restarts the
sequence counter, so new requests would get numbers already decided. Each drain compares the
counter with the highest number in PostgreSQL and, if it went backwards, renumbers what is
queued above that number, in its order, in one script (`repair_sequence`): queue numbers never
repeat. Numbers handed out between the restart and that drain are the ones renumbered; the
customers' positions stay right.

The accepting script does nothing after its caller's deadline (the client's socket timeout): a
frozen Redis keeps what was sent to it and runs it when it resumes, long after the API answered
503, which would make holds nobody knows about. The deadline is compared with Redis's clock, so
the hosts' clocks must agree to well within that timeout (NTP does).
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

import redis
from redis.cluster import RedisCluster

from core import live_status, runtime, sessions
from core.booking_requests import BookingRequest
from core.queued_form import RequestReader, encode_request
from core.redis_cluster import event_key, read_keys
from core.waiting_room_queue import CLOSE_ROOM, numbers_key, opening_key, room_key

STATUS_TTL = 24 * 3600
IDEMPOTENCY_TTL = 24 * 3600
# A lost wake-up (the API died between queueing and scheduling, a drainer killed between batches)
# is repaired by the sweep; the flag lapses after this anyway.
PENDING_TTL = 30

# KEYS: idempotency, seq, queue, status, pending, decided, then the event's waiting room: room,
# opening (`core.waiting_room_queue`), all of the event's slot. With ARGV[10] 'enter' the request
# goes into the room while it is open (one entry a customer); with 'queue' (the opening has
# come) the room is closed first if nobody has closed it yet.
_ACCEPT = (
    CLOSE_ROOM
    + """
if ARGV[9] ~= '' then
  local now = redis.call('TIME')
  if tonumber(now[1]) + tonumber(now[2]) / 1000000 > tonumber(ARGV[9]) then return {'late'} end
end
if ARGV[6] == '1' then
  local existing = redis.call('GET', KEYS[1])
  if existing then return {'duplicate', existing} end
end
if ARGV[10] ~= '' and redis.call('EXISTS', KEYS[8]) == 0 then
  if ARGV[10] == 'enter' then
    if redis.call('HSETNX', KEYS[7], ARGV[11], ARGV[3]) == 0 then return {'in_room'} end
    redis.call('HSET', KEYS[4], 'request', ARGV[3], 'room', '1')
    redis.call('EXPIRE', KEYS[4], ARGV[12])
    if ARGV[6] == '1' then redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[12]) end
    return {'room'}
  end
  close_room(KEYS[7], KEYS[8], KEYS[2])
end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], seq, seq .. ':' .. ARGV[3])
redis.call('HSET', KEYS[4], 'seq', seq, 'request', ARGV[3])
redis.call('EXPIRE', KEYS[4], ARGV[5])
if ARGV[6] == '1' then redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[7]) end
local schedule = redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[8])
local decided = tonumber(redis.call('GET', KEYS[6]) or '0')
return {'accepted', tostring(seq), schedule and '1' or '0', tostring(seq - decided)}
"""
)

# KEYS: status, decided, rate, the room's numbers. A poll's second round trip. An entrant of a
# waiting room has no `seq` of its own: its number, once shuffled, is in the room's `numbers`
# (an empty seq: still in the room).
_STATUS = """
local status = redis.call('HMGET', KEYS[1], 'seq', 'request', 'room')
if not status[2] then return false end
local seq = status[1]
if status[3] then seq = redis.call('HGET', KEYS[4], ARGV[1]) or '' end
return {seq, status[2], redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[3]) or '0'}
"""

# ARGV: the batch's highest number, then the event's status channel and the message announcing
# the batch (`core.live_status`): announced in the same step, so no decision goes unannounced.
_REMOVE_DECIDED = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local decided = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) > decided then redis.call('SET', KEYS[2], ARGV[1]) end
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return redis.call('ZCARD', KEYS[1])
"""

# KEYS: queue, pending, then the event's waiting room: room, opening (`core.waiting_room_queue`);
# ARGV: how many, the pending flag's lifetime, '1' on the drainer's last look, the lowest score
# to read ('-inf' for the head, '(N' for what comes after number N). The head of the queue, read
# in the same step that says whether a drain is needed: while the drainer reads requests (or
# waits for more) the flag stays set, so the booking step sends no second drain to queue behind
# it; on its last look an empty queue clears the flag, and the first request queued after that
# step (there is no instant between the two) schedules a new drain. Also says whether the event
# has a waiting room not yet shuffled into the queue (1) or not (0).
_NEXT_BATCH = """
local batch = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[4], '+inf', 'LIMIT', 0, tonumber(ARGV[1]))
if #batch == 0 and ARGV[3] == '1' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
end
local room = redis.call('EXISTS', KEYS[3]) == 1
  or (redis.call('EXISTS', KEYS[4]) == 1 and redis.call('HEXISTS', KEYS[4], 'shuffled') == 0)
return {room and 1 or 0, batch}
"""

# KEYS: seq, queue, decided; ARGV: the highest number decided (in PostgreSQL), the status keys'
# prefix. The statuses it renumbers are not declared (their names are in the queue): they carry
# the event's hash tag, so they are in the slot of the declared keys, on the same node.
_REPAIR_SEQUENCE = """
local floor = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') >= floor then return 0 end
local queued = redis.call('ZRANGE', KEYS[2], 0, -1)
for rank, member in ipairs(queued) do
  local payload = string.sub(member, string.find(member, ':', 1, true) + 1)
  local seq = floor + rank
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[2], seq, seq .. ':' .. payload)
  local booking_id
  if string.sub(payload, 1, 1) == '{' then booking_id = cjson.decode(payload)['b']  -- queued before the compact form
  else booking_id = string.match(payload, '^[^|]*|([^|]*)') end
  local status_key = ARGV[2] .. booking_id
  if redis.call('EXISTS', status_key) == 1 then redis.call('HSET', status_key, 'seq', seq) end
end
redis.call('SET', KEYS[1], floor + #queued)
redis.call('SET', KEYS[3], floor)
return #queued + 1
"""


class NotReplicated(redis.TimeoutError):
    """The request is queued on the primary, but fewer replicas than asked had it in time."""


def _key(event_id, name: str) -> str:
    return event_key("bq", event_id, name)


def status_key(event_id, booking_id) -> str:
    return _key(event_id, f"booking:{booking_id}")


def event_pointer_key(booking_id) -> str:
    return f"booking:{{{booking_id}}}"


def lock_key(event_id) -> str:
    return _key(event_id, "lock")


def sequence_key(event_id) -> str:
    return _key(event_id, "seq")


def queue_key(event_id) -> str:
    return _key(event_id, "queue")


@dataclass(frozen=True)
class Accepted:
    booking_id: uuid.UUID
    seq: int
    must_schedule_drain: bool
    queue_position: int


@dataclass(frozen=True)
class Duplicate:
    booking_id: uuid.UUID
    same_request: bool


@dataclass(frozen=True)
class Entered:
    """The request waits in the event's waiting room until the opening."""

    booking_id: uuid.UUID


@dataclass(frozen=True)
class AlreadyInRoom:
    """The customer already has a request in the room: nothing was queued."""


class RoomStep(StrEnum):
    """What the booking step does about the event's waiting room."""

    NONE = ""  # the event has none
    ENTER = "enter"  # the room is open: enter it (unless it was closed meanwhile: then queue)
    QUEUE = "queue"  # the opening has come: close the room if nobody did, then queue


@dataclass(frozen=True)
class SessionRevoked:
    """The customer's session was signed out: nothing was queued."""


class BookingQueue:
    """Operations on the queues, bound to one Redis client (a single Redis or a cluster).

    `replicas` and `wait_ms`: how many replicas must have an accepted request before `accept`
    returns, and how long to wait for them (Redis's WAIT; 0 replicas waits for nothing).
    """

    def __init__(self, client: redis.Redis | RedisCluster, replicas: int = 0, wait_ms: int = 100):
        self.redis = client
        self.replicas, self.wait_ms = replicas, wait_ms
        self.timeout = client.get_connection_kwargs().get("socket_timeout")
        self._accept = client.register_script(_ACCEPT)
        self._remove_decided = client.register_script(_REMOVE_DECIDED)
        self._status = client.register_script(_STATUS)
        self._repair_sequence = client.register_script(_REPAIR_SEQUENCE)
        self._next_batch = client.register_script(_NEXT_BATCH)

    def accept(
        self, request: BookingRequest, fingerprint: str, session_id: str,
        room: RoomStep = RoomStep.NONE, room_ttl: int = STATUS_TTL,
    ) -> Accepted | Entered | AlreadyInRoom | Duplicate | SessionRevoked:  # fmt: skip
        """Queue the request (or let it into the event's waiting room), unless its idempotency
        key was seen or its session was signed out: all in one atomic step. `room_ttl` keeps an
        entrant's status and idempotency key until well after the opening. Raises
        `redis.TimeoutError` when Redis ran it too late, `NotReplicated` when the replicas
        asked for did not have it in time."""
        booking_id, event_id = str(request.booking_id), str(request.event_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(sessions.revocation_key(session_id))
        pipe.set(event_pointer_key(booking_id), event_id, ex=max(STATUS_TTL, room_ttl))
        if pipe.execute()[0]:
            return SessionRevoked()
        key = request.idempotency_key
        keys = [_key(event_id, f"idem:{request.user_id}:{key}" if key else "idem"), _key(event_id, "seq"),
                _key(event_id, "queue"), status_key(event_id, booking_id), _key(event_id, "pending"),
                _key(event_id, "decided"), room_key(event_id), opening_key(event_id)]  # fmt: skip
        deadline = f"{time.time() + self.timeout:.6f}" if self.timeout else ""
        args = [booking_id, fingerprint, encode_request(request), event_id, STATUS_TTL, "1" if key else "0",
                IDEMPOTENCY_TTL, PENDING_TTL, deadline, room.value, str(request.user_id), room_ttl]  # fmt: skip
        result = self._accept_replicated(keys, args)
        if result[0] == "late":
            raise redis.TimeoutError(
                "Redis ran the booking step after its caller's deadline; nothing was queued"
            )
        if result[0] == "room":
            return Entered(request.booking_id)
        if result[0] == "in_room":
            return AlreadyInRoom()
        if result[0] == "duplicate":
            booking_id, seen_fingerprint = result[1].split("|", 1)
            return Duplicate(uuid.UUID(booking_id), seen_fingerprint == fingerprint)
        return Accepted(request.booking_id, int(result[1]), result[2] == "1", int(result[3]))

    def _accept_replicated(self, keys: list[str], args: list) -> list:
        """The accepting script, then WAIT for the replicas on the same connection."""
        if not self.replicas:
            return self._accept(keys=keys, args=args)
        try:
            result, acknowledged = self._accept_and_wait(keys, args)
        except redis.exceptions.NoScriptError:
            # A replica promoted since, or a restarted Redis: the script is not cached there and
            # nothing ran.
            self.redis.script_load(_ACCEPT)
            result, acknowledged = self._accept_and_wait(keys, args)
        if result[0] != "late" and acknowledged < self.replicas:
            raise NotReplicated(
                f"the booking step reached {acknowledged} of {self.replicas} replicas in {self.wait_ms} ms"
            )
        return result

    def _accept_and_wait(self, keys: list[str], args: list) -> tuple[list, int]:
        # One pipeline: one round trip, plus the time the replicas take to confirm.
        pipe = self.redis.pipeline(transaction=False)
        pipe.evalsha(self._accept.sha, len(keys), *keys, *args)
        same_node = {}
        if isinstance(self.redis, RedisCluster):
            same_node["target_nodes"] = self.redis.get_node_from_key(keys[1])
        pipe.execute_command("WAIT", self.replicas, self.wait_ms, **same_node)
        result, acknowledged = pipe.execute()
        return result, acknowledged

    def head(self, event_id, count: int) -> list[BookingRequest]:
        """The first `count` queued requests, touching nothing (the drainer reads with `next_batch`)."""
        reader = RequestReader(event_id)
        return [reader.read(member) for member in self.redis.zrange(_key(event_id, "queue"), 0, count - 1)]

    def next_batch(
        self, event_id, count: int, last_look: bool, after: int | None = None
    ) -> tuple[list[BookingRequest], bool]:
        """The drainer's read of the first `count` requests (those numbered above `after`, if
        given: the batch after the one being decided), and whether the event has a waiting room
        not yet shuffled into the queue. The event's pending flag stays set meanwhile (a drain is
        under way: the booking step schedules none); on the `last_look` before the drainer lets
        go, an empty queue clears it in the same step."""
        keys = [_key(event_id, "queue"), _key(event_id, "pending"), room_key(event_id), opening_key(event_id)]
        lowest = "-inf" if after is None else f"({after}"
        room, members = self._next_batch(
            keys=keys, args=[count, PENDING_TTL, "1" if last_look else "0", lowest]
        )
        reader = RequestReader(event_id)
        return [reader.read(member) for member in members], bool(room)

    def remove_decided(self, event_id, requests: list[BookingRequest]) -> int:
        """Drop a committed batch from the queue and its in-flight statuses; returns what is left."""
        event_id = str(event_id)  # and each id written once, though each is written thrice below
        booking_ids = [str(r.booking_id) for r in requests]
        keys = [
            _key(event_id, "queue"),
            _key(event_id, "decided"),
            *(status_key(event_id, booking_id) for booking_id in booking_ids),
        ]
        highest = max(r.seq for r in requests)
        announcement = live_status.decision_message(highest, booking_ids)
        left = self._remove_decided(keys=keys, args=[highest, live_status.channel(event_id), announcement])
        # The pointers live in the bookings' own slots: a second step, and one a crash may skip
        # (a pointer left behind leads a poll to PostgreSQL, and expires with the status).
        self.redis.delete(*map(event_pointer_key, booking_ids))
        return left

    def repair_sequence(self, event_id, highest_decided: int) -> bool:
        """Move the event's counter above `highest_decided` if it went backwards, renumbering the
        queued requests in their order; says whether it had to."""
        keys = [_key(event_id, "seq"), _key(event_id, "queue"), _key(event_id, "decided")]
        return bool(self._repair_sequence(keys=keys, args=[highest_decided, status_key(event_id, "")]))

    def claim_drain(self, event_id) -> bool:
        """True if no drain is scheduled for the event and the caller should schedule one."""
        return bool(self.redis.set(_key(event_id, "pending"), "1", nx=True, ex=PENDING_TTL))

    def is_draining(self, event_id) -> bool:
        return bool(self.redis.exists(lock_key(event_id)))

    def waiting(self, event_ids: list) -> dict[str, tuple[int, bool]]:
        """(queued requests, being drained) of each event, in one pipelined round trip (one per
        node of a cluster, in parallel)."""
        pipe = self.redis.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.zcard(_key(event_id, "queue"))
            pipe.exists(lock_key(event_id))
        answers = pipe.execute()
        return {
            str(event_id): (answers[2 * i], bool(answers[2 * i + 1])) for i, event_id in enumerate(event_ids)
        }

    def queued_status(self, booking_id, session_id: str | None = None) -> dict | SessionRevoked | None:
        """The in-flight status of a queued request, with its live queue position, or None.
        Given the reader's `session_id`, first whether it was signed out (`SessionRevoked`),
        asked in the same round trip as the booking's pointer: a poll's token is then checked
        without a round trip of its own."""
        if session_id is None:
            event_id = self.redis.get(event_pointer_key(booking_id))
        else:
            revoked, event_id = read_keys(
                self.redis, [sessions.revocation_key(session_id), event_pointer_key(booking_id)]
            )
            if revoked is not None:
                return SessionRevoked()
        if event_id is None:
            return None
        keys = [status_key(event_id, booking_id), _key(event_id, "decided"), _key(event_id, "rate"),
                numbers_key(event_id)]  # fmt: skip
        status = self._status(keys=keys, args=[str(booking_id)])
        if not status:
            return None
        seq, payload, decided, rate = status
        reader = RequestReader(event_id)
        if not seq:
            return {"request": reader.read_payload(0, payload), "queue_position": None, "estimated_wait": None,
                    "waiting_room": True}  # fmt: skip
        position, estimated_wait = place_in_queue(int(seq), int(decided), float(rate))
        request = reader.read_payload(int(seq), payload)
        return {
            "request": request,
            "queue_position": position,
            "estimated_wait": estimated_wait,
            "waiting_room": False,
        }

    def record_rate(self, event_id, decisions_per_second: float) -> None:
        self.redis.set(_key(event_id, "rate"), f"{decisions_per_second:.1f}", ex=60)

    def decision_rate(self, event_id) -> float:
        """The event's recent decisions per second (0 when none were made lately), as a poll reads it."""
        return float(self.redis.get(_key(event_id, "rate")) or 0)

    def queue_length(self, event_id) -> int:
        return self.redis.zcard(_key(event_id, "queue"))


def place_in_queue(seq: int, highest_decided: int, decisions_per_second: float) -> tuple[int, float | None]:
    """A queued request's position (1 is next) and its expected wait in seconds (None while the
    event has no recent rate)."""
    position = max(seq - highest_decided, 1)
    return position, position / decisions_per_second if decisions_per_second else None


@functools.lru_cache(maxsize=8)
def queue_for(client: redis.Redis | RedisCluster, replicas: int = 0, wait_ms: int = 100) -> BookingQueue:
    """The queue operations on `client`, built once: building them digests its Lua scripts,
    which the booking endpoint should not pay for on every request."""
    return BookingQueue(client, replicas, wait_ms)


def booking_queue() -> BookingQueue:
    """The queue operations of this process's Redis, with its replication settings."""
    settings = runtime.settings()
    return queue_for(
        runtime.redis_client(), settings.booking_replicas, round(settings.redis_wait_timeout * 1000)
    )
