"""Property-based fuzzing of every operation in our own OpenAPI document: whatever schemathesis
generates — valid, edge-case or plain wrong — the API answers without a server error.

A second pass makes what schemathesis generates hostile in ways it does not by itself: lone
surrogates inside the body's strings (escaped in the JSON, as a client would send them), times
whose UTC conversion leaves the calendar, in the body and the query, and nesting: the body, or
one of its fields, buried in arrays from just past the API's limit to far past the decoder's.

On developers' machines each run explores new inputs; under CI (`CI` set) the examples are
derandomized, so a landing never hangs on a draw of luck and a failure there reproduces.
"""

from __future__ import annotations

import json
import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from api.json_body import MAX_DEPTH

EXAMPLES_PER_OPERATION = 30
HOSTILE_TIMES = st.sampled_from(
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00-00:01"]
)
SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
NESTING = st.sampled_from([0, MAX_DEPTH, MAX_DEPTH + 1, 900, 100_000])
# Stands for the nested value in the JSON text until it is spliced in (json.dumps cannot make it).
_BURIED = "\x00buried\x00"


def for_every_operation(app, check) -> None:
    """Run `check(case, data)` on the cases schemathesis generates for each operation."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 15

    for operation in operations:

        @given(case=operation.as_strategy(), data=st.data())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None, derandomize=bool(os.environ.get("CI")))  # fmt: skip
        def run(case, data):
            check(case, data)

        run()


def test_no_operation_answers_with_a_server_error(app, organizer, make_event, auth_header):
    make_event(organizer)  # something to find, book and edit
    headers = auth_header(organizer)

    def check(case, _data):
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(checks=[not_a_server_error])

    for_every_operation(app, check)


def _with_surrogate(value: str) -> st.SearchStrategy[str]:
    return st.tuples(st.integers(0, len(value)), SURROGATES).map(
        lambda cut: value[: cut[0]] + cut[1] + value[cut[0] :]
    )


def poison(value, data, *, surrogates: bool):
    """`value` with some of its strings (not its keys) made hostile, as drawn from `data`."""
    if isinstance(value, str):
        hostile = [st.just(value), HOSTILE_TIMES, *([_with_surrogate(value)] if surrogates else [])]
        return data.draw(st.one_of(hostile))
    if isinstance(value, dict):
        return {key: poison(item, data, surrogates=surrogates) for key, item in value.items()}
    if isinstance(value, list):
        return [poison(item, data, surrogates=surrogates) for item in value]
    return value


def nested_json(value, data) -> str:
    """`value` as JSON text, itself or one of its fields (drawn from `data`) buried in arrays."""
    depth = data.draw(NESTING)
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        field = data.draw(st.sampled_from(sorted(value)))
        inner = json.dumps(value[field])
        text = json.dumps({**value, field: _BURIED})
        return text.replace(json.dumps(_BURIED), "[" * depth + inner + "]" * depth)
    return "[" * depth + json.dumps(value) + "]" * depth


def test_no_operation_answers_hostile_strings_and_times_with_a_server_error(
    app, organizer, make_event, auth_header
):
    make_event(organizer)
    client = app.test_client()

    def check(case, data):
        request = case.as_transport_kwargs(headers=auth_header(organizer))
        # A URL cannot carry a lone surrogate (its UTF-8 does not exist), so the query gets times.
        request["query_string"] = poison(request.get("query_string"), data, surrogates=False)
        if "json" in request:
            request["data"] = nested_json(poison(request.pop("json"), data, surrogates=True), data)
        response = client.open(**request)
        assert response.status_code < 500, (request, response.status_code, response.data[:300])

    for_every_operation(app, check)
