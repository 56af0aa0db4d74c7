"""The iCalendar (.ics) file of an event, so a customer can put it in their calendar."""

from __future__ import annotations

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from core import links
from core.models import Event, utcnow
from core.statuses import EventStatus


def event_calendar(event: Event) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Boxoffice//Events//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"{event.id}@boxoffice")
    entry.add("dtstamp", utcnow())
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    entry.add("summary", event.title)
    if event.description:
        entry.add("description", event.description)
    location = ", ".join(part for part in (event.venue, event.address) if part)
    if location:
        entry.add("location", location)
    if event.latitude is not None:
        entry.add("geo", (event.latitude, event.longitude))
    entry.add("url", links.EVENT.url(event_id=event.id))
    entry.add("status", "CANCELLED" if event.status == EventStatus.CANCELLED else "CONFIRMED")
    entry.add("sequence", event.version)
    calendar.add_component(entry)
    return calendar.to_ical()
