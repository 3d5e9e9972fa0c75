"""Every endpoint, walked from the OpenAPI schema, must keep another organisation's data hidden.

The walker calls each path and method of the API as a user of organisation A, substituting for
each path parameter an object of organisation B; every such call must answer 404. A list or a
create that takes an ``organization`` is called with B's id and must answer 404 too. Endpoints
added later are walked automatically: a new path parameter makes this test fail until
``PATH_PARAMS`` says which object of an organisation it names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from buttress.accounts import services as accounts
from buttress.accounts.models import ApiToken, Role, Team, User, UserSession
from buttress.alerts.models import Integration, RoutingRule, Silence
from buttress.api.tests.conftest import ApiClient, api_as
from buttress.api.v1 import api
from buttress.assets import services as asset_services
from buttress.assets.models import Asset, AssetRelation
from buttress.audit.models import AuditEntry
from buttress.catalogue.models import CatalogueField, CatalogueItem
from buttress.desk.models import (
    Attachment,
    InboundMail,
    InboundStatus,
    Macro,
    Mailbox,
    SavedView,
    Ticket,
)
from buttress.escalation.models import EscalationPolicy, EscalationStep
from buttress.lib.timeutil import now
from buttress.maintenance.models import MaintenanceWindow
from buttress.monitoring.models import Monitor
from buttress.notify import crypto
from buttress.notify.models import (
    ContactMethod,
    Notification,
    NotificationRule,
    WebhookDelivery,
    WebhookEndpoint,
)
from buttress.oncall.models import Layer, LayerMember, Override, Schedule
from buttress.response.models import ActionItem, Incident, Postmortem, RoleAssignment
from buttress.sla.models import Calendar, PolicyRule, SlaPolicy
from buttress.tenancy.models import Contact, Organization, Site
from buttress.testing.factories import (
    AssetFactory,
    ContactFactory,
    OrganizationFactory,
    SiteFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Every object of organisation B carries this in its name: no answer to A may contain it.
MARKER = "zzleak"


@dataclass
class Tenant:
    org: Organization
    site: Site
    contact: Contact
    asset: Asset
    other_asset: Asset
    relation: AssetRelation
    user: User
    token: ApiToken
    session: UserSession
    team: Team


def _tenant(slug: str, label: str, actor: User) -> Tenant:
    org = OrganizationFactory.create(name=f"{label} org", slug=slug)
    asset = AssetFactory.create(organization=org, name=f"{label}-asset")
    other_asset = AssetFactory.create(organization=org, name=f"{label}-db")
    user = UserFactory.create(
        email=f"{slug}@{slug}.example", role=Role.ORG_ADMIN, organization=org, full_name=label
    )
    return Tenant(
        org=org,
        site=SiteFactory.create(organization=org, name=f"{label}-site"),
        contact=ContactFactory.create(organization=org, name=f"{label}-contact"),
        asset=asset,
        other_asset=other_asset,
        relation=asset_services.relate_assets(
            asset, actor=actor, kind="depends_on", target=other_asset
        ),
        user=user,
        token=accounts.create_token(user, actor=user, name=f"{label}-token").token,
        session=UserSession.objects.create(
            user=user, session_key=f"{slug}-session", user_agent=label
        ),
        # Teams are the provider's, shared by every customer: named without the marker.
        team=TeamFactory.create(name=f"{slug}-team"),
    )


def _ticket_of(tenant: Tenant) -> int:
    """The tenant's ticket, created on first use (named after the organisation, so B's carries
    the marker)."""
    ticket = Ticket.objects.for_org(tenant.org).order_by("pk").first()
    if ticket is None:
        ticket = TicketFactory.create(
            organization=tenant.org, requester=tenant.contact, subject=f"{tenant.org.name} ticket"
        )
    return ticket.pk


def _calendar_of(tenant: Tenant) -> int:
    calendar, _ = Calendar.objects.get_or_create(
        organization=tenant.org,
        defaults={
            "name": f"{tenant.org.name} hours",
            "timezone": "UTC",
            "weekly": {"0": [["09:00", "17:00"]]},
        },
    )
    return calendar.pk


def _policy_of(tenant: Tenant) -> int:
    targets = {"first_response": 60, "next_response": 120, "resolution": 480}
    policy, _ = SlaPolicy.objects.get_or_create(
        organization=tenant.org,
        defaults={
            "name": f"{tenant.org.name} policy",
            "calendar_id": _calendar_of(tenant),
            "targets": dict.fromkeys(("P1", "P2", "P3", "P4"), targets),
        },
    )
    return policy.pk


def _rule_of(tenant: Tenant) -> int:
    rule = PolicyRule.objects.filter(organization=tenant.org).first()
    if rule is None:
        rule = PolicyRule.objects.create(
            organization=tenant.org, position=tenant.org.pk, policy_id=_policy_of(tenant)
        )
    return rule.pk


def _integration_of(tenant: Tenant) -> int:
    # Made directly rather than by the service, which would write B's audit log mid-walk.
    integration, _ = Integration.objects.get_or_create(
        organization=tenant.org,
        defaults={
            "name": f"{tenant.org.name} alerts",
            "kind": "alertmanager",
            "key_prefix": tenant.org.slug[:10],
            "key_digest": Integration.hash_key(tenant.org.slug),
        },
    )
    return integration.pk


def _routing_rule_of(tenant: Tenant) -> int:
    # Made directly (no audit entry), like the integration above.
    rule, _ = RoutingRule.objects.get_or_create(
        organization=tenant.org,
        integration_id=_integration_of(tenant),
        defaults={"name": f"{tenant.org.name} route", "matchers": ['team="ops"']},
    )
    return rule.pk


def _silence_of(tenant: Tenant) -> int:
    # Made directly (no audit entry), like the integration above.
    silence, _ = Silence.objects.get_or_create(
        organization=tenant.org,
        defaults={
            "matchers": ['alertname="Watchdog"'],
            "starts_at": now(),
            "ends_at": now() + timedelta(days=1),
            "comment": f"{tenant.org.name} silence",
        },
    )
    return silence.pk


def _monitor_of(tenant: Tenant) -> int:
    # Made directly (no audit entry), like the integration above.
    monitor, _ = Monitor.objects.get_or_create(
        organization=tenant.org,
        defaults={"name": f"{tenant.org.name} heartbeat", "kind": "heartbeat", "slug": "nightly"},
    )
    return monitor.pk


def _attachment_of(tenant: Tenant) -> int:
    ticket_id = _ticket_of(tenant)
    attachment = Attachment.objects.filter(ticket_id=ticket_id).first()
    if attachment is None:
        attachment = Attachment(
            ticket_id=ticket_id,
            organization=tenant.org,
            filename=f"{tenant.org.name}.txt",
            content_type="text/plain",
            size=5,
            sha256="0" * 64,
        )
        attachment.file.save("secret.txt", ContentFile(b"hello"), save=False)
        attachment.save()
    return attachment.pk


def _macro_of(tenant: Tenant) -> int:
    macro, _ = Macro.objects.get_or_create(
        organization=tenant.org, name=f"{tenant.org.name} macro", defaults={"body": "Hello"}
    )
    return macro.pk


def _view_of(tenant: Tenant) -> int:
    view, _ = SavedView.objects.get_or_create(
        owner=tenant.user, name=f"{tenant.org.name} view", defaults={"query": {"status": "new"}}
    )
    return view.pk


def _window_of(tenant: Tenant) -> int:
    # Made directly (no audit entry), like the integration above.
    window, created = MaintenanceWindow.objects.get_or_create(
        organization=tenant.org,
        defaults={
            "name": f"{tenant.org.name} patch night",
            "starts_at": now(),
            "duration": timedelta(hours=2),
            "rrule": "FREQ=WEEKLY",
            "edges_done_until": now(),
        },
    )
    if created:
        # The walk may have deleted the asset (a leaking endpoint in the self-test).
        window.assets.add(*Asset.objects.filter(pk=tenant.asset.pk))
    return window.pk


def _escalation_policy_of(tenant: Tenant) -> int:
    # Made directly (no audit entry), like the integration above.
    policy, created = EscalationPolicy.objects.get_or_create(
        organization=tenant.org, defaults={"name": f"{tenant.org.name} paging"}
    )
    if created:
        step = EscalationStep.objects.create(policy=policy, position=0, wait_minutes=5)
        step.users.add(tenant.user)
    return policy.pk


def _item_of(tenant: Tenant) -> int:
    # Made directly (no audit entry), like the integration above.
    item, _ = CatalogueItem.objects.get_or_create(
        organization=tenant.org, defaults={"name": f"{tenant.org.name} laptop"}
    )
    return item.pk


def _field_of(tenant: Tenant) -> int:
    field, _ = CatalogueField.objects.get_or_create(
        item_id=_item_of(tenant), key="model", defaults={"label": f"{tenant.org.name} model"}
    )
    return field.pk


def _incident_of(tenant: Tenant) -> Incident:
    # Made directly (no audit entry), like the integration above.
    incident, _ = Incident.objects.get_or_create(
        ticket_id=_ticket_of(tenant), defaults={"organization": tenant.org, "severity": "SEV2"}
    )
    return incident


def _assignment_of(tenant: Tenant) -> int:
    assignment, _ = RoleAssignment.objects.get_or_create(
        incident=_incident_of(tenant), role="commander", defaults={"user": tenant.user}
    )
    return assignment.pk


def _action_of(tenant: Tenant) -> int:
    postmortem, _ = Postmortem.objects.get_or_create(
        incident=_incident_of(tenant), defaults={"summary": f"{tenant.org.name} outage"}
    )
    action, _ = ActionItem.objects.get_or_create(
        postmortem=postmortem, defaults={"description": f"{tenant.org.name} fix"}
    )
    return action.pk


def _schedule_of(tenant: Tenant) -> int:
    # Made directly (no audit entry), like the integration above.
    schedule, _ = Schedule.objects.get_or_create(
        organization=tenant.org, defaults={"name": f"{tenant.org.name} on call"}
    )
    return schedule.pk


def _layer_of(tenant: Tenant) -> int:
    schedule_id = _schedule_of(tenant)
    layer, created = Layer.objects.get_or_create(
        schedule_id=schedule_id,
        position=10,
        defaults={"name": f"{tenant.org.name} primary", "start_date": now().date()},
    )
    if created:
        engineer, _ = User.objects.get_or_create(
            email=f"oncall-{tenant.org.slug}@provider.example", defaults={"role": Role.AGENT}
        )
        LayerMember.objects.create(layer=layer, user=engineer, position=0)
    return layer.pk


def _override_of(tenant: Tenant) -> int:
    layer = Layer.objects.get(pk=_layer_of(tenant))
    override, _ = Override.objects.get_or_create(
        schedule_id=layer.schedule_id,
        defaults={
            "kind": "override",
            "user": layer.members.get().user,
            "starts_at": now(),
            "ends_at": now() + timedelta(hours=1),
            "note": f"{tenant.org.name} cover",
        },
    )
    return override.pk


def _inbound_mail_of(tenant: Tenant) -> int:
    received, _ = InboundMail.objects.get_or_create(
        message_id=f"<{tenant.org.slug}@mail.example>",
        defaults={
            "sender": f"someone@{tenant.org.slug}.example",
            "subject": f"{tenant.org.name} secret",
            "status": InboundStatus.QUARANTINED,
            "reason": "test",
            "organization": tenant.org,
            "raw": f"From: someone@{tenant.org.slug}.example\r\n\r\nsecret".encode(),
        },
    )
    return received.pk


def _mailbox_of(tenant: Tenant) -> int:
    mailbox, _ = Mailbox.objects.get_or_create(
        name="shared", defaults={"host": "imap.example", "username": "desk"}
    )
    return mailbox.pk


def _method_of(tenant: Tenant) -> int:
    # Made directly (no audit entry), like the integration above.
    method, _ = ContactMethod.objects.get_or_create(
        user=tenant.user,
        defaults={
            "kind": "apprise",
            "label": f"{tenant.org.name} slack",
            "target_sealed": crypto.seal("slack://T1/B1/C1"),
            "target_hint": f"slack://{tenant.org.name}",
        },
    )
    return method.pk


def _notification_rule_of(tenant: Tenant) -> int:
    rule, _ = NotificationRule.objects.get_or_create(
        user=tenant.user, defaults={"method_id": _method_of(tenant)}
    )
    return rule.pk


def _notification_of(tenant: Tenant) -> int:
    notification, _ = Notification.objects.get_or_create(
        user=tenant.user,
        defaults={
            "organization": tenant.org,
            "channel": "email",
            "destination": tenant.user.email,
            "subject": f"{tenant.org.name} notice",
            "body": "x",
        },
    )
    return notification.pk


def _webhook_of(tenant: Tenant) -> int:
    endpoint, _ = WebhookEndpoint.objects.get_or_create(
        organization=tenant.org,
        defaults={
            "name": f"{tenant.org.name} hook",
            "url": "https://hooks.example.com/in",
            "events": ["ticket.created"],
            "secret_sealed": crypto.seal("whsec_x"),
            "secret_prefix": "whsec_x",
        },
    )
    return endpoint.pk


def _webhook_delivery_of(tenant: Tenant) -> int:
    delivery, _ = WebhookDelivery.objects.get_or_create(
        endpoint_id=_webhook_of(tenant),
        defaults={
            "organization": tenant.org,
            "event": "ticket.created",
            "payload": {"subject": f"{tenant.org.name} ticket"},
        },
    )
    return delivery.pk


# Path parameter name -> the object of a tenant it stands for. A new endpoint with a new path
# parameter must add its entry here.
PATH_PARAMS: dict[str, Callable[[Tenant], int | str]] = {
    "org_id": lambda t: t.org.pk,
    "organization_id": lambda t: t.org.pk,
    "site_id": lambda t: t.site.pk,
    "contact_id": lambda t: t.contact.pk,
    "asset_id": lambda t: t.asset.pk,
    "relation_id": lambda t: t.relation.pk,
    "user_id": lambda t: t.user.pk,
    "token_id": lambda t: t.token.pk,
    "session_id": lambda t: t.session.pk,
    "ticket_id": _ticket_of,
    "calendar_id": _calendar_of,
    "policy_id": _policy_of,
    "rule_id": _rule_of,
    "view_id": _view_of,
    "macro_id": _macro_of,
    "attachment_id": _attachment_of,
    "integration_id": _integration_of,
    "routing_rule_id": _routing_rule_of,
    "silence_id": _silence_of,
    "monitor_id": _monitor_of,
    "window_id": _window_of,
    "escalation_policy_id": _escalation_policy_of,
    "item_id": _item_of,
    "field_id": _field_of,
    "assignment_id": _assignment_of,
    "action_id": _action_of,
    "schedule_id": _schedule_of,
    "layer_id": _layer_of,
    "override_id": _override_of,
    "mail_id": _inbound_mail_of,
    "method_id": _method_of,
    "notification_rule_id": _notification_rule_of,
    "notification_id": _notification_of,
    "webhook_id": _webhook_of,
    "delivery_id": _webhook_delivery_of,
}

# Path parameters naming rows that belong to no organisation (shared by every customer). Their
# endpoints are still called, but only checked for not leaking B's data and for not failing.
SHARED_PATH_PARAMS: dict[str, Callable[[Tenant], int | str]] = {
    "team_id": lambda t: t.team.pk,
    "mailbox_id": _mailbox_of,
}


@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def path_params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "path"]

    @property
    def query_params(self) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == "query"]

    def takes_organization(self, schema: dict[str, Any]) -> bool:
        if any(p["name"] == "organization" for p in self.query_params):
            return True
        body = _json_body_schema(self.spec, schema)
        return body is not None and "organization" in body.get("properties", {})

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _operations(schema: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method, path, spec)
        for path, methods in schema["paths"].items()
        for method, spec in methods.items()
    ]


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _json_body_schema(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    content = spec.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolve(content["application/json"]["schema"], schema)


def _example(name: str, node: dict[str, Any], schema: dict[str, Any], theirs: Tenant) -> Any:
    """A valid value for a field, pointing at B's objects where it names one."""
    node = _resolve(node, schema)
    refs = {
        "organization": theirs.org.pk,
        "site": theirs.site.pk,
        "target": theirs.other_asset.pk,
        "source": theirs.asset.pk,
        "asset": theirs.asset.pk,
        "user": theirs.user.pk,
        "contact": theirs.contact.pk,
    }
    if name in refs and node.get("type") in ("integer", None):
        return refs[name]
    if "enum" in node:
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            options = [o for o in node[key] if _resolve(o, schema).get("type") != "null"]
            return _example(name, options[0], schema, theirs)
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties", {})
        wanted = set(node.get("required", [])) | ({"organization"} & set(props))
        return {key: _example(key, props[key], schema, theirs) for key in sorted(wanted)}
    if kind == "array":
        return []
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if node.get("format") == "email":
        return f"walker-{MARKER}-probe@example.com"
    if node.get("format") == "date-time":
        return (now() + timedelta(days=30)).isoformat()
    if node.get("format") == "date":
        return (now() + timedelta(days=30)).date().isoformat()
    return "walker probe"


def _call(
    client: ApiClient,
    op: Operation,
    params: dict[str, int | str],
    schema: dict[str, Any],
    theirs: Tenant,
) -> Any:
    url = op.path
    for name, value in params.items():
        url = url.replace("{" + name + "}", str(value))
    query = {}
    for param in op.query_params:
        if param["name"] == "organization":
            query["organization"] = theirs.org.pk
        elif param.get("required"):
            query[param["name"]] = _example(param["name"], param["schema"], schema, theirs)
    body = _json_body_schema(op.spec, schema)
    payload = _example("body", body, schema, theirs) if body is not None else None
    if op.method == "get":
        return client.client.get(url, data=query, headers=_auth(client))
    if query:
        url = f"{url}?{urlencode(query)}"
    handler = getattr(client.client, op.method)
    if payload is None:
        return handler(url, headers=_auth(client))
    return handler(
        url, data=json.dumps(payload), content_type="application/json", headers=_auth(client)
    )


def _auth(client: ApiClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"}


def _substitutions(
    op: Operation, mine: Tenant, theirs: Tenant
) -> tuple[list[dict[str, int | str]], bool]:
    """Path values to try (all of B's; then each one of B's among A's) and whether they are
    tenant-owned. Fails the test on a path parameter nobody mapped."""
    names = op.path_params
    unknown = [n for n in names if n not in PATH_PARAMS and n not in SHARED_PATH_PARAMS]
    if unknown:
        pytest.fail(
            f"{op} has path parameter(s) {unknown} that the cross-tenant walker cannot "
            "fill: add them to PATH_PARAMS (or SHARED_PATH_PARAMS) in test_cross_tenant.py."
        )
    owned = [n for n in names if n in PATH_PARAMS]

    def value(name: str, tenant: Tenant) -> int | str:
        factory = PATH_PARAMS.get(name) or SHARED_PATH_PARAMS[name]
        return factory(tenant)

    combos = [{n: value(n, theirs) for n in names}]
    if len(owned) > 1:
        for foreign in owned:
            combos.append({n: value(n, theirs if n == foreign else mine) for n in names})
    return combos, bool(owned)


def _allowed(params: dict[str, int | str], theirs: Tenant) -> set[int]:
    """All of B's objects: not found. One of B's under one of A's (an asset's relation): the
    role may be refused on A's object before B's is ever looked up, which reveals nothing."""
    all_theirs = all(
        PATH_PARAMS[name](theirs) == value for name, value in params.items() if name in PATH_PARAMS
    )
    return {404} if all_theirs else {403, 404}


def _walk(client: ApiClient, mine: Tenant, theirs: Tenant) -> list[str]:
    schema = api.get_openapi_schema()
    problems: list[str] = []
    for op in _operations(schema):
        combos, owned = _substitutions(op, mine, theirs)
        for params in combos:
            expected = _allowed(params, theirs)
            response = _call(client, op, params, schema, theirs)
            text = response.content.decode(errors="replace") if not response.streaming else ""
            label = f"{op} {params or ''}"
            if response.status_code >= 500:
                problems.append(f"{label}: {response.status_code}")
            elif MARKER in text:
                problems.append(f"{label}: answer shows organisation B's data")
            elif (
                owned or (not op.path_params and op.takes_organization(schema))
            ) and response.status_code not in expected:
                problems.append(f"{label}: {response.status_code} {text[:200]}")
    return problems


def _world() -> tuple[Tenant, Tenant, User]:
    system = UserFactory.create(email="system@buttress.example", role=Role.ADMIN)
    mine = _tenant("acme", "acme", system)
    theirs = _tenant("globex", f"globex-{MARKER}", system)
    return mine, theirs, system


def _fingerprint(tenant: Tenant) -> tuple[Any, ...]:
    org = Organization.objects.get(pk=tenant.org.pk)
    return (
        org.name,
        org.is_active,
        list(Site.objects.for_org(org).values_list("pk", "name")),
        list(Contact.objects.for_org(org).values_list("pk", "name")),
        list(Asset.objects.for_org(org).values_list("pk", "name", "updated_at")),
        list(AssetRelation.objects.for_org(org).values_list("pk")),
        list(User.objects.filter(organization=org).values_list("pk", "is_active")),
        list(ApiToken.objects.filter(user__organization=org).values_list("pk", "revoked_at")),
        UserSession.objects.filter(user__organization=org).count(),
        AuditEntry.objects.filter(organization=org).count(),
    )


def test_org_admin_of_a_cannot_reach_organisation_b_anywhere():
    mine, theirs, _ = _world()
    before = _fingerprint(theirs)
    client = api_as(mine.user, raise_errors=False)

    problems = _walk(client, mine, theirs)

    assert not problems, "\n".join(problems)
    assert _fingerprint(theirs) == before


def test_agent_limited_to_a_cannot_reach_organisation_b_anywhere():
    mine, theirs, _ = _world()
    agent = UserFactory.create(email="limited@buttress.example", role=Role.AGENT)
    agent.limited_to.add(mine.org)
    before = _fingerprint(theirs)
    client = api_as(agent, scope="write", raise_errors=False)

    problems = _walk(client, mine, theirs)

    assert not problems, "\n".join(problems)
    assert _fingerprint(theirs) == before


def test_walker_covers_every_operation_of_the_schema():
    schema = api.get_openapi_schema()
    operations = _operations(schema)

    assert len(operations) >= 20
    assert {str(op) for op in operations} >= {
        "GET /api/v1/assets/{asset_id}",
        "DELETE /api/v1/assets/{asset_id}/relations/{relation_id}",
        "GET /api/v1/audit",
    }


def test_walker_would_catch_a_leaking_endpoint(monkeypatch):
    mine, theirs, _ = _world()
    client = api_as(mine.user, raise_errors=False)
    # Given an asset lookup that forgets tenancy, as a careless endpoint might
    from buttress.api.v1 import assets as asset_routes

    monkeypatch.setattr(
        asset_routes,
        "get_asset_for",
        lambda user, pk, **kwargs: Asset.objects.select_related("organization").get(pk=pk),
    )

    problems = _walk(client, mine, theirs)

    assert any("GET /api/v1/assets/{asset_id}" in p for p in problems)


def test_unauthenticated_walk_answers_401_everywhere():
    mine, theirs, _ = _world()
    schema = api.get_openapi_schema()
    anonymous = Client(raise_request_exception=False)
    for op in _operations(schema):
        if op.path.endswith(("/openapi.json", "/docs")):
            continue
        combos, _ = _substitutions(op, mine, theirs)
        url = op.path
        for name, value in combos[0].items():
            url = url.replace("{" + name + "}", str(value))
        response = getattr(anonymous, op.method)(url)
        assert response.status_code == 401, f"{op}: {response.status_code}"
