"""The only place that changes escalation policies and runs escalations.

An escalation advances in :func:`advance`, called by the scheduler's task with the row locked
and its claim checked (``tasks.advance_escalation``): the step's pages are written and the
pointer moves in one transaction, so a worker or scheduler killed at any moment leaves either
the whole step done or none of it, and a duplicate or late task finds the claim gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from buttress.accounts.models import STAFF_ROLES, Team, User
from buttress.audit import services as audit
from buttress.desk.models import DONE_STATUSES, EventKind, Priority, Ticket
from buttress.desk.services.timeline import record_event
from buttress.escalation.models import (
    MAX_ACK_TIMEOUT_MINUTES,
    MAX_REPEAT,
    MAX_STEPS,
    MAX_WAIT_MINUTES,
    Escalation,
    EscalationPolicy,
    EscalationState,
    EscalationStep,
    Page,
)
from buttress.lib.timeutil import now
from buttress.notify.services import notify_user
from buttress.oncall.models import Schedule
from buttress.oncall.services import on_call

if TYPE_CHECKING:
    from buttress.tenancy.models import Organization

POLICY_FIELDS = ("organization", "name", "description", "repeat", "ack_timeout", "is_default")
MAX_NAME = 200
MAX_DESCRIPTION = 10_000


@dataclass(frozen=True)
class StepSpec:
    wait_minutes: int
    users: Sequence[User]
    teams: Sequence[Team]
    schedules: Sequence[Schedule] = ()


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


def _bounded(field: str, value: Any, *, low: int, high: int, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: "Give a whole number."})
    if not low <= value <= high:
        raise ValidationError({field: f"Give a number from {low} to {high}."})
    return value


def _check_steps(steps: Sequence[StepSpec], organization_id: int | None) -> None:
    if not steps:
        raise ValidationError({"steps": "A policy needs at least one step."})
    if len(steps) > MAX_STEPS:
        raise ValidationError({"steps": f"At most {MAX_STEPS} steps."})
    for n, spec in enumerate(steps, start=1):
        _bounded(f"steps[{n}].wait_minutes", spec.wait_minutes, low=0, high=MAX_WAIT_MINUTES)
        if not spec.users and not spec.teams and not spec.schedules:
            raise ValidationError(
                {"steps": f"Step {n} pages nobody: add a user, a team or an on-call schedule."}
            )
        for schedule in spec.schedules:
            if schedule.organization_id not in (None, organization_id):
                raise ValidationError(
                    {"steps": f"Step {n}: the schedule {schedule.name} is another organisation's."}
                )
        for user in spec.users:
            if user.role not in STAFF_ROLES or not user.is_active:
                raise ValidationError(
                    {"steps": f"Step {n}: {user.email} is not an active member of staff."}
                )


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    if "name" in cleaned:
        cleaned["name"] = _text("name", cleaned["name"], limit=MAX_NAME, required=True)
    if "description" in cleaned:
        cleaned["description"] = _text(
            "description", cleaned["description"], limit=MAX_DESCRIPTION, required=False
        )
    if "repeat" in cleaned:
        cleaned["repeat"] = _bounded("repeat", cleaned["repeat"], low=0, high=MAX_REPEAT)
    if "ack_timeout" in cleaned:
        cleaned["ack_timeout"] = _bounded(
            "ack_timeout",
            cleaned["ack_timeout"],
            low=1,
            high=MAX_ACK_TIMEOUT_MINUTES,
            optional=True,
        )
    if "is_default" in cleaned:
        cleaned["is_default"] = bool(cleaned["is_default"])
    return cleaned


def _write_steps(policy: EscalationPolicy, steps: Sequence[StepSpec]) -> None:
    policy.steps.all().delete()
    for position, spec in enumerate(steps):
        step = EscalationStep.objects.create(
            policy=policy, position=position, wait_minutes=spec.wait_minutes
        )
        step.users.set(spec.users)
        step.teams.set(spec.teams)
        step.schedules.set(spec.schedules)


def _steps_snapshot(policy: EscalationPolicy) -> list[dict[str, Any]]:
    return [
        {
            "wait_minutes": step.wait_minutes,
            "users": sorted(u.pk for u in step.users.all()),
            "teams": sorted(t.pk for t in step.teams.all()),
            "schedules": sorted(s.pk for s in step.schedules.all()),
        }
        for step in policy.steps.order_by("position")
    ]


def _one_default(policy: EscalationPolicy) -> None:
    """At most one default policy per organisation (and one shared default)."""
    if policy.is_default:
        EscalationPolicy.objects.filter(organization=policy.organization, is_default=True).exclude(
            pk=policy.pk
        ).update(is_default=False)


# --- policies --------------------------------------------------------------------------------


@transaction.atomic
def create_policy(
    organization: Organization | None,
    *,
    actor: User | None,
    name: str,
    steps: Sequence[StepSpec],
    description: str = "",
    repeat: int = 0,
    ack_timeout: int | None = None,
    is_default: bool = False,
) -> EscalationPolicy:
    fields = _clean(
        {
            "name": name,
            "description": description,
            "repeat": repeat,
            "ack_timeout": ack_timeout,
            "is_default": is_default,
        }
    )
    _check_steps(steps, organization.pk if organization is not None else None)
    policy = EscalationPolicy.objects.create(organization=organization, **fields)
    _write_steps(policy, steps)
    _one_default(policy)
    audit.record(
        policy,
        actor=actor,
        action="create",
        organization=organization,
        changes={
            **audit.created_changes(audit.snapshot(policy, POLICY_FIELDS)),
            "steps": [None, _steps_snapshot(policy)],
        },
    )
    return policy


@transaction.atomic
def update_policy(
    policy: EscalationPolicy,
    *,
    actor: User | None,
    steps: Sequence[StepSpec] | None = None,
    **changes: Any,
) -> EscalationPolicy:
    unknown = set(changes) - (set(POLICY_FIELDS) - {"organization"})
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "This field cannot be changed."})
    cleaned = _clean(changes)
    before = audit.snapshot(policy, POLICY_FIELDS)
    steps_before = _steps_snapshot(policy)
    for field, value in cleaned.items():
        setattr(policy, field, value)
    policy.save()
    if steps is not None:
        _check_steps(steps, policy.organization_id)
        _write_steps(policy, steps)
    _one_default(policy)
    entry_changes = audit.diff(before, audit.snapshot(policy, POLICY_FIELDS))
    steps_after = _steps_snapshot(policy)
    if steps_after != steps_before:
        entry_changes["steps"] = [steps_before, steps_after]
    if entry_changes:
        audit.record(
            policy,
            actor=actor,
            action="update",
            organization=policy.organization,
            changes=entry_changes,
        )
    return policy


@transaction.atomic
def delete_policy(policy: EscalationPolicy, *, actor: User | None) -> None:
    if policy.escalations.running().exists():
        raise ValidationError(
            {"policy": "Escalations are running on this policy; end them before deleting it."}
        )
    if policy.escalations.exists():
        raise ValidationError(
            {"policy": "Tickets' escalation history uses this policy; it cannot be deleted."}
        )
    pk = policy.pk
    audit.record_delete(
        policy, actor=actor, organization=policy.organization, fields=POLICY_FIELDS, object_id=pk
    )
    policy.delete()


def default_policy_for(organization: Organization) -> EscalationPolicy | None:
    """The organisation's default policy, else the shared default, else None."""
    own = EscalationPolicy.objects.filter(organization=organization, is_default=True).first()
    return own or EscalationPolicy.objects.filter(organization=None, is_default=True).first()


# --- running escalations ---------------------------------------------------------------------


def _timeline(
    escalation: Escalation, action: str, summary: str, *, actor: User | None, at: datetime
) -> None:
    record_event(
        escalation.ticket,
        EventKind.ESCALATION,
        actor=actor,
        at=at,
        internal=True,
        detail={
            "escalation": escalation.pk,
            "policy": escalation.policy.name,
            "action": action,
            "summary": summary,
        },
    )


def _lock(escalation: Escalation) -> Escalation:
    return (
        Escalation.objects.select_for_update()
        .select_related("policy", "ticket")
        .get(pk=escalation.pk)
    )


@transaction.atomic
def start(
    ticket: Ticket,
    policy: EscalationPolicy,
    *,
    actor: User | None,
    at: datetime | None = None,
) -> Escalation:
    """Start paging for ``ticket``; the first step runs at once (through the scheduler's task)."""
    at = at or now()
    if policy.organization_id not in (None, ticket.organization_id):
        raise ValidationError({"policy": "The policy belongs to another organisation."})
    if ticket.status in DONE_STATUSES:
        raise ValidationError({"ticket": "The ticket is resolved; there is nobody to page."})
    if not policy.steps.exists():
        raise ValidationError({"policy": "The policy has no steps."})
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(
                organization_id=ticket.organization_id,
                ticket=ticket,
                policy=policy,
                started_at=at,
                started_by=actor if actor is not None and actor.pk else None,
                due_at=at,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"ticket": "An escalation is already running on this ticket."}
        ) from exc
    _timeline(escalation, "started", f"Escalation started: {policy.name}.", actor=actor, at=at)
    from buttress.escalation.tasks import enqueue_advance

    enqueue_advance(escalation)
    return escalation


def start_default(
    ticket: Ticket, *, at: datetime | None = None, policy: EscalationPolicy | None = None
) -> Escalation | None:
    """Escalate a new incident by ``policy`` (what its routing chose), else by its
    organisation's default policy, if there is one."""
    if policy is None or policy.organization_id not in (None, ticket.organization_id):
        policy = default_policy_for(ticket.organization)
    if policy is None or ticket.escalations.running().exists():
        return None
    return start(ticket, policy, actor=None, at=at)


def recipients(step: EscalationStep, *, at: datetime) -> list[User]:
    """Everyone a step pages at ``at``: its users, the members of its teams and whoever is on
    call on its schedules, each once, active staff only."""
    users: dict[int, User] = {u.pk: u for u in step.users.all()}
    for team in step.teams.all():
        for member in team.members.all():
            users.setdefault(member.pk, member)
    for schedule in step.schedules.all():
        for person in on_call(schedule, at):
            users.setdefault(person.pk, person)
    return [u for pk, u in sorted(users.items()) if u.is_active and u.role in STAFF_ROLES]


def _page(escalation: Escalation, step: EscalationStep, users: list[User], *, at: datetime) -> None:
    """One page row per user, each handed to the user's own contact rules (quiet hours hold
    back all but P1 incidents); all of it in the step's transaction."""
    ticket = escalation.ticket
    pages = Page.objects.bulk_create(
        [
            Page(
                escalation=escalation,
                cycle=escalation.cycle,
                round=escalation.round,
                position=step.position,
                user=user,
                at=at,
            )
            for user in users
        ]
    )
    subject = f"[{ticket.reference}] Paging: {ticket.subject}"
    body = "\n".join(
        [
            f"You are paged for {ticket.reference}: {ticket.subject}",
            f"Organisation: {ticket.organization.name}",
            f"Priority: {ticket.priority}",
            f"Escalation policy: {escalation.policy.name}, step {step.position + 1}",
        ]
    )
    for page, user in zip(pages, users, strict=True):
        sent = notify_user(
            user,
            subject=subject,
            body=body,
            ticket=ticket,
            urgent=ticket.priority == Priority.P1,
            event="escalation",
            at=at,
        )
        page.notifications.set(sent)


def _end(escalation: Escalation, state: str, *, at: datetime) -> None:
    escalation.state = state
    escalation.ended_at = at
    escalation.due_at = None


def _run_step(escalation: Escalation, *, at: datetime) -> None:
    steps = list(escalation.policy.steps.order_by("position"))
    if escalation.step >= len(steps):
        # The policy lost steps since the last one ran: continue with the next round.
        escalation.step = 0
        escalation.round += 1
        if escalation.round > escalation.policy.repeat or not steps:
            _end(escalation, EscalationState.EXHAUSTED, at=at)
            _timeline(
                escalation, "exhausted", "Escalation ended: every step ran.", actor=None, at=at
            )
            return
    step = steps[escalation.step]
    paged = recipients(step, at=at)
    _page(escalation, step, paged, at=at)
    names = ", ".join(u.display_name for u in paged) or "nobody (nobody on call or in its teams)"
    round_text = f", round {escalation.round + 1}" if escalation.policy.repeat else ""
    _timeline(
        escalation,
        "paged",
        f"Step {step.position + 1}{round_text}: paged {names}.",
        actor=None,
        at=at,
    )
    escalation.steps_run += 1
    wait = timedelta(minutes=step.wait_minutes)
    if escalation.step + 1 < len(steps):
        escalation.step += 1
        escalation.due_at = at + wait
    elif escalation.round < escalation.policy.repeat:
        escalation.step = 0
        escalation.round += 1
        escalation.due_at = at + wait
    else:
        _end(escalation, EscalationState.EXHAUSTED, at=at)
        _timeline(escalation, "exhausted", "Escalation ended: every step ran.", actor=None, at=at)


def advance(escalation: Escalation, *, at: datetime | None = None) -> None:
    """The scheduler's due time came: run the next step, or restart after a lapsed
    acknowledgement, or end because the ticket was resolved. Call with the row locked."""
    at = at or now()
    if escalation.ticket.status in DONE_STATUSES:
        _end(escalation, EscalationState.RESOLVED, at=at)
        _timeline(escalation, "resolved", "Escalation ended: ticket resolved.", actor=None, at=at)
    elif escalation.state == EscalationState.ACKNOWLEDGED:
        escalation.state = EscalationState.ACTIVE
        escalation.cycle += 1
        escalation.round = 0
        escalation.step = 0
        _timeline(
            escalation,
            "restarted",
            "Acknowledgement lapsed: paging starts again from the first step.",
            actor=None,
            at=at,
        )
        _run_step(escalation, at=at)
    elif escalation.state == EscalationState.ACTIVE:
        _run_step(escalation, at=at)
    else:
        escalation.due_at = None
    escalation.save()


ACKNOWLEDGEABLE = (
    EscalationState.ACTIVE,
    EscalationState.ACKNOWLEDGED,
    EscalationState.EXHAUSTED,
)


def _acknowledgeable(ticket: Ticket) -> Escalation | None:
    """The ticket's latest escalation, locked, if it can be acknowledged: also once every step
    has paged, since somebody still has to take the incident."""
    latest = ticket.escalations.order_by("-started_at", "-id").first()
    if latest is None:
        return None
    escalation = _lock(latest)
    return escalation if escalation.state in ACKNOWLEDGEABLE else None


@transaction.atomic
def acknowledge(
    ticket: Ticket, *, actor: User, at: datetime | None = None, via: str = "page"
) -> Escalation:
    """``actor`` takes the incident: recorded on the ticket (which also cancels notifications
    still waiting), and paging stops through :func:`stop_paging`."""
    from buttress.notify import actions

    at = at or now()
    if _acknowledgeable(ticket) is None:
        raise ValidationError({"ticket": "No escalation is running on this ticket."})
    actions.acknowledge(ticket, user=actor, via=via, at=at)
    escalation = ticket.escalations.order_by("-started_at", "-id").first()
    assert escalation is not None
    return escalation


def stop_paging(ticket: Ticket, *, actor: User, at: datetime) -> Escalation | None:
    """Called whenever the ticket is acknowledged (a notification's link, the page, the API):
    the escalation stops; with an acknowledgement timeout, paging restarts after it."""
    escalation = _acknowledgeable(ticket)
    if escalation is None:
        return None
    escalation.state = EscalationState.ACKNOWLEDGED
    escalation.ended_at = None
    escalation.acknowledged_at = at
    # The system (an alert's sender acknowledging through its integration) is nobody's account.
    escalation.acknowledged_by = actor if actor.pk else None
    timeout = escalation.policy.ack_timeout
    escalation.due_at = at + timedelta(minutes=timeout) if timeout else None
    escalation.save()
    lapse = (
        f" Paging restarts at {escalation.due_at:%Y-%m-%d %H:%M} UTC unless resolved."
        if escalation.due_at
        else ""
    )
    _timeline(
        escalation,
        "acknowledged",
        f"Paging stopped: acknowledged {'by' if actor.pk else 'through'} "
        f"{actor.display_name}.{lapse}",
        actor=actor,
        at=at,
    )
    return escalation


@transaction.atomic
def cancel(ticket: Ticket, *, actor: User, at: datetime | None = None) -> Escalation:
    at = at or now()
    escalation = ticket.escalations.running().first()
    if escalation is None:
        raise ValidationError({"ticket": "No escalation is running on this ticket."})
    escalation = _lock(escalation)
    _end(escalation, EscalationState.CANCELLED, at=at)
    escalation.save()
    _timeline(
        escalation,
        "cancelled",
        f"Escalation cancelled by {actor.display_name}.",
        actor=actor,
        at=at,
    )
    return escalation


def ticket_status_changed(ticket: Ticket, *, at: datetime) -> None:
    """Resolving or closing a ticket ends its escalation at once (called by the desk)."""
    if ticket.status not in DONE_STATUSES:
        return
    for escalation in ticket.escalations.running().select_for_update():
        _end(escalation, EscalationState.RESOLVED, at=at)
        escalation.save()
        _timeline(escalation, "resolved", "Escalation ended: ticket resolved.", actor=None, at=at)


def escalations_of(tickets: Iterable[Ticket]) -> dict[int, Escalation]:
    """Each ticket's latest escalation, for pages that list several."""
    latest: dict[int, Escalation] = {}
    for escalation in (
        Escalation.objects.filter(ticket__in=list(tickets))
        .select_related("policy", "acknowledged_by")
        .order_by("ticket_id", "-started_at", "-id")
    ):
        latest.setdefault(escalation.ticket_id, escalation)
    return latest
