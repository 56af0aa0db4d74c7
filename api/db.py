"""One unit of work per request, opened on first use, committed by the view that changed
something (`committed`), and closed (rolled back if not committed) when the request ends."""

from __future__ import annotations

from flask import Flask, g

from core import runtime
from core.db import UnitOfWork


def request_uow() -> UnitOfWork:
    if "uow" not in g:
        g.uow = runtime.database().unit_of_work().__enter__()
    return g.uow


def committed(result=None):
    """Commit the request's unit of work and hand back `result`: the view owns the transaction
    of the service it called (the services that take a unit of work never commit it)."""
    request_uow().commit()
    return result


def _close_uow(_exc) -> None:
    uow = g.pop("uow", None)
    if uow is not None:
        uow.__exit__(None, None, None)


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_uow)
