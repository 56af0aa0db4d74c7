"""Prometheus metrics at /metrics: HTTP requests of this API, and the figures every process
keeps in Redis (`core.metrics`), read at scrape time: queue depth, holds and waitlist, allocation
batches, request → decision latency, decisions, payments, mails, task failures, and how long ago
each of beat's sweeps last succeeded. The workers need no exporter of their own: whichever web
process is scraped reports what every worker recorded. docs/operations.md ("Metrics") says what
to alert on; deploy/ holds the dashboard and the alert rules.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (an empty directory) so the
request metrics of all workers are added up; without it each process reports its own.

The figures are the platform's sales: only operators read them. /metrics answers a request that
carries `Authorization: Bearer <METRICS_TOKEN>` (deploy/prometheus.yml sends it), `401` any
other, and `404` every request when no token is set (docs/security.md).
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from api.errors import error_response
from core import metrics, runtime
from core.services import allocation
from core.statuses import BookingStatus

REQUESTS = Counter("boxoffice_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram("boxoffice_http_request_seconds", "HTTP request latency", ["method", "endpoint"])
# Long polls and status streams waiting for a booking to change, summed over the live processes.
LIVE_WAITERS = Gauge("boxoffice_live_status_waiters", "Requests waiting for a booking's status to change",
                     multiprocess_mode="livesum")  # fmt: skip


class EngineCollector:
    """Reads the shared figures from Redis when Prometheus scrapes (`core.metrics`)."""

    def collect(self):
        client = runtime.redis_client()
        yield GaugeMetricFamily(
            "boxoffice_queued_requests", "Requests waiting in allocation queues",
            value=allocation.queued_requests(runtime.database()),
        )  # fmt: skip
        pending = metrics.pending_bookings(client, runtime.database())
        yield GaugeMetricFamily(
            "boxoffice_held_bookings", "Bookings holding tickets unpaid", value=pending[BookingStatus.HELD]
        )
        yield GaugeMetricFamily(
            "boxoffice_waitlisted_bookings", "Bookings on a waitlist", value=pending[BookingStatus.WAITLISTED]
        )
        figures = metrics.read(client)
        stats = figures.allocation
        yield CounterMetricFamily(
            "boxoffice_allocation_decisions", "Requests decided", value=stats.get("decisions", 0)
        )
        yield CounterMetricFamily(
            "boxoffice_dead_letters", "Requests the allocation could not decide and set aside for an operator",
            value=stats.get("dead_letters", 0),
        )  # fmt: skip
        yield _histogram("boxoffice_allocation_batch_seconds", "Time to decide one batch", stats, "latency",
                         metrics.LATENCY_BUCKETS, stats.get("batches", 0), stats.get("seconds", 0))  # fmt: skip
        yield _histogram("boxoffice_allocation_batch_size", "Requests per batch", stats, "size",
                         metrics.SIZE_BUCKETS, stats.get("batches", 0), stats.get("decisions", 0))  # fmt: skip
        yield _histogram("boxoffice_booking_decision_seconds",
                         "What a customer waits: from asking for tickets to the decision",
                         stats, "wait", metrics.WAIT_BUCKETS, stats.get("wait_count", 0),
                         stats.get("wait_seconds", 0))  # fmt: skip
        yield _counter("boxoffice_booking_decisions", "Booking requests decided, by outcome and reason",
                       ["status", "reason"], figures.decisions)  # fmt: skip
        yield _counter("boxoffice_payments", "Payments by result", ["result"],
                       {(result,): count for result, count in figures.payments.items()})  # fmt: skip
        yield _counter("boxoffice_mails", "Mails sent and failed (each attempt), by kind", ["kind", "result"],
                       figures.mails)  # fmt: skip
        yield _counter("boxoffice_task_failures", "Celery tasks that failed", ["task"],
                       {(task,): count for task, count in figures.task_failures.items()})  # fmt: skip
        ages = GaugeMetricFamily(
            "boxoffice_periodic_task_age_seconds",
            "Seconds since each of beat's sweeps last succeeded (expire_holds: beat is alive)",
            labels=["task"],
        )
        for task, age in figures.periodic_ages.items():
            ages.add_metric([task], age)
        yield ages


def _counter(name: str, documentation: str, labels: list[str], counts: dict[tuple, int]):
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in counts.items():
        family.add_metric(list(values), count)
    return family


def _histogram(name, documentation, stats, prefix, bounds, count, total):
    buckets = [(str(bound), stats.get(f"{prefix}_le_{bound}", 0)) for bound in bounds]
    buckets.append(("+Inf", count))
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


# (method, endpoint, status) -> its request counter and latency histogram: as many as the metrics'
# own series. `labels()` converts, checks and takes a lock at every call; every request passes here.
_SERIES: dict[tuple[str, str, int], tuple] = {}


def _series(method: str, endpoint: str, status: int) -> tuple:
    series = _SERIES.get((method, endpoint, status))
    if series is None:
        series = _SERIES[method, endpoint, status] = (
            REQUESTS.labels(method, endpoint, status), LATENCY.labels(method, endpoint)
        )  # fmt: skip
    return series


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.get("request_started")
        rule = request.url_rule
        count, latency = _series(request.method, rule.rule if rule else "unmatched", response.status_code)
        count.inc()
        if started is not None:
            latency.observe(time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics():
        refusal = _refusal()
        if refusal is not None:
            return refusal
        # The exposition type already names its charset: `mimetype=` would add it a second time.
        return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _refusal() -> Response | None:
    """None for an operator (the request bears METRICS_TOKEN), else the answer to give."""
    token = runtime.settings().metrics_token
    if not token:
        return error_response(404, "Metrics are served only when METRICS_TOKEN is set.", "not_found")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    return error_response(401, "Metrics are for operators: send Authorization: Bearer <METRICS_TOKEN>.",
                          "metrics_token_required", headers=[("WWW-Authenticate", 'Bearer realm="metrics"')])  # fmt: skip
