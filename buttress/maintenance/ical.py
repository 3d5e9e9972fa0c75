"""An organisation's maintenance windows as an iCalendar (RFC 5545) feed."""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo

import icalendar

from buttress.lib import ical
from buttress.maintenance.models import MaintenanceWindow
from buttress.tenancy.models import Organization

PRODID = "-//buttress//maintenance windows//EN"
# A feed holds at most this many windows, the first by start.
MAX_FEED_WINDOWS = 5000


def organization_feed(organization: Organization) -> bytes:
    windows = MaintenanceWindow.objects.for_org(organization).order_by("starts_at", "id")
    return to_ical(windows[:MAX_FEED_WINDOWS], name=f"{organization.name} maintenance")


def to_ical(windows: Iterable[MaintenanceWindow], *, name: str) -> bytes:
    """One VEVENT per window: DTSTART in the window's zone (TZID) and its RRULE, so calendar
    programs repeat it in that zone's local time as buttress does."""
    calendar = ical.new_calendar(prodid=PRODID, name=name)
    for window in windows:
        tz = ZoneInfo(window.timezone)
        event = icalendar.Event()
        event.add("uid", ical.uid(f"maintenance-window-{window.pk}"))
        event.add("summary", window.name)
        if window.reason:
            event.add("description", window.reason)
        event.add("dtstamp", window.updated_at)
        event.add("last-modified", window.updated_at)
        event.add("dtstart", window.starts_at.astimezone(tz))
        event.add("duration", window.duration)
        if window.rrule:
            event.add("rrule", icalendar.vRecur.from_ical(window.rrule))
        event.add("categories", ["Maintenance"])
        calendar.add_component(event)
    return ical.finish(calendar)
