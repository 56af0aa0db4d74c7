"""How an event's times are written: in UTC, or with the offset of the event's own time zone.

A time carries its offset, and the offset says which instant it is. An offset that is neither
UTC's nor the one the event's zone has at that instant is almost always a mistake: Paris is
`+02:00` in summer and `+01:00` in winter, and a client that writes `+02:00` all year states the
wrong hour for half of it (the README's walkthrough did). Such a time is refused, saying the
offset it should carry; docs/getting-started.md ("Times and time zones") has the rule.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from core.errors import Invalid

# The event's own times, as the API takes them (a ticket type's sales window follows the event's).
EVENT_TIME_FIELDS = ("starts_at", "ends_at", "refund_until", "sales_start", "sales_end")


def zone_offset(when: dt.datetime, zone: str) -> dt.timedelta:
    """The offset `zone` has at the instant `when`."""
    return when.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()


def offset_refusal(when: dt.datetime, zone: str) -> str | None:
    """Why `when` is not written in UTC nor with `zone`'s offset at that instant, or None."""
    offset = when.utcoffset()
    try:
        expected = zone_offset(when, zone)
    except OverflowError:  # at the calendar's very end: the input's own check refuses what it must
        return None
    if offset in (dt.timedelta(0), expected):
        return None
    return f"{zone} is {_hours(expected)} at this time, not {_hours(offset)}: write {_hours(expected)}, or UTC (Z)."


def check_event_times(values: dict, zone: str) -> None:
    """Refuse (422 `offset_not_of_timezone`) any of the event's times in `values` written with an
    offset that is neither UTC's nor `zone`'s at that instant. `zone` must be a known zone."""
    refused = {
        name: [refusal]
        for name in EVENT_TIME_FIELDS
        if values.get(name) is not None and (refusal := offset_refusal(values[name], zone))
    }
    if refused:
        raise Invalid(
            "Write an event's times in UTC or with the offset of the event's time zone at that date.",
            name="offset_not_of_timezone",
            details=refused,
        )


def _hours(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
