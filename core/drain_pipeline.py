"""A drain's work on Redis around each batch, overlapped with PostgreSQL's work on the batches
(docs/architecture.md, "How a booking is decided").

A drain in a rush takes turns with PostgreSQL at two places of every batch, each one idle while
the other works: at the batch's end, where PostgreSQL stores its last chunks while the drainer
waits; and between batches, where the drainer removes the committed batch from the queue (and
counts it) while PostgreSQL waits, then PostgreSQL runs the next batch's opening queries (the
inventory locked, the customers read) while the drainer waits. `DrainPipeline` fills both:

- **Reading ahead.** While the last chunks are stored, the batch after this one is read
  (`read_ahead`), and the next `next_batch` takes it rather than asking Redis again. It is the
  same read, only earlier: what comes after the batch in queue order, with the pending flag kept
  set and the waiting room looked at. Numbers handed out since come later in the queue; a room
  that closed in between says so in what was read ahead, which the drainer then reads again.
  This one Redis call is made while the batch's transaction is open (that is the point: the
  copy is still running), so a frozen Redis keeps the event's inventory locked for at most the
  client's socket timeout (`REDIS_SOCKET_TIMEOUT`, 1 s by default); its error then rolls the
  batch back, and the retried drain decides it.
- **Finishing behind.** When the next batch is already read, the committed one is removed from the
  queue, announced and counted on a thread of the pipeline's own (`finish`) while the drainer
  starts on the next, whose first steps wait for PostgreSQL. Its visibility comes no later than
  before: the removal starts as soon as the batch is committed. One batch at most is being
  finished at a time, and the drainer waits for it before it reads the head of the queue (which
  still holds that batch until it is removed), before it finishes another batch, and before it
  lets go of the event's lock (`close`). A finishing that failed raises there, in the drain.

Whatever the drainer would wait for on its own (a small batch, the last one of a drain) is done
on the spot: a thread would only add its hand-over to the wait.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from core.booking_requests import BookingRequest


class DrainPipeline:
    """The reads of one drain of one event, and the finishing of its batches; `close` when the
    drain ends (before its lock is let go)."""

    def __init__(self, queue, event_id, batch_size: int):
        self.queue, self.event_id, self.batch_size = queue, event_id, batch_size
        self._ahead: tuple[list[BookingRequest], bool] | None = None
        self._finishing: Future | None = None
        self._executor: ThreadPoolExecutor | None = None

    def next_batch(self, last_look: bool) -> tuple[list[BookingRequest], bool]:
        """The head of the queue and whether a waiting room waits (`BookingQueue.next_batch`):
        what was read ahead, unless that was nothing (the last look, which may clear the pending
        flag, is then made now) or a room waits (it goes first: the batch before is finished)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] and not ahead[1]:
            return ahead
        self.wait()
        return self.queue.next_batch(self.event_id, self.batch_size, last_look)

    def read_ahead(self, batch: list[BookingRequest]) -> None:
        """Read what comes after `batch` (in queue order, as read) for the next `next_batch`."""
        self._ahead = self.queue.next_batch(
            self.event_id, self.batch_size, last_look=False, after=batch[-1].seq
        )

    def finish(self, work: Callable[[], None]) -> None:
        """Finish a committed batch (`work`): behind the next batch if that one is already read,
        else now."""
        self.wait()
        if self._ahead is None or not self._ahead[0]:
            work()
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drain-finish")
        # In the drain's context: its log line carries the drain task's request id, as before.
        self._finishing = self._executor.submit(contextvars.copy_context().run, work)

    def wait(self) -> None:
        """Wait for the batch being finished, if any; raises what its finishing raised."""
        finishing, self._finishing = self._finishing, None
        if finishing is not None:
            finishing.result()

    def close(self) -> None:
        """Wait for the last batch's finishing, and stop the thread."""
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown()
