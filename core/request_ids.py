"""The request id: one name for everything a customer's HTTP request causes, so an operator can
follow it from the web's log line to the tasks that did the work.

The API binds it per request (taken from a well-formed `X-Request-ID`, else made up), the worker
binds the id its task message carries, and every log line of the process reads it from here.
A context variable keeps the threads of one gunicorn worker apart.
"""

from __future__ import annotations

import contextvars
import re
import uuid

HEADER = "X-Request-ID"
# What a proxy or a client may hand us: short, printable, and safe to put in a log or a header.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,128}")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def from_header(value: str | None) -> str:
    """The caller's request id if it is well formed, else a new one."""
    if value and _WELL_FORMED.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current() -> str | None:
    return _current.get()


def bind(request_id: str | None) -> contextvars.Token:
    """Make `request_id` the current one; hand the token to `unbind` when the work is done."""
    return _current.set(request_id)


def unbind(token: contextvars.Token) -> None:
    _current.reset(token)
