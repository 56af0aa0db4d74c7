"""The rush path: the endpoints a sale's crowd calls thousands of times a second, answered
without the decorators' per-request work, and exactly as their decorated views would answer.

`POST /bookings`, `GET /bookings/{id}` (its long poll too) and `GET /bookings/{id}/events` are
decorated like every view (`jwt_required`, flask-smorest's `arguments`): that documents them
and checks what they are sent. `lean` puts a shorter path in front of those two decorators:
the token verified by one `decode_token` and the same claim and revocation checks
(`api.auth.access_token_claims`, `api.auth.is_revoked`), the body and the query loaded by the
same marshmallow schemas, then the view. It serves only what it is sure of: a plain
`Authorization: Bearer` access token the checks accept, a JSON body the schema accepts, query
arguments the schema knows, each once. Anything else (no token, a bad one, a body that is not
`application/json`, a schema's refusal) goes to the decorated view, which answers it as it
always has. So the short path never answers an error of its own, and what it accepts the
decorated view would accept with the same claims and the same loaded values: the view runs
the same either way. An outage (Redis down during the revocation check) is not the request's
fault and is answered as one at once, as the decorated view would (a 503), rather than paid
for twice.

`tests/api/test_rush_path.py` sends the same generated requests to both paths and compares
every answer; `LEAN_RUSH_PATH=false` (`Settings.lean_rush_path`) serves the decorated views
alone. docs/architecture.md, "The rush path", says why.
"""

from __future__ import annotations

import functools

from flask import current_app, g, request
from flask_jwt_extended import jwt_required
from marshmallow import Schema

from api import auth
from api.errors import OUTAGES

SWITCH = "LEAN_RUSH_PATH"  # the app's config key, from `Settings.lean_rush_path`


class _Declined(Exception):
    """This request is the decorated view's to answer."""


def lean(blp, body: Schema | None = None, query: Schema | None = None, skip_revocation_check: bool = False,
         revocation_in_view: bool = False, **arguments):  # fmt: skip
    """Decorate a `MethodView` method as `jwt_required(skip_revocation_check=...)` over
    `blp.arguments(body, **arguments)` over `blp.arguments(query, location="query")` would (its
    documentation is theirs), with the short path in front. The method takes the loaded body,
    then the loaded query, as flask-smorest passes them; `arguments` are what `blp.arguments`
    documents the body with (`example=`...).

    `revocation_in_view`: the short path leaves the session's revocation to the method, which
    checks it in a Redis round trip it makes anyway, and answers a signed-out session as
    `jwt_required` does. The decorated view still checks it first, so that a signed-out
    session with a bad body or query is a 401 there as everywhere; the short path serves only
    requests whose body and query loaded, for which the method's check comes first."""
    query_names = None if query is None else frozenset(f.data_key or n for n, f in query.load_fields.items())

    def decorator(view):
        decorated = view
        if query is not None:
            decorated = blp.arguments(query, location="query")(decorated)
        if body is not None:
            decorated = blp.arguments(body, **arguments)(decorated)
        decorated = jwt_required(skip_revocation_check=skip_revocation_check)(decorated)

        @functools.wraps(decorated)
        def rush(*args, **kwargs):
            if not current_app.config[SWITCH]:
                return decorated(*args, **kwargs)
            try:
                claims = _claims(not (skip_revocation_check or revocation_in_view))
                loaded = []
                if body is not None:
                    loaded.append(_body(body))
                if query is not None:
                    loaded.append(_query(query, query_names))
            except OUTAGES:
                raise
            except Exception:  # whatever it is, the decorated view answers it
                return decorated(*args, **kwargs)
            setattr(g, auth.LEAN_CLAIMS, claims)
            return view(*args, *loaded, **kwargs)

        return rush

    return decorator


def _claims(check_revocation: bool) -> dict:
    claims = auth.access_token_claims()
    if claims is None or (check_revocation and auth.is_revoked(claims)):
        raise _Declined
    return claims


def _body(schema: Schema):
    """The body loaded as the API's parser would (`api.json_body`): only a JSON body of a known,
    allowed length, read here first, so that the decorated view reads the very same bytes."""
    length = request.content_length
    if request.mimetype != "application/json" or not length or length > request.max_content_length:
        raise _Declined
    return schema.load(request.get_json())


def _query(schema: Schema, names: frozenset[str]):
    """The query loaded as webargs would (each argument's one value): only arguments the schema
    knows, each given once."""
    data = {}
    for name, values in request.args.lists():
        if name not in names or len(values) != 1:
            raise _Declined
        data[name] = values[0]
    return schema.load(data)
