"""One unit of work per request, opened on first use and closed when the request ends."""

from __future__ import annotations

from flask import Flask, g

from core import runtime
from core.db import UnitOfWork


def request_uow() -> UnitOfWork:
    if "uow" not in g:
        g.uow = runtime.database().unit_of_work().__enter__()
    return g.uow


def _close_uow(_exc) -> None:
    uow = g.pop("uow", None)
    if uow is not None:
        uow.__exit__(None, None, None)


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_uow)
