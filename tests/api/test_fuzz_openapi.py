"""Property-based fuzzing of every operation in our own OpenAPI document: whatever schemathesis
generates — valid, edge-case or plain wrong — the API answers without a server error.

On developers' machines each run explores new inputs; under CI (`CI` set) the examples are
derandomized, so a landing never hangs on a draw of luck and a failure there reproduces.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES_PER_OPERATION = 30


def test_no_operation_answers_with_a_server_error(app, organizer, make_event, auth_header):
    make_event(organizer)  # something to find, book and edit
    headers = auth_header(organizer)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None, derandomize=bool(os.environ.get("CI")))  # fmt: skip
        def no_server_error(case):
            case.headers = {**(case.headers or {}), **headers}
            case.call_and_validate(checks=[not_a_server_error])

        no_server_error()
