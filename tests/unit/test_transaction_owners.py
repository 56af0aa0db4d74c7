"""Who owns a transaction (docs/architecture.md, "Who owns a transaction"): only the edges reach
for the process's database; a service is handed its unit of work or its `Database`. A grep over
`core` finds no `runtime.database()` outside start-up, so a service cannot open a transaction
its caller does not know about."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EDGES_IN_CORE = {"core/startup.py", "core/runtime.py"}
CALL = re.compile(r"\bruntime\.database\(\)")


def database_calls_in_core() -> list[str]:
    found = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if CALL.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_no_service_reaches_for_the_process_database():
    assert [call for call in database_calls_in_core() if call.split(":")[0] not in EDGES_IN_CORE] == []


def test_the_grep_sees_a_call_where_there_is_one():
    # The pattern must match what it forbids, or the test above would pass for the wrong reason.
    assert CALL.search("    with runtime.database().unit_of_work() as uow:")
    assert not CALL.search("    with db.unit_of_work() as uow:")
