"""Timestamps along each request's way to its decision, for finding where the slowest wait
(`bench/decision_stages.py`, docs/latency-tail.md).

Off unless the `DRAIN_TRACE` setting names a directory; then every process of the booking path
appends JSON lines to a file of its own there (`<pid>.jsonl`, written through, so a process
stopped by a signal loses nothing): the API when it begins a request and when it accepts it, the worker when a task is
sent, received, started and ended, the drainer when it takes the event's lock and when each
batch is read, committed and made visible, and any process when the garbage collector stops it
for a millisecond or more. Times are `time.time()`, comparable between the processes of one machine.
Off, each hook is one look at the settings: nothing is written, nothing is timed.

Records, one a line (`k` says which):
  a  accepted      e event, b booking, h when the API began handling the request, t when the
                   booking step returned (after sending the drain it asked for, if any)
  r  received      i task id, t when the worker took the message from the broker (it may then
                   wait, prefetched, for a free process)
  t  task          n task name, i task id, s sent (the message's header), b started, f finished
  d  drain         i task id, e event, b started, l lock taken (null: busy, another drainer had it)
  q  batch         i task id, e event, r read (taken up by the drainer: a batch read ahead, while
                   the one before was stored, counts from then), c committed, v visible, ids
                   the batch's bookings
  g  gc pause      p pid, t start, ms duration, gen generation
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from pathlib import Path

from core import runtime

# The message header carrying the time a task was sent (set only while tracing).
SENT_HEADER = "trace_sent_at"
# GC pauses shorter than this are not worth a line (a young collection takes well under it).
GC_PAUSE_MS = 1.0

_current_task: ContextVar[str | None] = ContextVar("drain_trace_task", default=None)
_request_started: ContextVar[float | None] = ContextVar("drain_trace_request", default=None)
_lock = threading.Lock()
_file = None
_file_pid = None
_gc_started: float | None = None
# Pauses noticed while another thread of the process was writing: written with the next record.
_gc_pauses: list[dict] = []


def directory() -> str:
    """Where the trace goes; empty when tracing is off."""
    return runtime.settings().drain_trace


def _write(record: dict) -> None:
    global _file, _file_pid
    with _lock:
        if _file is None or _file_pid != os.getpid():  # a forked worker process writes its own file
            _file = open(Path(directory()) / f"{os.getpid()}.jsonl", "a", buffering=1)  # noqa: SIM115
            _file_pid = os.getpid()
            _watch_gc()
        _write_pauses()
        _file.write(json.dumps(record, separators=(",", ":")) + "\n")


def _write_pauses() -> None:
    while _gc_pauses:
        _file.write(json.dumps(_gc_pauses.pop(0), separators=(",", ":")) + "\n")


def _watch_gc() -> None:
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def _on_gc(phase: str, info: dict) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.time()
        return
    if _gc_started is None:
        return
    began, _gc_started = _gc_started, None
    paused = (time.time() - began) * 1000
    if paused < GC_PAUSE_MS:
        return
    _gc_pauses.append({"k": "g", "p": os.getpid(), "t": began, "ms": paused, "gen": info.get("generation")})
    # The collector may have stopped this very thread inside `_write`: then the lock is taken,
    # and the pause goes out with the next record. A process forked since writes its own file.
    if _file_pid == os.getpid() and _lock.acquire(blocking=False):
        try:
            _write_pauses()
        finally:
            _lock.release()


def request_started() -> None:
    """The API begins handling a request (what came before is the client's and the server's
    queues: how long a request waited for a thread of the API)."""
    if directory():
        _request_started.set(time.time())


def accepted(event_id, booking_id) -> None:
    """The booking step queued the request (and sent the drain it asked for, if any)."""
    if directory():
        _write({"k": "a", "e": str(event_id), "b": str(booking_id), "h": _request_started.get(),
                "t": time.time()})  # fmt: skip


def stamp_sent(headers: dict | None) -> None:
    """Put the sending time in an outgoing task's headers."""
    if directory() and headers is not None:
        headers.setdefault(SENT_HEADER, time.time())


def task_received(task_id: str) -> None:
    if directory():
        _write({"k": "r", "i": task_id, "t": time.time()})


def task_started(task_id: str) -> tuple[float, object] | None:
    """A task begins in this process: its id is what the drainer's records name. Returns what
    `task_finished` needs."""
    if not directory():
        return None
    return time.time(), _current_task.set(task_id)


def task_finished(started: tuple[float, object] | None, name: str, task_id: str, sent_at) -> None:
    if started is None:
        return
    began, token = started
    _current_task.reset(token)
    _write({"k": "t", "n": name, "i": task_id, "s": sent_at, "b": began, "f": time.time()})


class Drain:
    """One drain's records: the lock, then each batch. The drain's `started` is its own (a drain
    run outside a task, by a test or a benchmark, has no task record)."""

    def __init__(self, event_id):
        self.event_id = str(event_id)
        self.task_id = _current_task.get()
        self.started = time.time()
        self.read_at = 0.0

    def locked(self, acquired: bool) -> None:
        _write({"k": "d", "i": self.task_id, "e": self.event_id, "b": self.started,
                "l": time.time() if acquired else None})  # fmt: skip

    def batch_read(self) -> None:
        self.read_at = time.time()

    def batch_committed(self) -> Callable[[Iterable], None]:
        """The batch read last was committed; returns what records it visible, with its booking
        ids (which may run on another thread, after the next batch was read)."""
        read_at, committed_at = self.read_at, time.time()

        def visible(booking_ids: Iterable) -> None:
            _write({"k": "q", "i": self.task_id, "e": self.event_id, "r": read_at, "c": committed_at,
                    "v": time.time(), "ids": [str(b) for b in booking_ids]})  # fmt: skip

        return visible


class _Untraced:
    """What a drain records when tracing is off: nothing."""

    def locked(self, acquired: bool) -> None:
        pass

    def batch_read(self) -> None:
        pass

    def batch_committed(self) -> Callable[[Iterable], None]:
        return _nothing


def _nothing(booking_ids: Iterable) -> None:
    pass


_UNTRACED = _Untraced()


def drain(event_id) -> Drain | _Untraced:
    """The trace of a drain of `event_id` starting now."""
    return Drain(event_id) if directory() else _UNTRACED
