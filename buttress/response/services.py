"""The only place that changes incident work. Every change writes an audit entry and an
:class:`IncidentEvent` on the incident's log (shown on the ticket's page beside the desk's
timeline), in the same transaction; a customer-facing status update is mailed after commit.

Tickets are opened and linked only through the desk's services.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import STAFF_ROLES
from buttress.audit import services as audit
from buttress.desk import services as desk
from buttress.desk.models import Source, Ticket, TicketType
from buttress.desk.services.tickets import WORKER_ROLES
from buttress.lib.timeutil import now
from buttress.response.models import (
    SINGLE_HOLDER_ROLES,
    ActionItem,
    ActionKind,
    EventKind,
    Incident,
    IncidentEvent,
    Phase,
    Postmortem,
    RoleAssignment,
    RoleKind,
    Severity,
    StatusUpdate,
    Visibility,
)
from buttress.response.tasks import send_status_update
from buttress.tenancy.access import organizations_for

if TYPE_CHECKING:
    from buttress.accounts.models import User

INCIDENT_FIELDS = ("ticket", "severity")
ROLE_FIELDS = ("incident", "role", "title", "user")
UPDATE_FIELDS = ("incident", "visibility", "phase", "body")
POSTMORTEM_TEXT = ("summary", "impact", "root_cause", "timeline_excerpt", "went_well", "went_badly")
POSTMORTEM_FIELDS = ("incident", *POSTMORTEM_TEXT)
ACTION_FIELDS = ("postmortem", "description", "owner", "due_on", "kind", "ticket")
MAX_UPDATE = 10_000
MAX_POSTMORTEM_TEXT = 50_000
MAX_ACTION = 500


def _text(field: str, value: Any, *, limit: int, required: bool = False) -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise ValidationError({field: "This field is required."})
    if len(text) > limit:
        raise ValidationError({field: f"At most {limit} characters."})
    if "\x00" in text:
        raise ValidationError({field: "Text may not contain NUL characters."})
    return text


def _choice(field: str, value: Any, choices: list[str]) -> str:
    if value not in choices:
        raise ValidationError({field: f"Must be one of {', '.join(choices)}."})
    return str(value)


def _log(
    incident: Incident,
    kind: str,
    *,
    actor: User | None,
    at: datetime,
    detail: dict[str, Any],
    internal: bool = True,
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        actor=actor if actor is not None and actor.pk else None,
        at=at,
        detail=detail,
        is_internal=internal,
    )


def _check_staff(ticket: Ticket, user: User, field: str) -> None:
    """A responder is active provider staff who sees the ticket's organisation."""
    if (
        not user.is_active
        or user.role not in STAFF_ROLES
        or not organizations_for(user).filter(pk=ticket.organization_id).exists()
    ):
        raise ValidationError(
            {field: "Choose an active member of staff who sees this organisation."}
        )


@transaction.atomic
def incident_of(ticket: Ticket, *, actor: User | None = None) -> Incident:
    """The incident side of an incident ticket, made on first use."""
    if ticket.type != TicketType.INCIDENT:
        raise ValidationError({"ticket": f"{ticket.reference} is not an incident."})
    # get_or_create: two first changes at once make one row (the loser reads the winner's).
    incident, created = Incident.objects.get_or_create(
        ticket=ticket, defaults={"organization_id": ticket.organization_id}
    )
    if created:
        audit.record_create(
            incident, actor=actor, organization=ticket.organization, fields=INCIDENT_FIELDS
        )
    return incident


@transaction.atomic
def set_severity(
    ticket: Ticket, severity: str, *, actor: User | None, reason: str = ""
) -> Incident:
    """Set the severity (separate from the ticket's priority); unchanged is no event."""
    severity = _choice("severity", severity, Severity.values)
    reason = _text("reason", reason, limit=500)
    incident = incident_of(ticket, actor=actor)
    if incident.severity == severity:
        return incident
    before = audit.snapshot(incident, INCIDENT_FIELDS)
    at = now()
    previous = incident.severity
    incident.severity = severity
    incident.severity_changed_at = at
    incident.save(update_fields=["severity", "severity_changed_at"])
    audit.record_update(
        incident,
        actor=actor,
        organization=ticket.organization,
        before=before,
        fields=INCIDENT_FIELDS,
    )
    detail = {"before": previous or None, "after": severity, "reason": reason}
    _log(incident, EventKind.SEVERITY_CHANGED, actor=actor, at=at, detail=detail)
    return incident


@transaction.atomic
def assign_role(
    ticket: Ticket, *, role: str, user: User, actor: User | None, title: str = ""
) -> RoleAssignment:
    """Give ``user`` a role; the commander, communications lead and scribe are one person
    each, so assigning one hands the role over from whoever held it."""
    role = _choice("role", role, RoleKind.values)
    title = _text("title", title, limit=80, required=role == RoleKind.OTHER)
    if role != RoleKind.OTHER:
        title = ""
    _check_staff(ticket, user, "user")
    incident = incident_of(ticket, actor=actor)
    # Serialises assignments on one incident, so a hand-over cannot race another.
    Incident.objects.select_for_update().filter(pk=incident.pk).first()
    at = now()
    if role in SINGLE_HOLDER_ROLES:
        current = RoleAssignment.objects.filter(incident=incident, role=role).first()
        if current is not None:
            if current.user_id == user.pk:
                return current
            _release(current, actor=actor, at=at, replaced=True)
    elif RoleAssignment.objects.filter(
        incident=incident, role=role, title=title, user=user
    ).exists():
        raise ValidationError({"user": "This person already has this role."})
    assignment = RoleAssignment.objects.create(
        incident=incident,
        role=role,
        title=title,
        user=user,
        assigned_at=at,
        assigned_by=actor if actor is not None and actor.pk else None,
    )
    audit.record_create(
        assignment, actor=actor, organization=ticket.organization, fields=ROLE_FIELDS
    )
    detail = {"role": role, "label": assignment.label, "user": user.pk, "name": user.display_name}
    _log(incident, EventKind.ROLE_ASSIGNED, actor=actor, at=at, detail=detail)
    return assignment


def _release(
    assignment: RoleAssignment, *, actor: User | None, at: datetime, replaced: bool = False
) -> None:
    incident = assignment.incident
    detail = {
        "role": assignment.role,
        "label": assignment.label,
        "user": assignment.user_id,
        "name": assignment.user.display_name,
        "handed_over": replaced,
    }
    audit.record_delete(
        assignment,
        actor=actor,
        organization=incident.ticket.organization,
        fields=ROLE_FIELDS,
        object_id=assignment.pk,
    )
    assignment.delete()
    _log(incident, EventKind.ROLE_UNASSIGNED, actor=actor, at=at, detail=detail)


@transaction.atomic
def unassign_role(assignment: RoleAssignment, *, actor: User | None) -> None:
    _release(assignment, actor=actor, at=now())


@transaction.atomic
def post_status_update(
    ticket: Ticket,
    *,
    body: str,
    actor: User | None,
    visibility: str = Visibility.INTERNAL,
    phase: str = Phase.INVESTIGATING,
) -> StatusUpdate:
    """Record what is known; a customer-facing update shows in the portal and is mailed to
    the requester in the ticket's mail thread."""
    visibility = _choice("visibility", visibility, Visibility.values)
    phase = _choice("phase", phase, Phase.values)
    text = _text("body", body, limit=MAX_UPDATE, required=True)
    incident = incident_of(ticket, actor=actor)
    at = now()
    update = StatusUpdate.objects.create(
        incident=incident,
        visibility=visibility,
        phase=phase,
        body=text,
        author=actor if actor is not None and actor.pk else None,
        created_at=at,
    )
    audit.record_create(update, actor=actor, organization=ticket.organization, fields=UPDATE_FIELDS)
    customer = visibility == Visibility.CUSTOMER
    detail = {"update": update.pk, "visibility": visibility, "phase": phase, "body": text}
    _log(
        incident, EventKind.STATUS_UPDATE, actor=actor, at=at, detail=detail, internal=not customer
    )
    if customer:
        transaction.on_commit(partial(send_status_update.enqueue, update.pk))
    return update


@transaction.atomic
def save_postmortem(ticket: Ticket, *, actor: User | None, **fields: Any) -> Postmortem:
    """Write any of the postmortem's sections (made on first save)."""
    unknown = set(fields) - set(POSTMORTEM_TEXT)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "No such section."))
    cleaned = {
        name: _text(name, value, limit=MAX_POSTMORTEM_TEXT) for name, value in fields.items()
    }
    incident = incident_of(ticket, actor=actor)
    at = now()
    postmortem = Postmortem.objects.filter(incident=incident).first()
    created = postmortem is None
    if postmortem is None:
        postmortem = Postmortem(incident=incident, created_at=at)
    before = audit.snapshot(postmortem, POSTMORTEM_FIELDS) if not created else None
    for name, value in cleaned.items():
        setattr(postmortem, name, value)
    postmortem.updated_at = at
    postmortem.save()
    if before is None:
        audit.record_create(
            postmortem, actor=actor, organization=ticket.organization, fields=POSTMORTEM_FIELDS
        )
        changed = [n for n in POSTMORTEM_TEXT if getattr(postmortem, n)]
    else:
        entry = audit.record_update(
            postmortem,
            actor=actor,
            organization=ticket.organization,
            before=before,
            fields=POSTMORTEM_FIELDS,
        )
        changed = sorted(entry.changes) if entry is not None else []
    if created or changed:
        _log(
            incident,
            EventKind.POSTMORTEM_SAVED,
            actor=actor,
            at=at,
            detail={"sections": changed, "created": created},
        )
    return postmortem


def excerpt(incident: Incident) -> str:
    """The incident's log as lines of text, to start the postmortem's timeline from."""
    lines = []
    for event in incident.events.select_related("actor").order_by("at", "id"):
        who = event.actor.display_name if event.actor is not None else "System"
        lines.append(f"{event.at:%Y-%m-%d %H:%M} UTC  {who}: {describe(event)}")
    return "\n".join(lines)


def describe(event: IncidentEvent) -> str:
    """One log entry in words."""
    detail = event.detail if isinstance(event.detail, dict) else {}
    kind = event.kind
    if kind == EventKind.SEVERITY_CHANGED:
        text = f"severity {detail.get('before') or 'unset'} → {detail.get('after')}"
        return f"{text} ({detail['reason']})" if detail.get("reason") else text
    if kind == EventKind.ROLE_ASSIGNED:
        return f"{detail.get('name')} is {detail.get('label')}"
    if kind == EventKind.ROLE_UNASSIGNED:
        return f"{detail.get('name')} is no longer {detail.get('label')}"
    if kind == EventKind.STATUS_UPDATE:
        audience = "customer" if detail.get("visibility") == Visibility.CUSTOMER else "internal"
        return f"{audience} update ({detail.get('phase')}): {detail.get('body', '')}"
    if kind == EventKind.POSTMORTEM_SAVED:
        sections = ", ".join(detail.get("sections", [])) or "no change"
        return f"postmortem {'started' if detail.get('created') else 'edited'}: {sections}"
    if kind == EventKind.ACTION_ADDED:
        return f"action item: {detail.get('description')}"
    if kind == EventKind.ACTION_CONVERTED:
        return f"action item opened as {detail.get('reference')}: {detail.get('description')}"
    return event.get_kind_display()


@transaction.atomic
def add_action_item(
    ticket: Ticket,
    *,
    description: str,
    actor: User | None,
    owner: User | None = None,
    due_on: date | None = None,
) -> ActionItem:
    text = _text("description", description, limit=MAX_ACTION, required=True)
    if owner is not None:
        _check_staff(ticket, owner, "owner")
    incident = incident_of(ticket, actor=actor)
    postmortem = Postmortem.objects.filter(incident=incident).first() or save_postmortem(
        ticket, actor=actor
    )
    at = now()
    item = ActionItem.objects.create(
        postmortem=postmortem, description=text, owner=owner, due_on=due_on, created_at=at
    )
    audit.record_create(item, actor=actor, organization=ticket.organization, fields=ACTION_FIELDS)
    _log(
        incident,
        EventKind.ACTION_ADDED,
        actor=actor,
        at=at,
        detail={"action": item.pk, "description": text},
    )
    return item


@transaction.atomic
def convert_action_item(item: ActionItem, *, kind: str, actor: User | None) -> Ticket:
    """Open the action item as a desk ticket (a service request, related to the incident) or
    a problem (which explains the incident), and link it back to the item."""
    kind = _choice("kind", kind, ActionKind.values)
    locked = (
        ActionItem.objects.select_for_update(of=("self",))
        .select_related("postmortem__incident__ticket__organization", "owner")
        .get(pk=item.pk)
    )
    if locked.ticket_id is not None:
        raise ValidationError({"kind": "This action item is already a ticket."})
    incident_ticket = locked.postmortem.incident.ticket
    owner = locked.owner
    if owner is not None and owner.role not in WORKER_ROLES:
        owner = None
    description = "\n".join(
        [
            f"Action item from the postmortem of {incident_ticket.reference}: "
            f"{incident_ticket.subject}",
            "",
            locked.description,
            *([f"Due on {locked.due_on:%Y-%m-%d}."] if locked.due_on else []),
        ]
    )
    opened = desk.create_ticket(
        incident_ticket.organization,
        actor=actor,
        subject=locked.description[:250],
        description=description,
        type=TicketType.PROBLEM if kind == ActionKind.PROBLEM else TicketType.SERVICE_REQUEST,
        assignee=owner,
        source=Source.API,
    )
    if kind == ActionKind.PROBLEM:
        desk.link_incident(opened, incident_ticket, actor=actor)
    else:
        desk.relate(opened, incident_ticket, actor=actor)
    before = audit.snapshot(locked, ACTION_FIELDS)
    locked.kind = kind
    locked.ticket = opened
    locked.save(update_fields=["kind", "ticket"])
    audit.record_update(
        locked,
        actor=actor,
        organization=incident_ticket.organization,
        before=before,
        fields=ACTION_FIELDS,
    )
    _log(
        locked.postmortem.incident,
        EventKind.ACTION_CONVERTED,
        actor=actor,
        at=now(),
        detail={
            "action": locked.pk,
            "description": locked.description,
            "ticket": opened.pk,
            "reference": opened.reference,
            "kind": kind,
        },
    )
    item.kind, item.ticket = locked.kind, opened
    return opened
