"""Boxoffice on a Redis Cluster (three primaries, three replicas; RabbitMQ as broker) beside one
Redis (its own broker), in the same run, and what one booking and one poll cost on each.

- sale and many events: `bench.flash_sale --only sale events` on each, in a process of its own
  (a process's Celery app has one broker); the single Redis is the reference;
- per request, through the API's own code in this process (Flask's test client, one request at a
  time, so the figures are costs, not throughput): the web process's CPU, the Redis commands and
  the Redis CPU (summed over the primaries) of a booking and of a poll, and a booking's latency;
  on the cluster with and without waiting for a replica (REDIS_WAIT_REPLICAS 1 and 0), which is
  what closing the failover window costs. The reference of the web CPU is a bare Flask JSON
  endpoint served the same way.

These costs feed the capacity model of docs/scaling.md.

    python -m bench.cluster           # a tenth of bench.flash_sale's sale (a few minutes)
    python -m bench.cluster --full    # its full scale
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

from flask import Flask

from bench import report, servers
from bench.flash_sale import DEFAULT_DSN, Bench
from bench.redis_cluster import LocalRedisCluster, rabbitmq_vhost, running_redis_cluster
from core import runtime
from core.redis_cluster import primaries

REQUESTS = 1000


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    redis_url: str
    broker_url: str = ""
    wait_replicas: int | None = None


@dataclasses.dataclass
class Costs:
    web_cpu_ms: float
    redis_commands: float
    redis_cpu_ms: float
    latency_p50_ms: float


@contextlib.contextmanager
def single_redis() -> Iterator[str]:
    """A Redis of this run, with an append-only file as compose runs it."""
    port = servers.free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
            "--appendfsync", "everysec", "--dir", "/tmp", "--appendfilename", f"bench-{port}.aof",
            "--appenddirname", f"bench-aof-{port}"]  # fmt: skip
    with servers.running_process(argv, ready=lambda _: _answers(port)):
        yield f"redis://127.0.0.1:{port}/0"


def _answers(port: int) -> bool:
    import redis

    try:
        return redis.Redis(port=port, socket_timeout=1).ping()
    except redis.RedisError:
        return False


def redis_counters() -> tuple[int, float]:
    """(commands run, CPU seconds used) by the primaries so far."""
    calls, cpu = 0, 0.0
    for node in primaries(runtime.redis_client()):
        calls += sum(stat["calls"] for stat in node.info("commandstats").values())
        stats = node.info("cpu")
        cpu += stats["used_cpu_sys"] + stats["used_cpu_user"]
    return calls, cpu


def measured(requests: list) -> Costs:
    """Send `requests` (callables) one at a time; their cost per request."""
    calls, redis_cpu = redis_counters()
    cpu = time.process_time()
    latencies = []
    for send in requests:
        started = time.perf_counter()
        send()
        latencies.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu
    after_calls, after_cpu = redis_counters()
    n = len(requests)
    return Costs(web_cpu_ms=cpu / n * 1000, redis_commands=(after_calls - calls - len(primaries(runtime.redis_client())))
                 / n, redis_cpu_ms=(after_cpu - redis_cpu) / n * 1000,
                 latency_p50_ms=sorted(latencies)[n // 2] * 1000)  # fmt: skip


def measure_costs(dsn: str, backend: Backend, requests: int) -> dict[str, Costs]:
    """A booking and a poll of one customer each, through the API's code on `backend`."""
    bench = Bench(dsn, backend.redis_url, backend.broker_url)
    settings = dataclasses.replace(bench.settings, redis_wait_replicas=backend.wait_replicas)
    runtime.configure(settings)
    from api import create_app

    client = create_app(settings).test_client()
    runtime.set_dispatcher(lambda _job, _kwargs: None)  # nothing drains: every poll finds its request queued
    warm_up = max(requests // 10, 1)  # caches, scripts and connections, before measuring
    event_id, tt_id = bench.event(requests + warm_up)
    headers = [{"Authorization": f"Bearer {token}"} for _, token in bench.customers(requests + warm_up)]
    body = {"event_id": str(event_id), "items": [{"ticket_type_id": str(tt_id), "quantity": 1}]}
    answers = []

    def book(header):
        answers.append(client.post("/api/v1/bookings", json=body, headers=header))

    for header in headers[:warm_up]:
        book(header)
    for answer in answers:
        client.get(answer.headers["Location"], headers=headers[0])
    headers, answers[:] = headers[warm_up:], []
    booking = measured([lambda h=h: book(h) for h in headers])
    assert {answer.status_code for answer in answers} == {202}, {answer.status_code for answer in answers}
    locations = [answer.headers["Location"] for answer in answers]
    poll = measured(
        [lambda h=h, at=at: client.get(at, headers=h) for h, at in zip(headers, locations, strict=True)]
    )
    bench.clear_queues()
    return {"booking": booking, "poll": poll}


def bare_flask_cpu_ms(requests: int) -> float:
    """The web CPU of a bare Flask JSON endpoint through the same test client: the reference."""
    app = Flask(__name__)
    app.post("/echo")(lambda: {"ok": True})
    client = app.test_client()
    cpu = time.process_time()
    for _ in range(requests):
        client.post("/echo", json={"event_id": "x", "items": [{"ticket_type_id": "y", "quantity": 1}]})
    return (time.process_time() - cpu) / requests * 1000


def sale_figures(dsn: str, backend: Backend, full: bool) -> dict[str, float]:
    """bench.flash_sale's sale and many-events figures on `backend`, run in a process of its own."""
    name = "cluster_sale_" + ("cluster" if backend.broker_url else "single")
    argv = [sys.executable, "-m", "bench.flash_sale", "--only", "sale", "events", "--dsn", dsn,
            "--redis-url", backend.redis_url, "--broker-url", backend.broker_url, "--name", name,
            *([] if full else ["--quick"])]  # fmt: skip
    subprocess.run(argv, check=True, cwd=servers.REPO_ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    document = json.loads((report.RESULTS_DIR / f"{name}.json").read_text())
    return {figure["name"]: figure["value"] for figure in document["figures"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--full", action="store_true", help="bench.flash_sale's full scale")
    parser.add_argument(
        "--requests", type=int, default=REQUESTS, help="bookings and polls per cost measurement"
    )
    args = parser.parse_args(argv)
    with running_redis_cluster() as cluster, rabbitmq_vhost() as amqp, single_redis() as single:
        figures, details = run(args, cluster, amqp, single)
    report.print_table(figures, "Redis Cluster beside one Redis")
    path = report.write_result("cluster", figures, details=details, dsn=args.dsn.replace("+psycopg2", ""))
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


def run(args, cluster: LocalRedisCluster, amqp: str, single: str) -> tuple[list[report.Figure], dict]:
    one = Backend("one Redis", single)
    backends = [
        one,
        Backend("cluster, WAIT 0", cluster.url, amqp, 0),
        Backend("cluster", cluster.url, amqp, 1),
    ]
    costs = {backend.name: measure_costs(args.dsn, backend, args.requests) for backend in backends}
    flask_ms = bare_flask_cpu_ms(args.requests)
    sales = {backend.name: sale_figures(args.dsn, backend, args.full) for backend in (one, backends[-1])}
    figures = []
    for kind in ("booking", "poll"):
        ref = costs[one.name][kind]
        for name in ("cluster", "cluster, WAIT 0", "one Redis"):
            cost = costs[name][kind]
            figures += [
                report.Figure(f"{kind}, {name}: web CPU (ref: bare Flask)", cost.web_cpu_ms, "ms", flask_ms),
                report.Figure(f"{kind}, {name}: Redis commands (ref: one Redis)", cost.redis_commands, "",
                              ref.redis_commands),
                report.Figure(f"{kind}, {name}: Redis CPU (ref: one Redis)", cost.redis_cpu_ms, "ms",
                              ref.redis_cpu_ms),
                report.Figure(f"{kind}, {name}: latency p50 (ref: one Redis)", cost.latency_p50_ms, "ms",
                              ref.latency_p50_ms),
            ]  # fmt: skip
    for figure_name, value in sales["cluster"].items():
        figures.append(report.Figure(f"cluster: {figure_name} [ref: one Redis]", value, "",
                                     sales[one.name].get(figure_name)))  # fmt: skip
    details = {"costs": {name: {kind: dataclasses.asdict(cost) for kind, cost in kinds.items()}
                         for name, kinds in costs.items()}, "sales": sales, "bare_flask_cpu_ms": flask_ms,
               "requests": args.requests}  # fmt: skip
    return figures, details


if __name__ == "__main__":
    main()
