"""Pausing Python's cycle collector while the drainer works on a batch, and keeping a process's
start-up objects out of its walks.

A batch makes some ten thousand short-lived containers (the requests read from Redis, the rows
for COPY, the decisions), all freed by reference counting when the batch is done. While they
live they set off the cycle collector again and again, and its full collections walk every
object of the process (the ORM's, the app's: a quarter of a million), which cost the drainer a
tenth of its time and more (docs/architecture.md, "How a booking is decided"). Paused for one
batch, the collector resumes where it was afterwards: what the batch left in cycles is
collected then, and no collection is skipped for good.

Even so, the objects a batch keeps past it (the batch read ahead, the one being finished) move
up to the oldest generation, and every few batches that set off a full collection, a walk of
every object of the process: 115 to 148 ms of a 20,000-request drain of about a second in the
engine benchmark's process, of some 267,000 objects (measured with `gc.callbacks`;
docs/benchmarks.md). Most of those objects are the process's start-up (modules,
the ORM's mappings, the app), alive as long as the process: `set_aside_start_up` takes them out
of the walks once the process is set up (`gc.freeze`), so a full collection walks what the
process made since.
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


def set_aside_start_up() -> None:
    """Collect what is garbage now, then move every object still alive out of the collector's
    walks for good (`gc.freeze`): call once a process is set up (the web's, in `gunicorn.conf.py`;
    the worker's, `worker.celery_app`). Objects made afterwards are collected as before."""
    gc.collect()
    gc.freeze()
