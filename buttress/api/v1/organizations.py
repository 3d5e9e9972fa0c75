"""/organizations: the customers of the provider."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.accounts.models import Role
from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    paginated,
    require_write,
    responses,
)
from buttress.tenancy import access, services
from buttress.tenancy.access import Capability

router = Router(tags=["organizations"])


class OrganizationOut(Schema):
    id: int
    name: str
    slug: str
    is_active: bool
    email_domains: list[str]
    notes: str
    created_at: datetime
    updated_at: datetime


class OrganizationIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field("", max_length=64, description="Generated from the name when empty.")
    is_active: bool = True
    email_domains: list[str] = Field(default_factory=list)
    notes: str = ""


class OrganizationPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    slug: str | None = Field(None, min_length=1, max_length=64)
    is_active: bool | None = None
    email_domains: list[str] | None = None
    notes: str | None = None


class OrganizationFilters(Schema):
    q: str | None = Field(None, description="Name contains (case-insensitive).")
    is_active: bool | None = None


def _require_unrestricted(request: HttpRequest, action: str) -> None:
    if not access.has_unrestricted_scope(current_user(request)):
        raise PermissionDenied(
            f"Only a provider admin with access to every organisation may {action} organisations."
        )


@router.get("/organizations", response=responses(CursorPage[OrganizationOut]))
def list_organizations(
    request: HttpRequest, filters: Query[OrganizationFilters], page: Query[PageParams]
) -> dict[str, object]:
    queryset = access.organizations_for(current_user(request))
    if filters.q:
        queryset = queryset.filter(name__icontains=filters.q)
    if filters.is_active is not None:
        queryset = queryset.filter(is_active=filters.is_active)
    return paginated(queryset, page)


@router.post("/organizations", response=responses(OrganizationOut, 201))
def create_organization(request: HttpRequest, body: OrganizationIn) -> Status[object]:
    require_write(request)
    _require_unrestricted(request, "create")
    org = services.create_organization(actor=current_user(request), **body.model_dump())
    return Status(201, org)


@router.get("/organizations/{org_id}", response=responses(OrganizationOut))
def get_organization(request: HttpRequest, org_id: int) -> object:
    return access.get_organization_for(current_user(request), org_id)


@router.patch("/organizations/{org_id}", response=responses(OrganizationOut))
def update_organization(request: HttpRequest, org_id: int, body: OrganizationPatch) -> object:
    require_write(request)
    user = current_user(request)
    org = access.get_organization_for(user, org_id, capability=Capability.MANAGE_ORG)
    # As on the web page: agents change an organisation's sites and contacts, not the
    # organisation itself (its name, slug, whether it is active).
    if user.role != Role.ADMIN:
        raise PermissionDenied("Only a provider admin may change an organisation.")
    changes = body.model_dump(exclude_unset=True)
    return services.update_organization(org, actor=user, **changes)


@router.delete("/organizations/{org_id}", response=responses(None, 204))
def delete_organization(request: HttpRequest, org_id: int) -> Status[None]:
    require_write(request)
    user = current_user(request)
    org = access.get_organization_for(user, org_id)
    _require_unrestricted(request, "delete")
    services.delete_organization(org, actor=user)
    return Status(204, None)
