"""Wrong voucher codes, limited: per client address and per event, on every route that checks a
code (`GET /events/{id}?voucher=`, `POST /bookings`), counted together across those routes.

Only a refusal of the code (`422 invalid_voucher`) counts; a right code, or a request without
one, costs nothing. Once a bucket is full, every request carrying a code is refused with a
`429` until the window ends, right codes included: were a right code still let through, the
difference would tell a guesser it had found one. The event's bucket bounds guessing from many
addresses, at the price that a flood of wrong codes holds the event's honest code holders off
for the rest of the window (docs/security.md).
"""

from __future__ import annotations

import uuid

from flask import Response, request

from api.extensions import by_address, limiter
from core import runtime

SCOPE_ADDRESS = "voucher_guess_address"
SCOPE_EVENT = "voucher_guess_event"


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _no_code_given() -> bool:
    return request.args.get("voucher") is None and _body().get("voucher_code") is None


def by_event() -> str:
    """The event the code was tried on: the route's, or the booking request's `event_id`. The
    id is the key's hash tag, as for every per-event key (`<prefix>:{<event_id>}:<what>`)."""
    event_id = (request.view_args or {}).get("event_id") or _body().get("event_id")
    try:
        return f"voucher:{{{uuid.UUID(str(event_id))}}}:guesses"
    except ValueError:  # not an event: the schema refuses the request, so nothing is deducted
        return by_address()


def _wrong_code(response: Response) -> bool:
    if response.status_code != 422:
        return False
    errors = (response.get_json(silent=True) or {}).get("errors")
    return isinstance(errors, dict) and errors.get("reason") == "invalid_voucher"


def _address_limit() -> str:
    return runtime.settings().voucher_guess_limit


def _event_limit() -> str:
    return runtime.settings().voucher_guess_event_limit


def voucher_guess_limits(method: str) -> list:
    """The two limits, for the view's `decorators` (the route's `method` only)."""
    return [
        limiter.shared_limit(limit, scope, key_func=key_func, methods=[method],
                             exempt_when=_no_code_given, deduct_when=_wrong_code)
        for limit, scope, key_func in ((_address_limit, SCOPE_ADDRESS, by_address),
                                       (_event_limit, SCOPE_EVENT, by_event))
    ]  # fmt: skip
