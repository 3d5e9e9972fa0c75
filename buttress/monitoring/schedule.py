"""When a heartbeat is expected next, and when a silent job turns late and then down. No Django.

A simple schedule expects a ping ``period`` after the last one; a cron schedule expects one at
the next time its 5-field expression names, read as wall-clock time in an IANA zone. Either way
the monitor is *late* from that instant and *down* ``grace`` after it. A job that said ``start``
and has not finished is down ``grace`` after the start.

Cron times are found by stepping through wall-clock times with croniter (which knows nothing of
zones) and turning each into an instant with ``zoneinfo``, so daylight-saving changes follow the
rules of the Debian cron daemon that most of these jobs run under:

- a wall time the clocks skip (02:30 on a spring-forward night) happens when the clocks jump,
  at the first wall minute that exists (03:00);
- a wall time that happens twice (01:30 on a fall-back night) is expected once, at the first
  pass, unless the expression's hour field is ``*``: such a job runs in both passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter

MIN_SECONDS = 60
MAX_SECONDS = 365 * 24 * 3600
# No valid expression needs more wall-clock candidates than this to pass a DST change.
_MAX_CANDIDATES = 10_000
# Larger than any clock change, so a wall time this far from another is on the same side of it.
_SHIFT = timedelta(hours=3)

ScheduleKind = Literal["simple", "cron"]


def check_seconds(field: str, value: object) -> int:
    """A duration in whole seconds from one minute to one year."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: give a whole number of seconds, got {value!r}")
    if not MIN_SECONDS <= value <= MAX_SECONDS:
        raise ValueError(
            f"{field}: must be from {MIN_SECONDS} seconds to {MAX_SECONDS} seconds (a year), "
            f"got {value}"
        )
    return value


def check_zone(field: str, value: object) -> ZoneInfo:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: an IANA time zone name is required")
    if value.strip() not in _zone_names():
        # Not only "does a file load": ZoneInfo also reads names like "localtime" or
        # "posixrules" that are no IANA zone and differ from host to host.
        raise ValueError(f"{field}: {value!r} is not an IANA time zone name")
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{field}: {value!r} is not an IANA time zone name") from exc


@cache
def _zone_names() -> frozenset[str]:
    # The host's own files sit beside the zones and load like them, but name no zone.
    return frozenset(available_timezones()) - {"localtime", "posixrules", "posix", "right"}


def check_cron(field: str, value: object) -> str:
    """A 5-field cron expression (minute hour day-of-month month day-of-week) that fires."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: a cron expression is required")
    expression = " ".join(value.split())
    if len(expression.split(" ")) != 5:
        raise ValueError(
            f"{field}: {value!r} must have 5 fields (minute hour day-of-month month day-of-week)"
        )
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)  # noqa: DTZ001 - wall time
    except CroniterBadDateError as exc:
        raise ValueError(f"{field}: {value!r} never fires") from exc
    except (CroniterBadCronError, CroniterNotAlphaError, ValueError, KeyError) as exc:
        raise ValueError(f"{field}: {value!r} is not a valid cron expression: {exc}") from exc
    return expression


@dataclass(frozen=True)
class Schedule:
    kind: ScheduleKind
    grace: timedelta
    period: timedelta = timedelta(days=1)
    cron: str = ""
    tz: str = "UTC"

    def __post_init__(self) -> None:
        if self.kind not in ("simple", "cron"):
            raise ValueError(f"schedule_kind: {self.kind!r} is not simple or cron")
        check_seconds("grace", int(self.grace.total_seconds()))
        if self.kind == "simple":
            check_seconds("period", int(self.period.total_seconds()))
        else:
            object.__setattr__(self, "cron", check_cron("schedule", self.cron))
        check_zone("tz", self.tz)

    def next_expected(self, after: datetime) -> datetime:
        """The instant the next ping is due, for a ping received at ``after`` (aware)."""
        if self.kind == "simple":
            return after + self.period
        return next_cron_time(self.cron, ZoneInfo(self.tz), after)

    def deadlines(
        self, *, last_ping_at: datetime | None, last_start_at: datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        """(late from, down from) for a job last seen at these instants; None: never."""
        late_at = down_at = None
        if last_ping_at is not None:
            late_at = self.next_expected(last_ping_at)
            down_at = late_at + self.grace
        if last_start_at is not None:
            running_down = last_start_at + self.grace
            down_at = running_down if down_at is None else min(down_at, running_down)
        return late_at, down_at


def _instants(wall: datetime, zone: ZoneInfo, *, every_hour: bool) -> list[datetime]:
    """The instants at which wall-clock time ``wall`` (naive) happens in ``zone``."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return [first.astimezone(UTC)]
    if _exists(first):
        # Repeated: the first pass, and the second only for jobs that run every hour.
        found = [first.astimezone(UTC)]
        if every_hour:
            found.append(second.astimezone(UTC))
        return found
    # Skipped: the first wall minute after the gap.
    step = wall.replace(second=0, microsecond=0)
    for _ in range(24 * 60):
        step += timedelta(minutes=1)
        candidate = step.replace(tzinfo=zone)
        if _exists(candidate):
            return [candidate.astimezone(UTC)]
    return [first.astimezone(UTC)]  # pragma: no cover - no zone skips a whole day


def _exists(moment: datetime) -> bool:
    """Whether the aware wall time ``moment`` is shown by the zone's clocks at all."""
    zone = moment.tzinfo
    return moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == moment.replace(
        tzinfo=None
    )


def next_cron_time(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first instant strictly after ``after`` that the expression names in ``zone``."""
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    every_hour = expression.split(" ")[1] == "*"
    # Wall times before ``after``'s own can still lie ahead of it when the clocks go back, so
    # near a change the search starts earlier. Otherwise a minute back, so that a wall time
    # equal to ``after``'s is compared as an instant rather than skipped.
    near_change = _offset(zone, after - _SHIFT) != _offset(zone, after + _SHIFT)
    back = _SHIFT if near_change else timedelta(minutes=1)
    start = after.astimezone(zone).replace(tzinfo=None, fold=0) - back
    walls = croniter(expression, start)
    best: datetime | None = None
    horizon: datetime | None = None
    for _ in range(_MAX_CANDIDATES):
        wall = walls.get_next(datetime)
        if horizon is not None and wall > horizon:
            break
        for instant in _instants(wall, zone, every_hour=every_hour):
            if instant > after and (best is None or instant < best):
                best = instant
        if best is not None and horizon is None:
            if _offset(zone, after - _SHIFT) == _offset(zone, best + _SHIFT):
                return best
            # Near a clock change wall times and instants are not in the same order: a later
            # wall time may happen earlier, so look a little further before answering.
            horizon = best.astimezone(zone).replace(tzinfo=None) + _SHIFT
    if best is not None:
        return best
    msg = f"{expression!r} names no time after {after.isoformat()}"
    raise ValueError(msg)


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta | None:
    return moment.astimezone(zone).utcoffset()
