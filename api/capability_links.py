"""Answers to capability links: addresses whose secret part is the credential (the booking
page's signed link, the local checkout's `checkout_url`). Every answer to one, page, JSON, PDF,
redirect or refusal alike, carries the same private headers, set here and nowhere else: not
kept by any cache, the address not passed on as a referrer, not framed by another site (a
clickjacked cancel button), not sniffed into another type, not indexed.

A view opts in with `@capability_link` on its `MethodView`; `init_app` adds the headers after
the view, or its error handler, has answered.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}


def capability_link(view_class: type) -> type:
    """Mark a `MethodView` whose address is a capability link."""
    view_class.capability_link = True
    return view_class


def _answered_a_capability_link() -> bool:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(getattr(view, "view_class", None), "capability_link", False)


def _private_headers(response: Response) -> Response:
    if _answered_a_capability_link():
        response.headers.update(PRIVATE_HEADERS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_private_headers)
