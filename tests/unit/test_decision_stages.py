"""bench/decision_stages.py cuts each request's wait into stages that add up to the whole."""

from __future__ import annotations

import pytest

from bench.decision_stages import STAGES, Way, by_web_process


def test_a_drainer_already_running_costs_a_request_nothing_before_its_batch():
    # sent, begun by the API, accepted, then a drain sent, received, started and locked long
    # before the request, its batch read, committed, visible
    way = Way("b", [10.0, 10.1, 10.2, 5.0, 5.0, 5.1, 5.1, 10.5, 10.6, 10.61], batch={})
    assert way.stages == pytest.approx([0.1, 0.1, 0, 0, 0, 0, 0.3, 0.1, 0.01])
    assert way.total == pytest.approx(0.61)
    assert len(way.stages) == len(STAGES)


def test_a_request_that_sent_for_a_drain_waits_for_it_stage_by_stage():
    way = Way("b", [10.0, 10.1, 10.2, 10.19, 10.7, 10.9, None, 11.0, 11.1, 11.2], batch={})
    # the drain task was sent by the booking step itself, just before it returned; a moment the
    # trace lacks (here the lock's) adds nothing
    assert way.stages == pytest.approx([0.1, 0.1, 0, 0.5, 0.2, 0, 0.1, 0.1, 0.1])
    assert way.visible == pytest.approx(11.2)


def test_the_slowest_are_counted_against_the_web_process_that_served_them():
    def way(booking_id, waited):  # sent at 0, begun by the API after `waited`, then nothing
        return Way(booking_id, [0.0, waited, waited] + [None] * 7, batch={})

    ways = [way("a1", 0.05), way("a2", 0.07), way("b1", 0.3), way("b2", 0.4)]
    processes = by_web_process(ways, slowest=ways[-1:], served_by={"a1": 1, "a2": 1, "b1": 2, "b2": 2})
    assert processes == {
        "1": {"requests": 2, "to_the_api_ms_p50": pytest.approx(50), "to_the_api_ms_p99": pytest.approx(70),
              "of_the_slowest": 0},
        "2": {"requests": 2, "to_the_api_ms_p50": pytest.approx(300), "to_the_api_ms_p99": pytest.approx(400),
              "of_the_slowest": 1},
    }  # fmt: skip
