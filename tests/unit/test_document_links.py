"""The README and the documents under docs/ link to each other by file and section: every such link
must land on a file that exists and, when it names a section, on a heading of that file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(document: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings (code blocks skipped)."""
    text = re.sub(r"^```.*?^```", "", document.read_text(), flags=re.DOTALL | re.MULTILINE)
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_local_link_lands_on_a_file_and_section(document):
    broken = []
    for target in LINK.findall(document.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken, f"{document.name} links to what is not there: {broken}"


def test_every_test_docs_testing_names_exists():
    """docs/testing.md names the tests behind each rule (`api/test_x.py::test_y`, then `::test_z`
    in the same file): each must be there, so a renamed test cannot leave the page pointing at nothing."""
    missing, current = [], None
    for match in re.finditer(r"`(?:(?P<path>\w+/test_\w+\.py)(?:::(?P<first>test_\w+))?|::(?P<next>test_\w+))`",
                             (ROOT / "docs" / "testing.md").read_text()):  # fmt: skip
        current = match["path"] or current
        source = ROOT / "tests" / current
        name = match["first"] or match["next"]
        if not source.exists() or (name and f"def {name}(" not in source.read_text()):
            missing.append(f"{current}::{name}" if name else current)
    assert not missing, f"docs/testing.md names tests that are not there: {missing}"
