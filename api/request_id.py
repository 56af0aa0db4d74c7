"""Each HTTP request's id.

The id is the caller's `X-Request-ID` when it is well formed (a proxy's, say), else a new one;
it is bound for `core` while the request runs (so a queued booking and every task sent carry
it) and echoed in the answer's `X-Request-ID`, for a customer or a support desk to quote, and
for the request's log line to name (`RequestLog` in `gunicorn.conf.py`).
"""

from __future__ import annotations

from flask import Flask, g, request

from core import drain_trace, request_ids


def init_app(app: Flask) -> None:
    @app.before_request
    def _bind_request_id():
        request_id = request_ids.from_header(request.headers.get(request_ids.HEADER))
        g.request_id = request_id
        g.request_id_token = request_ids.bind(request_id)
        drain_trace.request_started()

    @app.after_request
    def _echo_request_id(response):
        if "request_id" in g:  # not when the request failed before its first hook
            response.headers[request_ids.HEADER] = g.request_id
        return response

    @app.teardown_request
    def _unbind_request_id(_error=None):
        token = g.pop("request_id_token", None)
        if token is not None:
            request_ids.unbind(token)
