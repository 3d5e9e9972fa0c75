"""Every page that names an object answers 404 to a user of another organisation.

The URL patterns are read from the resolver, so a page added later is covered without
touching this test; a pattern with a parameter this test cannot fill fails it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from buttress.accounts.models import Role, User
from buttress.alerts import services as alert_services
from buttress.alerts.services import routing as alert_routing
from buttress.alerts.services import silences as alert_silences
from buttress.assets import services as asset_services
from buttress.catalogue import services as catalogue_services
from buttress.desk import services as desk_services
from buttress.desk.models import InboundMail, InboundStatus
from buttress.desk.services import attachments as attachment_services
from buttress.desk.services import macros as macro_services
from buttress.desk.services import saved_views
from buttress.escalation import services as escalation_services
from buttress.escalation.services import StepSpec
from buttress.lib.timeutil import now
from buttress.maintenance import services as maintenance_services
from buttress.monitoring.models import Monitor
from buttress.notify.services import hooks as webhook_services
from buttress.notify.services import people as notify_people
from buttress.oncall import services as oncall_services
from buttress.response import services as response_services
from buttress.sla import services as sla_services
from buttress.sla.tests.helpers import make_policy
from buttress.tenancy.models import Organization
from buttress.testing.factories import AssetFactory, ContactFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db

UI_NAMESPACES = {
    "web",
    "tenancy",
    "assets",
    "audit",
    "desk",
    "sla",
    "portal",
    "maintenance",
    "monitoring",
    "escalation",
    "catalogue",
    "catalogue_portal",
    "response",
    "oncall",
    "alerting",
    "notify",
}


def _patterns(
    resolvers: list[URLPattern | URLResolver], namespace: str | None = None
) -> Iterator[tuple[str, URLPattern]]:
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry.url_patterns, entry.namespace or namespace)
        elif namespace in UI_NAMESPACES and entry.name:
            yield f"{namespace}:{entry.name}", entry


def _parameters(pattern: URLPattern) -> list[str]:
    converters: dict[str, Any] = getattr(pattern.pattern, "converters", {})
    if converters:
        return list(converters)
    return list(pattern.pattern.regex.groupindex)


# Pages whose link itself is the permission (signed and expiring, a monitor's secret uuid
# that cron jobs ping, a secret calendar address): anyone holding it may use it.
# The link is the key (each has its own tests of altered and foreign links).
SIGNED_LINK_PAGES = {
    "desk:survey",
    "monitoring:ping",
    "oncall:feed",
    "notify:action",
    "notify:requester",
    "notify:requester_unsubscribe",
}


def ui_patterns_with_parameters() -> list[tuple[str, list[str]]]:
    found = [(name, _parameters(p)) for name, p in _patterns(get_resolver().url_patterns)]
    return sorted(
        (name, params) for name, params in found if params and name not in SIGNED_LINK_PAGES
    )


@pytest.fixture
def objects_of(org: Organization) -> dict[str, Callable[[], Any]]:
    """How to fill each URL parameter with an object of ``org``."""
    web = AssetFactory.create(organization=org, name="web01")
    db = AssetFactory.create(organization=org, name="db01")
    relation = asset_services.relate_assets(web, actor=None, kind="depends_on", target=db)
    site = SiteFactory.create(organization=org)
    contact = ContactFactory.create(organization=org)
    ticket = desk_services.create_ticket(org, actor=None, subject="Printer jammed", assets=[web])
    policy = make_policy(organization=org)
    rule = sla_services.create_rule(actor=None, policy=policy, organization=org)
    window = maintenance_services.create_window(
        org,
        actor=None,
        name="Patch night",
        starts_at=now(),
        duration=timedelta(hours=1),
        assets=[web],
    )
    monitor = Monitor.objects.create(organization=org, name="Backups", kind="heartbeat")
    [attachment] = attachment_services.attach(
        ticket, [SimpleUploadedFile("notes.txt", b"private")], actor=None
    )
    macro = macro_services.create_macro(
        actor=None, organization=org, name="Thanks", body="Thank you"
    )
    integration = alert_services.create_integration(
        org, actor=None, name="Prod Alertmanager", kind="alertmanager"
    ).integration
    routing_rule = alert_routing.create_rule(integration, actor=None, name="db hosts")
    silence = alert_silences.create_silence(
        org,
        actor=None,
        matchers=['alertname="Watchdog"'],
        ends_at=now() + timedelta(hours=1),
        comment="quiet",
    )
    view = saved_views.save_view(
        UserFactory.create(role=Role.AGENT), name="Mine", query={"org": str(org.pk)}
    )
    paging = escalation_services.create_policy(
        org,
        actor=None,
        name="Paging",
        steps=[StepSpec(wait_minutes=5, users=[UserFactory.create(role=Role.AGENT)], teams=[])],
    )
    item = catalogue_services.create_item(actor=None, organization=org, name="New laptop")
    field = catalogue_services.add_field(item, actor=None, key="model", label="Model")
    responder = UserFactory.create(role=Role.AGENT)
    assignment = response_services.assign_role(ticket, role="commander", user=responder, actor=None)
    action = response_services.add_action_item(ticket, description="Add an alert", actor=None)
    schedule = oncall_services.create_schedule(actor=None, organization=org, name="Nights")
    on_call = UserFactory.create(role=Role.AGENT)
    layer = oncall_services.add_layer(
        schedule, actor=None, name="Primary", participants=[on_call], start_date=now().date()
    )
    override = oncall_services.add_override(
        schedule,
        actor=None,
        user=on_call,
        starts_at=now(),
        ends_at=now() + timedelta(hours=1),
    )
    received = InboundMail.objects.create(
        message_id="<isolation@acme.example>",
        sender="dana@acme.example",
        status=InboundStatus.QUARANTINED,
        organization=org,
        ticket=ticket,
        raw=b"From: dana@acme.example\r\n\r\nhello",
    )
    member = UserFactory.create(role=Role.ORG_ADMIN, organization=org)
    method = notify_people.add_contact_method(
        member, actor=member, kind="email", label="Mail", target="member@example.com"
    )
    notify_rule = notify_people.add_rule(member, actor=member, method=method)
    endpoint, _ = webhook_services.create_endpoint(
        org, actor=member, name="Hook", url="https://1.1.1.1/in", events=["ticket.created"]
    )
    return {
        "escalation:policy_id": lambda: paging.pk,
        "escalation:ticket_id": lambda: ticket.pk,
        # A ticket page's ``pk`` names a ticket, not an asset.
        "method_id": lambda: method.pk,
        "notification_rule_id": lambda: notify_rule.pk,
        "webhook_id": lambda: endpoint.pk,
        "desk:pk": lambda: ticket.pk,
        "portal:pk": lambda: ticket.pk,
        "slug": lambda: org.slug,
        "org_id": lambda: org.pk,
        "pk": lambda: web.pk,
        "site_id": lambda: site.pk,
        "contact_id": lambda: contact.pk,
        "relation_id": lambda: relation.pk,
        "calendar_id": lambda: policy.calendar_id,
        "policy_id": lambda: policy.pk,
        "rule_id": lambda: rule.pk,
        "window_id": lambda: window.pk,
        "monitor_id": lambda: monitor.pk,
        # Someone else's saved view (not shared): nobody else finds it.
        "view_id": lambda: view.pk,
        "macro_id": lambda: macro.pk,
        "attachment_id": lambda: attachment.pk,
        "item_id": lambda: item.pk,
        "field_id": lambda: field.pk,
        "ticket_id": lambda: ticket.pk,
        "assignment_id": lambda: assignment.pk,
        "action_id": lambda: action.pk,
        "schedule_id": lambda: schedule.pk,
        "layer_id": lambda: layer.pk,
        "override_id": lambda: override.pk,
        "integration_id": lambda: integration.pk,
        "routing_rule_id": lambda: routing_rule.pk,
        "silence_id": lambda: silence.pk,
        "mail_id": lambda: received.pk,
    }


@pytest.fixture(params=["org_admin", "limited_agent"])
def outsider(request: pytest.FixtureRequest, other_org: Organization) -> User:
    if request.param == "org_admin":
        return UserFactory.create(role=Role.ORG_ADMIN, organization=other_org)
    agent = UserFactory.create(role=Role.AGENT)
    agent.limited_to.add(other_org)
    return agent


def test_the_walk_covers_the_object_pages():
    names = {name for name, _ in ui_patterns_with_parameters()}

    assert {
        "tenancy:org_detail",
        "tenancy:site_edit",
        "assets:detail",
        "assets:relation_delete",
        "desk:detail",
        "desk:reply",
        "desk:transition",
        "portal:detail",
        "sla:calendar_edit",
        "sla:policy_delete",
        "sla:rule_up",
        "maintenance:detail",
        "maintenance:delete",
        "maintenance:feed",
        "escalation:policy_edit",
        "escalation:acknowledge",
        "catalogue:detail",
        "catalogue:field_edit",
        "catalogue_portal:request",
        "response:severity",
        "response:postmortem",
        "response:convert_action",
        "oncall:detail",
        "oncall:layer_edit",
        "oncall:override_delete",
        "alerting:integration",
        "alerting:rule_edit",
        "alerting:silence_expire",
        "alerting:incident_alerts",
        "monitoring:detail",
        "monitoring:edit",
        "monitoring:delete",
        "monitoring:pause",
    } <= names


def test_every_object_page_is_not_found_for_another_organisation(
    client: Client, outsider: User, objects_of: dict[str, Callable[[], Any]]
):
    client.force_login(outsider)
    answers = {}
    for name, params in ui_patterns_with_parameters():
        namespace = name.partition(":")[0]
        fills = {p: objects_of.get(f"{namespace}:{p}", objects_of.get(p)) for p in params}
        unknown = [p for p, fill in fills.items() if fill is None]
        if unknown:
            pytest.fail(f"{name} has parameters {unknown} this test does not know how to fill")
        url = reverse(name, kwargs={p: fill() for p, fill in fills.items() if fill is not None})
        answers[f"GET {url}"] = client.get(url).status_code
        answers[f"POST {url}"] = client.post(
            url, {"name": "x", "target": "db01", "body": "x", "status": "open"}
        ).status_code

    assert answers
    assert {request: code for request, code in answers.items() if code != 404} == {}
