"""The load generator sends, counts and classifies every request, from one or several processes.

Runs against a tiny aiohttp server on a loopback port; nothing here asserts a speed.
"""

import asyncio
import threading
from collections import Counter
from types import SimpleNamespace

import pytest
from aiohttp import web

from bench import loadgen
from bench.servers import free_port


def booking_request(i: int) -> loadgen.Request:
    """Module level, so that it pickles for the load processes."""
    return loadgen.Request(
        "POST",
        "/bookings",
        headers={"Authorization": f"Bearer customer-{i}"},
        json={"n": i},
    )


@pytest.fixture(scope="module")
def server():
    tokens: list[str] = []
    polls: Counter[int] = Counter()

    async def request_booking(request: web.Request) -> web.Response:
        tokens.append(request.headers["Authorization"])
        n = (await request.json())["n"]
        status = 404 if n % 10 == 0 else 202
        return web.json_response({"id": n}, status=status, headers={"Location": f"/bookings/{n}"})

    async def get_booking(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        polls[n] += 1
        if polls[n] < 3:
            return web.json_response({"status": "queued"}, headers={"Retry-After": "0.01"})
        return web.json_response({"status": "held" if n % 2 else "waitlisted"})

    app = web.Application()
    app.router.add_post("/bookings", request_booking)
    app.router.add_get("/bookings/{n}", get_booking)
    runner = web.AppRunner(app)
    port = free_port()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", tokens=tokens)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def assert_200_requests_measured(result: loadgen.LoadResult, tokens: list[str]) -> None:
    assert result.count == 200
    assert [s.index for s in result.samples] == list(range(200))
    assert result.statuses == {202: 180, 404: 20}
    assert sorted(tokens) == sorted(f"Bearer customer-{i}" for i in range(200))
    assert all(s.location == f"/bookings/{s.index}" for s in result.samples)
    assert all(result.started <= s.start <= s.end <= result.finished for s in result.samples)
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms <= result.latencies_ms[-1]
    assert result.rate == pytest.approx(200 / result.elapsed)


def test_each_request_is_sent_once_with_its_own_token_and_counted_by_status(server):
    server.tokens.clear()
    result = loadgen.run_load(server.url, booking_request, 200, concurrency=16, time_limit=60)
    assert_200_requests_measured(result, server.tokens)


def test_requests_from_several_processes_are_merged_into_one_result(server):
    server.tokens.clear()
    result = loadgen.run_load(server.url, booking_request, 200, concurrency=8, processes=2, time_limit=60)
    assert_200_requests_measured(result, server.tokens)


def test_polling_waits_out_retry_after_until_the_status_is_final(server):
    targets = [loadgen.PollTarget(f"{server.url}/bookings/{n}") for n in range(1000, 1020)]
    result = loadgen.poll_until_final(targets, time_limit=60)
    assert result.unfinished == []
    assert result.values == {"held": 10, "waitlisted": 10}
    assert [o.polls for o in result.outcomes] == [3] * 20


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentile(values, 50) == 50
    assert loadgen.percentile(values, 99) == 99
    assert loadgen.percentile(values, 100) == 100
    assert loadgen.percentile([7.0], 1) == 7
