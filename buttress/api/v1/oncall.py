"""/oncall: schedules, their layers, overrides and swaps, and who is on call."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
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
    team_param,
)
from buttress.lib.timeutil import now
from buttress.oncall import access, services
from buttress.oncall.models import Layer, LayerMember, Override, OverrideKind, Schedule
from buttress.oncall.services import ScheduleShift

router = Router(tags=["on-call"])

# "Who is on call now" looks this far ahead to say until when.
NOW_HORIZON = timedelta(days=14)
MAX_NOW_SCHEDULES = 200


class ScheduleOut(Schema):
    id: int
    organization: int | None = Field(
        validation_alias="organization_id", description="Null: a provider-wide schedule."
    )
    name: str
    description: str
    timezone: str
    team: int | None = Field(validation_alias="team_id")
    created_at: datetime
    updated_at: datetime


class ScheduleIn(Schema):
    organization: int | None = Field(None, description="Empty for a provider-wide schedule.")
    name: str = Field(min_length=1, max_length=services.MAX_NAME)
    description: str = Field("", max_length=services.MAX_DESCRIPTION)
    timezone: str = Field("UTC", description="IANA zone of handoffs and restrictions.")
    team: int | None = None


class SchedulePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=services.MAX_NAME)
    description: str | None = Field(None, max_length=services.MAX_DESCRIPTION)
    timezone: str | None = None
    team: int | None = None


class ScheduleFilters(Schema):
    organization: int | None = None
    shared: bool | None = Field(None, description="true: only provider-wide schedules.")


class LayerOut(Schema):
    id: int
    schedule: int = Field(validation_alias="schedule_id")
    name: str
    position: int = Field(description="Higher positions win where they have someone.")
    rotation: str
    shift_length: int
    shift_unit: str
    start_date: date
    handoff_time: time
    participants: list[int] = Field(description="User ids in rotation order.")
    restrictions: dict[str, list[list[str]]]

    @staticmethod
    def resolve_participants(obj: Layer) -> list[int]:
        return obj.participant_ids()


class LayerIn(Schema):
    name: str = Field(min_length=1, max_length=services.MAX_NAME)
    rotation: str = Field("weekly", description="daily, weekly or custom.")
    shift_length: int = Field(1, description="Custom rotation: hours or days per shift.")
    shift_unit: str = Field("days", description="Custom rotation: hours or days.")
    start_date: date = Field(description="The first shift's day in the schedule's zone.")
    handoff_time: time = Field(time(9), description="Local time of each handoff (HH:MM).")
    participants: list[int] = Field(description="User ids in rotation order.")
    restrictions: dict[str, Any] = Field(
        default_factory=dict, description='{"0": [["09:00", "17:00"]]} (0 = Monday).'
    )
    position: int | None = Field(None, description="Default: on top of the others.")


class LayerPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=services.MAX_NAME)
    rotation: str | None = None
    shift_length: int | None = None
    shift_unit: str | None = None
    start_date: date | None = None
    handoff_time: time | None = None
    participants: list[int] | None = None
    restrictions: dict[str, Any] | None = None
    position: int | None = None


class OverrideOut(Schema):
    id: int
    schedule: int = Field(validation_alias="schedule_id")
    kind: str = Field(description="override or swap.")
    user: int = Field(validation_alias="user_id")
    replaces: int | None = Field(validation_alias="replaces_id")
    starts_at: datetime
    ends_at: datetime
    note: str
    created_by: int | None = Field(validation_alias="created_by_id")
    created_at: datetime


class OverrideIn(Schema):
    user: int = Field(description="Who is on call instead.")
    starts_at: datetime
    ends_at: datetime
    note: str = Field("", max_length=services.MAX_NOTE)


class SwapIn(OverrideIn):
    replaces: int = Field(description="Whose on-call time within the range is taken.")


class OverrideFilters(Schema):
    start: datetime | None = Field(None, description="Overrides ending after this.")
    end: datetime | None = Field(None, description="Overrides starting before this.")


class ShiftOut(Schema):
    schedule: int
    start: datetime
    end: datetime
    user: int
    user_name: str
    user_email: str
    source: str = Field(description="layer, override or swap.")
    layer: int | None
    override: int | None


class OnCallParams(Schema):
    at: datetime | None = Field(None, description="One instant (default now).")
    start: datetime | None = Field(None, description="With end: shifts overlapping the range.")
    end: datetime | None = Field(None, description="At most 367 days after start.")


class NowParams(Schema):
    organization: int | None = Field(None, description="Only this organisation's schedules.")


class NowOut(Schema):
    schedule: int
    schedule_name: str
    organization: int | None
    shift: ShiftOut | None = Field(description="Null: nobody is on call.")


class FeedOut(Schema):
    url: str = Field(description="The secret address; shown only in this answer.")


def _shift(shift: ScheduleShift) -> dict[str, Any]:
    return {
        "schedule": shift.schedule.pk,
        "start": shift.start,
        "end": shift.end,
        "user": shift.user.pk,
        "user_name": shift.user.display_name,
        "user_email": shift.user.email,
        "source": shift.source,
        "layer": shift.layer.pk if shift.layer is not None else None,
        "override": shift.override.pk if shift.override is not None else None,
    }


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationError({field: "Give a UTC offset (e.g. 2026-12-01T09:00:00+01:00)."})
    return value


def _feed_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(f"/oncall/feeds/{token}.ics")


# --- schedules -------------------------------------------------------------------------------


@router.get("/oncall/schedules", response=responses(CursorPage[ScheduleOut]))
def list_schedules(
    request: HttpRequest, filters: Query[ScheduleFilters], page: Query[PageParams]
) -> dict[str, Any]:
    user = current_user(request)
    queryset = access.schedules_for(user)
    if filters.organization is not None:
        org = access.get_organization_for_schedules(user, filters.organization)
        queryset = queryset.for_org(org)
    if filters.shared is True:
        queryset = queryset.shared()
    elif filters.shared is False:
        queryset = queryset.filter(organization__isnull=False)
    return paginated(queryset, page, order=("name", "id"))


@router.post("/oncall/schedules", response=responses(ScheduleOut, 201))
def create_schedule(request: HttpRequest, body: ScheduleIn) -> HttpStatus[Schedule]:
    require_write(request)
    user = current_user(request)
    org = (
        access.get_organization_for_schedules(user, body.organization, write=True)
        if body.organization is not None
        else None
    )
    if org is None:
        access.require_change(user, None, shared=True)
    schedule = services.create_schedule(
        actor=user,
        organization=org,
        name=body.name,
        description=body.description,
        timezone=body.timezone,
        team=team_param(body.team, field="team"),
    )
    return HttpStatus(201, schedule)


@router.get("/oncall/now", response=responses(list[NowOut]))
def who_is_on_call_now(request: HttpRequest, params: Query[NowParams]) -> list[dict[str, Any]]:
    """Every visible schedule (at most 200, by name) with the shift in force now."""
    user = current_user(request)
    queryset = access.schedules_for(user)
    if params.organization is not None:
        org = access.get_organization_for_schedules(user, params.organization)
        queryset = queryset.for_org(org)
    schedules = list(queryset.order_by("name", "id")[:MAX_NOW_SCHEDULES])
    current = services.current_shifts(schedules, now(), horizon=NOW_HORIZON)
    return [
        {
            "schedule": schedule.pk,
            "schedule_name": schedule.name,
            "organization": schedule.organization_id,
            "shift": _shift(shift) if (shift := current[schedule.pk]) is not None else None,
        }
        for schedule in schedules
    ]


@router.post("/oncall/my-feed", response=responses(FeedOut))
def rotate_my_feed(request: HttpRequest) -> dict[str, str]:
    """A new secret iCalendar address for the caller's own shifts; the old one stops working."""
    require_write(request)
    user = current_user(request)
    if not access.is_staff(user):
        raise ValidationError({"user": "Only provider staff have on-call calendars."})
    return {"url": _feed_url(request, services.rotate_user_feed(user, actor=user))}


@router.get("/oncall/schedules/{schedule_id}", response=responses(ScheduleOut))
def get_schedule(request: HttpRequest, schedule_id: int) -> Schedule:
    return access.get_schedule_for(current_user(request), schedule_id)


@router.patch("/oncall/schedules/{schedule_id}", response=responses(ScheduleOut))
def update_schedule(request: HttpRequest, schedule_id: int, body: SchedulePatch) -> Schedule:
    require_write(request)
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "timezone"):
        if field in changes and changes[field] is None:
            raise ValidationError({field: "This field cannot be null."})
    if changes.get("description", "") is None:
        changes["description"] = ""
    if "team" in changes:
        changes["team"] = team_param(changes["team"], field="team")
    return services.update_schedule(schedule, actor=user, **changes)


@router.delete("/oncall/schedules/{schedule_id}", response=responses(None, 204))
def delete_schedule(request: HttpRequest, schedule_id: int) -> HttpStatus[None]:
    require_write(request)
    user = current_user(request)
    services.delete_schedule(access.get_schedule_for(user, schedule_id, write=True), actor=user)
    return HttpStatus(204, None)


@router.get("/oncall/schedules/{schedule_id}/on-call", response=responses(list[ShiftOut]))
def on_call(
    request: HttpRequest, schedule_id: int, params: Query[OnCallParams]
) -> list[dict[str, Any]]:
    """``?at=``: the shift in force then (an empty list: nobody), with its whole extent up to
    14 days either side; ``?start=&end=``: every shift overlapping the range, clipped to it."""
    schedule = access.get_schedule_for(current_user(request), schedule_id)
    if params.start is not None or params.end is not None:
        if params.at is not None:
            raise ValidationError({"at": "Give either at or start and end."})
        if params.start is None or params.end is None:
            raise ValidationError({"end" if params.end is None else "start": "Give both."})
        start, end = _aware(params.start, "start"), _aware(params.end, "end")
        return [_shift(shift) for shift in services.shifts(schedule, start, end)]
    at = _aware(params.at, "at") if params.at is not None else now()
    around = services.shifts(schedule, at - NOW_HORIZON, at + NOW_HORIZON)
    return [_shift(shift) for shift in around if shift.start <= at < shift.end]


@router.post("/oncall/schedules/{schedule_id}/feed", response=responses(FeedOut))
def rotate_schedule_feed(request: HttpRequest, schedule_id: int) -> dict[str, str]:
    """A new secret iCalendar address for the schedule; the old one stops working."""
    require_write(request)
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    return {"url": _feed_url(request, services.rotate_schedule_feed(schedule, actor=user))}


# --- layers ----------------------------------------------------------------------------------


@router.get("/oncall/schedules/{schedule_id}/layers", response=responses(list[LayerOut]))
def list_layers(request: HttpRequest, schedule_id: int) -> list[Layer]:
    """Lowest first (a schedule has at most 20)."""
    schedule = access.get_schedule_for(current_user(request), schedule_id)
    return list(
        schedule.layers.prefetch_related(
            Prefetch("members", queryset=LayerMember.objects.order_by("position"))
        ).order_by("position", "id")
    )


@router.post("/oncall/schedules/{schedule_id}/layers", response=responses(LayerOut, 201))
def add_layer(request: HttpRequest, schedule_id: int, body: LayerIn) -> HttpStatus[Layer]:
    require_write(request)
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    layer = services.add_layer(schedule, actor=user, **body.model_dump())
    return HttpStatus(201, layer)


@router.get("/oncall/layers/{layer_id}", response=responses(LayerOut))
def get_layer(request: HttpRequest, layer_id: int) -> Layer:
    return access.get_layer_for(current_user(request), layer_id)


@router.patch("/oncall/layers/{layer_id}", response=responses(LayerOut))
def update_layer(request: HttpRequest, layer_id: int, body: LayerPatch) -> Layer:
    require_write(request)
    user = current_user(request)
    layer = access.get_layer_for(user, layer_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field != "restrictions":
            raise ValidationError({field: "This field cannot be null."})
    return services.update_layer(layer, actor=user, **changes)


@router.delete("/oncall/layers/{layer_id}", response=responses(None, 204))
def delete_layer(request: HttpRequest, layer_id: int) -> HttpStatus[None]:
    require_write(request)
    user = current_user(request)
    services.delete_layer(access.get_layer_for(user, layer_id, write=True), actor=user)
    return HttpStatus(204, None)


# --- overrides and swaps ---------------------------------------------------------------------


def _overrides(
    request: HttpRequest, schedule_id: int, filters: OverrideFilters, page: PageParams, kind: str
) -> dict[str, Any]:
    schedule = access.get_schedule_for(current_user(request), schedule_id)
    queryset = Override.objects.filter(schedule=schedule, kind=kind)
    if filters.start is not None:
        queryset = queryset.filter(ends_at__gt=_aware(filters.start, "start"))
    if filters.end is not None:
        queryset = queryset.filter(starts_at__lt=_aware(filters.end, "end"))
    return paginated(queryset, page, order=("starts_at", "id"))


@router.get(
    "/oncall/schedules/{schedule_id}/overrides", response=responses(CursorPage[OverrideOut])
)
def list_overrides(
    request: HttpRequest,
    schedule_id: int,
    filters: Query[OverrideFilters],
    page: Query[PageParams],
) -> dict[str, Any]:
    return _overrides(request, schedule_id, filters, page, OverrideKind.OVERRIDE)


@router.post("/oncall/schedules/{schedule_id}/overrides", response=responses(OverrideOut, 201))
def add_override(request: HttpRequest, schedule_id: int, body: OverrideIn) -> HttpStatus[Override]:
    require_write(request)
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    override = services.add_override(
        schedule,
        actor=user,
        user=body.user,
        starts_at=_aware(body.starts_at, "starts_at"),
        ends_at=_aware(body.ends_at, "ends_at"),
        note=body.note,
    )
    return HttpStatus(201, override)


@router.get("/oncall/schedules/{schedule_id}/swaps", response=responses(CursorPage[OverrideOut]))
def list_swaps(
    request: HttpRequest,
    schedule_id: int,
    filters: Query[OverrideFilters],
    page: Query[PageParams],
) -> dict[str, Any]:
    return _overrides(request, schedule_id, filters, page, OverrideKind.SWAP)


@router.post("/oncall/schedules/{schedule_id}/swaps", response=responses(OverrideOut, 201))
def add_swap(request: HttpRequest, schedule_id: int, body: SwapIn) -> HttpStatus[Override]:
    require_write(request)
    user = current_user(request)
    schedule = access.get_schedule_for(user, schedule_id, write=True)
    swap = services.add_swap(
        schedule,
        actor=user,
        user=body.user,
        replaces=body.replaces,
        starts_at=_aware(body.starts_at, "starts_at"),
        ends_at=_aware(body.ends_at, "ends_at"),
        note=body.note,
    )
    return HttpStatus(201, swap)


@router.get("/oncall/overrides/{override_id}", response=responses(OverrideOut))
def get_override(request: HttpRequest, override_id: int) -> Override:
    """An override or a swap."""
    return access.get_override_for(current_user(request), override_id)


@router.delete("/oncall/overrides/{override_id}", response=responses(None, 204))
def delete_override(request: HttpRequest, override_id: int) -> HttpStatus[None]:
    """Removes an override or a swap."""
    require_write(request)
    user = current_user(request)
    services.delete_override(access.get_override_for(user, override_id, write=True), actor=user)
    return HttpStatus(204, None)
