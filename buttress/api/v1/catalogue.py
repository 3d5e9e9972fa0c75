"""/catalogue: the service catalogue's items and their forms, sending an item's form (which
opens a ticket), and the answers kept beside a ticket."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
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
    team_param,
)
from buttress.catalogue import access, services
from buttress.catalogue.models import CatalogueField, CatalogueItem, CatalogueRequest
from buttress.desk.access import get_ticket_for
from buttress.desk.models import Source

router = Router(tags=["catalogue"])

Kind = Literal["text", "textarea", "number", "date", "choice", "multi_choice", "checkbox", "email"]
LevelName = Literal["low", "medium", "high"]
TypeName = Literal["incident", "service_request", "problem"]


class FieldOut(Schema):
    id: int
    key: str
    label: str
    kind: str
    required: bool
    choices: list[str]
    help_text: str
    position: int


class ItemOut(Schema):
    id: int
    organization: int | None = Field(validation_alias="organization_id")
    name: str
    description: str
    category: str
    ticket_type: str
    impact: str
    urgency: str
    team: int | None = Field(validation_alias="team_id")
    is_active: bool
    position: int
    fields: list[FieldOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_fields(obj: CatalogueItem) -> list[CatalogueField]:
        return sorted(obj.fields.all(), key=lambda f: (f.position, f.pk))


class ItemIn(Schema):
    organization: int | None = Field(None, description="Empty: offered to every organisation.")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=10_000)
    category: str = Field("", max_length=120)
    ticket_type: TypeName = "service_request"
    impact: LevelName = "medium"
    urgency: LevelName = "medium"
    team: int | None = None
    is_active: bool = True
    position: int = Field(0, ge=0, le=1_000_000)


class ItemPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = Field(None, max_length=10_000)
    category: str | None = Field(None, max_length=120)
    ticket_type: TypeName | None = None
    impact: LevelName | None = None
    urgency: LevelName | None = None
    team: int | None = Field(None, description="A team id; 0 clears it.")
    is_active: bool | None = None
    position: int | None = Field(None, ge=0, le=1_000_000)


class FieldIn(Schema):
    key: str = Field(min_length=1, max_length=50)
    label: str = Field(min_length=1, max_length=200)
    kind: Kind = "text"
    required: bool = False
    choices: list[str] = Field(default_factory=list, description="For choice kinds only.")
    help_text: str = Field("", max_length=300)
    position: int | None = Field(None, ge=0, le=1_000_000, description="Default: last.")


class FieldPatch(Schema):
    key: str | None = Field(None, min_length=1, max_length=50)
    label: str | None = Field(None, min_length=1, max_length=200)
    kind: Kind | None = None
    required: bool | None = None
    choices: list[str] | None = None
    help_text: str | None = Field(None, max_length=300)
    position: int | None = Field(None, ge=0, le=1_000_000)


class ItemFilters(Schema):
    organization: int | None = None
    active: bool | None = None


class Answer(Schema):
    key: str
    label: str
    kind: str
    value: Any


class RequestIn(Schema):
    answers: dict[str, Any] = Field(
        default_factory=dict, description="key -> value, checked against the item's form."
    )
    summary: str = Field("", max_length=200)
    details: str = Field("", max_length=20_000)


class RequestOut(Schema):
    id: int
    ticket: int = Field(validation_alias="ticket_id")
    item: int | None = Field(validation_alias="item_id")
    item_name: str
    answers: list[Answer]
    submitted_by: int | None = Field(validation_alias="submitted_by_id")
    created_at: dt.datetime


@router.get("/catalogue/items", response=responses(CursorPage[ItemOut]))
def list_items(
    request: HttpRequest, filters: Query[ItemFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Staff: the shared items and those of their organisations. Customers: the active items
    offered to their organisation."""
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    queryset = access.items_for(user).prefetch_related("fields")
    if org is not None:
        queryset = queryset.filter(organization=org)
    if filters.active is not None:
        queryset = queryset.filter(is_active=filters.active)
    return paginated(queryset, page, order=("position", "name", "id"))


@router.post("/catalogue/items", response=responses(ItemOut, 201))
def create_item(request: HttpRequest, body: ItemIn) -> Status[CatalogueItem]:
    user = current_user(request)
    org = optional_organization(request, body.organization)
    require_write(request)
    access.require_manage(user, org.pk if org is not None else None)
    fields = body.dict(exclude={"organization", "team"})
    team = team_param(body.team, field="team")
    return Status(201, services.create_item(actor=user, organization=org, team=team, **fields))


@router.get("/catalogue/items/{item_id}", response=responses(ItemOut))
def get_item(request: HttpRequest, item_id: int) -> CatalogueItem:
    return access.get_item_for(current_user(request), item_id)


@router.patch("/catalogue/items/{item_id}", response=responses(ItemOut))
def update_item(request: HttpRequest, item_id: int, body: ItemPatch) -> CatalogueItem:
    user = current_user(request)
    item = access.get_item_for(user, item_id, write=True)
    require_write(request)
    changes = {k: v for k, v in body.dict(exclude_unset=True).items() if v is not None}
    if "team" in changes:
        changes["team"] = team_param(changes["team"] or None, field="team")
    return services.update_item(item, actor=user, **changes)


@router.delete("/catalogue/items/{item_id}", response=responses(None, 204))
def delete_item(request: HttpRequest, item_id: int) -> Status[None]:
    user = current_user(request)
    item = access.get_item_for(user, item_id, write=True)
    require_write(request)
    services.delete_item(item, actor=user)
    return Status(204, None)


@router.get("/catalogue/items/{item_id}/fields", response=responses(list[FieldOut]))
def list_fields(request: HttpRequest, item_id: int) -> list[CatalogueField]:
    item = access.get_item_for(current_user(request), item_id)
    return list(item.fields.order_by("position", "id"))


@router.post("/catalogue/items/{item_id}/fields", response=responses(FieldOut, 201))
def add_field(request: HttpRequest, item_id: int, body: FieldIn) -> Status[CatalogueField]:
    user = current_user(request)
    item = access.get_item_for(user, item_id, write=True)
    require_write(request)
    return Status(201, services.add_field(item, actor=user, **body.dict()))


@router.patch("/catalogue/items/{item_id}/fields/{field_id}", response=responses(FieldOut))
def update_field(
    request: HttpRequest, item_id: int, field_id: int, body: FieldPatch
) -> CatalogueField:
    user = current_user(request)
    item = access.get_item_for(user, item_id, write=True)
    field = access.get_field_for(user, item, field_id, write=True)
    require_write(request)
    changes = {k: v for k, v in body.dict(exclude_unset=True).items() if v is not None}
    return services.update_field(field, actor=user, **changes)


@router.delete("/catalogue/items/{item_id}/fields/{field_id}", response=responses(None, 204))
def delete_field(request: HttpRequest, item_id: int, field_id: int) -> Status[None]:
    user = current_user(request)
    item = access.get_item_for(user, item_id, write=True)
    field = access.get_field_for(user, item, field_id, write=True)
    require_write(request)
    services.delete_field(field, actor=user)
    return Status(204, None)


@router.post("/catalogue/items/{item_id}/requests", response=responses(RequestOut, 201))
def submit_request(request: HttpRequest, item_id: int, body: RequestIn) -> Status[CatalogueRequest]:
    """A customer sends the item's form: the ticket opens with the checked answers. A bad or
    missing answer is a 400 naming its key."""
    user = current_user(request)
    item = access.get_item_for(user, item_id)
    require_write(request)
    if access.is_staff(user):
        raise PermissionDenied("Catalogue requests are sent by customers; staff open tickets.")
    if not access.offered_items_for(user).filter(pk=item.pk).exists():
        raise PermissionDenied("Your role may not open tickets.")
    submitted = services.submit_request(
        item,
        actor=user,
        answers=body.answers,
        summary=body.summary,
        details=body.details,
        source=Source.API,
    )
    return Status(201, submitted)


@router.get("/tickets/{ticket_id}/catalogue-request", response=responses(RequestOut))
def ticket_catalogue_request(request: HttpRequest, ticket_id: int) -> CatalogueRequest:
    """The catalogue item and answers a ticket was opened with (404 when it was not)."""
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    found = access.request_for_ticket(user, ticket)
    if found is None:
        raise Http404("This ticket was not opened from the service catalogue.")
    return found
