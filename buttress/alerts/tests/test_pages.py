"""The alert pages under /alerts/ and the alerts section of an incident's ticket page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from buttress.alerts.models import Alert, Integration, RoutingRule, Silence
from buttress.alerts.services import routing, silences
from buttress.alerts.services.sources import monitoring_integration
from buttress.alerts.tests.helpers import (
    ALERTMANAGER,
    alert,
    group,
    make_integration,
    payload,
    post,
    process_pending,
)
from buttress.desk.models import Ticket
from buttress.escalation import services as escalation
from buttress.escalation.services import StepSpec
from buttress.escalation.tests.helpers import staff
from buttress.lib.timeutil import now
from buttress.testing.factories import AssetFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def test_integration_list_shows_each_integration_with_its_url(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")

    page = agent_client.get(reverse("alerting:list")).content.decode()

    assert integration.name in page
    assert "/hooks/alertmanager/{key}" in page


def test_adding_an_integration_shows_its_key_once(agent_client, org):
    response = agent_client.post(
        reverse("alerting:integration_create"),
        {"organization": org.pk, "name": "Prod AM", "kind": "alertmanager"},
    )

    integration = Integration.objects.get()
    page = response.content.decode()
    key = page.split("/hooks/alertmanager/")[1].split("<")[0]
    assert len(key) == 42
    assert Integration.hash_key(key) == integration.key_digest
    again = agent_client.get(reverse("alerting:integration", args=[integration.pk]))
    assert key not in again.content.decode()


def test_rotating_the_key_shows_the_new_key_and_the_old_stops_working(agent_client, org):
    integration, old_key = make_integration(org, "alertmanager")

    response = agent_client.post(reverse("alerting:rotate_key", args=[integration.pk]))

    integration.refresh_from_db()
    assert integration.key_prefix in response.content.decode()
    assert post(f"/hooks/alertmanager/{old_key}", ALERTMANAGER).status_code == 404


def test_rotate_key_needs_post(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")

    assert (
        agent_client.get(reverse("alerting:rotate_key", args=[integration.pk])).status_code == 405
    )


def test_a_routing_rule_is_added_from_the_form(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")
    asset = AssetFactory.create(organization=org, name="db01")

    response = agent_client.post(
        reverse("alerting:rule_create", args=[integration.pk]),
        {
            "name": "db hosts",
            "matchers": 'instance=~"db.*"\nseverity="critical"',
            "is_enabled": "on",
            "asset": asset.pk,
            "category": "Databases",
            "impact": "high",
            "urgency": "",
            "group_by": "instance, job",
        },
    )

    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.matchers == ['instance=~"db.*"', 'severity="critical"']
    assert (rule.asset, rule.impact, rule.group_by) == (asset, "high", ["instance", "job"])
    page = agent_client.get(reverse("alerting:integration", args=[integration.pk])).content
    assert b"db01" in page


def test_a_bad_matcher_is_shown_on_the_field(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")

    response = agent_client.post(
        reverse("alerting:rule_create", args=[integration.pk]),
        {"name": "bad", "matchers": 'env=~"(prod"'},
    )

    assert response.status_code == 200
    assert "invalid regular expression" in response.content.decode()
    assert not RoutingRule.objects.exists()


def test_an_asset_of_another_organisation_is_not_a_choice(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")
    foreign = AssetFactory.create(organization=OrganizationFactory.create())

    response = agent_client.post(
        reverse("alerting:rule_create", args=[integration.pk]),
        {"name": "x", "asset": foreign.pk},
    )

    assert response.status_code == 200
    assert not RoutingRule.objects.exists()


def test_moving_a_rule_up_changes_the_order(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")
    routing.create_rule(integration, actor=None, name="one")
    second = routing.create_rule(integration, actor=None, name="two")

    agent_client.post(
        reverse("alerting:rule_move", args=[integration.pk, second.pk]), {"direction": "up"}
    )

    names = list(integration.routing_rules.order_by("position").values_list("name", flat=True))
    assert names == ["two", "one"]


def test_editing_and_deleting_a_rule(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")
    rule = routing.create_rule(integration, actor=None, name="one", matchers=['a="1"'])
    url = reverse("alerting:rule_edit", args=[integration.pk, rule.pk])

    assert "a=&quot;1&quot;" in agent_client.get(url).content.decode()
    agent_client.post(url, {"name": "renamed", "matchers": 'b="2"', "is_enabled": "on"})
    rule.refresh_from_db()
    assert (rule.name, rule.matchers) == ("renamed", ['b="2"'])

    agent_client.post(reverse("alerting:rule_delete", args=[integration.pk, rule.pk]))
    assert not RoutingRule.objects.exists()


def test_a_viewer_sees_rules_but_may_not_add_one(client, org):
    integration, _ = make_integration(org, "alertmanager")
    client.force_login(UserFactory.create(role="viewer"))

    assert client.get(reverse("alerting:integration", args=[integration.pk])).status_code == 200
    response = client.post(reverse("alerting:rule_create", args=[integration.pk]), {"name": "x"})
    assert response.status_code == 403


def test_a_silence_is_added_listed_and_expired(agent_client, org, agent):
    response = agent_client.post(
        reverse("alerting:silence_create"),
        {
            "organization": org.pk,
            "matchers": 'alertname="HostDown"',
            "duration_minutes": 60,
            "comment": "replacing a disk",
        },
    )
    assert response.status_code == 302
    silence = Silence.objects.get()
    assert silence.created_by == agent
    assert "replacing a disk" in agent_client.get(reverse("alerting:silences")).content.decode()

    agent_client.post(reverse("alerting:silence_expire", args=[silence.pk]))

    silence.refresh_from_db()
    assert silence.ends_at <= now()
    ended = agent_client.get(reverse("alerting:silences"), {"show": "ended"}).content.decode()
    assert "replacing a disk" in ended


def test_a_silence_that_would_silence_everything_is_refused_on_the_form(agent_client, org):
    response = agent_client.post(
        reverse("alerting:silence_create"),
        {"organization": org.pk, "matchers": 'team=""', "duration_minutes": 60, "comment": "x"},
    )

    assert response.status_code == 200
    assert "silence everything" in response.content.decode()


def test_recent_alerts_mark_the_silenced_ones(agent_client, org):
    _, key = make_integration(org, "alertmanager")
    silence = silences.create_silence(
        org,
        actor=None,
        matchers=['alertname="HostDown"'],
        ends_at=now() + timedelta(hours=1),
        comment="x",
    )
    post(f"/hooks/alertmanager/{key}", group(alert()))
    process_pending()

    page = agent_client.get(reverse("alerting:recent"), {"suppressed": "1"}).content.decode()

    assert f"Silenced by silence #{silence.pk}" in page
    assert "HostDown on srv1:9100" in page


def test_incident_page_loads_its_alerts_with_their_links(agent_client, org):
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    process_pending()
    ticket = Ticket.objects.get()

    detail = agent_client.get(reverse("desk:detail", args=[ticket.pk])).content.decode()
    assert reverse("alerting:incident_alerts", args=[ticket.pk]) in detail
    section = agent_client.get(reverse("alerting:incident_alerts", args=[ticket.pk]))

    html = section.content.decode()
    assert 'href="https://runbooks/hd"' in html
    assert 'href="http://prometheus:9090/graph?g0.expr=up"' in html
    assert "host unreachable" in html


def test_a_non_http_link_is_shown_as_text_not_as_a_link(agent_client, org):
    _, key = make_integration(org, "alertmanager")
    body = payload(ALERTMANAGER)
    body["alerts"][0]["annotations"]["runbook_url"] = "javascript:alert(1)"
    post(f"/hooks/alertmanager/{key}", body)
    process_pending()
    ticket = Ticket.objects.get()

    html = agent_client.get(reverse("alerting:incident_alerts", args=[ticket.pk])).content
    assert b'href="javascript' not in html
    assert b"javascript:alert(1)" in html
    assert Alert.objects.get().links["runbook"] == "javascript:alert(1)"


def _policy(org, name: str):
    return escalation.create_policy(
        org,
        actor=None,
        name=name,
        steps=[StepSpec(wait_minutes=5, users=[staff(name.lower())], teams=[])],
    )


def test_a_routing_rule_form_chooses_an_escalation_policy(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")
    databases = _policy(org, "Databases")

    response = agent_client.post(
        reverse("alerting:rule_create", args=[integration.pk]),
        {"name": "db", "matchers": 'instance=~"db.*"', "escalation_policy": databases.pk},
    )

    assert response.status_code == 302
    assert RoutingRule.objects.get().escalation_policy == databases
    page = agent_client.get(reverse("alerting:integration", args=[integration.pk])).content
    assert b"Databases" in page


def test_another_organisations_policy_is_not_a_choice(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")
    theirs = _policy(OrganizationFactory.create(slug="other"), "Theirs")

    response = agent_client.post(
        reverse("alerting:rule_create", args=[integration.pk]),
        {"name": "db", "escalation_policy": theirs.pk},
    )

    assert response.status_code == 200
    assert "escalation_policy" in response.context["form"].errors
    assert not RoutingRule.objects.exists()


def test_the_integration_policy_is_changed_from_its_page(agent_client, org):
    integration, _ = make_integration(org, "alertmanager")
    web = _policy(org, "Web")

    response = agent_client.post(
        reverse("alerting:integration_policy", args=[integration.pk]), {"escalation_policy": web.pk}
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.escalation_policy == web


def test_the_monitoring_integration_page_offers_no_key(agent_client, org):
    builtin = monitoring_integration(org)

    page = agent_client.get(reverse("alerting:integration", args=[builtin.pk])).content.decode()
    refused = agent_client.post(reverse("alerting:rotate_key", args=[builtin.pk]))

    assert "Rotate key" not in page
    assert "monitor-&lt;id&gt;" in page
    assert refused.status_code == 302
    assert Integration.objects.get(pk=builtin.pk).key_digest == builtin.key_digest
