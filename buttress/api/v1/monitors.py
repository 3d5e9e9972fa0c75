"""/monitors: checks of an organisation's services and heartbeat monitors of its jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Schema
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
from buttress.lib.timeutil import now
from buttress.monitoring import history, latency, services
from buttress.monitoring.access import (
    get_monitor_for,
    get_organization_for_monitors,
    monitors_for,
)
from buttress.monitoring.models import (
    CheckResult,
    Monitor,
    MonitorIncident,
    MonitorKind,
    MonitorStatus,
    Ping,
    RollupLevel,
    ScheduleKind,
    StateChange,
)
from buttress.tenancy.models import Organization

router = Router(tags=["monitors"])


class LastResultOut(Schema):
    at: datetime
    status: str = Field(description="up, down or unknown.")
    latency_ms: float | None
    message: str


class MonitorOut(Schema):
    id: int
    organization: int = Field(validation_alias="organization_id")
    asset: int | None = Field(validation_alias="asset_id")
    name: str
    kind: str
    status: str
    is_paused: bool
    config: dict[str, Any] = Field(description="The check's options (empty for heartbeats).")
    interval: int | None = Field(description="Seconds between checks; null for heartbeats.")
    uuid: UUID | None = Field(description="Heartbeats: the id in the ping URL.")
    ping_url: str | None = Field(description="Heartbeats: where the job reports.")
    slug: str | None = Field(description="Heartbeats: the name in /ping/<ping key>/<slug>.")
    schedule_kind: str | None
    period: int | None = Field(description="Simple schedule: seconds between pings.")
    grace: int | None = Field(description="Heartbeats: seconds late before down.")
    schedule: str | None = Field(description="Cron schedule: a 5-field expression.")
    tz: str | None = Field(description="Cron schedule: the IANA zone it is read in.")
    last_ping_at: datetime | None
    last_start_at: datetime | None = Field(description="A started job not yet finished.")
    down_after: int = Field(description="Checks: consecutive failures before down.")
    up_after: int = Field(description="Checks: consecutive successes before up again.")
    depends_on: int | None = Field(
        validation_alias="depends_on_id", description="The parent monitor, if any."
    )
    depends_on_asset: int | None = Field(
        validation_alias="depends_on_asset_id", description="The parent asset, if any."
    )
    last_checked_at: datetime | None = Field(description="Checks: the newest result's time.")
    last_result: LastResultOut | None = Field(
        description="Checks: the newest result kept, with its latency and message."
    )
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_last_result(obj: Monitor) -> dict[str, Any] | None:
        if "last_result_at" in obj.__dict__:
            # Annotated for the whole page by MonitorQuerySet.with_last_result.
            at = obj.__dict__["last_result_at"]
            if at is None:
                return None
            return {
                "at": at,
                "status": obj.__dict__["last_result_status"],
                "latency_ms": obj.__dict__["last_latency_ms"],
                "message": obj.__dict__["last_message"],
            }
        newest = obj.results.order_by("-at", "-id").first()
        if newest is None:
            return None
        return {
            "at": newest.at,
            "status": newest.status,
            "latency_ms": newest.latency_ms,
            "message": newest.message,
        }

    @staticmethod
    def resolve_interval(obj: Monitor) -> int | None:
        return None if obj.is_heartbeat else obj.interval

    @staticmethod
    def resolve_uuid(obj: Monitor) -> UUID | None:
        return obj.uuid if obj.is_heartbeat else None

    @staticmethod
    def resolve_ping_url(obj: Monitor) -> str | None:
        return services.ping_url(obj) if obj.is_heartbeat else None

    @staticmethod
    def resolve_slug(obj: Monitor) -> str | None:
        return obj.slug if obj.is_heartbeat else None

    @staticmethod
    def resolve_schedule_kind(obj: Monitor) -> str | None:
        return obj.schedule_kind if obj.is_heartbeat else None

    @staticmethod
    def resolve_period(obj: Monitor) -> int | None:
        return obj.period if obj.is_heartbeat and obj.schedule_kind == "simple" else None

    @staticmethod
    def resolve_grace(obj: Monitor) -> int | None:
        return obj.grace if obj.is_heartbeat else None

    @staticmethod
    def resolve_schedule(obj: Monitor) -> str | None:
        return obj.schedule if obj.is_heartbeat and obj.schedule_kind == "cron" else None

    @staticmethod
    def resolve_tz(obj: Monitor) -> str | None:
        return obj.tz if obj.is_heartbeat and obj.schedule_kind == "cron" else None


class MonitorIn(Schema):
    organization: int
    name: str = Field(min_length=1, max_length=200)
    kind: MonitorKind
    asset: int | None = Field(None, description="An asset of the same organisation.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="The check's options (see docs/monitoring.md)."
    )
    interval: int = Field(60, description="Seconds between checks, 10 to 86400.")
    slug: str = Field("", max_length=services.MAX_SLUG, description="Heartbeats only.")
    period: int = Field(services.DEFAULT_PERIOD, description="Heartbeats: 60 s to a year.")
    grace: int = Field(services.DEFAULT_GRACE, description="Heartbeats: 60 s to a year.")
    schedule: str | None = Field(
        None, description="Heartbeats: a cron expression instead of a period."
    )
    tz: str = Field("UTC", description="Heartbeats: the IANA zone of the cron schedule.")
    down_after: int = Field(2, description="Consecutive failures before down, 1 to 10.")
    up_after: int = Field(1, description="Consecutive successes before up again, 1 to 10.")
    depends_on: int | None = Field(None, description="A parent monitor of the organisation.")
    depends_on_asset: int | None = Field(None, description="A parent asset of the organisation.")


class MonitorPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    asset: int | None = None
    config: dict[str, Any] | None = None
    interval: int | None = None
    slug: str | None = Field(None, max_length=services.MAX_SLUG)
    period: int | None = None
    grace: int | None = None
    schedule: str | None = Field(None, description="A cron expression; null: simple schedule.")
    tz: str | None = None
    down_after: int | None = None
    up_after: int | None = None
    depends_on: int | None = None
    depends_on_asset: int | None = None


class MonitorFilters(Schema):
    organization: int | None = None
    kind: MonitorKind | None = None
    status: MonitorStatus | None = None
    asset: int | None = Field(None, description="An asset id.")
    q: str | None = Field(None, description="Name contains (case-insensitive).")


class PingOut(Schema):
    id: int
    n: int = Field(description="The monitor's ping counter.")
    at: datetime
    kind: str
    exit_status: int | None
    remote_addr: str | None
    method: str
    user_agent: str
    body: str = Field(description="The first MONITORING_PING_BODY_LIMIT bytes.")
    body_size: int = Field(description="Bytes received.")
    rid: UUID | None
    duration: float | None = Field(description="Seconds since the matching start.")

    @staticmethod
    def resolve_duration(obj: Ping) -> float | None:
        return obj.duration.total_seconds() if obj.duration is not None else None


class StateChangeOut(Schema):
    id: int
    at: datetime
    from_status: str
    to_status: str
    reason: str


class UptimeParams(Schema):
    start: datetime = Field(description="The period's start, with a time zone.")
    end: datetime = Field(description="The period's end (excluded), with a time zone.")
    exclude_maintenance: bool = Field(
        False, description="Leave out time covered by maintenance windows of the monitor."
    )


class UptimeOut(Schema):
    monitor: int
    start: datetime
    end: datetime
    exclude_maintenance: bool
    uptime: float | None = Field(
        description="Up time over counted time, 0 to 1; null when nothing was counted."
    )
    up_seconds: float = Field(description="Seconds up (late counts as up).")
    down_seconds: float = Field(description="Seconds down (flapping counts as down).")
    counted_seconds: float = Field(
        description="Up plus down: unknown, paused and unreachable time is not counted."
    )


class CheckResultOut(Schema):
    id: int
    at: datetime = Field(description="When the check started.")
    status: str = Field(description="up, down or unknown.")
    latency_ms: float | None = Field(description="Null when the check never reached the target.")
    message: str


class LatencyParams(Schema):
    resolution: RollupLevel = Field(RollupLevel.HOUR, description="minute, hour or day.")
    since: datetime | None = Field(
        None, description="Buckets starting at or after this; default: 24 h, 30 d or 365 d ago."
    )
    until: datetime | None = Field(None, description="Buckets starting before this; default now.")


class LatencyPointOut(Schema):
    start: datetime = Field(description="The bucket's start (UTC).")
    count: int = Field(description="Results in the bucket.")
    failures: int = Field(description="Down results.")
    unknowns: int = Field(description="Results that judged nothing.")
    p50_ms: float | None = Field(description="Median latency (nearest rank).")
    p95_ms: float | None = Field(description="95th percentile latency (nearest rank).")
    max_ms: float | None


class LatencyOut(Schema):
    monitor: int
    resolution: str
    since: datetime
    until: datetime
    points: list[LatencyPointOut] = Field(
        description="Oldest first; a bucket without results has no point."
    )


class IncidentOut(Schema):
    id: int
    ticket: int = Field(validation_alias="ticket_id")
    number: int = Field(validation_alias="ticket.number", description="The ticket's number.")
    subject: str = Field(validation_alias="ticket.subject")
    ticket_status: str = Field(validation_alias="ticket.status")
    opened_at: datetime
    recovered_at: datetime | None = Field(description="When the monitor was up again.")


class PingKeyOut(Schema):
    organization: int
    ping_key: str = Field(description="Shown only now: only its hash is stored.")
    prefix: str
    created_at: datetime


def _asset(organization: Organization, pk: int | None) -> Asset | None:
    if pk is None:
        return None
    asset = Asset.objects.for_org(organization).filter(pk=pk).first()
    if asset is None:
        raise ValidationError({"asset": f"There is no asset {pk} in this organisation."})
    return asset


def _parent(organization: Organization, pk: int | None) -> Monitor | None:
    if pk is None:
        return None
    parent = Monitor.objects.for_org(organization).filter(pk=pk).first()
    if parent is None:
        raise ValidationError({"depends_on": f"There is no monitor {pk} in this organisation."})
    return parent


def _parent_asset(organization: Organization, pk: int | None) -> Asset | None:
    try:
        return _asset(organization, pk)
    except ValidationError as exc:
        raise ValidationError({"depends_on_asset": exc.message_dict["asset"]}) from exc


@router.get("/monitors", response=responses(CursorPage[MonitorOut]))
def list_monitors(
    request: HttpRequest, filters: Query[MonitorFilters], page: Query[PageParams]
) -> dict[str, Any]:
    user = current_user(request)
    if filters.organization is not None:
        org = get_organization_for_monitors(user, filters.organization)
        queryset = Monitor.objects.for_org(org)
    else:
        queryset = monitors_for(user)
    if filters.kind is not None:
        queryset = queryset.filter(kind=filters.kind)
    if filters.status is not None:
        queryset = queryset.filter(status=filters.status)
    if filters.asset is not None:
        queryset = queryset.filter(asset_id=filters.asset)
    if filters.q:
        queryset = queryset.filter(name__icontains=filters.q)
    return paginated(queryset.with_last_result(), page)


@router.post("/monitors", response=responses(MonitorOut, 201))
def create_monitor(request: HttpRequest, body: MonitorIn) -> HttpStatus[Monitor]:
    require_write(request)
    user = current_user(request)
    org = get_organization_for_monitors(user, body.organization, write=True)
    if body.kind != MonitorKind.HEARTBEAT:
        services.refuse_heartbeat_fields(
            {"slug", "period", "grace", "schedule", "tz"} & body.model_fields_set
        )
    monitor = services.create_monitor(
        org,
        actor=user,
        name=body.name,
        kind=body.kind,
        config=body.config,
        asset=_asset(org, body.asset),
        interval=body.interval,
        slug=body.slug,
        schedule_kind=ScheduleKind.CRON if body.schedule else ScheduleKind.SIMPLE,
        period=body.period,
        grace=body.grace,
        schedule=body.schedule or "",
        tz=body.tz,
        down_after=body.down_after,
        up_after=body.up_after,
        depends_on=_parent(org, body.depends_on),
        depends_on_asset=_parent_asset(org, body.depends_on_asset),
    )
    return HttpStatus(201, monitor)


@router.get("/monitors/{monitor_id}", response=responses(MonitorOut))
def get_monitor(request: HttpRequest, monitor_id: int) -> Monitor:
    return get_monitor_for(current_user(request), monitor_id)


@router.patch("/monitors/{monitor_id}", response=responses(MonitorOut))
def update_monitor(request: HttpRequest, monitor_id: int, body: MonitorPatch) -> Monitor:
    require_write(request)
    user = current_user(request)
    monitor = get_monitor_for(user, monitor_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    for field in (
        *("name", "config", "interval", "slug", "period", "grace", "tz"),
        *("down_after", "up_after"),
    ):
        if field in changes and changes[field] is None:
            raise ValidationError({field: "This field cannot be null."})
    if "asset" in changes:
        changes["asset"] = _asset(monitor.organization, changes["asset"])
    if "depends_on" in changes:
        changes["depends_on"] = _parent(monitor.organization, changes["depends_on"])
    if "depends_on_asset" in changes:
        changes["depends_on_asset"] = _parent_asset(
            monitor.organization, changes["depends_on_asset"]
        )
    if "schedule" in changes:
        schedule = changes["schedule"] or ""
        changes["schedule"] = schedule
        changes["schedule_kind"] = ScheduleKind.CRON if schedule else ScheduleKind.SIMPLE
    return services.update_monitor(monitor, actor=user, **changes)


@router.delete("/monitors/{monitor_id}", response=responses(None, 204))
def delete_monitor(request: HttpRequest, monitor_id: int) -> HttpStatus[None]:
    require_write(request)
    user = current_user(request)
    services.delete_monitor(get_monitor_for(user, monitor_id, write=True), actor=user)
    return HttpStatus(204, None)


@router.post("/monitors/{monitor_id}/pause", response=responses(MonitorOut))
def pause_monitor(request: HttpRequest, monitor_id: int) -> Monitor:
    require_write(request)
    user = current_user(request)
    return services.pause_monitor(get_monitor_for(user, monitor_id, write=True), actor=user)


@router.post("/monitors/{monitor_id}/resume", response=responses(MonitorOut))
def resume_monitor(request: HttpRequest, monitor_id: int) -> Monitor:
    require_write(request)
    user = current_user(request)
    return services.resume_monitor(get_monitor_for(user, monitor_id, write=True), actor=user)


@router.get("/monitors/{monitor_id}/pings", response=responses(CursorPage[PingOut]))
def list_pings(request: HttpRequest, monitor_id: int, page: Query[PageParams]) -> dict[str, Any]:
    monitor = get_monitor_for(current_user(request), monitor_id)
    return paginated(Ping.objects.filter(monitor=monitor), page, order=("-id",))


@router.get("/monitors/{monitor_id}/state-changes", response=responses(CursorPage[StateChangeOut]))
def list_state_changes(
    request: HttpRequest, monitor_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    monitor = get_monitor_for(current_user(request), monitor_id)
    return paginated(StateChange.objects.filter(monitor=monitor), page, order=("-at", "-id"))


@router.get("/monitors/{monitor_id}/results", response=responses(CursorPage[CheckResultOut]))
def list_results(request: HttpRequest, monitor_id: int, page: Query[PageParams]) -> dict[str, Any]:
    """The monitor's raw check results kept (BUTTRESS_RESULTS_DAYS), newest first."""
    monitor = get_monitor_for(current_user(request), monitor_id)
    return paginated(CheckResult.objects.filter(monitor=monitor), page, order=("-at", "-id"))


@router.get("/monitors/{monitor_id}/latency", response=responses(LatencyOut))
def get_latency(
    request: HttpRequest, monitor_id: int, params: Query[LatencyParams]
) -> dict[str, Any]:
    """The monitor's rollups at one resolution: count, failures and latency percentiles."""
    monitor = get_monitor_for(current_user(request), monitor_id)
    level = RollupLevel(params.resolution).value
    since, until = latency.period(level, since=params.since, until=params.until, at=now())
    return {
        "monitor": monitor.pk,
        "resolution": level,
        "since": since,
        "until": until,
        "points": latency.series(monitor, level=level, since=since, until=until),
    }


@router.get("/monitors/{monitor_id}/incidents", response=responses(CursorPage[IncidentOut]))
def list_incidents(
    request: HttpRequest, monitor_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    """The incident tickets the monitor opened, newest first."""
    monitor = get_monitor_for(current_user(request), monitor_id)
    incidents = MonitorIncident.objects.filter(monitor=monitor).select_related("ticket")
    return paginated(incidents, page, order=("-opened_at", "-id"))


@router.get("/monitors/{monitor_id}/uptime", response=responses(UptimeOut))
def get_uptime(
    request: HttpRequest, monitor_id: int, params: Query[UptimeParams]
) -> dict[str, Any]:
    """The share of ``[start, end)`` the monitor was up, from its state changes."""
    monitor = get_monitor_for(current_user(request), monitor_id)
    measured = history.uptime(
        monitor,
        start=params.start,
        end=params.end,
        exclude_maintenance=params.exclude_maintenance,
    )
    return {
        "monitor": monitor.pk,
        "start": measured.start,
        "end": measured.end,
        "exclude_maintenance": params.exclude_maintenance,
        "uptime": measured.fraction,
        "up_seconds": measured.up.total_seconds(),
        "down_seconds": measured.down.total_seconds(),
        "counted_seconds": measured.counted.total_seconds(),
    }


@router.post("/organizations/{org_id}/ping-key", response=responses(PingKeyOut, 201))
def rotate_ping_key(request: HttpRequest, org_id: int) -> HttpStatus[dict[str, Any]]:
    """A new key for the organisation's slug ping URLs; the old key stops working."""
    require_write(request)
    user = current_user(request)
    org = get_organization_for_monitors(user, org_id, write=True)
    ping_key, secret = services.rotate_ping_key(org, actor=user)
    return HttpStatus(
        201,
        {
            "organization": org.pk,
            "ping_key": secret,
            "prefix": ping_key.prefix,
            "created_at": ping_key.created_at,
        },
    )
