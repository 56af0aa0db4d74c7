"""Request bodies in JSON, read in one place: Flask's `request.get_json`, bounded in depth.

A body must say it is JSON: one sent without `Content-Type: application/json` (curl's `-d`
alone sends a form) is a `415 unsupported_media_type` saying so, instead of "missing data" for
fields that were sent; JSON that does not parse is a `400 invalid_json` saying where (line and
column).

Every reader of a body goes through it: the schemas' arguments (the `Blueprint` below gives
flask-smorest a parser that asks Flask instead of decoding the body a second time) and the
rate limiter's bucket functions. A body nested deeper than `MAX_DEPTH` is refused with a
`400 invalid_json` before anything reads it: Python's decoder gives up on a few thousand
levels with a `RecursionError`, and anything that walks a decoded value recursively (the
schemas' checks) would do the same on far fewer, so an anonymous request could otherwise turn
itself into a `500`. No body of this API needs more than a handful of levels.
"""

from __future__ import annotations

import json

import flask_smorest
from flask import Flask, Request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from core.errors import DomainError

MAX_DEPTH = 32


class InvalidJSON(ValueError):
    """A body that is JSON but that the API will not read (nested beyond `MAX_DEPTH`)."""


def nesting_depth_exceeds(value, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels deep; walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, whose `loads` refuses what nests deeper than `MAX_DEPTH` (as a ValueError,
    which `request.get_json` reports through `on_json_loading_failed`)."""

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:  # the decoder's own limit, thousands of levels down
            raise InvalidJSON(f"nested deeper than {MAX_DEPTH} levels") from None
        if nesting_depth_exceeds(value, MAX_DEPTH):
            raise InvalidJSON(f"nested deeper than {MAX_DEPTH} levels")
        return value


class JSONBodyRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None):
        if e is None:  # not a JSON content type: the body is simply not JSON
            return super().on_json_loading_failed(e)
        if isinstance(e, json.JSONDecodeError):
            raise DomainError(f"The body is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}.",
                              name="invalid_json", details={"line": e.lineno, "column": e.colno})  # fmt: skip
        if isinstance(e, UnicodeDecodeError):
            raise DomainError("The body is not valid JSON: it is not UTF-8 text.", name="invalid_json")
        raise DomainError(f"The body is not JSON this API reads: {e}.", name="invalid_json")


class JSONBodyParser(FlaskParser):
    """webargs' parser, reading the JSON body through `request.get_json` (parsed once, cached,
    bounded) instead of decoding the raw bytes itself."""

    def _raw_load_json(self, req: Request):
        if not req.get_data(cache=True):
            return core.missing
        if not is_json_request(req):
            abort(415, message="Send the body as JSON, with the header Content-Type: application/json.",
                  errors={"reason": "unsupported_media_type"})  # fmt: skip
        return req.get_json(force=True)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the API's body parser: every resource module uses it."""

    ARGUMENTS_PARSER = JSONBodyParser()


def init_app(app: Flask) -> None:
    app.request_class = JSONBodyRequest
    app.json = BoundedJSONProvider(app)
