"""/macros: canned replies that can also set fields, and applying one to a ticket."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Schema
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
    staff_user,
)
from buttress.desk.access import (
    DeskCapability,
    get_macro_for,
    get_ticket_for,
    macros_for,
    manageable_macros,
    require_macro_admin,
)
from buttress.desk.models import Macro, Ticket
from buttress.desk.services import macros

router = Router(tags=["macros"])

REFUSAL = "Macros belong to the agent workspace (provider staff)."


class MacroOut(Schema):
    id: int
    organization: int | None = Field(validation_alias="organization_id")
    name: str
    body: str
    internal: bool
    changes: dict[str, Any]
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class MacroIn(Schema):
    organization: int | None = Field(None, description="Empty: usable for every organisation.")
    name: str = Field(min_length=1, max_length=120)
    body: str = Field("", description="May use {ticket}, {subject}, {requester}, {agent}.")
    internal: bool = False
    changes: dict[str, Any] = Field(
        default_factory=dict,
        description="Any of status, impact, urgency, category, team (id or null), assignee "
        '(id, "me" or null), add_tags (list).',
    )
    is_active: bool = True


class MacroPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    body: str | None = None
    internal: bool | None = None
    changes: dict[str, Any] | None = None
    is_active: bool | None = None


class MacroFilters(Schema):
    organization: int | None = None


class ApplyIn(Schema):
    macro: int


class ApplyOut(Schema):
    ticket: int
    done: list[str] = Field(description="What the macro did, in order.")


@router.get("/macros", response=responses(CursorPage[MacroOut]))
def list_macros(
    request: HttpRequest, filters: Query[MacroFilters], page: Query[PageParams]
) -> dict[str, Any]:
    org = optional_organization(request, filters.organization)
    queryset = manageable_macros(staff_user(request, refusal=REFUSAL))
    if org is not None:
        queryset = queryset.filter(organization=org)
    return paginated(queryset, page, order=("name", "id"))


@router.post("/macros", response=responses(MacroOut, 201))
def create_macro(request: HttpRequest, body: MacroIn) -> Status[Macro]:
    org = optional_organization(request, body.organization)
    user = staff_user(request, refusal=REFUSAL)
    require_write(request)
    require_macro_admin(user, org.pk if org is not None else None)
    fields = body.dict(exclude={"organization"})
    return Status(201, macros.create_macro(actor=user, organization=org, **fields))


@router.get("/macros/{macro_id}", response=responses(MacroOut))
def get_macro(request: HttpRequest, macro_id: int) -> Macro:
    return get_macro_for(current_user(request), macro_id)


@router.patch("/macros/{macro_id}", response=responses(MacroOut))
def update_macro(request: HttpRequest, macro_id: int, body: MacroPatch) -> Macro:
    user = current_user(request)
    macro = get_macro_for(user, macro_id, write=True)
    require_write(request)
    changes = {k: v for k, v in body.dict(exclude_unset=True).items() if v is not None}
    return macros.update_macro(macro, actor=user, **changes)


@router.delete("/macros/{macro_id}", response=responses(None, 204))
def delete_macro(request: HttpRequest, macro_id: int) -> Status[None]:
    user = current_user(request)
    macro = get_macro_for(user, macro_id, write=True)
    require_write(request)
    macros.delete_macro(macro, actor=user)
    return Status(204, None)


@router.post("/tickets/{ticket_id}/apply-macro", response=responses(ApplyOut))
def apply_macro(request: HttpRequest, ticket_id: int, body: ApplyIn) -> dict[str, Any]:
    """Apply one of the macros available for the ticket: fields, then the reply, then status."""
    user = current_user(request)
    ticket: Ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    require_write(request)
    macro = macros_for(user, ticket).filter(pk=body.macro).first()
    if macro is None:
        raise ValidationError({"macro": "No such macro is available for this ticket."})
    done = macros.apply_macro(ticket, macro, actor=user)
    return {"ticket": ticket.pk, "done": done}
