"""A frozen Redis under the Procfile's gunicorn: every booking request is answered 503 with
Retry-After once the Redis timeout passes, and none of them is queued when Redis resumes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.processes import answers, free_port, procfile_command, running

pytestmark = pytest.mark.e2e

REQUESTS = 12  # more than the server's threads, so some wait in its backlog while Redis is frozen


def test_frozen_redis_answers_503_and_leaves_no_hold_behind(
    stack_env, private_redis, make_user, organizer, make_event, auth_header
):
    event = make_event(organizer)
    body = {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
    }
    customers = [auth_header(make_user()) for _ in range(REQUESTS)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**stack_env(PORT=str(port), WEB_CONCURRENCY="2"), "REDIS_URL": private_redis.url}
    with running(procfile_command("web"), env, answers(f"{base}/healthz")):
        first = requests.post(f"{base}/api/v1/bookings", json=body, headers=customers[0], timeout=10)
        assert first.status_code == 202

        def book(headers):
            return requests.post(f"{base}/api/v1/bookings", json=body, headers=headers, timeout=20)

        private_redis.freeze()
        try:
            with ThreadPoolExecutor(REQUESTS) as pool:
                answered = list(pool.map(book, customers))
        finally:
            private_redis.thaw()
        assert [response.status_code for response in answered] == [503] * REQUESTS
        assert all(int(response.headers["Retry-After"]) > 0 for response in answered)
        assert {response.json()["errors"]["reason"] for response in answered} == {"unavailable"}
        # Redis ran what it had read while frozen before this new connection's command.
        assert private_redis.client().zcard(f"bq:{{{event.id}}}:queue") == 1
