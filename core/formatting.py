"""How Boxoffice writes ids and times for people: in emails, on tickets, on the phone."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

from sqlalchemy import String, cast, func


def booking_reference(booking_id: uuid.UUID | str) -> str:
    """A short reference a person can read out on the phone (the random tail of the id)."""
    return uuid.UUID(str(booking_id)).hex[-10:].upper()


def local_time(moment: dt.datetime, timezone: str) -> str:
    """A moment in the event's own time zone, named so nobody has to guess."""
    local = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    return f"{local:%A %d %B %Y, %H:%M} ({timezone})"


def booking_reference_sql(booking_id_column):
    """`booking_reference` computed by PostgreSQL, to search bookings by their reference."""
    return func.upper(func.right(cast(booking_id_column, String), 10))
