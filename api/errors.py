"""Every error leaves the API in flask-smorest's shape:
`{"code": 409, "status": "Conflict", "message": "...", "errors": {"reason": "sold_out", ...}}`.

Redis or PostgreSQL unreachable, hung or restarting is an outage, not a bug: a `503` with
`Retry-After` and reason `unavailable`, which a client retries (with the same Idempotency-Key).
It is never a `401`: a client told its account is gone would sign its user out.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from core.errors import DomainError
from core.redis_cluster import OUTAGE_ERRORS

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# Failures of a dependency, not of the request: its connection, its timeout, its pool
# (a psycopg2 OperationalError is also what a server shutting down or restarting raises).
# A Redis Cluster in a failover is one too (`core.redis_cluster.OUTAGE_ERRORS`).
OUTAGES = (*OUTAGE_ERRORS, sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


def error_response(
    status: int, message: str, reason: str | None = None, details: dict | None = None, headers=None
):
    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    errors = dict(details or {})
    if reason:
        errors["reason"] = reason
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    for name, value in headers or ():
        response.headers[name] = value
    return response


# RFC 6750: a 401 names the scheme that would have worked; a 503 says when to try again.
_STATUS_HEADERS = {401: [("WWW-Authenticate", "Bearer")], 503: [("Retry-After", str(RETRY_AFTER_SECONDS))]}


def _domain_error(error: DomainError):
    headers = _STATUS_HEADERS.get(error.status_code)
    return error_response(error.status_code, error.message, error.name, error.details, headers)


def _outage(error: Exception):
    log.warning("a dependency is unavailable: %s: %s", type(error).__name__, error)
    message = "A service we depend on is unavailable; retry in a few seconds."
    return error_response(503, message, "unavailable", headers=_STATUS_HEADERS[503])


def _unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return error
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return _outage(error)
    log.exception("unhandled error")
    return error_response(500, "Something went wrong on our side; it has been logged.")


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    for outage in OUTAGES:
        app.register_error_handler(outage, _outage)
    app.register_error_handler(Exception, _unexpected_error)
