"""The process's settings come from its edge (`runtime.configure`), never from the environment
behind a caller's back."""

from __future__ import annotations

import pytest

from core import runtime


def test_settings_before_configure_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(runtime, "_settings", None)
    monkeypatch.setenv("DATABASE_URL", "postgresql://somewhere/else")

    with pytest.raises(RuntimeError, match=r"runtime\.configure"):
        runtime.settings()
    assert not runtime.is_configured()
