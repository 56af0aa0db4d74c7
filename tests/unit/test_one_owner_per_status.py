"""A status is written only by its state machine's module: a grep over the application code for
every way Python and SQLAlchemy write a `status` (attribute, tuple assignment, constructor or
`UPDATE ... values(status=...)` with a status enum) finds none outside them."""

from __future__ import annotations

import re

from tests.source_lines import lines_matching

OWNERS = {
    "core/lifecycle.py",
    "core/payment_lifecycle.py",
    "core/refund_lifecycle.py",
    "core/ticket_lifecycle.py",
    "core/event_lifecycle.py",
}
ENUMS = r"(Booking|Payment|Refund|Ticket|Event)Status\."
WRITES = re.compile(
    r"\.status\s*=(?!=)"  # booking.status = ...
    r"|\.status\s*,[^=\n]*\s=\s"  # event.status, event.published_at = ...
    rf"|\bstatus\s*=\s*({ENUMS}|[A-Z][A-Z_]+\b)"  # Refund(status=PENDING), .values(status=...)
    rf"|values\(\{{[^}}]*[\"']status[\"']\s*:"  # .values({"status": ...})
)


def status_writes() -> list[str]:
    return lines_matching(WRITES, ("core", "api", "worker"))


def test_statuses_are_written_only_by_their_state_machines():
    assert [write for write in status_writes() if write.split(":")[0] not in OWNERS] == []


def test_the_grep_sees_the_writes_the_state_machines_make():
    # A pattern that matched nothing would pass the test above for the wrong reason. (The
    # booking's machine writes its fields through `transition_fields`, which no pattern names.)
    seen = {write.split(":")[0] for write in status_writes()}
    assert seen == OWNERS - {"core/lifecycle.py"}
