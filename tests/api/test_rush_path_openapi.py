"""The rush path (`api.rush_path`) changes how the booking and status endpoints run, never how
they are documented: their part of the OpenAPI document is pinned in
`tests/api/data/rush_endpoints_openapi.json`, saved from the decorated views before the lean
path existed, and must stay as it was.

That file is written by hand, never by the test: when a change to these endpoints' documentation
is meant (a new field, a new answer), regenerate it deliberately and review its diff:

    python -m tests.api.test_rush_path_openapi

which writes the fragments of the document an app built from the current code serves.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

PINNED = Path(__file__).parent / "data" / "rush_endpoints_openapi.json"
RUSH_OPERATIONS = (
    ("/api/v1/bookings", "post"),
    ("/api/v1/bookings/{booking_id}", "get"),
    ("/api/v1/bookings/{booking_id}/events", "get"),
)
_REF = "#/components/"


def rush_fragments(document: dict) -> dict:
    """The rush operations, their paths' shared parameters, and every component they refer
    to, however deep (schemas, responses, parameters), with the security schemes they name."""
    fragments = {"paths": {}, "components": {}}
    pending = []
    for path, method in RUSH_OPERATIONS:
        item = document["paths"][path]
        shared = {key: value for key, value in item.items() if key == "parameters"}
        fragments["paths"].setdefault(path, shared)[method] = item[method]
        pending.append(item[method])
        for requirement in item[method].get("security", []):
            for scheme in requirement:
                fragments["components"].setdefault("securitySchemes", {})[scheme] = document["components"][
                    "securitySchemes"
                ][scheme]
    pending += list(fragments["paths"].values())
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and ref.startswith(_REF):
                kind, name = ref.removeprefix(_REF).split("/", 1)
                if name not in fragments["components"].setdefault(kind, {}):
                    component = document["components"][kind][name]
                    fragments["components"][kind][name] = component
                    pending.append(component)
            pending += list(value.values())
        elif isinstance(value, list):
            pending += value
    return fragments


def test_rush_endpoints_are_documented_as_before_the_lean_path(client):
    document = client.get("/api/v1/openapi.json").json
    assert rush_fragments(document) == json.loads(PINNED.read_text(encoding="utf-8"))


def test_the_pinned_fragments_hold_what_a_client_needs():
    """The comparison above would pass on an empty file: check the pinned one says something."""
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    post = pinned["paths"]["/api/v1/bookings"]["post"]
    assert post["security"] == [{"bearerAuth": []}]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookingIn"
    }
    assert set(post["responses"]) >= {"202", "409", "422"}
    poll = pinned["paths"]["/api/v1/bookings/{booking_id}"]["get"]
    assert [parameter["name"] for parameter in poll["parameters"]] == ["wait"]
    assert "Server-Sent Events" in pinned["paths"]["/api/v1/bookings/{booking_id}/events"]["get"]["summary"]
    assert {"BookingIn", "ItemIn", "AttendeeIn", "BookingAccepted", "BookingOut", "Error"} <= set(
        pinned["components"]["schemas"]
    )


def _write_pinned() -> None:
    from api import create_app
    from core.config import Settings

    settings = Settings(
        redis_url=os.environ.get("REDIS_URL", Settings.redis_url), jwt_secret_key=secrets.token_hex(32)
    )
    app = create_app(settings)
    document = app.test_client().get("/api/v1/openapi.json").json
    PINNED.parent.mkdir(exist_ok=True)
    PINNED.write_text(json.dumps(rush_fragments(document), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {PINNED}")


if __name__ == "__main__":
    _write_pinned()
