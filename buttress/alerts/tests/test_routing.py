"""Routing rules: first match wins (with continue), what a rule sets on the incident, and the
rules' own validation and order."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from buttress.alerts.models import Alert, AlertGroup, RoutingRule
from buttress.alerts.services import routing
from buttress.alerts.tests.helpers import alert, group, make_integration, post, process_pending
from buttress.audit.models import AuditEntry
from buttress.desk.models import Priority, Ticket
from buttress.testing.factories import AssetFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def _send(key: str, *alerts: dict[str, Any], group_key: str = "g1") -> None:
    post(f"/hooks/alertmanager/{key}", group(*alerts, key=group_key))
    process_pending()


def test_matching_rule_links_asset_and_sets_category_and_priority(org):
    integration, key = make_integration(org, "alertmanager")
    asset = AssetFactory.create(organization=org)
    rule = routing.create_rule(
        integration,
        actor=None,
        name="db hosts",
        matchers=['instance=~"db.*"'],
        asset=asset.pk,
        category="Databases",
        impact="low",
        urgency="low",
    )

    _send(key, alert(instance="db1:9100", severity="critical"))

    ticket = Ticket.objects.get()
    assert list(ticket.assets.all()) == [asset]
    assert ticket.category == "Databases"
    assert ticket.priority == Priority.P4  # the rule wins over the critical severity
    found = Alert.objects.get()
    assert found.routing_rule == rule
    assert found.asset == asset


def test_an_alert_no_rule_matches_keeps_the_integration_defaults(org):
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(integration, actor=None, name="db", matchers=['instance=~"db.*"'])

    _send(key, alert(instance="web1:9100", severity="critical"))

    ticket = Ticket.objects.get()
    assert ticket.priority == Priority.P1
    assert ticket.category == ""
    assert Alert.objects.get().routing_rule is None


def test_first_matching_rule_wins(org):
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(integration, actor=None, name="one", matchers=[], category="First")
    routing.create_rule(integration, actor=None, name="two", matchers=[], category="Second")

    _send(key, alert())

    assert Ticket.objects.get().category == "First"


def test_continue_lets_later_rules_fill_what_the_first_left_unset(org):
    integration, key = make_integration(org, "alertmanager")
    asset = AssetFactory.create(organization=org)
    routing.create_rule(
        integration,
        actor=None,
        name="asset by host",
        matchers=['instance="srv1:9100"'],
        asset=asset,
        continue_matching=True,
    )
    routing.create_rule(
        integration, actor=None, name="critical", matchers=['severity="critical"'], category="Ops"
    )
    routing.create_rule(integration, actor=None, name="never", matchers=[], category="Other")

    _send(key, alert())

    ticket = Ticket.objects.get()
    assert list(ticket.assets.all()) == [asset]
    assert ticket.category == "Ops"


def test_disabled_rules_are_skipped(org):
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(integration, actor=None, name="off", is_enabled=False, category="Off")

    _send(key, alert())

    assert Ticket.objects.get().category == ""


def test_rule_group_by_overrides_the_sender_group_key(org):
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(integration, actor=None, name="per host", group_by=["instance"])

    _send(key, alert("HostDown", "srv1"), alert("DiskFull", "srv1"), alert("HostDown", "srv2"))

    assert Ticket.objects.count() == 2
    assert sorted(AlertGroup.objects.values_list("key", flat=True)) == [
        f"route:{RoutingRule.objects.get().pk}|labels:instance=srv1",
        f"route:{RoutingRule.objects.get().pk}|labels:instance=srv2",
    ]


def test_alerts_routed_by_different_rules_do_not_share_an_incident(org):
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(integration, actor=None, name="db", matchers=['instance="db1"'])
    routing.create_rule(integration, actor=None, name="web", matchers=['instance="web1"'])

    _send(key, alert(instance="db1"), alert(instance="web1"))

    assert Ticket.objects.count() == 2


def test_a_rule_refuses_an_asset_of_another_organisation(org):
    integration, _ = make_integration(org, "alertmanager")
    foreign = AssetFactory.create(organization=OrganizationFactory.create())

    with pytest.raises(ValidationError) as caught:
        routing.create_rule(integration, actor=None, name="x", asset=foreign.pk)

    assert "asset" in caught.value.message_dict


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"matchers": ['env=~"("']}, "matchers"),
        ({"impact": "huge"}, "impact"),
        ({"group_window_minutes": 0}, "group_window_minutes"),
        ({"group_by": "instance"}, "group_by"),
        ({"name": " "}, "name"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(org, fields, field):
    integration, _ = make_integration(org, "alertmanager")
    values = {"name": "rule", **fields}

    with pytest.raises(ValidationError) as caught:
        routing.create_rule(integration, actor=None, **values)

    assert field in caught.value.message_dict


def test_matchers_are_stored_in_canonical_form(org):
    integration, _ = make_integration(org, "alertmanager")

    rule = routing.create_rule(integration, actor=None, name="r", matchers="{a=b, c=~'x'}")

    assert rule.matchers == ['a="b"', "c=~\"'x'\""]


def test_reorder_changes_which_rule_wins_and_is_audited(org):
    integration, key = make_integration(org, "alertmanager")
    first = routing.create_rule(integration, actor=None, name="one", category="First")
    second = routing.create_rule(integration, actor=None, name="two", category="Second")

    routing.reorder_rules(integration, actor=None, order=[second.pk, first.pk])
    _send(key, alert())

    assert Ticket.objects.get().category == "Second"
    assert AuditEntry.objects.filter(note__contains="reordered").exists()


def test_reorder_needs_every_rule_once(org):
    integration, _ = make_integration(org, "alertmanager")
    first = routing.create_rule(integration, actor=None, name="one")
    routing.create_rule(integration, actor=None, name="two")

    with pytest.raises(ValidationError):
        routing.reorder_rules(integration, actor=None, order=[first.pk, first.pk])


def test_a_rule_created_at_a_position_goes_before_the_others(org):
    integration, _ = make_integration(org, "alertmanager")
    first = routing.create_rule(integration, actor=None, name="one")
    inserted = routing.create_rule(integration, actor=None, name="zero", position=0)

    names = list(integration.routing_rules.order_by("position").values_list("name", flat=True))
    assert names == ["zero", "one"]
    assert inserted.position == 0
    first.refresh_from_db()
    assert first.position == 1


def test_deleting_a_rule_keeps_the_alerts_it_routed(org):
    integration, key = make_integration(org, "alertmanager")
    rule = routing.create_rule(integration, actor=None, name="one", category="First")
    _send(key, alert())

    routing.delete_rule(rule, actor=None)

    assert Alert.objects.get().routing_rule is None
    assert Ticket.objects.get().category == "First"
