"""Who owns a transaction (docs/architecture.md, "Who owns a transaction"): only the edges reach
for the process's database; a service is handed its unit of work or its `Database`. A grep over
`core` finds no `runtime.database()` outside start-up, so a service cannot open a transaction
its caller does not know about."""

from __future__ import annotations

import re

from tests.source_lines import lines_matching

EDGES_IN_CORE = {"core/startup.py", "core/runtime.py"}
CALL = re.compile(r"\bruntime\.database\(\)")


def test_no_service_reaches_for_the_process_database():
    assert [call for call in lines_matching(CALL, ("core",)) if call.split(":")[0] not in EDGES_IN_CORE] == []


def test_the_grep_sees_a_call_where_there_is_one():
    # The pattern must match what it forbids, or the test above would pass for the wrong reason.
    assert CALL.search("    with runtime.database().unit_of_work() as uow:")
    assert not CALL.search("    with db.unit_of_work() as uow:")
