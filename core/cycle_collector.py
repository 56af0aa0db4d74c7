"""Pausing Python's cycle collector while the drainer works on a batch.

A batch makes some ten thousand short-lived containers (the requests read from Redis, the rows
for COPY, the decisions), all freed by reference counting when the batch is done. While they
live they set off the cycle collector again and again, and its full collections walk every
object of the process (the ORM's, the app's: a quarter of a million), which cost the drainer a
tenth of its time and more (docs/architecture.md, "How a booking is decided"). Paused for one
batch, the collector resumes where it was afterwards: what the batch left in cycles is
collected then, and no collection is skipped for good.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (unless it was already off: it stays off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
