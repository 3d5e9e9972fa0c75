"""/integrations/{id}/routing-rules, /silences and /alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from buttress.alerts.models import RoutingRule, Silence
from buttress.alerts.services.sources import monitoring_integration
from buttress.alerts.tests.helpers import alert, group, make_integration, post, process_pending
from buttress.api.tests.conftest import api_as
from buttress.desk.models import Ticket
from buttress.escalation import services as escalation
from buttress.escalation.services import StepSpec
from buttress.escalation.tests.helpers import staff
from buttress.lib.timeutil import now
from buttress.testing.factories import AssetFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _rules_path(integration) -> str:
    return f"/integrations/{integration.pk}/routing-rules"


def test_agent_creates_lists_and_edits_routing_rules(as_agent, org):
    integration, _ = make_integration(org, "alertmanager")
    asset = AssetFactory.create(organization=org)

    created = as_agent.post(
        _rules_path(integration),
        {
            "name": "db",
            "matchers": '{instance=~"db.*", severity!="info"}',
            "asset": asset.pk,
            "impact": "high",
            "urgency": "medium",
            "category": "Databases",
            "group_by": ["instance"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["matchers"] == ['instance=~"db.*"', 'severity!="info"']
    assert (body["asset"], body["position"], body["group_window_minutes"]) == (asset.pk, 0, None)

    patched = as_agent.patch(
        f"{_rules_path(integration)}/{body['id']}", {"asset": None, "category": "DB"}
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["asset"], patched.json()["category"]) == (None, "DB")
    assert [r["name"] for r in as_agent.get(_rules_path(integration)).json()] == ["db"]


def test_invalid_matcher_is_a_400_naming_the_field(as_agent, org):
    integration, _ = make_integration(org, "alertmanager")

    response = as_agent.post(
        _rules_path(integration), {"name": "bad", "matchers": ['env=~"(prod"']}
    )

    assert response.status_code == 400
    assert "matchers" in response.json()["detail"]
    assert "regular expression" in str(response.json()["detail"])


def test_rule_with_another_organisations_asset_is_a_400(as_agent, org):
    integration, _ = make_integration(org, "alertmanager")
    foreign = AssetFactory.create(organization=OrganizationFactory.create())

    response = as_agent.post(_rules_path(integration), {"name": "x", "asset": foreign.pk})

    assert response.status_code == 400
    assert "asset" in response.json()["detail"]


def test_reorder_and_delete(as_agent, org):
    integration, _ = make_integration(org, "alertmanager")
    first = as_agent.post(_rules_path(integration), {"name": "one"}).json()
    second = as_agent.post(_rules_path(integration), {"name": "two"}).json()

    reordered = as_agent.post(
        f"{_rules_path(integration)}/reorder", {"order": [second["id"], first["id"]]}
    )
    assert reordered.status_code == 200, reordered.content
    assert [r["name"] for r in reordered.json()] == ["two", "one"]
    bad = as_agent.post(f"{_rules_path(integration)}/reorder", {"order": [first["id"]]})
    assert bad.status_code == 400

    assert as_agent.delete(f"{_rules_path(integration)}/{second['id']}").status_code == 204
    assert list(RoutingRule.objects.values_list("name", "position")) == [("one", 0)]


def test_rule_of_another_integration_answers_404(as_agent, org):
    integration, _ = make_integration(org, "alertmanager")
    other, _ = make_integration(org, "grafana")
    rule = as_agent.post(_rules_path(other), {"name": "theirs"}).json()

    assert as_agent.get(f"{_rules_path(integration)}/{rule['id']}").status_code == 404


def test_viewer_reads_rules_but_may_not_change_them(org):
    integration, _ = make_integration(org, "alertmanager")
    viewer = api_as(UserFactory.create(role="viewer"))

    assert viewer.get(_rules_path(integration)).status_code == 200
    assert viewer.post(_rules_path(integration), {"name": "x"}).status_code == 403


def test_silence_lifecycle_and_silenced_alert_is_visible(as_agent, org):
    _, key = make_integration(org, "alertmanager")
    created = as_agent.post(
        "/silences",
        {
            "organization": org.pk,
            "matchers": ['alertname="HostDown"'],
            "ends_at": (now() + timedelta(hours=1)).isoformat(),
            "comment": "patching srv1",
        },
    )
    assert created.status_code == 201, created.content
    silence = created.json()
    assert silence["is_active"] is True

    post(f"/hooks/alertmanager/{key}", group(alert()))
    process_pending()

    held = as_agent.get("/alerts", suppressed="true").json()["items"]
    assert [(a["silence"], a["is_suppressed"], a["incident"]) for a in held] == [
        (silence["id"], True, None)
    ]
    assert as_agent.get(f"/silences/{silence['id']}").json()["alerts_held"] == 1
    assert Ticket.objects.count() == 0

    expired = as_agent.post(f"/silences/{silence['id']}/expire")
    assert expired.status_code == 200
    assert expired.json()["is_active"] is False
    assert as_agent.get("/silences", active="true").json()["items"] == []
    assert as_agent.get("/silences", active="false").json()["items"][0]["id"] == silence["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": ['team=""']}, "matchers"),
        ({"matchers": ["a~b"]}, "matchers"),
        ({"ends_at": "2001-01-01T00:00:00Z"}, "ends_at"),
    ],
)
def test_invalid_silence_is_a_400_naming_the_field(as_agent, org, body, field):
    values = {
        "organization": org.pk,
        "matchers": ['alertname="x"'],
        "ends_at": (now() + timedelta(hours=1)).isoformat(),
        "comment": "c",
        **body,
    }

    response = as_agent.post("/silences", values)

    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert not Silence.objects.exists()


def test_silence_of_another_organisation_answers_404(org):
    other = OrganizationFactory.create()
    outsider = api_as(UserFactory.create(role="org_admin", organization=other))
    silence = Silence.objects.create(
        organization=org,
        matchers=['a="b"'],
        starts_at=now(),
        ends_at=now() + timedelta(hours=1),
        comment="x",
    )

    assert outsider.get(f"/silences/{silence.pk}").status_code == 404
    assert outsider.get("/silences").json()["items"] == []


def _policy(org, name: str):
    return escalation.create_policy(
        org,
        actor=None,
        name=name,
        steps=[StepSpec(wait_minutes=5, users=[staff(name.lower())], teams=[])],
    )


def test_a_routing_rule_sets_and_clears_its_escalation_policy(as_agent, org):
    integration, _ = make_integration(org, "alertmanager")
    databases = _policy(org, "Databases")

    created = as_agent.post(
        _rules_path(integration), {"name": "db", "escalation_policy": databases.pk}
    )
    assert created.status_code == 201, created.content
    assert created.json()["escalation_policy"] == databases.pk

    patched = as_agent.patch(
        f"{_rules_path(integration)}/{created.json()['id']}", {"escalation_policy": None}
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["escalation_policy"] is None
    assert RoutingRule.objects.get().escalation_policy is None


def test_a_routing_rule_with_another_organisations_policy_is_a_400(as_agent, org):
    integration, _ = make_integration(org, "alertmanager")
    theirs = _policy(OrganizationFactory.create(slug="other"), "Theirs")

    response = as_agent.post(
        _rules_path(integration), {"name": "db", "escalation_policy": theirs.pk}
    )

    assert response.status_code == 400
    assert "escalation_policy" in response.json()["detail"]


def test_an_integration_sets_and_clears_its_escalation_policy(as_agent, org):
    web = _policy(org, "Web")
    created = as_agent.post(
        "/integrations",
        {"organization": org.pk, "name": "am", "kind": "alertmanager", "escalation_policy": web.pk},
    )
    assert created.status_code == 201, created.content
    assert created.json()["escalation_policy"] == web.pk

    patched = as_agent.patch(f"/integrations/{created.json()['id']}", {"escalation_policy": None})
    assert patched.status_code == 200, patched.content
    assert patched.json()["escalation_policy"] is None
    unknown = as_agent.patch(f"/integrations/{created.json()['id']}", {"escalation_policy": 99999})
    assert unknown.status_code == 400


def test_the_monitoring_integration_cannot_be_created_keyed_or_deleted(as_agent, org):
    created = as_agent.post(
        "/integrations", {"organization": org.pk, "name": "mine", "kind": "monitoring"}
    )
    assert created.status_code == 400
    assert "kind" in created.json()["detail"]

    builtin = monitoring_integration(org)
    assert as_agent.post(f"/integrations/{builtin.pk}/rotate-key").status_code == 400
    assert as_agent.delete(f"/integrations/{builtin.pk}").status_code == 400
    listed = as_agent.get("/integrations?kind=monitoring").json()["items"]
    assert [(i["id"], i["url"]) for i in listed] == [(builtin.pk, "")]
