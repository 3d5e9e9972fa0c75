"""/sites: the places an organisation has (offices, data centres)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    optional_organization,
    organization_param,
    paginated,
    require_write,
    responses,
)
from buttress.tenancy import access, services
from buttress.tenancy.access import Capability
from buttress.tenancy.models import Site

router = Router(tags=["sites"])


class SiteOut(Schema):
    id: int
    organization: int = Field(validation_alias="organization_id")
    name: str
    address: str
    timezone: str
    notes: str
    created_at: datetime
    updated_at: datetime


class SiteIn(Schema):
    organization: int
    name: str = Field(min_length=1, max_length=200)
    address: str = ""
    timezone: str = Field("UTC", description="An IANA time zone name such as Europe/London.")
    notes: str = ""


class SitePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    address: str | None = None
    timezone: str | None = None
    notes: str | None = None


class SiteFilters(Schema):
    organization: int | None = None
    q: str | None = Field(None, description="Name contains (case-insensitive).")


@router.get("/sites", response=responses(CursorPage[SiteOut]))
def list_sites(
    request: HttpRequest, filters: Query[SiteFilters], page: Query[PageParams]
) -> dict[str, object]:
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    queryset = access.sites_for(user) if org is None else Site.objects.for_org(org)
    if filters.q:
        queryset = queryset.filter(name__icontains=filters.q)
    return paginated(queryset, page)


@router.post("/sites", response=responses(SiteOut, 201))
def create_site(request: HttpRequest, body: SiteIn) -> Status[Site]:
    require_write(request)
    org = organization_param(request, body.organization, capability=Capability.MANAGE_ORG)
    fields = body.model_dump(exclude={"organization"})
    return Status(201, services.create_site(org, actor=current_user(request), **fields))


@router.get("/sites/{site_id}", response=responses(SiteOut))
def get_site(request: HttpRequest, site_id: int) -> Site:
    return access.get_site_for(current_user(request), site_id)


@router.patch("/sites/{site_id}", response=responses(SiteOut))
def update_site(request: HttpRequest, site_id: int, body: SitePatch) -> Site:
    require_write(request)
    user = current_user(request)
    site = access.get_site_for(user, site_id, capability=Capability.MANAGE_ORG)
    return services.update_site(site, actor=user, **body.model_dump(exclude_unset=True))


@router.delete("/sites/{site_id}", response=responses(None, 204))
def delete_site(request: HttpRequest, site_id: int) -> Status[None]:
    require_write(request)
    user = current_user(request)
    site = access.get_site_for(user, site_id, capability=Capability.MANAGE_ORG)
    services.delete_site(site, actor=user)
    return Status(204, None)
