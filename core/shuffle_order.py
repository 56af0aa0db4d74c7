"""The waiting room's order: a public, deterministic function of the revealed seed and the
entrants' booking ids, so that anyone can recompute a shuffle and see that nobody was moved.

    order = sorted(sorted(booking_ids), key=lambda b: hmac.new(seed, b.encode(), sha256).digest())

`seed` is the 32 random bytes behind `seed_commitment = sha256(seed).hexdigest()` (published
before the opening, the seed itself after), `booking_ids` the entrants' ids in their canonical
form (lowercase, hyphenated). The entrant at `order[i]` gets queue number `first_queue_seq + i`.
HMAC-SHA256 keyed with a secret drawn from `secrets` is a pseudo-random function: before the
reveal nobody can tell which ids come first, so the order is as good as uniformly random.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

SEED_BYTES = 32

# The recipe the public view gives (`GET /api/v1/events/{id}/waiting-room`), runnable as it is.
RECOMPUTE = (
    "import hashlib, hmac; seed = bytes.fromhex(SEED); "
    "order = sorted(sorted(BOOKING_IDS), key=lambda b: hmac.new(seed, b.encode(), hashlib.sha256).digest()); "
    "queue_number = {b: FIRST_QUEUE_SEQ + i for i, b in enumerate(order)}"
)


def new_seed() -> str:
    """A fresh secret seed, hex, from the operating system's cryptographically secure source."""
    return secrets.token_hex(SEED_BYTES)


def seed_commitment(seed: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def shuffled(seed: str, booking_ids: Iterable[str]) -> list[str]:
    """The entrants in their queue order (see the module's docstring)."""
    key = bytes.fromhex(seed)
    return sorted(sorted(booking_ids), key=lambda b: hmac.new(key, b.encode(), hashlib.sha256).digest())
