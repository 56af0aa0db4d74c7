"""HTTP load for the benchmarks: many keep-alive requests, from one or several OS processes.

One Python process tops out at a few thousand requests per second, less than a 2-core gunicorn
can answer, so a run can be spread over several processes, each with its own event loop and
connection pool, whose samples are merged. Each request is built by the caller's function, so
every request can carry another customer's token. Every run stops at a request count and at a
time limit. `poll_until_final` follows the answers until each booking reaches a final status.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import queue
import time
import traceback
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import aiohttp

# Time a load process may take to start (interpreter, imports, session) before the run is abandoned.
_STARTUP_LIMIT = 60.0
# How often a run checks how late its own event loop wakes (`Sample.loop_late`).
_LOOP_PROBE_SECONDS = 0.005


@dataclass(frozen=True)
class Request:
    """One HTTP request; `path` is absolute ("/api/v1/bookings") and joined to the run's base URL."""

    method: str
    path: str
    headers: Mapping[str, str] | None = None
    json: Any = None


RequestFactory = Callable[[int], Request]
"""Builds request number i of a run. To use several processes it must pickle: a module-level
function, or a `functools.partial` of one over plain data (a list of tokens, say)."""


class Sample(NamedTuple):
    """One request: `time.perf_counter()` at start and end; status 0 means no HTTP answer.

    `loop_late`: seconds the load generator's own event loop woke late (by more than its probe's
    period) while the request was in flight: time counted in its latency that the server never
    saw (a load generator sharing the cores with the servers it loads is stopped now and then)."""

    index: int
    start: float
    end: float
    status: int
    location: str | None
    loop_late: float = 0.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values; NaN when there are none."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class LoadResult:
    """The samples of one run and its window, on one `perf_counter` clock.

    `wall_offset` turns that clock into `time.time()`, so samples can be compared with times
    taken elsewhere (the poller, another process).
    """

    samples: list[Sample]
    started: float
    finished: float
    wall_offset: float

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def rate(self) -> float:
        """Answered requests per second over the run's window."""
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    @cached_property
    def latencies_ms(self) -> list[float]:
        return sorted((s.end - s.start) * 1000 for s in self.samples)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p90_ms(self) -> float:
        return percentile(self.latencies_ms, 90)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def statuses(self) -> dict[int, int]:
        """How many requests ended with each HTTP status (0: no answer), by status."""
        return dict(sorted(Counter(s.status for s in self.samples).items()))

    def wall(self, t: float) -> float:
        """The `time.time()` of a `perf_counter` time of this result."""
        return t + self.wall_offset

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "elapsed_s": round(self.elapsed, 4),
            "rate_per_s": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p90_ms": round(self.p90_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "statuses": {str(k): v for k, v in self.statuses.items()},
        }

    @classmethod
    def merge(cls, parts: Sequence[LoadResult]) -> LoadResult:
        """One result from the parts of a multi-process run, on the first part's clock.

        The window runs from the earliest start to the latest end, so the rate is the combined one.
        """
        base = parts[0].wall_offset
        samples: list[Sample] = []
        started, finished = math.inf, -math.inf
        for part in parts:
            shift = part.wall_offset - base
            samples.extend(s._replace(start=s.start + shift, end=s.end + shift) for s in part.samples)
            started = min(started, part.started + shift)
            finished = max(finished, part.finished + shift)
        samples.sort(key=lambda s: s.index)
        return cls(samples, started, finished, base)


def run_load(
    base_url: str,
    make_request: RequestFactory,
    requests: int,
    *,
    concurrency: int = 50,
    processes: int = 1,
    time_limit: float = 60.0,
    timeout: float = 10.0,
) -> LoadResult:
    """Send requests 0..requests-1 to `base_url` ("http://127.0.0.1:8000") and measure them.

    `concurrency` requests are in flight at once in total, shared over `processes` OS processes;
    process k sends requests k, k+processes, ..., so arrival order stays interleaved. No request
    starts after `time_limit` seconds; each one gives up after `timeout` seconds (status 0).
    """
    if processes < 1 or concurrency < processes:
        raise ValueError("need 1 <= processes <= concurrency")
    if processes == 1:
        return asyncio.run(
            _load(
                base_url,
                make_request,
                range(requests),
                concurrency,
                time_limit,
                timeout,
            )
        )
    return _load_in_processes(base_url, make_request, requests, concurrency, processes, time_limit, timeout)


async def _load(
    base_url: str,
    make_request: RequestFactory,
    indices: Iterable[int],
    concurrency: int,
    time_limit: float,
    timeout: float,
    start_together: Callable[[], None] | None = None,
) -> LoadResult:
    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=client_timeout) as session:
        if start_together is not None:
            start_together()  # blocks the loop on purpose: nothing runs in it yet
        samples: list[Sample] = []
        # Shared by the clients: each one takes the next request number.
        pending = iter(indices)
        wall_offset = time.time() - time.perf_counter()
        started = time.perf_counter()
        deadline = started + time_limit

        late = [0.0]  # the loop's lateness so far, added to by `probe`

        async def probe() -> None:
            while True:
                asked = time.perf_counter() + _LOOP_PROBE_SECONDS
                await asyncio.sleep(_LOOP_PROBE_SECONDS)
                overslept = time.perf_counter() - asked
                if overslept > _LOOP_PROBE_SECONDS:
                    late[0] += overslept

        async def client() -> None:
            for i in pending:
                if time.perf_counter() >= deadline:
                    return
                request = make_request(i)
                t0, late0 = time.perf_counter(), late[0]
                try:
                    async with session.request(
                        request.method,
                        request.path,
                        headers=request.headers,
                        json=request.json,
                    ) as response:
                        await response.read()
                        status, location = (
                            response.status,
                            response.headers.get("Location"),
                        )
                except (aiohttp.ClientError, TimeoutError):
                    status, location = 0, None
                samples.append(Sample(i, t0, time.perf_counter(), status, location, late[0] - late0))

        probing = asyncio.create_task(probe())
        await asyncio.gather(*(client() for _ in range(concurrency)))
        probing.cancel()
        return LoadResult(samples, started, time.perf_counter(), wall_offset)


def _load_in_processes(
    base_url: str,
    make_request: RequestFactory,
    requests: int,
    concurrency: int,
    processes: int,
    time_limit: float,
    timeout: float,
) -> LoadResult:
    # spawn, not fork: the caller may already run threads or an event loop.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    reports = context.Queue()
    shares = [concurrency // processes + (k < concurrency % processes) for k in range(processes)]
    workers = [
        context.Process(
            target=_load_process,
            args=(
                base_url,
                make_request,
                range(k, requests, processes),
                shares[k],
                time_limit,
                timeout,
                barrier,
                reports,
            ),
            daemon=True,
        )
        for k in range(processes)
    ]
    for worker in workers:
        worker.start()
    parts: list[LoadResult] = []
    deadline = time.monotonic() + _STARTUP_LIMIT + time_limit + timeout
    try:
        while len(parts) < processes:
            try:
                ok, payload = reports.get(timeout=0.5)
            except queue.Empty:
                if any(worker.exitcode for worker in workers):
                    raise RuntimeError("a load process died") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("a load process did not report in time") from None
                continue
            if not ok:
                raise RuntimeError(f"a load process failed:\n{payload}")
            parts.append(payload)
    finally:
        barrier.abort()  # frees any process still waiting to start
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
                worker.join()
    return LoadResult.merge(parts)


def _load_process(
    base_url, make_request, indices, concurrency, time_limit, timeout, barrier, reports
) -> None:
    try:
        result = asyncio.run(
            _load(
                base_url,
                make_request,
                indices,
                concurrency,
                time_limit,
                timeout,
                start_together=lambda: barrier.wait(timeout=_STARTUP_LIMIT),
            )
        )
    except BaseException:
        reports.put((False, traceback.format_exc()))
        raise
    else:
        reports.put((True, result))


@dataclass(frozen=True)
class PollTarget:
    """A resource to poll: its absolute URL and the headers (the owner's token) to send."""

    url: str
    headers: Mapping[str, str] | None = None


class PollOutcome(NamedTuple):
    """How polling one target ended.

    `final_at` is the `perf_counter()` time the final value arrived, None if it never did
    (time limit, poll limit, or a 4xx answer other than 429). It is late by at most one wait.
    """

    index: int
    value: Any
    http_status: int
    polls: int
    final_at: float | None


@dataclass
class PollResult:
    outcomes: list[PollOutcome]
    wall_offset: float

    @property
    def unfinished(self) -> list[PollOutcome]:
        return [o for o in self.outcomes if o.final_at is None]

    @property
    def values(self) -> dict[Any, int]:
        """How many targets ended with each final value."""
        return dict(Counter(o.value for o in self.outcomes if o.final_at is not None))

    def wall(self, t: float) -> float:
        """The `time.time()` of a `perf_counter` time of this result."""
        return t + self.wall_offset


def poll_until_final(
    targets: Sequence[PollTarget],
    *,
    field: str = "status",
    pending: Collection[Any] = ("queued",),
    concurrency: int = 50,
    default_wait: float = 0.1,
    max_wait: float = 1.0,
    max_polls: int = 1000,
    time_limit: float = 60.0,
    timeout: float = 10.0,
) -> PollResult:
    """GET each target until the JSON `field` of a 200 answer is no longer in `pending`.

    Between polls of one target it waits as its `Retry-After` says, capped at `max_wait`
    (`default_wait` without one). 429, 5xx and network errors are retried the same way; any
    other 4xx ends that target unfinished. At most `concurrency` requests are in flight.
    """
    return asyncio.run(
        _poll(
            targets,
            field,
            frozenset(pending),
            concurrency,
            default_wait,
            max_wait,
            max_polls,
            time_limit,
            timeout,
        )
    )


async def _poll(
    targets,
    field,
    pending,
    concurrency,
    default_wait,
    max_wait,
    max_polls,
    time_limit,
    timeout,
):
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        wall_offset = time.time() - time.perf_counter()
        deadline = time.perf_counter() + time_limit

        async def follow(index: int, target: PollTarget) -> PollOutcome:
            status = 0
            for polls in range(1, max_polls + 1):
                body, retry_after = None, None
                try:
                    async with session.get(target.url, headers=target.headers) as response:
                        status, retry_after = (
                            response.status,
                            response.headers.get("Retry-After"),
                        )
                        if status == 200:
                            body = await response.json(content_type=None)
                        else:
                            await response.read()
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    status = 0
                if isinstance(body, dict) and body.get(field) not in pending:
                    return PollOutcome(index, body.get(field), status, polls, time.perf_counter())
                if 400 <= status < 500 and status != 429:
                    return PollOutcome(index, None, status, polls, None)
                wait = min(_seconds(retry_after, default_wait), max_wait)
                if time.perf_counter() + wait >= deadline:
                    return PollOutcome(index, None, status, polls, None)
                await asyncio.sleep(wait)
            return PollOutcome(index, None, status, max_polls, None)

        outcomes = await asyncio.gather(*(follow(i, t) for i, t in enumerate(targets)))
        return PollResult(list(outcomes), wall_offset)


def _seconds(retry_after: str | None, default: float) -> float:
    """Retry-After in seconds; an HTTP date or garbage counts as absent."""
    try:
        return max(0.0, float(retry_after)) if retry_after is not None else default
    except ValueError:
        return default
