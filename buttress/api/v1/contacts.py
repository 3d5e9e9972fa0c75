"""/contacts: people at customer organisations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
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
from buttress.tenancy.models import Contact, Organization, Site

router = Router(tags=["contacts"])


class ContactOut(Schema):
    id: int
    organization: int = Field(validation_alias="organization_id")
    site: int | None = Field(validation_alias="site_id")
    name: str
    email: str
    phone: str
    job_title: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ContactIn(Schema):
    organization: int
    name: str = Field(min_length=1, max_length=200)
    email: str = ""
    phone: str = Field("", max_length=64)
    job_title: str = Field("", max_length=200)
    site: int | None = Field(None, description="A site of the same organisation.")
    is_active: bool = True


class ContactPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = None
    phone: str | None = Field(None, max_length=64)
    job_title: str | None = Field(None, max_length=200)
    site: int | None = None
    is_active: bool | None = None


class ContactFilters(Schema):
    organization: int | None = None
    site: int | None = None
    is_active: bool | None = None
    q: str | None = Field(None, description="Name or email contains (case-insensitive).")


def _site_of(organization: Organization, pk: int | None) -> Site | None:
    if pk is None:
        return None
    site = Site.objects.for_org(organization).filter(pk=pk).first()
    if site is None:
        raise ValidationError({"site": f"There is no site {pk} in this organisation."})
    return site


@router.get("/contacts", response=responses(CursorPage[ContactOut]))
def list_contacts(
    request: HttpRequest, filters: Query[ContactFilters], page: Query[PageParams]
) -> dict[str, object]:
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    queryset = access.contacts_for(user) if org is None else Contact.objects.for_org(org)
    if filters.site is not None:
        queryset = queryset.filter(site_id=filters.site)
    if filters.is_active is not None:
        queryset = queryset.filter(is_active=filters.is_active)
    if filters.q:
        queryset = queryset.filter(Q(name__icontains=filters.q) | Q(email__icontains=filters.q))
    return paginated(queryset, page)


@router.post("/contacts", response=responses(ContactOut, 201))
def create_contact(request: HttpRequest, body: ContactIn) -> Status[Contact]:
    require_write(request)
    org = organization_param(request, body.organization, capability=Capability.MANAGE_ORG)
    fields: dict[str, Any] = body.model_dump(exclude={"organization", "site"})
    fields["site"] = _site_of(org, body.site)
    return Status(201, services.create_contact(org, actor=current_user(request), **fields))


@router.get("/contacts/{contact_id}", response=responses(ContactOut))
def get_contact(request: HttpRequest, contact_id: int) -> Contact:
    return access.get_contact_for(current_user(request), contact_id)


@router.patch("/contacts/{contact_id}", response=responses(ContactOut))
def update_contact(request: HttpRequest, contact_id: int, body: ContactPatch) -> Contact:
    require_write(request)
    user = current_user(request)
    contact = access.get_contact_for(user, contact_id, capability=Capability.MANAGE_ORG)
    changes = body.model_dump(exclude_unset=True)
    if "site" in changes:
        changes["site"] = _site_of(contact.organization, changes["site"])
    return services.update_contact(contact, actor=user, **changes)


@router.delete("/contacts/{contact_id}", response=responses(None, 204))
def delete_contact(request: HttpRequest, contact_id: int) -> Status[None]:
    require_write(request)
    user = current_user(request)
    contact = access.get_contact_for(user, contact_id, capability=Capability.MANAGE_ORG)
    services.delete_contact(contact, actor=user)
    return Status(204, None)
