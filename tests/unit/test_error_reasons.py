"""Every error `reason` the API can answer is asserted by at least one test.

The reasons are read from the code, not listed by hand: each `name=` given where a
`core.errors.DomainError` (or a subclass) is made in `core` or `api`, the class's own `name` where
one is made without it, and the reasons `api` answers by itself (`error_response`, the token
callbacks' `_unauthorized`). A test asserts a reason when its text (or its `core.statuses` member)
stands in an `assert`, in a `pytest.raises(...)`, or in a table of cases a test checks: a
parametrize decorator, or an assignment in a test module.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import api
import core
from core import statuses
from core.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]
# `api` helpers that answer an error themselves, and the position of their reason argument.
RESPONDERS = {"error_response": 2, "_unauthorized": 1}
# A `name=` the code computes: the vocabulary it is drawn from. The comps service refuses with
# the reason the allocation rejected the guest's request for.
COMPUTED_NAMES = {"decided['reason']": statuses.RejectionReason}


def error_classes() -> dict[str, type[DomainError]]:
    for package in (core, api):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    found, todo = {}, [DomainError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo += cls.__subclasses__()
    return found


def enum_member(node: ast.AST) -> str | None:
    """`RejectionReason.SOLD_OUT` → "sold_out", for the vocabularies of `core.statuses`."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        vocabulary = getattr(statuses, node.value.id, None)
        if (
            isinstance(vocabulary, type)
            and issubclass(vocabulary, StrEnum)
            and node.attr in vocabulary.__members__
        ):
            return str(vocabulary[node.attr])
    return None


def error_makers(tree: ast.Module, classes: dict[str, type]) -> dict[str, type]:
    """The names under which a module calls an error class: the classes themselves, and a local
    name bound to one of them (`error = Invalid if ... else Conflict`)."""
    makers = dict(classes)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            named = [n.id for n in ast.walk(node.value) if isinstance(n, ast.Name) and n.id in classes]
            if named:
                makers[node.targets[0].id] = classes[named[0]]
    return makers


def reasons_in(path: Path, classes: dict[str, type]) -> Iterator[tuple[str, str]]:
    """(reason, where) for every error the module at `path` can make."""
    tree = ast.parse(path.read_text(), str(path))
    makers = error_makers(tree, classes)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        if callee in makers:
            name = next((keyword.value for keyword in node.keywords if keyword.arg == "name"), None)
            if name is None:
                yield makers[callee].name, where
            elif isinstance(name, ast.Constant):
                yield name.value, where
            elif enum_member(name):
                yield enum_member(name), where
            elif ast.unparse(name) in COMPUTED_NAMES:
                yield from ((str(member), where) for member in COMPUTED_NAMES[ast.unparse(name)])
            else:
                raise AssertionError(
                    f"{where}: cannot tell the reason {ast.unparse(name)!r}; add it to COMPUTED_NAMES"
                )
        elif callee in RESPONDERS and len(node.args) > RESPONDERS[callee]:
            reason = node.args[RESPONDERS[callee]]
            if isinstance(reason, ast.Constant) and isinstance(reason.value, str):
                yield reason.value, where


def answerable_reasons() -> dict[str, str]:
    classes = error_classes()
    found: dict[str, str] = {}
    for package in ("core", "api"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for reason, where in reasons_in(path, classes):
                found.setdefault(reason, where)
    return found


def texts(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value
        elif member := enum_member(child):
            yield member


def asserted_texts() -> set[str]:
    asserted: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert | ast.Assign | ast.AnnAssign):
                asserted.update(texts(node))
            elif isinstance(node, ast.With | ast.AsyncWith):
                asserted.update(text for item in node.items for text in texts(item.context_expr))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                asserted.update(text for decorator in node.decorator_list for text in texts(decorator))
    return asserted


def test_the_collector_finds_reasons_of_every_kind():
    reasons = answerable_reasons()
    assert {
        "sold_out",
        "invalid_transition",
        "not_found",
        "link_invalid",
        "unavailable",
        "missing_token",
    } <= set(reasons)
    assert set(statuses.RejectionReason) <= set(reasons)  # the comps' computed reason


def test_every_reason_the_api_can_answer_is_asserted_by_a_test():
    asserted = asserted_texts()
    unasserted = {reason: where for reason, where in answerable_reasons().items() if reason not in asserted}
    assert not unasserted, f"reasons no test asserts (reason: where it is raised): {unasserted}"
