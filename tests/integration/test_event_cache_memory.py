"""Booking requests for event ids nobody has cannot grow a web process's memory."""

from __future__ import annotations

import gc
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from core import event_snapshots, runtime
from core.errors import NotFound
from core.inventory import Line
from core.services import bookings

# A fifth of the 100,000 keeps the suite quick and is already 20 times the cache's bound;
# `python -m bench.unknown_events` sends the full 100,000 to real gunicorn workers.
REQUESTS = 20_000
THREADS = 8  # as a web process serves requests: several at once, which also keeps this test short
ALLOWED_GROWTH = 4 * 1024 * 1024


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _ask_for_unknown_events(count: int) -> int:
    refused = 0
    for _ in range(count):
        ask = bookings.BookingAsk(uuid.uuid4(), (Line(uuid.uuid4(), 1),))
        try:
            bookings.request_booking(runtime.database(), uuid.uuid4(), ask, session_id="s")
        except NotFound:
            refused += 1
    return refused


def test_requests_for_random_unknown_events_leave_memory_where_it_was(db):
    with ThreadPoolExecutor(THREADS) as pool:
        # Warm up the threads, the allocator, the connection pools and SQL caches first.
        list(pool.map(_ask_for_unknown_events, [250] * THREADS))
        gc.collect()
        before = _rss_bytes()
        refused = sum(pool.map(_ask_for_unknown_events, [REQUESTS // THREADS] * THREADS))
        gc.collect()
        grown = _rss_bytes() - before
    assert refused == REQUESTS
    assert grown < ALLOWED_GROWTH, f"RSS grew by {grown / 2**20:.1f} MiB"
    assert len(event_snapshots._local) <= event_snapshots.LOCAL_EVENTS
