"""Reading monitors' status history: uptime over any period, for one monitor or a page of them.

The arithmetic is :mod:`buttress.monitoring.uptime`; this module fetches what it needs with a
fixed number of queries whatever the number of monitors: one for each monitor's status at the
period's start, one for the changes inside it and, when maintenance is excluded, three for the
windows naming the monitors or their assets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from buttress.assets.models import Asset
from buttress.maintenance import occurrences as maintenance_engine
from buttress.maintenance.models import MaintenanceWindow
from buttress.monitoring import uptime as engine
from buttress.monitoring.models import Monitor, StateChange

# A period longer than this is refused: its maintenance occurrences and changes are unbounded.
MAX_PERIOD_DAYS = 366 * 5


@dataclass(frozen=True)
class _History:
    monitor_id: int
    created_at: datetime
    asset_id: int | None
    organization_id: int
    initial: str | None
    changes: list[engine.Change]


def check_period(start: datetime, end: datetime) -> None:
    """ValidationError naming the field when ``[start, end)`` is not a period uptime is kept for."""
    if start.tzinfo is None:
        raise ValidationError({"start": "Give a time zone (e.g. 2026-01-01T00:00:00Z)."})
    if end.tzinfo is None:
        raise ValidationError({"end": "Give a time zone (e.g. 2026-02-01T00:00:00Z)."})
    if end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationError({"end": f"A period is at most {MAX_PERIOD_DAYS} days long."})


def _histories(monitor_ids: Sequence[int], start: datetime, end: datetime) -> list[_History]:
    ids = sorted(set(monitor_ids))
    if not ids:
        return []
    before = StateChange.objects.filter(monitor=OuterRef("pk"), at__lte=start).order_by(
        "-at", "-id"
    )
    after = StateChange.objects.filter(monitor=OuterRef("pk"), at__gt=start).order_by("at", "id")
    rows = (
        Monitor.objects.filter(pk__in=ids)
        .annotate(
            before=Subquery(before.values("to_status")[:1]),
            first_from=Subquery(after.values("from_status")[:1]),
        )
        .values_list(
            "pk", "created_at", "asset_id", "organization_id", "status", "before", "first_from"
        )
    )
    changes: dict[int, list[engine.Change]] = defaultdict(list)
    for monitor_id, at, to_status in (
        StateChange.objects.filter(monitor_id__in=ids, at__gt=start, at__lt=end)
        .order_by("monitor_id", "at", "id")
        .values_list("monitor_id", "at", "to_status")
    ):
        changes[monitor_id].append((at, to_status))
    histories = []
    for (
        monitor_id,
        created_at,
        asset_id,
        organization_id,
        status,
        before_status,
        first_from,
    ) in rows:
        # With no change before the start the status then is the one the first change left
        # (or, with no change at all, the current one).
        initial = before_status or first_from or status
        found = changes.get(monitor_id, [])
        if created_at > start:
            # Nothing is counted before the monitor existed; from then on it had the status
            # the changes up to that instant leave.
            for at, new in found:
                if at > created_at:
                    break
                initial = new
            found = [(created_at, initial), *(c for c in found if c[0] > created_at)]
            initial = None
        histories.append(
            _History(monitor_id, created_at, asset_id, organization_id, initial, found)
        )
    return histories


def _maintenance(
    histories: Sequence[_History], start: datetime, end: datetime
) -> dict[int, list[engine.Interval]]:
    """The maintenance occurrences inside ``[start, end)`` of each monitor, by monitor id.

    A window counts when it names the monitor or the monitor's asset, whatever its effects.
    """
    ids = [h.monitor_id for h in histories]
    asset_ids = sorted({h.asset_id for h in histories if h.asset_id is not None})
    org_ids = sorted({h.organization_id for h in histories})
    windows: QuerySet[MaintenanceWindow] = (
        MaintenanceWindow.objects.filter(organization_id__in=org_ids)
        .filter(Q(monitors__in=ids) | Q(assets__in=asset_ids))
        .may_overlap(start, end)
        .distinct()
        .order_by("pk")
        .prefetch_related(
            Prefetch(
                "monitors", queryset=Monitor.objects.filter(pk__in=ids).only("id"), to_attr="named"
            )
        )
        .prefetch_related(
            Prefetch(
                "assets",
                queryset=Asset.objects.filter(pk__in=asset_ids).only("id"),
                to_attr="named_assets",
            ),
        )
    )
    by_monitor: dict[int, list[engine.Interval]] = defaultdict(list)
    by_asset: dict[int, list[engine.Interval]] = defaultdict(list)
    for window in windows:
        try:
            spans = [(max(a, start), min(b, end)) for a, b in window.occurrences(start, end)]
        except maintenance_engine.TooManyOccurrences as exc:
            raise ValidationError(
                {"start": f"Maintenance window {window.pk} repeats too often over this period."}
            ) from exc
        for monitor in window.named:  # type: ignore[attr-defined]
            by_monitor[monitor.pk].extend(spans)
        for asset in window.named_assets:  # type: ignore[attr-defined]
            by_asset[asset.pk].extend(spans)
    result: dict[int, list[engine.Interval]] = {}
    for history in histories:
        spans = list(by_monitor.get(history.monitor_id, []))
        if history.asset_id is not None:
            spans.extend(by_asset.get(history.asset_id, []))
        result[history.monitor_id] = engine.merge(spans)
    return result


def uptime_by_period(
    monitor_ids: Sequence[int],
    periods: Sequence[engine.Interval],
    *,
    exclude_maintenance: bool = False,
) -> dict[int, list[engine.Uptime]]:
    """The uptime of each monitor over each of ``periods`` (consecutive, oldest first).

    Runs a fixed number of queries whatever the number of monitors and periods.
    """
    if not periods or not monitor_ids:
        return {}
    start, end = periods[0][0], periods[-1][1]
    histories = _histories(monitor_ids, start, end)
    excluded = _maintenance(histories, start, end) if exclude_maintenance else {}
    return {
        history.monitor_id: engine.measure_periods(
            history.initial,
            history.changes,
            periods,
            excluded=excluded.get(history.monitor_id, ()),
        )
        for history in histories
    }


def uptime(
    monitor: Monitor, *, start: datetime, end: datetime, exclude_maintenance: bool = False
) -> engine.Uptime:
    """The monitor's uptime over ``[start, end)``; ValidationError for a period it refuses."""
    check_period(start, end)
    found = uptime_by_period([monitor.pk], [(start, end)], exclude_maintenance=exclude_maintenance)
    return found[monitor.pk][0]
