"""On-call shifts as iCalendar (RFC 5545) feeds: a schedule's, or one person's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import icalendar

from buttress.lib import ical
from buttress.lib.timeutil import now
from buttress.oncall import access, services
from buttress.oncall.models import CalendarFeed
from buttress.oncall.services import ScheduleShift

PRODID = "-//buttress//on-call//EN"
# A feed shows shifts from a week ago to this far ahead.
PAST = timedelta(days=7)
AHEAD = timedelta(days=120)


def feed(calendar_feed: CalendarFeed) -> bytes:
    # Whole days, so that the first shift (cut at the start) keeps its UID all day.
    start = (now() - PAST).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + PAST + AHEAD
    if calendar_feed.schedule is not None:
        schedule = calendar_feed.schedule
        return to_ical(
            services.shifts(schedule, start, end),
            name=f"On call: {schedule.name}",
            title=lambda shift: f"On call: {shift.user.display_name}",
        )
    user = calendar_feed.user
    assert user is not None
    return to_ical(
        services.user_shifts(user, start, end, among=access.schedules_for(user)),
        name=f"On call: {user.display_name}",
        title=lambda shift: f"On call: {shift.schedule.name}",
    )


def to_ical(shifts: Iterable[ScheduleShift], *, name: str, title: object) -> bytes:
    """One VEVENT per shift, in UTC. A shift's UID is made of its schedule, start and person,
    so it stays the same from download to download while the shift does."""
    calendar = ical.new_calendar(prodid=PRODID, name=name)
    stamp = now().replace(microsecond=0)
    for shift in shifts:
        event = icalendar.Event()
        event.add(
            "uid",
            ical.uid(f"oncall-{shift.schedule.pk}-{int(shift.start.timestamp())}-{shift.user.pk}"),
        )
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", title(shift))  # type: ignore[operator]
        event.add("description", _describe(shift))
        event.add("transp", "TRANSPARENT")
        event.add("categories", ["On call"])
        calendar.add_component(event)
    return ical.finish(calendar)


def _describe(shift: ScheduleShift) -> str:
    lines = [f"Schedule: {shift.schedule.name}", f"On call: {shift.user.display_name}"]
    if shift.override is not None and shift.override.replaces is not None:
        lines.append(f"Swap: in place of {shift.override.replaces.display_name}")
    elif shift.override is not None:
        lines.append("Override")
    elif shift.layer is not None:
        lines.append(f"Layer: {shift.layer.name}")
    return "\n".join(lines)
