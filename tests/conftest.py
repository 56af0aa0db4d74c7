"""Fixtures shared by the whole suite."""

from tests.smtp_sink import smtp_sink  # noqa: F401
