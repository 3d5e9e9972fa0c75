"""/audit: the record of every change made through a service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from buttress.accounts.models import User
from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    optional_organization,
    paginated,
    responses,
)
from buttress.audit.access import entries_for
from buttress.audit.models import AuditEntry, AuditEntryQuerySet
from buttress.tenancy import access
from buttress.tenancy.access import Capability

router = Router(tags=["audit"])

AUDIT_ORDER = ("-at", "-id")


class AuditEntryOut(Schema):
    id: int
    at: datetime
    actor: int | None = Field(validation_alias="actor_id")
    actor_label: str = Field(description="The actor's email when the change was made.")
    organization: int | None = Field(validation_alias="organization_id")
    action: str
    object_type: str = Field(description='"app.model", e.g. "assets.asset".')
    object_id: str
    object_repr: str
    changes: dict[str, Any] = Field(description="{field: [before, after]}")
    note: str


class AuditFilters(Schema):
    organization: int | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = Field(None, description="A user id or email.")
    action: AuditEntry.Action | None = None
    since: datetime | None = Field(None, description="Entries at or after this instant.")
    until: datetime | None = Field(None, description="Entries before this instant.")
    q: str | None = Field(None, description="Object name or note contains (case-insensitive).")


def audit_entries_for(user: User) -> AuditEntryQuerySet:
    access.require(user, Capability.VIEW_AUDIT)
    return entries_for(user)


@router.get("/audit", response=responses(CursorPage[AuditEntryOut]))
def list_audit_entries(
    request: HttpRequest, filters: Query[AuditFilters], page: Query[PageParams]
) -> dict[str, object]:
    user = current_user(request)
    org = optional_organization(request, filters.organization, capability=Capability.VIEW_AUDIT)
    queryset = audit_entries_for(user)
    if org is not None:
        queryset = queryset.for_org(org)
    if filters.object_type:
        queryset = queryset.filter(object_type=filters.object_type)
    if filters.object_id:
        queryset = queryset.filter(object_id=filters.object_id)
    if filters.actor:
        actor = filters.actor.strip()
        queryset = (
            queryset.filter(actor_id=int(actor))
            if actor.isdigit()
            else queryset.filter(actor_label__iexact=actor)
        )
    if filters.action:
        queryset = queryset.filter(action=filters.action)
    if filters.since:
        queryset = queryset.filter(at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(at__lt=filters.until)
    if filters.q:
        queryset = queryset.filter(
            Q(object_repr__icontains=filters.q) | Q(note__icontains=filters.q)
        )
    return paginated(queryset, page, order=AUDIT_ORDER)
