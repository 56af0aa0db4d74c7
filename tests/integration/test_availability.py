"""Availability is one rule with a Python and an SQL form: the two agree on every shape of event."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.inventory import event_free, event_free_sql, ticket_type_free
from core.models import Event
from core.services.events import EventFilters, search_events_query


def tt(name, quota, held=0, sold=0):
    return {"name": name, "price": 1000, "quota": quota, "held": held, "sold": sold}


# (event fields, ticket types, free overall, free per ticket type)
CASES = [
    ({}, [tt("A", 10, held=3, sold=2)], 5, [5]),
    ({}, [tt("A", 5, sold=5), tt("B", 0)], 0, [0, 0]),
    ({}, [tt("A", 4, held=4), tt("B", 6, sold=1)], 5, [0, 5]),
    ({"capacity": 8}, [tt("A", 10), tt("B", 10)], 8, [8, 8]),
    ({"capacity": 8, "held": 3, "sold": 5}, [tt("A", 10, held=3), tt("B", 10, sold=5)], 0, [0, 0]),
    ({"capacity": 20, "held": 1}, [tt("A", 4, held=1), tt("B", 4)], 7, [3, 4]),
    ({"capacity": 5, "held": 2}, [tt("A", 4, held=2), tt("B", 3)], 3, [2, 3]),
    ({"capacity": 100, "sold": 6}, [tt("A", 6, sold=6)], 0, [0]),
]


@pytest.fixture()
def shaped_events(organizer, make_event):
    return [
        (make_event(organizer, ticket_types=types, **fields), free, per_type)
        for fields, types, free, per_type in CASES
    ]


def test_python_and_sql_availability_agree(db, shaped_events):
    with db.unit_of_work() as uow:
        in_sql = dict(uow.session.execute(select(Event.id, event_free_sql())).all())
        for made, free, per_type in shaped_events:
            event = uow.session.get(Event, made.id)
            assert event_free(event, event.ticket_types) == in_sql[event.id] == free
            assert [ticket_type_free(event, t) for t in event.ticket_types] == per_type


def test_the_available_filter_splits_events_by_the_same_rule(db, shaped_events):
    with db.unit_of_work() as uow:
        found = {
            wanted: {e.id for e in uow.session.scalars(search_events_query(EventFilters(available=wanted)))}
            for wanted in (True, False)
        }
    assert found[True] == {event.id for event, free, _ in shaped_events if free > 0}
    assert found[False] == {event.id for event, free, _ in shaped_events if free == 0}
