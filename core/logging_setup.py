"""Structured logs: one JSON object per line on stderr, for the web and the workers alike, each
stamped with the current request id (`core.request_ids`) so the lines of one request and of the
tasks it caused can be found together.

Fields: `time`, `level`, `logger`, `message`, `request_id`, and whatever a call passes in
`extra` (the drainer's line names each decided booking with its own request id).
"""

from __future__ import annotations

import json
import logging
import sys

from pythonjsonlogger.json import JsonEncoder

from core import request_ids

# What every record has by itself (as this Python makes them) and what the line names otherwise:
# any other attribute of a record came in its call's `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonLinesFormatter(logging.Formatter):
    """A record as one JSON object: the fixed fields, the exception or stack if any, then the
    call's `extra` fields (but private ones, `_name`), as python-json-logger's formatter wrote
    them, values encoded by its encoder (dates in ISO 8601...). Built as one dict and dumped
    once: every HTTP request writes a line (`api.request_log`), and the general formatter's
    parsing of a format string, renaming and merging cost more than the line is worth
    (docs/benchmarks.md, "The API's hooks")."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_"):
                line[name] = value
        return json.dumps(line, cls=JsonEncoder)


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
        self.setFormatter(JsonLinesFormatter())
        self.addFilter(RequestIdFilter())


def configure_logging(level: int | str = logging.INFO) -> None:
    """Send the root logger's records to stderr as JSON; calling it again changes only the level."""
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(handler, JsonLinesHandler) for handler in root.handlers):
        root.addHandler(JsonLinesHandler())
