"""/integrations: alert senders, their keys and routing rules; /silences; /alerts and
/incidents/{id}/alerts: recorded alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import Count
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.alerts import access, services
from buttress.alerts.models import (
    DEFAULT_GROUP_WINDOW_MINUTES,
    DEFAULT_RATE_LIMIT,
    Alert,
    AlertStatus,
    Integration,
    IntegrationKind,
    RoutingRule,
    Silence,
)
from buttress.alerts.services import routing, silences
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
from buttress.desk.models import Level
from buttress.lib.timeutil import now

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
    escalation_policy: int | None = Field(
        description="Escalates its incidents unless a routing rule names a policy; "
        "null: the organisation's default policy."
    )
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
    escalation_policy: int | None = Field(
        None,
        description=(
            "Escalation policy (id) for its incidents unless a routing rule names one; "
            "null: the organisation's default policy."
        ),
    )


class IntegrationPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    is_enabled: bool | None = None
    mapping: dict[str, Any] | None = None
    group_by: list[str] | None = None
    group_window_minutes: int | None = None
    rate_limit_per_minute: int | None = None
    escalation_policy: int | None = Field(None, description="null: the default policy.")


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
    routing_rule: int | None = Field(validation_alias="routing_rule_id")
    asset: int | None = Field(validation_alias="asset_id")
    is_suppressed: bool = Field(
        description="Held back by a silence or maintenance window: in no incident."
    )
    silence: int | None = Field(validation_alias="silence_id")
    maintenance_window: int | None = Field(validation_alias="maintenance_window_id")
    suppressed_until: datetime | None
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
        "escalation_policy": integration.escalation_policy_id,
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
    """The answer holds the key and the full URL; they are not shown again (see rotate-key).
    The ``monitoring`` kind is built in (one per organisation, made when a monitor first goes
    down) and cannot be created."""
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
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k == "escalation_policy"
    }
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


class AlertFilters(Schema):
    organization: int | None = None
    integration: int | None = None
    status: AlertStatus | None = None
    suppressed: bool | None = Field(
        None, description="true: only alerts held back by a silence or maintenance window."
    )


@router.get("/alerts", response=responses(CursorPage[AlertOut]))
def list_alerts(
    request: HttpRequest, filters: Query[AlertFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Recorded alerts, newest first, including those held back by a silence or window."""
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    access.require_view(user)
    queryset = access.alerts_for(user)
    if org is not None:
        queryset = queryset.for_org(org)
    if filters.integration is not None:
        queryset = queryset.filter(integration_id=filters.integration)
    if filters.status is not None:
        queryset = queryset.filter(status=filters.status)
    if filters.suppressed is not None:
        held = queryset.filter(incident__isnull=True).exclude(
            silence__isnull=True, maintenance_window__isnull=True
        )
        queryset = held if filters.suppressed else queryset.exclude(pk__in=held.values("pk"))
    return paginated(queryset, page, order=("-created_at", "-id"))


# --- routing rules ---------------------------------------------------------------------------


class RoutingRuleOut(Schema):
    id: int
    integration: int = Field(validation_alias="integration_id")
    position: int = Field(description="Rules are tried in this order, from 0.")
    name: str
    is_enabled: bool
    matchers: list[str]
    continue_matching: bool
    asset: int | None = Field(validation_alias="asset_id")
    category: str
    impact: Level | Literal[""]
    urgency: Level | Literal[""]
    group_by: list[str]
    group_window_minutes: int | None
    escalation_policy: int | None = Field(
        validation_alias="escalation_policy_id",
        description="Escalates the incidents it opens; null: the integration's policy.",
    )
    created_at: datetime
    updated_at: datetime


MATCHERS_HELP = (
    'Alertmanager matchers: a list such as ["severity=\\"critical\\"", "env=~\\"prod|dr\\""] '
    'or one text \'{severity="critical", env=~"prod|dr"}\'; regexes are fully anchored; all '
    "must match; none matches every alert."
)


class RoutingRuleIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    matchers: list[str] | str = Field(default_factory=list, description=MATCHERS_HELP)
    is_enabled: bool = True
    continue_matching: bool = Field(
        False, description="After a match, later matching rules fill what this one leaves unset."
    )
    asset: int | None = Field(None, description="An asset of the integration's organisation.")
    category: str = Field("", max_length=120, description="The incident's service/category.")
    impact: Level | Literal[""] = Field("", description="Empty: from the alert's severity.")
    urgency: Level | Literal[""] = Field("", description="Empty: from the alert's severity.")
    group_by: list[str] = Field(
        default_factory=list, description="Group matched alerts by these labels instead."
    )
    group_window_minutes: int | None = None
    escalation_policy: int | None = Field(
        None,
        description="Escalation policy (id) for the incidents it opens; null: the "
        "integration's policy, else the organisation's default.",
    )
    position: int | None = Field(None, description="Insert at this position (default last).")


class RoutingRulePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    matchers: list[str] | str | None = Field(None, description=MATCHERS_HELP)
    is_enabled: bool | None = None
    continue_matching: bool | None = None
    asset: int | None = None
    category: str | None = Field(None, max_length=120)
    impact: Level | Literal[""] | None = None
    urgency: Level | Literal[""] | None = None
    group_by: list[str] | None = None
    group_window_minutes: int | None = None
    escalation_policy: int | None = None


class RoutingOrderIn(Schema):
    order: list[int] = Field(description="Every rule id of the integration, in the new order.")


def _rules(integration: Integration) -> list[RoutingRule]:
    return list(integration.routing_rules.order_by("position", "pk"))


@router.get(
    "/integrations/{integration_id}/routing-rules", response=responses(list[RoutingRuleOut])
)
def list_routing_rules(request: HttpRequest, integration_id: int) -> list[RoutingRule]:
    """The integration's routing rules in the order they are tried."""
    return _rules(access.get_integration_for(current_user(request), integration_id))


@router.post(
    "/integrations/{integration_id}/routing-rules", response=responses(RoutingRuleOut, 201)
)
def create_routing_rule(
    request: HttpRequest, integration_id: int, body: RoutingRuleIn
) -> Status[RoutingRule]:
    require_write(request)
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    return Status(201, routing.create_rule(integration, actor=user, **body.model_dump()))


@router.post(
    "/integrations/{integration_id}/routing-rules/reorder",
    response=responses(list[RoutingRuleOut]),
)
def reorder_routing_rules(
    request: HttpRequest, integration_id: int, body: RoutingOrderIn
) -> list[RoutingRule]:
    require_write(request)
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    return routing.reorder_rules(integration, actor=user, order=body.order)


@router.get(
    "/integrations/{integration_id}/routing-rules/{routing_rule_id}",
    response=responses(RoutingRuleOut),
)
def get_routing_rule(
    request: HttpRequest, integration_id: int, routing_rule_id: int
) -> RoutingRule:
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id)
    return access.get_rule_for(user, integration, routing_rule_id)


@router.patch(
    "/integrations/{integration_id}/routing-rules/{routing_rule_id}",
    response=responses(RoutingRuleOut),
)
def update_routing_rule(
    request: HttpRequest, integration_id: int, routing_rule_id: int, body: RoutingRulePatch
) -> RoutingRule:
    """Fields left out are kept; ``asset``, ``group_window_minutes`` and
    ``escalation_policy`` may be set to null."""
    require_write(request)
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    rule = access.get_rule_for(user, integration, routing_rule_id, manage=True)
    nullable = {"asset", "group_window_minutes", "escalation_policy"}
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in nullable
    }
    return routing.update_rule(rule, actor=user, **changes)


@router.delete(
    "/integrations/{integration_id}/routing-rules/{routing_rule_id}",
    response=responses(None, 204),
)
def delete_routing_rule(
    request: HttpRequest, integration_id: int, routing_rule_id: int
) -> Status[None]:
    require_write(request)
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    routing.delete_rule(
        access.get_rule_for(user, integration, routing_rule_id, manage=True), actor=user
    )
    return Status(204, None)


# --- silences --------------------------------------------------------------------------------


class SilenceOut(Schema):
    id: int
    organization: int = Field(validation_alias="organization_id")
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: int | None = Field(validation_alias="created_by_id")
    is_active: bool
    alerts_held: int = Field(description="Firing alerts this silence holds back now.")
    created_at: datetime
    updated_at: datetime


class SilenceIn(Schema):
    organization: int
    matchers: list[str] | str = Field(description=MATCHERS_HELP)
    starts_at: datetime | None = Field(None, description="Default: now.")
    ends_at: datetime
    comment: str = Field(min_length=1, max_length=2000)


class SilencePatch(Schema):
    matchers: list[str] | str | None = Field(None, description=MATCHERS_HELP)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    comment: str | None = Field(None, min_length=1, max_length=2000)


class SilenceFilters(Schema):
    organization: int | None = None
    active: bool | None = Field(None, description="true: in force now; false: ended or future.")


def _silences_out(rows: list[Silence]) -> list[dict[str, Any]]:
    at = now()
    held = dict(
        Alert.objects.filter(silence__in=rows, status=AlertStatus.FIRING, incident__isnull=True)
        .values_list("silence_id")
        .annotate(n=Count("pk"))
        .values_list("silence_id", "n")
    )
    return [
        {
            "id": row.pk,
            "organization_id": row.organization_id,
            "matchers": row.matchers,
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
            "comment": row.comment,
            "created_by_id": row.created_by_id,
            "is_active": silences.is_active(row, at),
            "alerts_held": held.get(row.pk, 0),
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
        for row in rows
    ]


@router.get("/silences", response=responses(CursorPage[SilenceOut]))
def list_silences(
    request: HttpRequest, filters: Query[SilenceFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Silences, the latest ending first."""
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    access.require_view(user)
    queryset = access.silences_for(user)
    if org is not None:
        queryset = queryset.for_org(org)
    if filters.active is not None:
        active = queryset.active_at(now())
        queryset = active if filters.active else queryset.exclude(pk__in=active.values("pk"))
    return paginated(queryset, page, order=("-ends_at", "-id"), serialize=_silences_out)


@router.post("/silences", response=responses(SilenceOut, 201))
def create_silence(request: HttpRequest, body: SilenceIn) -> Status[dict[str, Any]]:
    require_write(request)
    user = current_user(request)
    org = organization_param(request, body.organization)
    access.require_manage(user)
    silence = silences.create_silence(org, actor=user, **body.model_dump(exclude={"organization"}))
    return Status(201, _silences_out([silence])[0])


@router.get("/silences/{silence_id}", response=responses(SilenceOut))
def get_silence(request: HttpRequest, silence_id: int) -> dict[str, Any]:
    return _silences_out([access.get_silence_for(current_user(request), silence_id)])[0]


@router.patch("/silences/{silence_id}", response=responses(SilenceOut))
def update_silence(request: HttpRequest, silence_id: int, body: SilencePatch) -> dict[str, Any]:
    """Change a silence that has not ended; alerts it held back are looked at again."""
    require_write(request)
    user = current_user(request)
    silence = access.get_silence_for(user, silence_id, manage=True)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return _silences_out([silences.update_silence(silence, actor=user, **changes)])[0]


@router.post("/silences/{silence_id}/expire", response=responses(SilenceOut))
def expire_silence(request: HttpRequest, silence_id: int) -> dict[str, Any]:
    """End the silence now; alerts it held back that still fire open or join incidents."""
    require_write(request)
    user = current_user(request)
    silence = access.get_silence_for(user, silence_id, manage=True)
    return _silences_out([silences.expire_silence(silence, actor=user)])[0]
