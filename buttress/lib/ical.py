"""What every iCalendar (RFC 5545) feed of buttress shares: the calendar's header, world-unique
event ids and the response calendar programs accept."""

from __future__ import annotations

import icalendar
from django.conf import settings
from django.http import HttpResponse

CONTENT_TYPE = "text/calendar; charset=utf-8"


def new_calendar(*, prodid: str, name: str) -> icalendar.Calendar:
    """A VCALENDAR with PRODID, VERSION 2.0, the Gregorian scale and a display name."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    return calendar


def uid(local_part: str) -> str:
    """A UID unique world-wide: the install's host name makes it so, and the same object gets
    the same UID in every download, so calendar programs update events instead of adding."""
    domain = settings.BASE_URL.split("//")[-1].split("/")[0] or "buttress"
    return f"{local_part}@{domain}"


def finish(calendar: icalendar.Calendar) -> bytes:
    """The calendar as bytes, with a VTIMEZONE for every zone its events name."""
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def response(body: bytes, *, filename: str | None = None) -> HttpResponse:
    answer = HttpResponse(body, content_type=CONTENT_TYPE)
    if filename is not None:
        answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    return answer
