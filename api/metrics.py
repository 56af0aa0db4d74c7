"""Prometheus metrics at /metrics: HTTP requests of this API, and the engine's figures read at
scrape time (queue depth, holds, allocation batches, task failures) from a few Redis keys.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (an empty directory) so the
request metrics of all workers are added up; without it each process reports its own.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from core import allocation_stats, runtime
from core.booking_queue import queue_for

REQUESTS = Counter("boxoffice_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram("boxoffice_http_request_seconds", "HTTP request latency", ["method", "endpoint"])


class EngineCollector:
    """Reads the shared figures from Redis when Prometheus scrapes (`core.allocation_stats`)."""

    def collect(self):
        client = runtime.redis_client()
        yield GaugeMetricFamily(
            "boxoffice_queued_requests", "Requests waiting in allocation queues",
            value=queue_for(client).queued_requests(),
        )  # fmt: skip
        held = allocation_stats.held_bookings(client, runtime.database())
        yield GaugeMetricFamily("boxoffice_held_bookings", "Bookings holding tickets unpaid", value=held)
        stats, failures = allocation_stats.read(client)
        yield CounterMetricFamily(
            "boxoffice_allocation_decisions", "Requests decided", value=stats.get("decisions", 0)
        )
        yield CounterMetricFamily(
            "boxoffice_dead_letters", "Requests the allocation could not decide and set aside for an operator",
            value=stats.get("dead_letters", 0),
        )  # fmt: skip
        yield _histogram("boxoffice_allocation_batch_seconds", "Time to decide one batch", stats, "latency",
                         allocation_stats.LATENCY_BUCKETS, stats.get("seconds", 0))  # fmt: skip
        yield _histogram("boxoffice_allocation_batch_size", "Requests per batch", stats, "size",
                         allocation_stats.SIZE_BUCKETS, stats.get("decisions", 0))  # fmt: skip
        failed = CounterMetricFamily("boxoffice_task_failures", "Celery tasks that failed", labels=["task"])
        for task, count in failures.items():
            failed.add_metric([task], count)
        yield failed


def _histogram(name, documentation, stats, prefix, bounds, total):
    buckets = [(str(bound), stats.get(f"{prefix}_le_{bound}", 0)) for bound in bounds]
    buckets.append(("+Inf", stats.get("batches", 0)))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=total)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(EngineCollector())
    return registry


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        if "request_started" in g:
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - g.request_started)
        return response

    @app.get("/metrics")
    def metrics():
        # The exposition type already names its charset: `mimetype=` would add it a second time.
        return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
