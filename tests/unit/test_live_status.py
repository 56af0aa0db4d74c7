"""A watch's wake-ups, without Redis: none is lost, whatever the waiting primitive reports."""

from __future__ import annotations

import threading

from core import live_status


class WokenAsTimeRunsOut(threading.Event):
    """An event whose wake comes as its timeout ends, so `wait` reports False though it was
    set: what gevent's `Event.wait` reports then (the stream's keep-alive timer and the decision
    landing in the same turn of the loop)."""

    def __init__(self, wake):
        super().__init__()
        self._wake = wake

    def wait(self, timeout=None) -> bool:
        self._wake()
        return False


def announcement(highest: int, *ids: str) -> live_status.Announcement:
    return live_status.Announcement("e", {"decided": highest, "ids": list(ids)})


def test_a_wake_as_the_time_runs_out_is_not_lost():
    watch = live_status.Watch(None, "e", "b")
    decided = announcement(1, "b")
    watch._woken = WokenAsTimeRunsOut(lambda: watch.offer(decided))
    assert watch.wait(15) is True
    assert watch.news() == [decided]


def test_a_watch_wakes_for_its_decision_and_for_a_move_by_a_tenth():
    watch = live_status.Watch(None, "e", "b")
    watch.follow(seq=120, position=100)  # woken again at position 90 or less
    watch.offer(announcement(25, "x"))  # position 95: not yet
    assert watch.wait(0) is False and watch.news() == []
    moved, decided = announcement(30, "y"), announcement(120, "b")
    watch.offer(moved)
    watch.offer(decided)
    assert watch.wait(0) is True and watch.news() == [moved, decided]


def test_a_move_announced_before_the_watch_knows_its_position_is_judged_when_it_does():
    watch = live_status.Watch(None, "e", "b")
    moved = announcement(30, "y")
    watch.offer(moved)  # registered, still reading its booking
    assert watch.news() == []
    watch.follow(seq=120, position=100)
    assert watch.wait(0) is True and watch.news() == [moved]


def test_what_one_watch_loads_for_an_announcement_the_others_take():
    shared, loads = announcement(1, "a", "b"), []

    def load():
        loads.append(1)
        return {"views": "read once"}

    assert [shared.shared("views", load) for _ in range(3)] == [{"views": "read once"}] * 3
    assert loads == [1]
