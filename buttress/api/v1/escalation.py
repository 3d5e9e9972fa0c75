"""/escalation/policies and /incidents/{id}/escalation: who is paged for an incident, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.accounts.models import Team, User
from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    optional_organization,
    paginated,
    require_write,
    responses,
)
from buttress.escalation import access, services
from buttress.escalation.models import (
    MAX_ACK_TIMEOUT_MINUTES,
    MAX_REPEAT,
    MAX_STEPS,
    MAX_WAIT_MINUTES,
    Escalation,
    EscalationPolicy,
    EscalationStep,
    Page,
)
from buttress.oncall import access as oncall_access
from buttress.tenancy.models import Organization

router = Router(tags=["escalation"])


class EscalationStepIO(Schema):
    wait_minutes: int = Field(0, ge=0, le=MAX_WAIT_MINUTES, description="Wait after this step.")
    users: list[int] = Field(default_factory=list, description="Staff users to page.")
    teams: list[int] = Field(default_factory=list, description="Teams whose members are paged.")
    schedules: list[int] = Field(
        default_factory=list, description="On-call schedules: whoever is on call is paged."
    )


class EscalationPolicyOut(Schema):
    id: int
    organization: int | None = Field(validation_alias="organization_id")
    name: str
    description: str
    repeat: int
    ack_timeout: int | None = Field(description="Minutes; null: an acknowledgement holds.")
    is_default: bool
    steps: list[EscalationStepIO]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_steps(obj: EscalationPolicy) -> list[dict[str, Any]]:
        return [
            {
                "wait_minutes": step.wait_minutes,
                "users": sorted(u.pk for u in step.users.all()),
                "teams": sorted(t.pk for t in step.teams.all()),
                "schedules": sorted(s.pk for s in step.schedules.all()),
            }
            for step in obj.steps.all()
        ]


class EscalationPolicyIn(Schema):
    organization: int | None = Field(None, description="Null: shared by every organisation.")
    name: str = Field(min_length=1, max_length=services.MAX_NAME)
    description: str = Field("", max_length=services.MAX_DESCRIPTION)
    repeat: int = Field(0, ge=0, le=MAX_REPEAT, description="Extra runs of the step list.")
    ack_timeout: int | None = Field(None, ge=1, le=MAX_ACK_TIMEOUT_MINUTES)
    is_default: bool = False
    steps: list[EscalationStepIO] = Field(max_length=MAX_STEPS, description="At least one.")


class EscalationPolicyPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=services.MAX_NAME)
    description: str | None = Field(None, max_length=services.MAX_DESCRIPTION)
    repeat: int | None = Field(None, ge=0, le=MAX_REPEAT)
    ack_timeout: int | None = Field(None, ge=1, le=MAX_ACK_TIMEOUT_MINUTES)
    is_default: bool | None = None
    steps: list[EscalationStepIO] | None = Field(None, max_length=MAX_STEPS)


class EscalationPolicyFilters(Schema):
    organization: int | None = Field(None, description="Only this organisation's policies.")
    shared: bool | None = Field(None, description="true: only shared policies; false: none.")


class EscalationDeliveryOut(Schema):
    notification: int = Field(validation_alias="pk", description="In /notifications.")
    channel: str
    status: str


class EscalationPageOut(Schema):
    user: int = Field(validation_alias="user_id")
    cycle: int
    round: int
    step: int = Field(validation_alias="position")
    at: datetime
    deliveries: list[EscalationDeliveryOut]

    @staticmethod
    def resolve_deliveries(obj: Page) -> list[Any]:
        return list(obj.notifications.all())


class EscalationOut(Schema):
    id: int
    ticket: int = Field(validation_alias="ticket_id")
    policy: int = Field(validation_alias="policy_id")
    state: str
    cycle: int
    round: int
    next_step: int = Field(validation_alias="step")
    steps_run: int
    next_at: datetime | None = Field(validation_alias="due_at")
    started_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None = Field(validation_alias="acknowledged_by_id")
    ended_at: datetime | None
    pages: list[EscalationPageOut]

    @staticmethod
    def resolve_pages(obj: Escalation) -> list[Page]:
        return list(obj.pages.all())


class EscalationStartIn(Schema):
    policy: int | None = Field(None, description="Null: the organisation's default policy.")


def _with_steps(queryset: QuerySet[EscalationPolicy]) -> QuerySet[EscalationPolicy]:
    return queryset.prefetch_related(
        Prefetch(
            "steps",
            queryset=EscalationStep.objects.order_by("position").prefetch_related("users", "teams"),
        )
    )


def _steps(request: HttpRequest, given: list[EscalationStepIO]) -> list[services.StepSpec]:
    """The bodies' ids as users and teams; an unknown id is a 400 naming the step."""
    specs = []
    for n, step in enumerate(given, start=1):
        users = list(User.objects.filter(pk__in=step.users))
        teams = list(Team.objects.filter(pk__in=step.teams))
        schedules = list(
            oncall_access.schedules_for(current_user(request)).filter(pk__in=step.schedules)
        )
        missing_users = sorted(set(step.users) - {u.pk for u in users})
        missing_teams = sorted(set(step.teams) - {t.pk for t in teams})
        missing_schedules = sorted(set(step.schedules) - {s.pk for s in schedules})
        if missing_users:
            raise ValidationError({"steps": f"Step {n}: there is no user {missing_users[0]}."})
        if missing_teams:
            raise ValidationError({"steps": f"Step {n}: there is no team {missing_teams[0]}."})
        if missing_schedules:
            raise ValidationError(
                {"steps": f"Step {n}: there is no schedule {missing_schedules[0]}."}
            )
        specs.append(
            services.StepSpec(
                wait_minutes=step.wait_minutes, users=users, teams=teams, schedules=schedules
            )
        )
    return specs


def _owner(request: HttpRequest, pk: int | None) -> Organization | None:
    org = optional_organization(request, pk)
    access.require_write(current_user(request), org)
    require_write(request)
    return org


@router.get("/escalation/policies", response=responses(CursorPage[EscalationPolicyOut]))
def list_policies(
    request: HttpRequest, filters: Query[EscalationPolicyFilters], page: Query[PageParams]
) -> dict[str, Any]:
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    access.require_read(user)
    queryset = access.policies_for(user)
    if org is not None:
        queryset = queryset.filter(organization=org)
    if filters.shared is True:
        queryset = queryset.filter(organization__isnull=True)
    elif filters.shared is False:
        queryset = queryset.filter(organization__isnull=False)
    return paginated(_with_steps(queryset), page)


@router.post("/escalation/policies", response=responses(EscalationPolicyOut, 201))
def create_policy(request: HttpRequest, payload: EscalationPolicyIn) -> Status[EscalationPolicy]:
    org = _owner(request, payload.organization)
    policy = services.create_policy(
        org,
        actor=current_user(request),
        steps=_steps(request, payload.steps),
        **payload.dict(exclude={"organization", "steps"}),
    )
    return Status(201, _with_steps(EscalationPolicy.objects.filter(pk=policy.pk)).get())


@router.get("/escalation/policies/{escalation_policy_id}", response=responses(EscalationPolicyOut))
def get_policy(request: HttpRequest, escalation_policy_id: int) -> EscalationPolicy:
    policy = access.get_policy_for(current_user(request), escalation_policy_id)
    return _with_steps(EscalationPolicy.objects.filter(pk=policy.pk)).get()


@router.patch(
    "/escalation/policies/{escalation_policy_id}", response=responses(EscalationPolicyOut)
)
def update_policy(
    request: HttpRequest, escalation_policy_id: int, payload: EscalationPolicyPatch
) -> EscalationPolicy:
    user = current_user(request)
    policy = access.get_policy_for(user, escalation_policy_id, write=True)
    require_write(request)
    changes = payload.dict(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field != "ack_timeout":
            raise ValidationError({field: "This field cannot be null."})
    steps = changes.pop("steps", None)
    services.update_policy(
        policy,
        actor=user,
        steps=_steps(request, payload.steps or []) if steps is not None else None,
        **changes,
    )
    return _with_steps(EscalationPolicy.objects.filter(pk=policy.pk)).get()


@router.delete("/escalation/policies/{escalation_policy_id}", response=responses(None, 204))
def delete_policy(request: HttpRequest, escalation_policy_id: int) -> Status[None]:
    user = current_user(request)
    policy = access.get_policy_for(user, escalation_policy_id, write=True)
    require_write(request)
    services.delete_policy(policy, actor=user)
    return Status(204, None)


# --- a ticket's escalation -------------------------------------------------------------------


def _history(ticket_id: int) -> list[Escalation]:
    return list(
        Escalation.objects.filter(ticket_id=ticket_id)
        .prefetch_related(
            Prefetch(
                "pages",
                queryset=Page.objects.order_by("at", "id").prefetch_related("notifications"),
            )
        )
        .order_by("-started_at", "-id")
    )


@router.get("/incidents/{ticket_id}/escalations", response=responses(list[EscalationOut]))
def list_escalations(request: HttpRequest, ticket_id: int) -> list[Escalation]:
    """The ticket's escalations, the latest first, with every page sent."""
    ticket = access.get_ticket_to_escalate(current_user(request), ticket_id)
    return _history(ticket.pk)


@router.post("/incidents/{ticket_id}/escalations", response=responses(EscalationOut, 201))
def start_escalation(
    request: HttpRequest, ticket_id: int, payload: EscalationStartIn
) -> Status[Escalation]:
    user = current_user(request)
    ticket = access.get_ticket_to_escalate(user, ticket_id, write=True)
    require_write(request)
    if payload.policy is None:
        policy = services.default_policy_for(ticket.organization)
        if policy is None:
            raise ValidationError({"policy": "The organisation has no default policy: name one."})
    else:
        policy = access.policies_for(user).filter(pk=payload.policy).first()
        if policy is None:
            raise ValidationError({"policy": f"There is no policy {payload.policy}."})
    services.start(ticket, policy, actor=user)
    return Status(201, _history(ticket.pk)[0])


@router.post("/incidents/{ticket_id}/acknowledge", response=responses(EscalationOut))
def acknowledge(request: HttpRequest, ticket_id: int) -> Escalation:
    """Stop paging: the caller has the incident (until the policy's acknowledgement timeout)."""
    user = current_user(request)
    ticket = access.get_ticket_to_escalate(user, ticket_id, write=True)
    require_write(request)
    services.acknowledge(ticket, actor=user, via="api")
    return _history(ticket.pk)[0]


@router.post("/incidents/{ticket_id}/escalations/cancel", response=responses(EscalationOut))
def cancel(request: HttpRequest, ticket_id: int) -> Escalation:
    user = current_user(request)
    ticket = access.get_ticket_to_escalate(user, ticket_id, write=True)
    require_write(request)
    services.cancel(ticket, actor=user)
    return _history(ticket.pk)[0]
