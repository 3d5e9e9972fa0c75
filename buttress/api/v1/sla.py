"""/sla: business calendars, SLA policies and the rules that choose a policy for a ticket."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import Field

from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    optional_organization,
    paginated,
    require_write,
    responses,
)
from buttress.desk.models import Priority, TicketType
from buttress.sla import access, services
from buttress.sla.calendar import NoBusinessTime
from buttress.sla.models import Calendar, PolicyRule, SlaPolicy, engine_years
from buttress.tenancy.models import Organization

router = Router(tags=["sla"])

# The simulator asks about spans of business time; a year of minutes is far beyond any target.
MAX_MINUTES = services.MAX_TARGET_MINUTES


class CalendarOut(Schema):
    id: int
    organization: int | None = Field(validation_alias="organization_id")
    name: str
    timezone: str
    weekly: dict[str, list[list[str]]]
    holidays: list[str]
    holiday_country: str
    holiday_subdivision: str
    closures: list[list[str]]
    created_at: datetime
    updated_at: datetime


class CalendarIn(Schema):
    organization: int | None = Field(None, description="Empty for a calendar shared by all.")
    name: str = Field(min_length=1, max_length=120)
    timezone: str = Field(description="An IANA time zone name, e.g. Europe/Berlin.")
    weekly: dict[str, Any] = Field(
        description='Weekday (0 = Monday) -> [["09:00", "17:00"], ...]; "24:00" is midnight.'
    )
    holidays: list[Any] = Field(default_factory=list, description="Dates, YYYY-MM-DD.")
    holiday_country: str = Field("", max_length=8, description="ISO 3166-1 code.")
    holiday_subdivision: str = Field("", max_length=16)
    closures: list[Any] = Field(
        default_factory=list, description="[start, end] pairs of ISO 8601 instants with offset."
    )


class CalendarPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    timezone: str | None = None
    weekly: dict[str, Any] | None = None
    holidays: list[Any] | None = None
    holiday_country: str | None = Field(None, max_length=8)
    holiday_subdivision: str | None = Field(None, max_length=16)
    closures: list[Any] | None = None


class Filters(Schema):
    organization: int | None = Field(None, description="Only this organisation's rows.")
    shared: bool | None = Field(None, description="true: only shared rows; false: none.")


class AddOut(Schema):
    start: datetime
    minutes: int
    due: datetime


class BetweenOut(Schema):
    start: datetime
    end: datetime
    seconds: int
    minutes: float


class PolicyOut(Schema):
    id: int
    organization: int | None = Field(validation_alias="organization_id")
    name: str
    calendar: int = Field(validation_alias="calendar_id")
    targets: dict[str, dict[str, int]]
    pausing_statuses: list[str]
    paused_clocks: list[str]
    pause_on_maintenance: bool
    warnings: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class PolicyIn(Schema):
    organization: int | None = Field(None, description="Empty for a policy shared by all.")
    name: str = Field(min_length=1, max_length=120)
    calendar: int
    targets: dict[str, Any] = Field(
        description="P1..P4 -> {first_response, next_response, resolution} in business minutes."
    )
    pausing_statuses: list[str] | None = Field(
        None, description="Default: waiting_on_customer, waiting_on_third_party."
    )
    paused_clocks: list[str] | None = Field(
        None, description="Clocks the pausing statuses pause. Default: next_response, resolution."
    )
    pause_on_maintenance: bool = True
    warnings: list[Any] = Field(
        default_factory=list,
        description=(
            '[{"percent": 75 | "minutes_before": 15, "action": "notify" | "reassign" | '
            '"raise_priority", "clock": optional, "team": team id, required by reassign}]'
        ),
    )


class PolicyPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    calendar: int | None = None
    targets: dict[str, Any] | None = None
    pausing_statuses: list[str] | None = None
    paused_clocks: list[str] | None = None
    pause_on_maintenance: bool | None = None
    warnings: list[Any] | None = None


class RuleOut(Schema):
    id: int
    position: int
    organization: int | None = Field(validation_alias="organization_id")
    ticket_type: str
    category: str
    priority: str
    policy: int = Field(validation_alias="policy_id")


class RuleIn(Schema):
    policy: int
    position: int | None = Field(None, description="Default: after every rule.")
    organization: int | None = None
    ticket_type: TicketType | None = None
    category: str = Field("", max_length=120)
    priority: Priority | None = None


class ReorderIn(Schema):
    order: list[int] = Field(description="Every rule id, first rule first.")


def _scoped[M: (Calendar, SlaPolicy, PolicyRule)](
    request: HttpRequest, queryset: QuerySet[M], filters: Filters
) -> QuerySet[M]:
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    access.require_read(user)
    if org is not None:
        queryset = queryset.filter(organization=org)
    if filters.shared is True:
        queryset = queryset.filter(organization__isnull=True)
    elif filters.shared is False:
        queryset = queryset.filter(organization__isnull=False)
    return queryset


def _owner(request: HttpRequest, pk: int | None) -> Organization | None:
    org = optional_organization(request, pk)
    access.require_write(current_user(request), org)
    require_write(request)
    return org


def _calendar_ref(request: HttpRequest, pk: int) -> Calendar:
    found = access.calendars_for(current_user(request)).filter(pk=pk).first()
    if found is None:
        raise ValidationError({"calendar": f"There is no calendar {pk}."})
    return found


def _policy_ref(request: HttpRequest, pk: int) -> SlaPolicy:
    found = access.policies_for(current_user(request)).filter(pk=pk).first()
    if found is None:
        raise ValidationError({"policy": f"There is no policy {pk}."})
    return found


# --- calendars -------------------------------------------------------------------------------


@router.get("/sla/calendars", response=responses(CursorPage[CalendarOut]))
def list_calendars(
    request: HttpRequest, filters: Query[Filters], page: Query[PageParams]
) -> dict[str, Any]:
    queryset = _scoped(request, access.calendars_for(current_user(request)), filters)
    return paginated(queryset, page)


@router.post("/sla/calendars", response=responses(CalendarOut, 201))
def create_calendar(request: HttpRequest, payload: CalendarIn) -> Status[Calendar]:
    org = _owner(request, payload.organization)
    fields = payload.dict(exclude={"organization"})
    calendar = services.create_calendar(actor=current_user(request), organization=org, **fields)
    return Status(201, calendar)


@router.get("/sla/calendars/{calendar_id}", response=responses(CalendarOut))
def get_calendar(request: HttpRequest, calendar_id: int) -> Calendar:
    return access.get_calendar_for(current_user(request), calendar_id)


@router.patch("/sla/calendars/{calendar_id}", response=responses(CalendarOut))
def update_calendar(request: HttpRequest, calendar_id: int, payload: CalendarPatch) -> Calendar:
    user = current_user(request)
    calendar = access.get_calendar_for(user, calendar_id, write=True)
    require_write(request)
    changes = payload.dict(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            raise ValidationError({field: "This field cannot be null."})
    return services.update_calendar(calendar, actor=user, **changes)


@router.delete("/sla/calendars/{calendar_id}", response=responses(None, 204))
def delete_calendar(request: HttpRequest, calendar_id: int) -> Status[None]:
    user = current_user(request)
    calendar = access.get_calendar_for(user, calendar_id, write=True)
    require_write(request)
    services.delete_calendar(calendar, actor=user)
    return Status(204, None)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise HttpError(400, f"{name} needs a UTC offset, e.g. 2026-03-02T09:00:00+01:00.")
    return value


@router.get("/sla/calendars/{calendar_id}/add", response=responses(AddOut))
def calendar_add(
    request: HttpRequest, calendar_id: int, start: datetime, minutes: int
) -> dict[str, Any]:
    """The instant at which ``minutes`` of business time have passed since ``start``."""
    calendar = access.get_calendar_for(current_user(request), calendar_id)
    start = _aware(start, "start")
    if not 0 <= minutes <= MAX_MINUTES:
        raise HttpError(400, f"minutes must be between 0 and {MAX_MINUTES}.")
    try:
        due = calendar.engine(engine_years(start)).add(start, timedelta(minutes=minutes))
    except NoBusinessTime as exc:
        raise HttpError(400, str(exc)) from exc
    except (ValueError, OverflowError) as exc:
        raise HttpError(400, str(exc)) from exc
    return {"start": start, "minutes": minutes, "due": due}


@router.get("/sla/calendars/{calendar_id}/between", response=responses(BetweenOut))
def calendar_between(
    request: HttpRequest, calendar_id: int, start: datetime, end: datetime
) -> dict[str, Any]:
    """Business time inside ``[start, end)``."""
    calendar = access.get_calendar_for(current_user(request), calendar_id)
    start, end = _aware(start, "start"), _aware(end, "end")
    if end < start:
        raise HttpError(400, "end is before start.")
    if end - start > timedelta(days=3660):
        raise HttpError(400, "between covers at most ten years.")
    try:
        span = calendar.engine(engine_years(start, end)).between(start, end)
    except (ValueError, OverflowError) as exc:
        raise HttpError(400, str(exc)) from exc
    seconds = int(span.total_seconds())
    return {"start": start, "end": end, "seconds": seconds, "minutes": seconds / 60}


# --- policies --------------------------------------------------------------------------------


@router.get("/sla/policies", response=responses(CursorPage[PolicyOut]))
def list_policies(
    request: HttpRequest, filters: Query[Filters], page: Query[PageParams]
) -> dict[str, Any]:
    queryset = _scoped(request, access.policies_for(current_user(request)), filters)
    return paginated(queryset, page)


@router.post("/sla/policies", response=responses(PolicyOut, 201))
def create_policy(request: HttpRequest, payload: PolicyIn) -> Status[SlaPolicy]:
    org = _owner(request, payload.organization)
    fields = payload.dict(exclude={"organization", "calendar"})
    policy = services.create_policy(
        actor=current_user(request),
        organization=org,
        calendar=_calendar_ref(request, payload.calendar),
        **fields,
    )
    return Status(201, policy)


@router.get("/sla/policies/{policy_id}", response=responses(PolicyOut))
def get_policy(request: HttpRequest, policy_id: int) -> SlaPolicy:
    return access.get_policy_for(current_user(request), policy_id)


@router.patch("/sla/policies/{policy_id}", response=responses(PolicyOut))
def update_policy(request: HttpRequest, policy_id: int, payload: PolicyPatch) -> SlaPolicy:
    user = current_user(request)
    policy = access.get_policy_for(user, policy_id, write=True)
    require_write(request)
    changes = payload.dict(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in ("pausing_statuses", "paused_clocks"):
            raise ValidationError({field: "This field cannot be null."})
    if "calendar" in changes:
        changes["calendar"] = _calendar_ref(request, changes["calendar"])
    return services.update_policy(policy, actor=user, **changes)


@router.delete("/sla/policies/{policy_id}", response=responses(None, 204))
def delete_policy(request: HttpRequest, policy_id: int) -> Status[None]:
    user = current_user(request)
    policy = access.get_policy_for(user, policy_id, write=True)
    require_write(request)
    services.delete_policy(policy, actor=user)
    return Status(204, None)


# --- rules -----------------------------------------------------------------------------------


def _require_rule_admin(request: HttpRequest) -> None:
    user = current_user(request)
    access.require_write(user, None)
    require_write(request)


@router.get("/sla/rules", response=responses(CursorPage[RuleOut]))
def list_rules(
    request: HttpRequest, filters: Query[Filters], page: Query[PageParams]
) -> dict[str, Any]:
    queryset = _scoped(request, access.rules_for(current_user(request)), filters)
    return paginated(queryset, page, order=("position",))


@router.post("/sla/rules", response=responses(RuleOut, 201))
def create_rule(request: HttpRequest, payload: RuleIn) -> Status[PolicyRule]:
    org = optional_organization(request, payload.organization)
    _require_rule_admin(request)
    rule = services.create_rule(
        actor=current_user(request),
        policy=_policy_ref(request, payload.policy),
        position=payload.position,
        organization=org,
        ticket_type=payload.ticket_type or "",
        category=payload.category,
        priority=payload.priority or "",
    )
    return Status(201, rule)


# Before /sla/rules/{rule_id}, which would otherwise take "reorder" as an id.
@router.post("/sla/rules/reorder", response=responses(list[RuleOut]))
def reorder_rules(request: HttpRequest, payload: ReorderIn) -> list[PolicyRule]:
    _require_rule_admin(request)
    return services.reorder_rules(payload.order, actor=current_user(request))


@router.delete("/sla/rules/{rule_id}", response=responses(None, 204))
def delete_rule(request: HttpRequest, rule_id: int) -> Status[None]:
    user = current_user(request)
    rule = access.get_rule_for(user, rule_id, write=True)
    require_write(request)
    services.delete_rule(rule, actor=user)
    return Status(204, None)
