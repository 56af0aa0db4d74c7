"""The drainer pauses the cycle collector for a batch and never leaves it off for good."""

from __future__ import annotations

import gc

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
