"""Beat's sweeps with any number of beats: each sweep runs once per period, whoever sent it.

Every beat process sends every sweep on its own clock, so with two beats each sweep arrives
twice per period. The first copy to start claims the period (`SET beat:<sweep> <claimant> NX
PX <most of the period>`) and runs; a copy that finds the claim skips. The claim is never
released: it runs out before the period ends (a little before, so the next copy of the same
beat, a little early or late, is not skipped), which is also how the claim of a worker killed
mid-sweep goes away: no stale claim outlives one period. A beat killed at any moment leaves the
others sending, so the sweeps go on at the same pace. The claim names the process that holds
it (host and pid), for an operator who wonders which one ran.

The claim saves work; it is not what keeps a sweep from doing something twice, because a claim
can be lost (it expires under a sweep that runs longer than its period, or a Redis failover
forgets it) and then two copies run at once. Every sweep is therefore safe to run twice at the
same time, fenced by PostgreSQL and by the jobs it sends: hold expiry locks the event's
inventory row and expires only holds still due, the repair sweeps only send jobs that check
the rows again under their own locks (a checkout per payment row, a refund by its idempotency
key at the provider, tickets per booking under its row lock), and each mail is claimed and
marked sent in Redis (`core.services.notifications`). docs/scaling.md, "Any number of beats".
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TypeVar

from core import runtime

T = TypeVar("T")

_PREFIX = "beat:"
# The share of its period a claim lasts.
CLAIMED_SHARE = 0.8


def claim_key(name: str) -> str:
    return _PREFIX + name


def once_per_period(name: str, period: float, sweep: Callable[[], T]) -> T | None:
    """Run `sweep` unless a copy of it already claimed this period; None when skipped."""
    claimant = f"{socket.gethostname()}:{os.getpid()}"
    claim_ms = max(int(period * CLAIMED_SHARE * 1000), 1)
    if not runtime.redis_client().set(claim_key(name), claimant, nx=True, px=claim_ms):
        return None
    return sweep()
