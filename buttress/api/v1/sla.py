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
from buttress.desk.models import Status as TicketStatus
from buttress.sla import access, replay, reports, services
from buttress.sla.calendar import NoBusinessTime
from buttress.sla.models import Calendar, PolicyRule, SlaPolicy, engine_years
from buttress.tenancy.access import organizations_for
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


# --- simulator -------------------------------------------------------------------------------


class HistoryIn(Schema):
    at: datetime = Field(description="When it happened, with a UTC offset.")
    status: str | None = Field(None, description="The ticket moved to this status.")
    priority: str | None = Field(None, description="The priority changed to P1..P4.")
    reply: str | None = Field(None, description="A public reply: agent or customer.")
    maintenance: str | None = Field(
        None, description="A maintenance window on the ticket's assets: start or end."
    )


class SimulateIn(Schema):
    policy: int
    created_at: datetime = Field(description="When the ticket is created, with a UTC offset.")
    priority: Priority = Priority.P3
    status: str = Field("new", description="The status it is created in.")
    history: list[HistoryIn] = Field(default_factory=list)


class TransitionOut(Schema):
    kind: str = Field(description="started, paused, resumed, warning, breached, met, retargeted.")
    clock: str
    cycle: int
    at: datetime
    detail: dict[str, Any]


class WarningAtOut(Schema):
    step: str
    at: datetime


class ProjectionOut(Schema):
    clock: str
    cycle: int
    state: str
    elapsed_minutes: float
    target_minutes: float
    breached_at: datetime | None
    met_at: datetime | None
    due_at: datetime | None = Field(description="When it breached or, if running, will breach.")
    warnings: list[WarningAtOut] = Field(description="Warnings still to fire, with their instants.")


class SimulateOut(Schema):
    transitions: list[TransitionOut]
    clocks: list[ProjectionOut]


@router.post("/sla/simulate", response=responses(SimulateOut))
def simulate(request: HttpRequest, body: SimulateIn) -> dict[str, Any]:
    """With this policy, a ticket created at ``created_at`` with this history of status,
    priority and replies: what happened to each clock, when each is due, when each warning
    fires. Nothing is stored."""
    user = current_user(request)
    policy = access.get_policy_for(user, body.policy)
    if body.created_at.utcoffset() is None:
        raise ValidationError({"created_at": "Give a UTC offset."})
    if body.status not in TicketStatus.values:
        raise ValidationError({"status": f"{body.status!r} is not a ticket status."})
    steps = replay.check_history([item.dict() for item in body.history], created_at=body.created_at)
    try:
        machine, projection = replay.simulate(
            policy,
            created_at=body.created_at,
            priority=body.priority,
            status=body.status,
            steps=steps,
        )
    except NoBusinessTime as exc:
        raise HttpError(422, str(exc)) from exc
    return {
        "transitions": [
            {
                "kind": t.kind,
                "clock": t.clock,
                "cycle": t.cycle,
                "at": t.at,
                "detail": dict(t.detail),
            }
            for t in machine.transitions
        ],
        "clocks": [
            {
                "clock": p.clock,
                "cycle": p.cycle,
                "state": p.state,
                "elapsed_minutes": p.elapsed.total_seconds() / 60,
                "target_minutes": p.target.total_seconds() / 60,
                "breached_at": p.breached_at,
                "met_at": p.met_at,
                "due_at": p.due_at,
                "warnings": [{"step": step, "at": at} for step, at in p.warnings],
            }
            for p in projection
        ],
    }


# --- compliance ------------------------------------------------------------------------------


class ReportParams(Schema):
    start: datetime = Field(description="Start of the period (inclusive), with a UTC offset.")
    end: datetime = Field(description="End of the period (exclusive), with a UTC offset.")
    organization: int | None = None
    policy: int | None = None


class ClockFiguresOut(Schema):
    clock: str
    on_time: int
    breached: int
    compliance: float | None = Field(description="Percent on time; null when none decided.")
    median_minutes: float | None = Field(description="Business minutes, clocks met in period.")
    p90_minutes: float | None


class ComplianceOut(Schema):
    organization: int
    organization_name: str
    policy: int | None
    policy_name: str
    on_time: int
    breached: int
    compliance: float | None
    clocks: list[ClockFiguresOut]


def _mins(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 60, 3) if value is not None else None


@router.get("/sla/report", response=responses(list[ComplianceOut]))
def compliance_report(request: HttpRequest, params: Query[ReportParams]) -> list[dict[str, Any]]:
    """Per organisation and policy: targets met on time and breached in ``[start, end)`` (by
    the instant each outcome was decided), compliance, and business time to first response and
    to resolution (median, p90)."""
    user = current_user(request)
    # Another organisation answers 404 before the role is looked at.
    org = optional_organization(request, params.organization)
    access.require_read(user)
    for name in ("start", "end"):
        if getattr(params, name).utcoffset() is None:
            raise ValidationError({name: "Give a UTC offset."})
    if params.end <= params.start:
        raise ValidationError({"end": "The period ends before it starts."})
    wanted = (
        [org.pk] if org is not None else list(organizations_for(user).values_list("pk", flat=True))
    )
    policy_id = None
    if params.policy is not None:
        policy_id = access.get_policy_for(user, params.policy).pk
    rows = reports.compliance(
        start=params.start, end=params.end, organizations=wanted, policy_id=policy_id
    )
    return [
        {
            "organization": row.organization_id,
            "organization_name": row.organization,
            "policy": row.policy_id,
            "policy_name": row.policy,
            "on_time": row.on_time,
            "breached": row.breached,
            "compliance": row.compliance,
            "clocks": [
                {
                    "clock": kind,
                    "on_time": figures.on_time,
                    "breached": figures.breached,
                    "compliance": figures.compliance,
                    "median_minutes": _mins(figures.median),
                    "p90_minutes": _mins(figures.p90),
                }
                for kind, figures in row.clocks.items()
            ],
        }
        for row in rows
    ]
