"""Every error leaves the API in flask-smorest's shape:
`{"code": 409, "status": "Conflict", "message": "...", "errors": {"reason": "sold_out", ...}}`."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from core.errors import DomainError

log = logging.getLogger(__name__)


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


def _domain_error(error: DomainError):
    # RFC 6750: a 401 names the scheme that would have worked.
    headers = [("WWW-Authenticate", "Bearer")] if error.status_code == 401 else None
    return error_response(error.status_code, error.message, error.name, error.details, headers)


def _unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return error
    log.exception("unhandled error")
    return error_response(500, "Something went wrong on our side; it has been logged.")


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(Exception, _unexpected_error)
