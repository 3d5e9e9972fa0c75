"""Which escalation policy pages for an alert's incident, and a sender's acknowledgement."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from buttress.alerts.services import routing
from buttress.alerts.tests.helpers import (
    PAGERDUTY,
    alert,
    group,
    make_integration,
    payload,
    post,
    process_pending,
)
from buttress.desk.models import EventKind, Ticket
from buttress.escalation import services as escalation
from buttress.escalation.models import Escalation, EscalationState
from buttress.escalation.services import StepSpec
from buttress.escalation.tests.helpers import staff
from buttress.testing.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def make_policy(org, name: str, *, is_default: bool = False):
    return escalation.create_policy(
        org,
        actor=None,
        name=name,
        steps=[StepSpec(wait_minutes=5, users=[staff(name.lower())], teams=[])],
        is_default=is_default,
    )


def policy_of_the_incident() -> str:
    return Escalation.objects.get(ticket=Ticket.objects.get()).policy.name


def test_a_routing_rule_chooses_the_escalation_policy(org):
    make_policy(org, "Default", is_default=True)
    databases = make_policy(org, "Databases")
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(
        integration,
        actor=None,
        name="db",
        matchers=['instance=~"db.*"'],
        escalation_policy=databases,
    )

    post(f"/hooks/alertmanager/{key}", group(alert(instance="db1:9100")))
    process_pending()

    assert policy_of_the_incident() == "Databases"


def test_without_a_matching_rule_the_integration_policy_pages(org):
    make_policy(org, "Default", is_default=True)
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(
        integration,
        actor=None,
        name="db",
        matchers=['instance=~"db.*"'],
        escalation_policy=make_policy(org, "Databases"),
    )
    integration.escalation_policy = make_policy(org, "Web")
    integration.save()

    post(f"/hooks/alertmanager/{key}", group(alert(instance="web1:9100")))
    process_pending()

    assert policy_of_the_incident() == "Web"


def test_a_continuing_rule_leaves_the_policy_to_a_later_rule(org):
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(integration, actor=None, name="all", continue_matching=True)
    routing.create_rule(
        integration, actor=None, name="db", escalation_policy=make_policy(org, "Databases")
    )

    post(f"/hooks/alertmanager/{key}", group(alert()))
    process_pending()

    assert policy_of_the_incident() == "Databases"


def test_the_default_policy_pages_when_nothing_names_one(org):
    make_policy(org, "Default", is_default=True)
    _, key = make_integration(org, "alertmanager")

    post(f"/hooks/alertmanager/{key}", group(alert()))
    process_pending()

    assert policy_of_the_incident() == "Default"


def test_a_policy_of_another_organisation_is_refused(org):
    other = make_policy(OrganizationFactory.create(slug="other"), "Theirs")
    integration, _ = make_integration(org, "alertmanager")

    with pytest.raises(ValidationError) as rule_error:
        routing.create_rule(integration, actor=None, name="x", escalation_policy=other.pk)
    with pytest.raises(ValidationError) as integration_error:
        make_integration(org, "generic", escalation_policy=other.pk)

    assert "escalation_policy" in rule_error.value.message_dict
    assert "escalation_policy" in integration_error.value.message_dict


def test_a_shared_policy_may_be_chosen(org):
    shared = make_policy(None, "Shared")
    integration, _ = make_integration(org, "alertmanager")

    rule = routing.create_rule(integration, actor=None, name="x", escalation_policy=shared.pk)

    assert rule.escalation_policy == shared


# --- the sender's acknowledgement ------------------------------------------------------------


def _pd(key: str, action: str, dedup_key: str, source: str = "srv1") -> None:
    body = payload(PAGERDUTY, routing_key=key, event_action=action, dedup_key=dedup_key)
    body["payload"]["source"] = source
    assert post("/v2/enqueue", body).status_code == 202


def test_a_pagerduty_acknowledge_stops_paging_and_says_so_on_the_timeline(org):
    make_policy(org, "Default", is_default=True)
    _, key = make_integration(org, "pagerduty")
    _pd(key, "trigger", "srv1-disk")
    process_pending()
    ticket = Ticket.objects.get()
    assert Escalation.objects.get(ticket=ticket).state == EscalationState.ACTIVE

    _pd(key, "acknowledge", "srv1-disk")
    process_pending()

    paging = Escalation.objects.get(ticket=ticket)
    assert paging.state == EscalationState.ACKNOWLEDGED
    assert paging.due_at is None
    assert paging.acknowledged_by is None
    assert ticket.events.filter(kind=EventKind.ACKNOWLEDGED, detail__via="sender").count() == 1
    stopped = ticket.events.get(kind=EventKind.ESCALATION, detail__action="acknowledged")
    assert stopped.detail["summary"].startswith("Paging stopped: acknowledged through")


def test_paging_goes_on_while_an_alert_of_the_incident_is_not_acknowledged(org):
    make_policy(org, "Default", is_default=True)
    _, key = make_integration(org, "pagerduty", group_by=["source"])
    _pd(key, "trigger", "srv1-disk")
    _pd(key, "trigger", "srv1-cpu")
    process_pending()
    ticket = Ticket.objects.get()

    _pd(key, "acknowledge", "srv1-disk")
    process_pending()
    assert Escalation.objects.get(ticket=ticket).state == EscalationState.ACTIVE

    _pd(key, "acknowledge", "srv1-cpu")
    process_pending()
    assert Escalation.objects.get(ticket=ticket).state == EscalationState.ACKNOWLEDGED


def test_a_sender_acknowledgement_without_escalation_is_still_recorded(org):
    _, key = make_integration(org, "pagerduty")
    _pd(key, "trigger", "srv1-disk")
    _pd(key, "acknowledge", "srv1-disk")
    process_pending()

    ticket = Ticket.objects.get()
    assert not Escalation.objects.exists()
    assert ticket.events.filter(kind=EventKind.ACKNOWLEDGED).count() == 1
