"""Pushed booking status: the drainer announces its decisions on a pub/sub channel per event, and
each web process fans them out to the requests waiting in it (the long poll and the stream).

Each process keeps ONE subscription (a pattern over every event's channel, on a connection of its
own) read by one listener thread; a waiting request registers a `Watch` and sleeps on it, so it
costs neither a Redis connection nor CPU while nothing changes. Channel `live:{E}:status` carries
the event's hash tag. Messages are JSON:
  {"decided": N, "ids": [...]}   a batch was decided: its booking ids, and the highest queue
                                 number decided so far (a queued request's position is seq - N)
  {"shuffled": true}             the waiting room was shuffled: entrants have queue numbers
A watch wakes when its booking is decided, when the room is shuffled, and when its position has
moved by a tenth since it was last reported: each batch would move every position, and waking
every waiting client at every batch would be polling again.

A watch woken by a decided batch is handed the batch's `Announcement`, which the process received
once and shares between every watch it woke: what the first of them reads for the batch (its
decided bookings, in one read) the others take, rather than each reading its own at the same
moment (docs/architecture.md, "Status is pushed"; `core.services.booking_updates`). The process
keeps the batches it was told of for `RECENT_SECONDS`, for the clients that ask again just after
their decision (a long poll answered for a move of its position asks again at once, and finds
its booking decided meanwhile): they take it from the same read.

Messages published while the subscription is down are lost, so after (re)subscribing the
listener wakes every watch to read its booking again. On a Redis Cluster the subscription is
made to one node (a cluster passes every classic PUBLISH to all its nodes), the next one named
in `REDIS_URL` after a lost connection.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import TypeVar

import redis

from core import runtime
from core.redis_cluster import node_urls

CHANNEL_PREFIX = "live:"
# The listener pings this often when nothing arrives, so a dead connection is noticed.
PING_SECONDS = 30.0
RECONNECT_SECONDS = 0.5
READY_SECONDS = 5.0
RECENT_SECONDS = 10.0
# Off the request path: a busy process may take a while to run the greenlet that connects.
CONNECT_SECONDS = 5.0

log = logging.getLogger(__name__)
T = TypeVar("T")


def channel(event_id) -> str:
    return f"{CHANNEL_PREFIX}{{{event_id}}}:status"


def decision_message(highest_decided: int, booking_ids) -> str:
    return json.dumps(
        {"decided": highest_decided, "ids": [str(b) for b in booking_ids]}, separators=(",", ":")
    )


def shuffled_message() -> str:
    return json.dumps({"shuffled": True})


def _event_of(channel_name: str) -> str:
    return channel_name[len(CHANNEL_PREFIX) + 1 : channel_name.index("}")]


class Announcement:
    """A decided batch as this process received it, shared by the watches it woke."""

    def __init__(self, event_id: str, message: dict):
        self.event_id = event_id
        self.highest_decided: int = message["decided"]
        self.ids = frozenset(message.get("ids", ()))
        self._lock = threading.Lock()
        self._shared: dict[str, object] = {}

    def shared(self, name: str, load: Callable[[], T]) -> T:
        """`load()` run once, by the first watch to ask; the others wait for it and take its
        result (one that fails is run again by the next to ask)."""
        with self._lock:
            if name not in self._shared:
                self._shared[name] = load()
            return self._shared[name]


class Watch:
    """One waiting request's interest in one booking; `wait` sleeps until something concerns it."""

    def __init__(self, hub: StatusHub, event_id: str, booking_id: str):
        self.hub, self.event_id, self.booking_id = hub, event_id, booking_id
        self._woken = threading.Event()
        self._seq: int | None = None
        self._next_position = 0
        self._news: list[Announcement | None] = []
        # A batch announced between the watch's registration and its first `follow`: whether it
        # moved the position is judged once the position is known.
        self._following = False
        self._early: Announcement | None = None

    def follow(self, seq: int | None, position: int | None) -> None:
        """What the waiter last saw: wake it again when the position drops by a tenth."""
        self._seq = seq
        self._next_position = position - max(1, position // 10) if position else 0
        self._following = True
        early, self._early = self._early, None
        if early is not None:
            self.offer(early)

    def wait(self, timeout: float) -> bool:
        """True if woken (then re-armed), False after `timeout` seconds of nothing.

        Whether it was woken is what it was told (`_news`), not what the event's `wait` says:
        gevent's says False when a wake comes as the time runs out, and clearing the event after
        that lost the wake for good (a stream then slept through its decision, keep-alive after
        keep-alive: 3 of 1,000 in a benchmark run)."""
        if not self._news:
            self._woken.wait(timeout)
        self._woken.clear()
        return bool(self._news)

    def news(self) -> list[Announcement | None]:
        """What woke it since it last asked, oldest first: the announcements that concern it,
        None for a wake that says nothing (the room shuffled, the subscription made again)."""
        news, self._news = self._news, []
        return news

    def offer(self, announcement: Announcement) -> None:
        """Wake on a batch that decided the booking or moved its position by a tenth."""
        if not self._following and self.booking_id not in announcement.ids:
            self._early = announcement  # the latest says most: positions only go down
            return
        moved = self._seq is not None and self._seq - announcement.highest_decided <= self._next_position
        if moved or self.booking_id in announcement.ids:
            self._news.append(announcement)
            self._woken.set()

    def wake(self) -> None:
        self._news.append(None)
        self._woken.set()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc) -> None:
        self.hub.forget(self)


class StatusHub:
    """The process's one subscription and the watches waiting on it."""

    def __init__(self, redis_url: str):
        # No read timeout: the connection sits idle until a decision comes (pings find a dead one).
        # On a cluster, one node at a time, the next after a lost subscription (a failover).
        self._clients = itertools.cycle([
            redis.Redis.from_url(url, decode_responses=True, socket_timeout=None,
                                 socket_connect_timeout=CONNECT_SECONDS, socket_keepalive=True)
            for url in node_urls(redis_url)
        ])  # fmt: skip
        self._lock = threading.Lock()
        self._watches: dict[str, set[Watch]] = defaultdict(set)
        self._subscribed = threading.Event()
        self._listener: threading.Thread | None = None
        # The batches received in the last RECENT_SECONDS, by booking id, and in their order.
        self._recent: dict[str, Announcement] = {}
        self._received: deque[tuple[float, Announcement]] = deque()

    def watch(self, event_id, booking_id) -> Watch:
        """Register interest before reading the booking, so no decision falls between the two.
        Raises `redis.ConnectionError` if the subscription cannot be made."""
        self.start()
        if not self._subscribed.wait(READY_SECONDS):
            raise redis.ConnectionError("the status subscription is not established")
        watch = Watch(self, str(event_id), str(booking_id))
        with self._lock:
            self._watches[watch.event_id].add(watch)
        return watch

    def forget(self, watch: Watch) -> None:
        with self._lock:
            watches = self._watches.get(watch.event_id)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[watch.event_id]

    def recently_decided(self, booking_id) -> Announcement | None:
        """The batch that decided the booking, if this process was told of it lately."""
        with self._lock:
            self._forget_old(time.monotonic())
            return self._recent.get(str(booking_id))

    def _remember(self, announcement: Announcement) -> None:
        now = time.monotonic()
        with self._lock:
            self._forget_old(now)
            self._received.append((now, announcement))
            self._recent.update(dict.fromkeys(announcement.ids, announcement))

    def _forget_old(self, now: float) -> None:
        while self._received and self._received[0][0] < now - RECENT_SECONDS:
            _, old = self._received.popleft()
            for booking_id in old.ids:
                if self._recent.get(booking_id) is old:
                    del self._recent[booking_id]

    def watching(self) -> int:
        with self._lock:
            return sum(len(watches) for watches in self._watches.values())

    def start(self) -> None:
        """Subscribe (once; the web does it as each worker starts, before any client waits)."""
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(target=self._listen, name="live-status", daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        while True:
            pubsub = next(self._clients).pubsub()
            try:
                pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                self._read(pubsub)
            except redis.RedisError as error:
                log.warning("status subscription lost (%s); subscribing again", error)
            finally:
                self._subscribed.clear()
                pubsub.close()
            time.sleep(RECONNECT_SECONDS)

    def _read(self, pubsub) -> None:
        while True:
            message = pubsub.get_message(timeout=PING_SECONDS)
            if message is None:
                pubsub.ping()
            elif message["type"] == "psubscribe":
                self._subscribed.set()
                self._wake_all()  # anything published while unsubscribed was missed
            elif message["type"] == "pmessage":
                self._deliver(_event_of(message["channel"]), message["data"])

    def _deliver(self, event_id: str, data: str) -> None:
        with self._lock:
            watches = list(self._watches.get(event_id, ()))
        if not watches:
            return
        message = json.loads(data)
        if "decided" not in message:  # the room was shuffled: every entrant reads its number
            for watch in watches:
                watch.wake()
            return
        announcement = Announcement(event_id, message)
        self._remember(announcement)
        for watch in watches:
            watch.offer(announcement)

    def _wake_all(self) -> None:
        with self._lock:
            watches = [watch for every in self._watches.values() for watch in every]
        for watch in watches:
            watch.wake()


@functools.lru_cache(maxsize=4)
def _hub_for(redis_url: str) -> StatusHub:
    return StatusHub(redis_url)


def hub() -> StatusHub:
    """This process's hub (made in the process itself: gunicorn loads the app in each worker, so
    no listener thread is ever inherited across a fork)."""
    return _hub_for(runtime.settings().redis_url)
