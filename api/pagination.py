"""Paginating SQLAlchemy 2 selects with flask-smorest's pagination parameters."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def paginate_select(session: Session, query: Select, pagination_parameters, *, entities: bool = True) -> list:
    """One page of `query`: its first column's objects, or whole rows with `entities=False`."""
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pagination_parameters.item_count = count
    # A page past the end is empty: answered without asking the database for an OFFSET that
    # could be any size a client types (a huge one overflows PostgreSQL's bigint).
    if pagination_parameters.first_item >= count:
        return []
    page = query.limit(pagination_parameters.page_size).offset(pagination_parameters.first_item)
    result = session.execute(page)
    return list(result.scalars() if entities else result)
