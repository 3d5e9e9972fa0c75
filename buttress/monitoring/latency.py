"""Reading the latency rollups: one monitor's series, or a page of monitors' sparklines.

Both are one query along the rollups' (monitor, level, start) index, whatever the number of
monitors or points.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError

from buttress.monitoring import summary
from buttress.monitoring.models import LatencyRollup, Monitor, RollupLevel

# A series longer than this is refused: ask for a coarser resolution.
MAX_POINTS = 10_000
DEFAULT_SPAN: dict[str, timedelta] = {
    RollupLevel.MINUTE: timedelta(hours=24),
    RollupLevel.HOUR: timedelta(days=30),
    RollupLevel.DAY: timedelta(days=365),
}


def period(
    level: str, *, since: datetime | None, until: datetime | None, at: datetime
) -> tuple[datetime, datetime]:
    """``[since, until)`` for a series of ``level``, with the defaults filled in; a
    ValidationError naming the field when it is not one a series is given for."""
    if level not in RollupLevel.values:
        choices = ", ".join(RollupLevel.values)
        raise ValidationError({"resolution": f"Choose one of {choices}."})
    if since is not None and since.tzinfo is None:
        raise ValidationError({"since": "Give a time zone (e.g. 2026-01-01T00:00:00Z)."})
    if until is not None and until.tzinfo is None:
        raise ValidationError({"until": "Give a time zone (e.g. 2026-01-01T00:00:00Z)."})
    until = until or at
    since = since or until - DEFAULT_SPAN[level]
    if until <= since:
        raise ValidationError({"until": "until must be after since."})
    if (until - since) / summary.LEVELS[level] > MAX_POINTS:
        raise ValidationError(
            {"since": f"At most {MAX_POINTS} points of a {level} each: choose a coarser one."}
        )
    return since, until


def series(
    monitor: Monitor, *, level: str, since: datetime, until: datetime
) -> list[LatencyRollup]:
    """The monitor's buckets of ``level`` starting in ``[since, until)``, oldest first; a
    bucket without results has no row."""
    return list(
        LatencyRollup.objects.filter(
            monitor=monitor, level=level, start__gte=since, start__lt=until
        ).order_by("start")
    )


def sparklines(
    monitor_ids: Sequence[int], *, level: str, since: datetime, until: datetime
) -> dict[int, list[tuple[datetime, float | None]]]:
    """Each monitor's (bucket start, p50) over ``[since, until)``, oldest first: one query."""
    points: dict[int, list[tuple[datetime, float | None]]] = defaultdict(list)
    if not monitor_ids:
        return points
    rows = (
        LatencyRollup.objects.filter(
            monitor_id__in=monitor_ids, level=level, start__gte=since, start__lt=until
        )
        .order_by("monitor_id", "start")
        .values_list("monitor_id", "start", "p50_ms")
    )
    for monitor_id, start, p50 in rows:
        points[monitor_id].append((start, p50))
    return points
