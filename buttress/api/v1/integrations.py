"""/integrations: alert senders and their keys; /incidents/{id}/alerts: an incident's alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.alerts import access, services
from buttress.alerts.models import (
    DEFAULT_GROUP_WINDOW_MINUTES,
    DEFAULT_RATE_LIMIT,
    AlertStatus,
    Integration,
    IntegrationKind,
)
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
from buttress.desk.access import get_ticket_for

router = Router(tags=["alerts"])


class IntegrationOut(Schema):
    id: int
    organization: int
    name: str
    kind: IntegrationKind
    url: str = Field(
        description=(
            "Where the sender posts. The key is stored only as a hash, so outside the answers "
            "to create and rotate-key it shows as {key}."
        )
    )
    key_prefix: str = Field(description="The key's first characters, to tell keys apart.")
    is_enabled: bool
    mapping: dict[str, Any]
    group_by: list[str]
    group_window_minutes: int
    rate_limit_per_minute: int
    created_at: datetime
    updated_at: datetime


class IntegrationWithKey(IntegrationOut):
    key: str = Field(description="The integration key; shown only now.")


class IntegrationIn(Schema):
    organization: int
    name: str = Field(min_length=1, max_length=120)
    kind: IntegrationKind
    is_enabled: bool = True
    mapping: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "generic only: alert field (fingerprint, status, summary, severity, labels, "
            "annotations, starts_at, ends_at, runbook_url, dashboard_url, generator_url, "
            "group_key, alerts) -> JMESPath expression; resolved_values / acknowledged_values "
            "-> status texts."
        ),
    )
    group_by: list[str] = Field(
        default_factory=list,
        description="Labels that group alerts without a sender group key (default alertname).",
    )
    group_window_minutes: int = DEFAULT_GROUP_WINDOW_MINUTES
    rate_limit_per_minute: int = Field(DEFAULT_RATE_LIMIT, description="0: no limit.")


class IntegrationPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    is_enabled: bool | None = None
    mapping: dict[str, Any] | None = None
    group_by: list[str] | None = None
    group_window_minutes: int | None = None
    rate_limit_per_minute: int | None = None


class IntegrationFilters(Schema):
    organization: int | None = None
    kind: IntegrationKind | None = None


class AlertOut(Schema):
    id: int
    organization: int = Field(validation_alias="organization_id")
    integration: int | None = Field(validation_alias="integration_id")
    incident: int | None = Field(validation_alias="incident_id")
    fingerprint: str
    status: AlertStatus
    summary: str
    severity: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    links: dict[str, Any]
    details: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    times_seen: int = Field(description="Deliveries that carried this alert.")
    created_at: datetime
    updated_at: datetime


def _out(integration: Integration, *, key: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": integration.pk,
        "organization": integration.organization_id,
        "name": integration.name,
        "kind": integration.kind,
        "url": services.url_for(integration, key=key),
        "key_prefix": integration.key_prefix,
        "is_enabled": integration.is_enabled,
        "mapping": integration.mapping,
        "group_by": integration.group_by,
        "group_window_minutes": integration.group_window_minutes,
        "rate_limit_per_minute": integration.rate_limit_per_minute,
        "created_at": integration.created_at,
        "updated_at": integration.updated_at,
    }
    if key is not None:
        data["key"] = key
    return data


@router.get("/integrations", response=responses(CursorPage[IntegrationOut]))
def list_integrations(
    request: HttpRequest, filters: Query[IntegrationFilters], page: Query[PageParams]
) -> dict[str, Any]:
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    access.require_view(user)
    queryset = access.integrations_for(user)
    if org is not None:
        queryset = queryset.for_org(org)
    if filters.kind is not None:
        queryset = queryset.filter(kind=filters.kind)
    return paginated(
        queryset, page, order=("name", "id"), serialize=lambda rows: [_out(r) for r in rows]
    )


@router.post("/integrations", response=responses(IntegrationWithKey, 201))
def create_integration(request: HttpRequest, body: IntegrationIn) -> Status[dict[str, Any]]:
    """The answer holds the key and the full URL; they are not shown again (see rotate-key)."""
    require_write(request)
    user = current_user(request)
    org = organization_param(request, body.organization)
    access.require_manage(user)
    issued = services.create_integration(
        org, actor=user, **body.model_dump(exclude={"organization"})
    )
    return Status(201, _out(issued.integration, key=issued.key))


@router.get("/integrations/{integration_id}", response=responses(IntegrationOut))
def get_integration(request: HttpRequest, integration_id: int) -> dict[str, Any]:
    return _out(access.get_integration_for(current_user(request), integration_id))


@router.patch("/integrations/{integration_id}", response=responses(IntegrationOut))
def update_integration(
    request: HttpRequest, integration_id: int, body: IntegrationPatch
) -> dict[str, Any]:
    require_write(request)
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return _out(services.update_integration(integration, actor=user, **changes))


@router.post("/integrations/{integration_id}/rotate-key", response=responses(IntegrationWithKey))
def rotate_key(request: HttpRequest, integration_id: int) -> dict[str, Any]:
    """A new key and URL; the old key stops working at once."""
    require_write(request)
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    issued = services.rotate_key(integration, actor=user)
    return _out(issued.integration, key=issued.key)


@router.delete("/integrations/{integration_id}", response=responses(None, 204))
def delete_integration(request: HttpRequest, integration_id: int) -> Status[None]:
    """Its recorded deliveries go with it; alerts and incidents stay."""
    require_write(request)
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    services.delete_integration(integration, actor=user)
    return Status(204, None)


@router.get("/incidents/{ticket_id}/alerts", response=responses(CursorPage[AlertOut]))
def incident_alerts(
    request: HttpRequest, ticket_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    """The alerts grouped into an incident ticket, newest first."""
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    return paginated(access.alerts_of(user, ticket), page, order=("-created_at", "-id"))
