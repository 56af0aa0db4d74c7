"""docs/architecture.md's state diagrams are drawn from the `TRANSITIONS` tables (`docs.state_diagrams`):
the document must be what the generator writes, and the generator must find every table."""

from __future__ import annotations

import sys
import textwrap

import pytest

from docs import state_diagrams


def test_the_state_diagrams_in_the_architecture_document_are_up_to_date():
    document = state_diagrams.DOCUMENT.read_text()
    wanted = state_diagrams.render(document, state_diagrams.state_machines())
    assert document == wanted, (
        f"docs/architecture.md's state diagrams are out of date: run `{state_diagrams.FIX}`"
    )


def test_the_booking_life_cycle_is_among_the_diagrams():
    assert "core.lifecycle" in state_diagrams.modules_with_transitions()
    assert "    queued --> held: hold" in state_diagrams.DOCUMENT.read_text()


def test_every_module_with_a_table_is_found_and_a_set_table_is_drawn_in_the_enums_order(
    tmp_path, monkeypatch
):
    package = tmp_path / "lifecycles"
    (package / "nested").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "no_machine.py").write_text("STATES = {}\n")
    (package / "nested" / "door_lifecycle.py").write_text(
        textwrap.dedent("""
        from enum import StrEnum

        class Door(StrEnum):
            OPEN = "open"
            SHUT = "shut"
            LOCKED = "locked"
            GONE = "gone"

        TRANSITIONS: dict = {
            Door.OPEN: {Door.GONE, Door.SHUT},
            Door.SHUT: frozenset({Door.LOCKED, Door.OPEN}),
            Door.LOCKED: {Door.SHUT},
            Door.GONE: set(),
        }
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        [machine] = state_diagrams.state_machines("lifecycles", root=tmp_path)
        assert machine.module == "lifecycles.nested.door_lifecycle"
        assert state_diagrams.mermaid(machine).splitlines() == [
            "```mermaid", "stateDiagram-v2", "    [*] --> open",
            "    open --> shut", "    open --> gone", "    shut --> open", "    shut --> locked",
            "    locked --> shut", "    gone --> [*]", "```",
        ]  # fmt: skip
    finally:
        for name in [name for name in sys.modules if name.startswith("lifecycles")]:
            del sys.modules[name]


def test_a_document_without_the_markers_is_refused():
    with pytest.raises(ValueError, match="marker"):
        state_diagrams.render("# no markers here\n", [])
