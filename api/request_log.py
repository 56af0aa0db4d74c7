"""Each HTTP request's id and its one JSON log line.

The id is the caller's `X-Request-ID` when it is well formed (a proxy's, say), else a new one;
it is bound for `core` while the request runs (so a queued booking and every task sent carry
it) and echoed in the answer's `X-Request-ID`, for a customer or a support desk to quote.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, g, request

from core import drain_trace, request_ids

log = logging.getLogger("api.requests")


def init_app(app: Flask) -> None:
    @app.before_request
    def _bind_request_id():
        request_id = request_ids.from_header(request.headers.get(request_ids.HEADER))
        g.request_id = request_id
        g.request_id_token = request_ids.bind(request_id)
        g.request_log_started = time.perf_counter()
        drain_trace.request_started()

    @app.after_request
    def _log_request(response):
        if "request_id" not in g:  # the request failed before its first hook
            return response
        response.headers[request_ids.HEADER] = g.request_id
        # Every request passes here, the busiest endpoint too: the line's fields are gathered
        # only when it will be written, each read once through Flask's context proxies, and the
        # record is made and handed to the handlers directly: `log.info` would first walk the
        # stack for the caller's file and line, which the JSON line never writes.
        if log.isEnabledFor(logging.INFO):
            method, path, status = request.method, request.path, response.status_code
            log.handle(log.makeRecord(
                log.name, logging.INFO, __file__, 0, "%s %s %s", (method, path, status), None,
                extra={"method": method, "path": path, "status": status,
                       "duration_ms": round((time.perf_counter() - g.request_log_started) * 1000, 1),
                       "remote_addr": request.remote_addr},
            ))  # fmt: skip
        return response

    @app.teardown_request
    def _unbind_request_id(_error=None):
        token = g.pop("request_id_token", None)
        if token is not None:
            request_ids.unbind(token)
