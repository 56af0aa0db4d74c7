"""gunicorn's settings, one file for every way Boxoffice is served: the Procfile (`make run`), the
Dockerfile and docker-compose.yml all run `gunicorn "api:create_app()" --config gunicorn.conf.py`
and add only the address to listen on.

The worker class is gevent: each process serves its requests on greenlets, so the long polls and
status streams waiting for a decision (`core.live_status`) cost a greenlet each, not a thread,
and thousands wait at once while other requests are answered. What that asks of the code: the
sockets (Redis, SMTP, HTTP) are made cooperative by gevent's patching when the worker starts,
psycopg2 by psycogreen's wait callback (`post_fork`); SQLAlchemy's pool and redis-py's pool hand
each greenlet a connection of its own (their locks are patched), and a waiting client holds
neither: only the process's one subscription connection.

Each request is logged once, when its answer has gone out, by `RequestLog` below: gunicorn's
access line made the JSON line every other line of Boxoffice is.

Environment: `WEB_CONCURRENCY` processes of at most `WEB_CONNECTIONS` clients each; `PROMETHEUS_MULTIPROC_DIR`,
the directory where the processes keep their metrics (emptied at start; without it, a private
one is made and removed at exit), so that `/metrics` adds up every process whichever answers.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

from core import request_ids

worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# Clients served at once by each process, waiting ones included.
worker_connections = int(os.environ.get("WEB_CONNECTIONS") or 5000)
# Idle connections stay open longer than the usual upstream's idle timeout (load balancers 60 s,
# HTTP client pools less): the client or proxy closes first, never gunicorn under a request it
# is already sending (with the old 2 s, 2 % of requests after a pause died unanswered).
keepalive = 75
# A kept-alive connection is closed (`Connection: close`, cleanly, after its answer) once it has
# carried this many requests, as nginx's `keepalive_requests` does: see `pre_request`.
KEEPALIVE_REQUESTS = 100
# Nothing here uses gunicorn's control socket, and every instance on a machine would share its path.
control_socket_disable = True

_private_metrics_dir: str | None = None
_request_log = logging.getLogger("api.requests")
_REQUEST_ID = request_ids.HEADER.lower()


class RequestLog(Logger):
    """gunicorn's logger, with its access line made the web's one JSON line per request
    (`core.logging_setup`, logger `api.requests`): `method`, `path`, `status`, `duration_ms` (the
    whole request, the answer's writing included), `remote_addr` (the client's, once ProxyFix has
    read the trusted proxies' `X-Forwarded-For`) and the `request_id` the app answered with
    (`api.request_id`). gunicorn used to write a text line for each request and the app a JSON
    line beside it: two lines a request, each paid for on the rush path. Served any other way
    (Flask's test client, `flask run`), the app writes no request line. docs/operations.md, "Logs"."""

    def access(self, resp, req, environ, request_time) -> None:
        """Called by the worker after each answer. The record is made and handed to the handlers
        directly: `info` would first walk the stack for a caller's file and line, which the
        JSON line never writes."""
        if not _request_log.isEnabledFor(logging.INFO):
            return
        # No status when the app failed before answering (gunicorn answers 500 itself).
        method, path, status = (
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            getattr(resp, "status_code", None),
        )
        request_id = next((value for name, value in resp.headers if name.lower() == _REQUEST_ID), None)
        _request_log.handle(_request_log.makeRecord(
            _request_log.name, logging.INFO, __file__, 0, "%s %s %s", (method, path, status), None,
            extra={"method": method, "path": path, "status": status, "request_id": request_id,
                   "duration_ms": round(request_time.total_seconds() * 1000, 1),
                   "remote_addr": environ.get("REMOTE_ADDR")},
        ))  # fmt: skip


# A class of this file, not of the `api` package: naming one there would import the app's
# modules into the master, before each worker's gevent patches what they use.
logger_class = RequestLog


def on_starting(server):
    """Before any worker: refuse a bad configuration in one line, and prepare the metrics directory.

    A `ConfigError` is a `RuntimeError`, which gunicorn prints as `Error: <message>` and exits 1;
    raised in a worker instead, it would be a traceback per worker.
    """
    from core import runtime, startup
    from core.config import Settings

    settings = Settings.from_env()
    runtime.configure(settings)
    startup.check(settings, runtime.redis_client())  # the workers log its warnings
    _fresh_metrics_directory()


def post_fork(server, worker):
    """psycopg2 waits for PostgreSQL through gevent, so a query yields to the other greenlets
    (only under gevent: a benchmark's reference may run this file with another worker class)."""
    if server.cfg.worker_class_str == "gevent":
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()


def pre_request(worker, req):
    """Close a connection after its `KEEPALIVE_REQUESTS`-th request, so that the clients' kept-alive
    connections spread again over the processes. A connection stays with the process that
    accepted it, and a burst of clients opening theirs at once (a sale's opening, a proxy's pool)
    can leave one process with twice the other's: each of its requests then waited three times
    as long before a thread took it, the slowest 1 % of a sale's decisions
    (docs/latency-tail.md). Reconnecting, a client lands on whichever process accepts first,
    mostly the less busy one."""
    if req.req_number >= KEEPALIVE_REQUESTS:
        req.must_close = True


def post_worker_init(worker):
    """Subscribe to the decisions before the first client waits (`core.live_status`): made in a
    burst of clients, the subscription would wait behind them. Then put what start-up built (the
    modules, the app: some 180,000 objects, alive until the process ends) out of the garbage
    collector's reach: each full collection walked them all and stopped every request of the
    process for a quarter of a second on a busy machine, the API's share of a sale's slowest
    decisions (docs/latency-tail.md; `core.cycle_collector`)."""
    from core import cycle_collector, live_status

    live_status.hub().start()
    cycle_collector.set_aside_start_up()


def child_exit(server, worker):
    """A dead worker's live gauges leave the sum; its counters stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _private_metrics_dir:
        shutil.rmtree(_private_metrics_dir, ignore_errors=True)


def _fresh_metrics_directory() -> None:
    """Workers inherit the variable; files of an earlier run would be added to this run's totals."""
    global _private_metrics_dir
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not configured:
        _private_metrics_dir = tempfile.mkdtemp(prefix="boxoffice-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _private_metrics_dir
        return
    directory = Path(configured)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
