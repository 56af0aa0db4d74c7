"""The application's own source read line by line, for the tests that check a rule of the code by
what it says (a status written only by its state machine, a transaction opened only at the edges)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lines_matching(pattern: re.Pattern, packages: tuple[str, ...]) -> list[str]:
    """`path:line: text` of every line of the packages' Python files that `pattern` finds."""
    found = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{name}:{number}: {line.strip()}")
    return found
