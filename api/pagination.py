"""Paginating SQLAlchemy 2 selects with flask-smorest's pagination parameters."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def paginate_select(session: Session, query: Select, pagination_parameters) -> list:
    pagination_parameters.item_count = session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())
    )
    page = query.limit(pagination_parameters.page_size).offset(pagination_parameters.first_item)
    return list(session.scalars(page))
