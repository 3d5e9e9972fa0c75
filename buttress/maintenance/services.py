"""The only place that changes maintenance windows, and the questions other apps ask of them.

Other apps ask through :func:`active_for_assets`, :func:`intervals_for_assets` and
:func:`active_for_monitor`. When an edit changes which assets a window covers right now, the
SLA clocks of their tickets are brought up to date by the scheduler through a
:class:`CoverageChange` row written in the same transaction; the window's own starts and ends
are driven by its ``edge_due_at`` timer (see ``tasks.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.assets.models import Asset
from buttress.audit import services as audit
from buttress.lib.timeutil import now
from buttress.maintenance import occurrences as engine
from buttress.maintenance.models import CoverageChange, Effect, MaintenanceWindow
from buttress.monitoring.models import Monitor
from buttress.tenancy.models import Organization

if TYPE_CHECKING:
    from buttress.accounts.models import User

logger = logging.getLogger(__name__)

FIELDS = (
    "organization",
    "name",
    "reason",
    "starts_at",
    "duration",
    "timezone",
    "rrule",
    "assets",
    "monitors",
    "suppress_alerts",
    "pause_sla",
)
EDITABLE = frozenset(FIELDS) - {"organization"}
MAX_NAME = 200
MAX_REASON = 10_000
INSTANT = timedelta(microseconds=1)
# Far enough either way for any window, and clear of the limits of Python's datetime.
FIRST_YEAR, LAST_YEAR = 1970, engine.LAST_YEAR


# --- validation ------------------------------------------------------------------------------


def _text(field: str, value: Any, *, limit: int, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationError({field: f"A {field} is required."})
    if len(text) > limit:
        raise ValidationError({field: f"At most {limit} characters."})
    if "\x00" in text:
        raise ValidationError({field: "Text may not contain NUL characters."})
    return text


def _schedule(fields: dict[str, Any]) -> dict[str, Any]:
    """The timing fields checked together, the rule in its stored form."""
    starts_at = fields["starts_at"]
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None:
        raise ValidationError({"starts_at": "Give the start as a date and time with a UTC offset."})
    if not FIRST_YEAR <= starts_at.year <= LAST_YEAR:
        raise ValidationError({"starts_at": f"Start between {FIRST_YEAR} and {LAST_YEAR}."})
    duration = fields["duration"]
    if not isinstance(duration, timedelta):
        raise ValidationError({"duration": "Give the duration as a length of time."})
    try:
        engine.check_duration(duration)
    except engine.RecurrenceError as exc:
        raise ValidationError({"duration": str(exc)}) from exc
    timezone = str(fields["timezone"] or "").strip()
    try:
        engine.zone(timezone)
    except engine.RecurrenceError as exc:
        raise ValidationError({"timezone": str(exc)}) from exc
    try:
        rule = engine.canonical_rule(str(fields["rrule"] or ""), timezone)
        first = engine.first_occurrence(starts_at, duration, timezone, rule)
    except engine.RecurrenceError as exc:
        raise ValidationError({"rrule": str(exc)}) from exc
    except OverflowError as exc:
        raise ValidationError({"rrule": "A date in the rule is out of range."}) from exc
    if first is None:
        raise ValidationError({"rrule": "The rule yields no occurrence at all."})
    if first[0] != starts_at:
        raise ValidationError(
            {
                "starts_at": "The start is not an occurrence of the rule (e.g. BYDAY=MO but it "
                "is not a Monday in the window's time zone)."
            }
        )
    return {
        "starts_at": starts_at,
        "duration": duration,
        "timezone": timezone,
        "rrule": rule,
        "last_end_at": engine.last_end(starts_at, duration, timezone, rule),
    }


def _members[M: (Asset, Monitor)](
    organization: Organization, model: type[M], field: str, items: Iterable[M | int]
) -> list[M]:
    ids: set[int] = set()
    for item in items:
        pk = item.pk if isinstance(item, model) else item
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise ValidationError({field: f"Give {field} by id."})
        ids.add(pk)
    found = list(model.objects.filter(organization=organization, pk__in=ids))
    missing = sorted(ids - {item.pk for item in found})
    if missing:
        raise ValidationError(
            {field: f"Not in this organisation: {', '.join(str(pk) for pk in missing)}."}
        )
    return found


def _sla_assets_on(window: MaintenanceWindow, asset_ids: Iterable[int], at: datetime) -> set[int]:
    """The assets whose SLA clocks this window pauses at ``at``."""
    if not window.pause_sla or not _is_on(window, at):
        return set()
    return set(asset_ids)


def _is_on(window: MaintenanceWindow, at: datetime) -> bool:
    try:
        return window.is_on(at)
    except engine.TooManyOccurrences:
        logger.warning("maintenance window %s: too many occurrences to expand", window.pk)
        return False


def _next_edge(window: MaintenanceWindow, after: datetime) -> datetime | None:
    try:
        return window.next_edge(after)
    except engine.TooManyOccurrences:
        logger.warning("maintenance window %s: too many occurrences to expand", window.pk)
        return None


def _coverage_changed(
    organization: Organization, before: set[int], after: set[int], *, at: datetime
) -> None:
    changed = sorted(before ^ after)
    if changed:
        CoverageChange.objects.create(
            organization=organization, asset_ids=changed, at=at, due_at=at
        )


# --- changes ---------------------------------------------------------------------------------


@transaction.atomic
def create_window(
    organization: Organization,
    *,
    actor: User | None,
    name: str,
    starts_at: datetime,
    duration: timedelta,
    timezone: str = "UTC",
    rrule: str = "",
    reason: str = "",
    assets: Iterable[Asset | int] = (),
    monitors: Iterable[Monitor | int] = (),
    suppress_alerts: bool = True,
    pause_sla: bool = True,
) -> MaintenanceWindow:
    at = now()
    schedule = _schedule(
        {"starts_at": starts_at, "duration": duration, "timezone": timezone, "rrule": rrule}
    )
    asset_rows = _members(organization, Asset, "assets", assets)
    monitor_rows = _members(organization, Monitor, "monitors", monitors)
    window = MaintenanceWindow(
        organization=organization,
        name=_text("name", name, limit=MAX_NAME, required=True),
        reason=_text("reason", reason, limit=MAX_REASON, required=False),
        suppress_alerts=bool(suppress_alerts),
        pause_sla=bool(pause_sla),
        created_by=actor if actor is not None and actor.pk else None,
        edges_done_until=at,
        **schedule,
    )
    window.edge_due_at = _next_edge(window, at)
    window.save()
    window.assets.set(asset_rows)
    window.monitors.set(monitor_rows)
    _coverage_changed(
        organization, set(), _sla_assets_on(window, [a.pk for a in asset_rows], at), at=at
    )
    audit.record_create(window, actor=actor, organization=organization, fields=FIELDS)
    return window


@transaction.atomic
def update_window(
    window: MaintenanceWindow, *, actor: User | None, **changes: Any
) -> MaintenanceWindow:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed."))
    window = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
    organization = window.organization
    at = now()
    before = audit.snapshot(window, FIELDS)
    old_assets = set(window.assets.values_list("pk", flat=True))
    covered_before = _sla_assets_on(window, old_assets, at)

    timing = {f: changes.get(f, getattr(window, f)) for f in ("starts_at", "duration", "timezone")}
    timing["rrule"] = changes.get("rrule", window.rrule)
    schedule = _schedule(timing)
    for field, value in schedule.items():
        setattr(window, field, value)
    if "name" in changes:
        window.name = _text("name", changes["name"], limit=MAX_NAME, required=True)
    if "reason" in changes:
        window.reason = _text("reason", changes["reason"], limit=MAX_REASON, required=False)
    for flag in ("suppress_alerts", "pause_sla"):
        if flag in changes:
            setattr(window, flag, bool(changes[flag]))
    new_assets = old_assets
    if "assets" in changes:
        asset_rows = _members(organization, Asset, "assets", changes["assets"] or ())
        new_assets = {a.pk for a in asset_rows}
    if "monitors" in changes:
        monitor_rows = _members(organization, Monitor, "monitors", changes["monitors"] or ())
    # Edges before now are history; from now on the window as edited drives the timer.
    window.edges_done_until = at
    window.edge_due_at = _next_edge(window, at)
    window.save()
    if "assets" in changes:
        window.assets.set(asset_rows)
    if "monitors" in changes:
        window.monitors.set(monitor_rows)
    _coverage_changed(organization, covered_before, _sla_assets_on(window, new_assets, at), at=at)
    audit.record_update(
        window,
        actor=actor,
        organization=organization,
        before=before,
        fields=FIELDS,
    )
    return window


@transaction.atomic
def delete_window(window: MaintenanceWindow, *, actor: User | None) -> None:
    window = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
    at = now()
    covered = _sla_assets_on(window, window.assets.values_list("pk", flat=True), at)
    _coverage_changed(window.organization, covered, set(), at=at)
    audit.record_delete(
        window,
        actor=actor,
        organization=window.organization,
        fields=FIELDS,
        object_id=window.pk,
    )
    window.delete()


# --- questions other apps ask ----------------------------------------------------------------


def _windows_on_assets(
    asset_ids: Iterable[int], start: datetime, end: datetime, effect: str
) -> list[MaintenanceWindow]:
    ids = sorted(set(asset_ids))
    if not ids:
        return []
    return list(
        MaintenanceWindow.objects.with_effect(effect)
        .filter(assets__in=ids)
        .may_overlap(start, end)
        .distinct()
        .order_by("pk")
    )


def active_for_assets(
    asset_ids: Iterable[int], at: datetime, *, effect: str = Effect.PAUSE_SLA
) -> bool:
    """Is a window with ``effect`` on at ``at`` covering one of these assets?"""
    return any(
        _is_on(window, at) for window in _windows_on_assets(asset_ids, at, at + INSTANT, effect)
    )


def _first_on(
    windows: Iterable[MaintenanceWindow], at: datetime
) -> tuple[MaintenanceWindow, datetime] | None:
    """The first of ``windows`` on at ``at`` and the end of its current occurrence."""
    for window in windows:
        try:
            spans = window.occurrences(at, at + INSTANT)
        except engine.TooManyOccurrences:
            logger.warning("maintenance window %s: too many occurrences to expand", window.pk)
            continue
        if spans:
            return window, max(finish for _, finish in spans)
    return None


def window_on_assets(
    asset_ids: Iterable[int], at: datetime, *, effect: str
) -> tuple[MaintenanceWindow, datetime] | None:
    """The first window with ``effect`` on at ``at`` covering one of these assets, and the end
    of its current occurrence; None when none is on."""
    return _first_on(_windows_on_assets(asset_ids, at, at + INSTANT, effect), at)


def intervals_for_assets(
    asset_ids: Iterable[int], start: datetime, end: datetime, *, effect: str = Effect.PAUSE_SLA
) -> list[engine.Interval]:
    """Sorted, disjoint intervals inside ``[start, end)`` during which a window with
    ``effect`` covers one of these assets.

    Raises :class:`buttress.maintenance.occurrences.TooManyOccurrences` for a period that
    would need too many occurrences expanded.
    """
    if end <= start:
        return []
    spans: list[engine.Interval] = []
    for window in _windows_on_assets(asset_ids, start, end, effect):
        spans.extend(
            (max(begin, start), min(finish, end))
            for begin, finish in window.occurrences(start, end)
        )
    return engine.merge(spans)


def _monitor_windows(monitor_id: int, at: datetime) -> list[MaintenanceWindow]:
    monitor = Monitor.objects.filter(pk=monitor_id).values("asset_id").first()
    if monitor is None:
        return []
    windows = MaintenanceWindow.objects.with_effect(Effect.SUPPRESS_ALERTS).filter(
        monitors=monitor_id
    )
    if monitor["asset_id"] is not None:
        windows = windows | MaintenanceWindow.objects.with_effect(Effect.SUPPRESS_ALERTS).filter(
            assets=monitor["asset_id"]
        )
    return list(windows.may_overlap(at, at + INSTANT).distinct().order_by("pk"))


def active_for_monitor(monitor_id: int, at: datetime) -> bool:
    """Are the monitor's alerts suppressed at ``at``: is a window with ``suppress_alerts`` on
    that names the monitor or the monitor's asset?"""
    return any(_is_on(window, at) for window in _monitor_windows(monitor_id, at))


def window_for_monitor(monitor_id: int, at: datetime) -> tuple[MaintenanceWindow, datetime] | None:
    """The first window suppressing the monitor's alerts at ``at`` (naming the monitor or its
    asset) and the end of its current occurrence; None when none is on."""
    return _first_on(_monitor_windows(monitor_id, at), at)


def ids_on_at(windows: Iterable[MaintenanceWindow], at: datetime) -> list[int]:
    """The ids of those ``windows`` that are on at ``at``."""
    return [window.pk for window in windows if _is_on(window, at)]


def upcoming(
    windows: Sequence[MaintenanceWindow], start: datetime, end: datetime, *, limit: int
) -> dict[int, list[engine.Interval]]:
    """Up to ``limit`` occurrences of each window overlapping ``[start, end)``, by window id."""
    found: dict[int, list[engine.Interval]] = {}
    for window in windows:
        try:
            found[window.pk] = window.occurrences(start, end)[:limit]
        except engine.TooManyOccurrences:
            found[window.pk] = []
    return found
