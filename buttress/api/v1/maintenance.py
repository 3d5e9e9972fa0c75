"""/maintenance-windows: when an organisation's assets and monitors are under maintenance."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as HttpStatus
from pydantic import Field

from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    paginated,
    require_write,
    responses,
)
from buttress.assets.models import Asset
from buttress.lib.ical import response as ical_response
from buttress.maintenance import access, ical, services
from buttress.maintenance import occurrences as engine
from buttress.maintenance.models import MaintenanceWindow
from buttress.monitoring.models import Monitor

router = Router(tags=["maintenance"])

# An occurrences request covers at most this long; active_at checks at most this many windows.
MAX_PERIOD = timedelta(days=366)
MAX_ACTIVE_CANDIDATES = 5000


class WindowOut(Schema):
    id: int
    organization: int = Field(validation_alias="organization_id")
    name: str
    reason: str
    starts_at: datetime = Field(description="The first occurrence's start.")
    duration: int = Field(description="Seconds.")
    timezone: str
    rrule: str = Field(description="RFC 5545 RRULE; empty for a one-off window.")
    assets: list[int]
    monitors: list[int]
    suppress_alerts: bool
    pause_sla: bool
    last_end_at: datetime | None = Field(description="End of the last occurrence; null: none.")
    next_edge_at: datetime | None = Field(
        validation_alias="edge_due_at", description="The next start or end still to come."
    )
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_duration(obj: MaintenanceWindow) -> int:
        return int(obj.duration.total_seconds())

    @staticmethod
    def resolve_assets(obj: MaintenanceWindow) -> list[int]:
        return sorted(asset.pk for asset in obj.assets.all())

    @staticmethod
    def resolve_monitors(obj: MaintenanceWindow) -> list[int]:
        return sorted(monitor.pk for monitor in obj.monitors.all())


class WindowIn(Schema):
    organization: int
    name: str = Field(min_length=1, max_length=services.MAX_NAME)
    reason: str = Field("", max_length=services.MAX_REASON)
    starts_at: datetime = Field(description="With a UTC offset.")
    duration: int = Field(description="Seconds, 60 to 2678400 (31 days).")
    timezone: str = Field("UTC", description="IANA zone the rule repeats in.")
    rrule: str = Field("", description="e.g. FREQ=WEEKLY;BYDAY=SU;COUNT=10. Empty: once.")
    assets: list[int] = Field(default_factory=list, description="Assets of the organisation.")
    monitors: list[int] = Field(default_factory=list, description="Monitors of the organisation.")
    suppress_alerts: bool = True
    pause_sla: bool = True


class WindowPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=services.MAX_NAME)
    reason: str | None = Field(None, max_length=services.MAX_REASON)
    starts_at: datetime | None = None
    duration: int | None = None
    timezone: str | None = None
    rrule: str | None = None
    assets: list[int] | None = None
    monitors: list[int] | None = None
    suppress_alerts: bool | None = None
    pause_sla: bool | None = None


class WindowFilters(Schema):
    organization: int | None = None
    asset: int | None = Field(None, description="Windows covering this asset.")
    monitor: int | None = Field(None, description="Windows naming this monitor.")
    active_at: datetime | None = Field(None, description="Windows on at this instant.")


class OccurrenceOut(Schema):
    start: datetime
    end: datetime


class PeriodParams(Schema):
    start: datetime = Field(description="With a UTC offset.")
    end: datetime = Field(description="With a UTC offset; at most 366 days after start.")


class CalendarParams(Schema):
    organization: int


def _duration(seconds: int | None) -> timedelta:
    if seconds is None:
        raise ValidationError({"duration": "This field cannot be null."})
    if not 0 < seconds <= 10**9:
        raise ValidationError({"duration": "A window lasts from 1 minute to 31 days."})
    return timedelta(seconds=seconds)


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationError({field: "Give a UTC offset (e.g. 2026-12-01T02:00:00+01:00)."})
    return value


def _with_members(queryset: Any) -> Any:
    return queryset.prefetch_related(
        Prefetch("assets", queryset=Asset.objects.only("id")),
        Prefetch("monitors", queryset=Monitor.objects.only("id")),
    )


@router.get("/maintenance-windows", response=responses(CursorPage[WindowOut]))
def list_windows(
    request: HttpRequest, filters: Query[WindowFilters], page: Query[PageParams]
) -> dict[str, Any]:
    user = current_user(request)
    if filters.organization is not None:
        org = access.get_organization_for_windows(user, filters.organization)
        queryset = MaintenanceWindow.objects.for_org(org)
    else:
        queryset = access.windows_for(user)
    if filters.asset is not None:
        queryset = queryset.filter(assets=filters.asset)
    if filters.monitor is not None:
        queryset = queryset.filter(monitors=filters.monitor)
    if filters.active_at is not None:
        at = _aware(filters.active_at, "active_at")
        # Which windows are on is decided by their rules; the candidates are bounded by the
        # first start and last end, and their ids become the filter the page walks.
        candidates = queryset.may_overlap(at, at + services.INSTANT).distinct()
        on = services.ids_on_at(candidates[:MAX_ACTIVE_CANDIDATES], at)
        queryset = queryset.filter(pk__in=on)
    return paginated(_with_members(queryset), page, order=("starts_at", "id"))


@router.post("/maintenance-windows", response=responses(WindowOut, 201))
def create_window(request: HttpRequest, body: WindowIn) -> HttpStatus[MaintenanceWindow]:
    require_write(request)
    user = current_user(request)
    org = access.get_organization_for_windows(user, body.organization, write=True)
    window = services.create_window(
        org,
        actor=user,
        name=body.name,
        reason=body.reason,
        starts_at=_aware(body.starts_at, "starts_at"),
        duration=_duration(body.duration),
        timezone=body.timezone,
        rrule=body.rrule,
        assets=body.assets,
        monitors=body.monitors,
        suppress_alerts=body.suppress_alerts,
        pause_sla=body.pause_sla,
    )
    return HttpStatus(201, window)


@router.get("/maintenance-windows/calendar.ics", response=responses(None))
def calendar_feed(request: HttpRequest, params: Query[CalendarParams]) -> HttpResponse:
    """The organisation's windows as iCalendar (text/calendar)."""
    org = access.get_organization_for_calendar(current_user(request), pk=params.organization)
    return ical_response(ical.organization_feed(org))


@router.get("/maintenance-windows/{window_id}", response=responses(WindowOut))
def get_window(request: HttpRequest, window_id: int) -> MaintenanceWindow:
    return access.get_window_for(current_user(request), window_id)


@router.patch("/maintenance-windows/{window_id}", response=responses(WindowOut))
def update_window(request: HttpRequest, window_id: int, body: WindowPatch) -> MaintenanceWindow:
    require_write(request)
    user = current_user(request)
    window = access.get_window_for(user, window_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "starts_at", "timezone", "suppress_alerts", "pause_sla"):
        if field in changes and changes[field] is None:
            raise ValidationError({field: "This field cannot be null."})
    for field in ("reason", "rrule"):
        if field in changes and changes[field] is None:
            changes[field] = ""
    for field in ("assets", "monitors"):
        if field in changes and changes[field] is None:
            changes[field] = []
    if "duration" in changes:
        changes["duration"] = _duration(changes["duration"])
    if "starts_at" in changes:
        changes["starts_at"] = _aware(changes["starts_at"], "starts_at")
    return services.update_window(window, actor=user, **changes)


@router.delete("/maintenance-windows/{window_id}", response=responses(None, 204))
def delete_window(request: HttpRequest, window_id: int) -> HttpStatus[None]:
    require_write(request)
    user = current_user(request)
    services.delete_window(access.get_window_for(user, window_id, write=True), actor=user)
    return HttpStatus(204, None)


@router.get("/maintenance-windows/{window_id}/occurrences", response=responses(list[OccurrenceOut]))
def list_occurrences(
    request: HttpRequest, window_id: int, period: Query[PeriodParams]
) -> list[dict[str, datetime]]:
    """Each occurrence overlapping ``[start, end)``, in UTC."""
    window = access.get_window_for(current_user(request), window_id)
    start, end = _aware(period.start, "start"), _aware(period.end, "end")
    if end <= start:
        raise ValidationError({"end": "The period ends before it starts."})
    if end - start > MAX_PERIOD:
        raise ValidationError({"end": "Ask for at most 366 days at a time."})
    try:
        found = window.occurrences(start, end)
    except engine.TooManyOccurrences as exc:
        raise HttpError(400, str(exc)) from exc
    return [{"start": begin, "end": finish} for begin, finish in found]
