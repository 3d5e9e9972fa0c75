"""When a maintenance window is on: the pure recurrence engine (no Django).

A window is its first occurrence (``starts_at``, an aware instant, lasting ``duration``), the
IANA zone it recurs in and an optional RFC 5545 ``RRULE``. Occurrences repeat in wall-clock
time of the zone: a window at 02:00 every Sunday starts at 02:00 local time in winter and in
summer, so its UTC start moves by the DST offset. The duration is elapsed time: a four-hour
window that spans a DST change still lasts four hours.

A start that falls in a spring-forward gap (02:30 on a day the clocks jump from 02:00 to 03:00)
is read with the offset in force before the gap, as RFC 5545 asks, so it begins at 03:30 the
new local time; a start in the repeated hour of a fall-back night takes the first (summer-time)
of the two instants.

dateutil expands the rule, on naive wall-clock times of the zone; this module turns them into
UTC. Occurrences after :data:`LAST_YEAR` are not expanded. Expansion is bounded: a call
iterates at most :data:`MAX_SCAN` occurrences and returns at most :data:`MAX_OCCURRENCES`,
else :class:`TooManyOccurrences` (about 7 microseconds an occurrence).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

MAX_OCCURRENCES = 10_000
MAX_SCAN = 100_000
MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(days=31)
MAX_RULE_LENGTH = 500
# Occurrences after this year are not expanded: far beyond any plan, and clear of the limits of
# Python's datetime.
LAST_YEAR = 2200

Interval = tuple[datetime, datetime]


class RecurrenceError(ValueError):
    """A zone, rule or duration that cannot describe a window."""


class TooManyOccurrences(RecurrenceError):
    """Answering would mean expanding more occurrences than a call may."""


def zone(name: str) -> ZoneInfo:
    if not name or "\x00" in name:
        raise RecurrenceError("A time zone is required (an IANA name such as Europe/Berlin).")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RecurrenceError(f"{name!r} is not a known IANA time zone.") from exc


def check_duration(duration: timedelta) -> None:
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise RecurrenceError("A window lasts from 1 minute to 31 days.")


def _aware(value: datetime, label: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecurrenceError(f"{label} must be an aware datetime.")
    return value.astimezone(UTC)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    # fold=0: a gap reads with the offset before it, an ambiguous time is the first one.
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _local_until(value: str, tz: ZoneInfo) -> str:
    """An UNTIL in UTC (``...Z``) as the zone's wall-clock time, which the expansion runs in."""
    try:
        instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise RecurrenceError(f"UNTIL={value} is not a date-time like 20261231T235959Z.") from exc
    return _wall(instant, tz).strftime("%Y%m%dT%H%M%S")


def normalize_rule(text: str) -> str:
    """The rule without an ``RRULE:`` prefix or spaces, upper-cased; '' for none."""
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    return text.strip().upper()


def canonical_rule(text: str, timezone: str) -> str:
    """The rule as stored and exported: normalised, with UNTIL in UTC as RFC 5545 wants
    beside a DTSTART with a zone (a local UNTIL, date or date-time, is read in ``timezone``;
    a date means the end of that day)."""
    tz = zone(timezone)
    parts = []
    for part in normalize_rule(text).split(";") if normalize_rule(text) else []:
        name, _, value = part.partition("=")
        if name == "UNTIL" and value and not value.endswith("Z"):
            try:
                if "T" in value:
                    local = datetime.strptime(value, "%Y%m%dT%H%M%S")  # noqa: DTZ007 - wall time
                else:
                    local = datetime.strptime(value, "%Y%m%d").replace(  # noqa: DTZ007 - wall time
                        hour=23, minute=59, second=59
                    )
            except ValueError as exc:
                raise RecurrenceError(
                    f"UNTIL={value} is not a date (20261231) or date-time (20261231T235959Z)."
                ) from exc
            value = _instant(local, tz).strftime("%Y%m%dT%H%M%SZ")
            part = f"UNTIL={value}"
        parts.append(part)
    return ";".join(parts)


def parse_rule(text: str, dtstart: datetime, tz: ZoneInfo) -> rrule | None:
    """The rule ``text`` from ``dtstart`` (a naive wall-clock time of ``tz``); None if empty."""
    text = normalize_rule(text)
    if not text:
        return None
    if len(text) > MAX_RULE_LENGTH or any(c in text for c in "\r\n\x00"):
        raise RecurrenceError(f"A rule is one line of at most {MAX_RULE_LENGTH} characters.")
    parts = []
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if name in ("DTSTART", "TZID"):
            raise RecurrenceError("The rule may not set DTSTART: the window's start is used.")
        if name == "FREQ" and value in ("SECONDLY", "MINUTELY"):
            raise RecurrenceError("A window recurs at most hourly (FREQ=HOURLY or slower).")
        if name == "UNTIL" and value.endswith("Z"):
            value = _local_until(value, tz)
        parts.append(f"{name}={value}" if value else name)
    try:
        rule = rrulestr(";".join(parts), dtstart=dtstart)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise RecurrenceError(f"Not a valid RRULE: {exc or 'unreadable'}.") from exc
    if not isinstance(rule, rrule):
        raise RecurrenceError("Give one RRULE, e.g. FREQ=WEEKLY;BYDAY=SU.")
    return rule


def _starts(starts_at: datetime, timezone: str, rule_text: str) -> Iterator[datetime]:
    """Every occurrence's start in UTC, in order (the first is ``starts_at`` when the rule
    includes it, as RFC 5545 expands DTSTART only if it matches the rule)."""
    tz = zone(timezone)
    first = _aware(starts_at, "starts_at")
    dtstart = _wall(first, tz)
    rule = parse_rule(rule_text, dtstart, tz)
    if rule is None:
        yield first
        return
    for wall in rule:
        if wall.year > LAST_YEAR:
            return
        # The first occurrence is ``starts_at`` itself, even in a repeated fall-back hour.
        yield first if wall == dtstart else _instant(wall, tz)


def occurrences(  # noqa: PLR0917 - the signature other apps call
    starts_at: datetime,
    duration: timedelta,
    timezone: str,
    rrule: str,
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """Every occurrence ``(start, end)`` in UTC that overlaps ``[start, end)``, in order."""
    check_duration(duration)
    start, end = _aware(start, "start"), _aware(end, "end")
    found: list[Interval] = []
    if end <= start:
        return found
    for scanned, begin in enumerate(_starts(starts_at, timezone, rrule), 1):
        if begin >= end:
            break
        if begin + duration > start:
            if len(found) == MAX_OCCURRENCES:
                raise TooManyOccurrences(
                    f"More than {MAX_OCCURRENCES} occurrences: ask for a shorter period."
                )
            found.append((begin, begin + duration))
        if scanned >= MAX_SCAN:
            raise TooManyOccurrences(
                f"The rule needs more than {MAX_SCAN} occurrences expanded to answer."
            )
    return found


def first_occurrence(
    starts_at: datetime, duration: timedelta, timezone: str, rrule: str
) -> Interval | None:
    """The first occurrence, or None for a rule that yields none."""
    check_duration(duration)
    for begin in _starts(starts_at, timezone, rrule):
        return begin, begin + duration
    return None


def last_end(
    starts_at: datetime, duration: timedelta, timezone: str, rrule: str
) -> datetime | None:
    """When the last occurrence ends; None for a rule without end (or too long to expand)."""
    check_duration(duration)
    names = {part.partition("=")[0] for part in normalize_rule(rrule).split(";")}
    if rrule.strip() and not names & {"COUNT", "UNTIL"}:
        return None
    last: datetime | None = None
    for scanned, begin in enumerate(_starts(starts_at, timezone, rrule), 1):
        last = begin
        if scanned >= MAX_SCAN:
            return None
    return None if last is None else last + duration


def next_edge(
    starts_at: datetime, duration: timedelta, timezone: str, rrule: str, after: datetime
) -> datetime | None:
    """The first instant later than ``after`` at which an occurrence starts or ends."""
    check_duration(duration)
    after = _aware(after, "after")
    # Occurrences come in order and last equally long, so their ends are in order too: the
    # first end past ``after`` is the earliest one.
    pending: datetime | None = None
    for scanned, begin in enumerate(_starts(starts_at, timezone, rrule), 1):
        if begin > after:
            return begin if pending is None else min(pending, begin)
        if pending is None and begin + duration > after:
            pending = begin + duration
        if scanned >= MAX_SCAN:
            raise TooManyOccurrences(
                f"The rule needs more than {MAX_SCAN} occurrences expanded to answer."
            )
    return pending


def edges_between(
    starts_at: datetime,
    duration: timedelta,
    timezone: str,
    rrule: str,
    *,
    after: datetime,
    until: datetime,
) -> list[datetime]:
    """Each instant in ``(after, until]`` at which an occurrence starts or ends, in order."""
    spans = occurrences(
        starts_at, duration, timezone, rrule, after, until + timedelta(microseconds=1)
    )
    edges = {edge for span in spans for edge in span if after < edge <= until}
    return sorted(edges)


def merge(intervals: list[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering the same time (touching ones joined)."""
    merged: list[Interval] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            if finish > merged[-1][1]:
                merged[-1] = (merged[-1][0], finish)
        else:
            merged.append((begin, finish))
    return merged
