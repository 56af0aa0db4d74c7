"""Structured logs: one JSON object per line on stderr, for the web and the workers alike, each
stamped with the current request id (`core.request_ids`) so the lines of one request and of the
tasks it caused can be found together.

Fields: `time`, `level`, `logger`, `message`, `request_id`, and whatever a call passes in
`extra` (the drainer's line names each decided booking with its own request id).
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from core import request_ids

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record that passes the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_ids.current()
        return True


class JsonLinesHandler(logging.StreamHandler):
    """Writes each record as one JSON line, with its request id."""

    def __init__(self, stream=None):
        super().__init__(stream or sys.stderr)
        self.setFormatter(JsonFormatter(_FORMAT, rename_fields=_RENAMED))
        self.addFilter(RequestIdFilter())


def configure_logging(level: int | str = logging.INFO) -> None:
    """Send the root logger's records to stderr as JSON; calling it again changes only the level."""
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(handler, JsonLinesHandler) for handler in root.handlers):
        root.addHandler(JsonLinesHandler())
