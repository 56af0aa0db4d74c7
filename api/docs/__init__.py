"""The API's own documentation: the OpenAPI document's introduction and security, and the
Swagger UI and ReDoc pages that show it.

The pages load their scripts from `assets/` (pinned copies, see `assets/README.md`) through this
app, never from a CDN, so they work offline and cannot change under us; their Content Security
Policy holds them to this origin (ReDoc would otherwise fetch its vendor's logo). What each operation
needs to be called with is read from the views themselves, so the document cannot disagree
with them: an operation behind `jwt_required` is documented with the bearer scheme (and shows
Swagger's padlock, so "Authorize" sends the token).
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

from apispec import BasePlugin
from flask import Blueprint, Flask, request
from flask_jwt_extended import jwt_required

URL_PREFIX = "/api/v1"
ASSETS_URL = f"{URL_PREFIX}/docs/assets"
BEARER = "bearerAuth"
INTRODUCTION = (Path(__file__).parent / "introduction.md").read_text(encoding="utf-8")

_assets = Blueprint("docs_assets", __name__, static_folder="assets", static_url_path=ASSETS_URL)

PAGES = frozenset({"api-docs.openapi_swagger_ui", "api-docs.openapi_redoc"})
# Both viewers put inline scripts and styles in the page, and ReDoc runs its search in a worker.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

# The code object of the function `jwt_required` wraps a view in: the same for every use.
_JWT_GUARD = jwt_required()(lambda: None).__code__

PAGINATION_HEADER = {
    "description": "Where this page stands in the whole list: a JSON object in the header's value, "
    'for example `{"total": 42, "total_pages": 5, "first_page": 1, "last_page": 5, "page": 2, '
    '"previous_page": 1, "next_page": 3}` (a key is left out when there is no such page).',
    "content": {"application/json": {"schema": "PaginationMetadata"}},
}


# flask-smorest makes the pagination parameters without a word on them.
PAGINATION_PARAMETERS = {
    "page": "Which page of the list, from 1 (default 1); a page past the end is empty.",
    "page_size": "How many items a page holds (default 10, at most 100).",
}

# The same for the ids in every path; a path's `token` is the secret part of a link it was sent.
PATH_PARAMETERS = {
    "booking_id": "The booking's id.",
    "event_id": "The event's id.",
    "organization_id": "The organization's id.",
    "ticket_type_id": "The ticket type's id (one of the event's `ticket_types[].id`).",
    "user_id": "The account's id.",
    "voucher_id": "The voucher's id.",
    "question_id": "The question's id.",
    "ticket_id": "The ticket's id.",
    "session_id": "The checkout session's id, a part of the booking's `checkout_url`.",
}
TOKENS = {
    f"{URL_PREFIX}/payments/": "The checkout's secret: the last part of the booking's `checkout_url`.",
    f"{URL_PREFIX}/pages/": "The signed, expiring token of the booking page's link (sent in the booking's mails).",
}


def config() -> dict:
    """flask-smorest's settings for the document and its two pages."""
    return {
        "API_TITLE": "Boxoffice",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": URL_PREFIX,
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": f"{ASSETS_URL}/swagger-ui/",
        # The online validator badge would send the document to a third party.
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None, "persistAuthorization": True},
        "OPENAPI_REDOC_PATH": "redoc",
        "OPENAPI_REDOC_URL": f"{ASSETS_URL}/redoc/redoc.standalone.js",
        "API_SPEC_OPTIONS": {
            "info": {"description": INTRODUCTION},
            "components": {
                "securitySchemes": {
                    BEARER: {
                        "type": "http",
                        "scheme": "bearer",
                        "bearerFormat": "JWT",
                        "description": "The `access_token` of `POST /api/v1/auth/login`.",
                    }
                }
            },
        },
    }


def init_app(app: Flask) -> None:
    app.register_blueprint(_assets)

    @app.after_request
    def hold_pages_to_this_origin(response):
        if request.endpoint in PAGES:
            response.headers["Content-Security-Policy"] = PAGE_POLICY
        return response


class DocsPlugin(BasePlugin):
    """An apispec plugin completing each operation from its view: who may call it, what its path
    parameters are, and what the pagination header and parameters hold (flask-smorest documents
    the header as an object, but it is JSON text, and the parameters not at all)."""

    def __init__(self, app: Flask):
        self.app = app

    def path_helper(self, path=None, operations=None, parameters=None, **kwargs):
        rule = kwargs["rule"].rule
        for parameter in parameters or []:
            if parameter.get("in") == "path" and "description" not in parameter:
                parameter["description"] = _path_parameter_text(rule, parameter["name"])

    def operation_helper(self, path=None, operations=None, **kwargs):
        view = self.app.view_functions[kwargs["rule"].endpoint]
        for method, operation in operations.items():
            handler = getattr(getattr(view, "view_class", None), method, view)
            guard = _bearer_guard(handler)
            if guard is not None:
                operation["security"] = [{}, {BEARER: []}] if guard["optional"] else [{BEARER: []}]
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter.get("name") in PAGINATION_PARAMETERS:
                    parameter.setdefault("description", PAGINATION_PARAMETERS[parameter["name"]])
            for response in operation.get("responses", {}).values():
                if isinstance(response, dict) and "X-Pagination" in response.get("headers", {}):
                    response["headers"]["X-Pagination"] = copy.deepcopy(PAGINATION_HEADER)


def _path_parameter_text(rule: str, name: str) -> str:
    if name == "token":
        return next(text for prefix, text in TOKENS.items() if rule.startswith(prefix))
    return PATH_PARAMETERS[name]


def _bearer_guard(function) -> dict | None:
    """The arguments of the `jwt_required` among `function`'s decorators, if it has one."""
    while function is not None:
        if getattr(function, "__code__", None) is _JWT_GUARD:
            return inspect.getclosurevars(function).nonlocals
        function = getattr(function, "__wrapped__", None)
    return None
