"""The drainer pauses the cycle collector for a batch and never leaves it off for good; a worker
process sets its start-up objects aside from the collector's walks."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from core import cycle_collector


def test_paused_inside_and_resumed_after_even_when_the_batch_fails():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cycle_collector.paused():
        assert not gc.isenabled()
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off():
    gc.disable()
    try:
        with cycle_collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


SET_ASIDE = """
import gc, weakref
from celery.signals import {signal}
import worker  # the Celery app and its signal handlers

class Node:
    pass

kept = [Node()]  # alive: set aside
cycle = Node()
cycle.self = cycle  # garbage in a cycle: collected first, never set aside for good
gone = weakref.ref(cycle)
del cycle
{signal}.send(sender=None)
assert gone() is None, "the garbage was frozen"
assert gc.get_freeze_count() > 0
assert not any(o is kept for o in gc.get_objects()), "a start-up object is still walked"
made_after = [Node()]
assert any(o is made_after for o in gc.get_objects()), "an object made afterwards is not collected"
"""


@pytest.mark.parametrize("signal", ["worker_init", "worker_process_init"])
def test_a_worker_process_sets_its_start_up_aside_from_the_collectors_walks(signal):
    """In a process of its own: frozen objects stay frozen for the life of the process."""
    subprocess.run([sys.executable, "-c", SET_ASIDE.format(signal=signal)], check=True, timeout=60)
