"""/incidents/{ticket_id}/...: incident work on an incident ticket: severity, roles, status
updates and the postmortem with its action items (provider staff; customers read the
customer-facing status updates)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.accounts.models import User
from buttress.api.v1.base import current_user, require_write, responses
from buttress.desk.access import get_ticket_for
from buttress.desk.models import TicketType
from buttress.response import access, services
from buttress.response.models import ActionItem, Incident, Postmortem, RoleAssignment, StatusUpdate

router = Router(tags=["incidents"])

SeverityName = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
RoleName = Literal["commander", "communications", "scribe", "other"]
PhaseName = Literal["investigating", "identified", "monitoring", "resolved"]
VisibilityName = Literal["internal", "customer"]
KindName = Literal["ticket", "problem"]


class SeverityOut(Schema):
    ticket: int
    severity: str | None = Field(description="SEV1 (worst) to SEV4; null until set.")
    changed_at: dt.datetime | None


class SeverityIn(Schema):
    severity: SeverityName
    reason: str = Field("", max_length=500)


class RoleOut(Schema):
    id: int
    role: str
    title: str
    label: str
    user: int = Field(validation_alias="user_id")
    assigned_at: dt.datetime


class RoleIn(Schema):
    role: RoleName
    user: int = Field(description="An active member of staff who sees the organisation.")
    title: str = Field("", max_length=80, description="Required for role other.")


class UpdateOut(Schema):
    id: int
    visibility: str
    phase: str
    body: str
    author: int | None = Field(validation_alias="author_id")
    created_at: dt.datetime
    mailed_at: dt.datetime | None


class UpdateIn(Schema):
    body: str = Field(min_length=1, max_length=services.MAX_UPDATE)
    visibility: VisibilityName = "internal"
    phase: PhaseName = "investigating"


class ActionOut(Schema):
    id: int
    description: str
    owner: int | None = Field(validation_alias="owner_id")
    due_on: dt.date | None
    kind: str
    ticket: int | None = Field(validation_alias="ticket_id")
    created_at: dt.datetime


class PostmortemOut(Schema):
    ticket: int
    summary: str
    impact: str
    root_cause: str
    timeline_excerpt: str
    went_well: str
    went_badly: str
    action_items: list[ActionOut]
    updated_at: dt.datetime | None


class PostmortemIn(Schema):
    summary: str | None = Field(None, max_length=services.MAX_POSTMORTEM_TEXT)
    impact: str | None = Field(None, max_length=services.MAX_POSTMORTEM_TEXT)
    root_cause: str | None = Field(None, max_length=services.MAX_POSTMORTEM_TEXT)
    timeline_excerpt: str | None = Field(None, max_length=services.MAX_POSTMORTEM_TEXT)
    went_well: str | None = Field(None, max_length=services.MAX_POSTMORTEM_TEXT)
    went_badly: str | None = Field(None, max_length=services.MAX_POSTMORTEM_TEXT)


class ActionIn(Schema):
    description: str = Field(min_length=1, max_length=services.MAX_ACTION)
    owner: int | None = None
    due_on: dt.date | None = None


class ConvertIn(Schema):
    kind: KindName


class ConvertOut(Schema):
    action: ActionOut
    ticket: int
    reference: str


def _severity(ticket_id: int, incident: Incident | None) -> dict[str, Any]:
    return {
        "ticket": ticket_id,
        "severity": incident.severity or None if incident is not None else None,
        "changed_at": incident.severity_changed_at if incident is not None else None,
    }


def _staff_in(ticket: Any, pk: int | None, field: str) -> User | None:
    """A member of staff a body names; anyone else (or nobody) is a 400 on ``field``."""
    if pk is None:
        return None
    user = access.responders_for(ticket).filter(pk=pk).first()
    if user is None:
        raise ValidationError(
            {field: "Choose an active member of staff who sees this organisation."}
        )
    return user


@router.get("/incidents/{ticket_id}/severity", response=responses(SeverityOut))
def get_severity(request: HttpRequest, ticket_id: int) -> dict[str, Any]:
    ticket = access.get_incident_ticket_for(current_user(request), ticket_id)
    return _severity(ticket.pk, access.incident_for_reading(ticket))


@router.put("/incidents/{ticket_id}/severity", response=responses(SeverityOut))
def set_severity(request: HttpRequest, ticket_id: int, body: SeverityIn) -> dict[str, Any]:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    require_write(request)
    incident = services.set_severity(ticket, body.severity, actor=user, reason=body.reason)
    return _severity(ticket.pk, incident)


@router.get("/incidents/{ticket_id}/roles", response=responses(list[RoleOut]))
def list_roles(request: HttpRequest, ticket_id: int) -> list[RoleAssignment]:
    ticket = access.get_incident_ticket_for(current_user(request), ticket_id)
    return list(RoleAssignment.objects.filter(incident__ticket=ticket))


@router.post("/incidents/{ticket_id}/roles", response=responses(RoleOut, 201))
def assign_role(request: HttpRequest, ticket_id: int, body: RoleIn) -> Status[RoleAssignment]:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    require_write(request)
    person = _staff_in(ticket, body.user, "user")
    assert person is not None
    assignment = services.assign_role(
        ticket, role=body.role, user=person, title=body.title, actor=user
    )
    return Status(201, assignment)


@router.delete("/incidents/{ticket_id}/roles/{assignment_id}", response=responses(None, 204))
def release_role(request: HttpRequest, ticket_id: int, assignment_id: int) -> Status[None]:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    assignment = access.get_assignment_for(ticket, assignment_id)
    require_write(request)
    services.unassign_role(assignment, actor=user)
    return Status(204, None)


@router.get("/incidents/{ticket_id}/status-updates", response=responses(list[UpdateOut]))
def list_updates(request: HttpRequest, ticket_id: int) -> list[StatusUpdate]:
    """Newest first (at most 200). Customers get the customer-facing updates of their own
    incident tickets; staff get all."""
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    if ticket.type != TicketType.INCIDENT:
        raise Http404(f"{ticket.reference} is not an incident.")
    return list(access.customer_updates_for(user, ticket)[:200])


@router.post("/incidents/{ticket_id}/status-updates", response=responses(UpdateOut, 201))
def post_update(request: HttpRequest, ticket_id: int, body: UpdateIn) -> Status[StatusUpdate]:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    require_write(request)
    update = services.post_status_update(
        ticket, body=body.body, visibility=body.visibility, phase=body.phase, actor=user
    )
    return Status(201, update)


def _postmortem(ticket_id: int, postmortem: Postmortem | None) -> dict[str, Any]:
    text = {
        name: getattr(postmortem, name) if postmortem is not None else ""
        for name in services.POSTMORTEM_TEXT
    }
    return {
        "ticket": ticket_id,
        **text,
        "action_items": list(postmortem.action_items.all()) if postmortem is not None else [],
        "updated_at": postmortem.updated_at if postmortem is not None else None,
    }


@router.get("/incidents/{ticket_id}/postmortem", response=responses(PostmortemOut))
def get_postmortem(request: HttpRequest, ticket_id: int) -> dict[str, Any]:
    ticket = access.get_incident_ticket_for(current_user(request), ticket_id)
    found = Postmortem.objects.filter(incident__ticket=ticket).first()
    return _postmortem(ticket.pk, found)


@router.patch("/incidents/{ticket_id}/postmortem", response=responses(PostmortemOut))
def save_postmortem(request: HttpRequest, ticket_id: int, body: PostmortemIn) -> dict[str, Any]:
    """Write the sections given; the others stay as they are."""
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    require_write(request)
    sections = {k: v for k, v in body.dict(exclude_unset=True).items() if v is not None}
    return _postmortem(ticket.pk, services.save_postmortem(ticket, actor=user, **sections))


@router.post("/incidents/{ticket_id}/postmortem/action-items", response=responses(ActionOut, 201))
def add_action(request: HttpRequest, ticket_id: int, body: ActionIn) -> Status[ActionItem]:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    require_write(request)
    owner = _staff_in(ticket, body.owner, "owner")
    item = services.add_action_item(
        ticket, description=body.description, owner=owner, due_on=body.due_on, actor=user
    )
    return Status(201, item)


@router.post(
    "/incidents/{ticket_id}/postmortem/action-items/{action_id}/convert",
    response=responses(ConvertOut),
)
def convert_action(
    request: HttpRequest, ticket_id: int, action_id: int, body: ConvertIn
) -> dict[str, Any]:
    """Open the action item as a service-request ticket (related to the incident) or a problem
    (which explains it); 400 if it already was."""
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    item = access.get_action_for(ticket, action_id)
    require_write(request)
    opened = services.convert_action_item(item, kind=body.kind, actor=user)
    item.refresh_from_db()
    return {"action": item, "ticket": opened.pk, "reference": opened.reference}
