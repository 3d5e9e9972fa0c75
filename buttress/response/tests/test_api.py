"""/api/v1/incidents/{ticket_id}/severity|roles|status-updates|postmortem."""

from __future__ import annotations

import pytest

from buttress.api.tests.conftest import api_as
from buttress.desk import services as desk
from buttress.response import services

pytestmark = pytest.mark.django_db


def test_severity_is_read_and_set(agent, outage):
    api = api_as(agent)

    before = api.get(f"/incidents/{outage.pk}/severity").json()
    after = api.request("PUT", f"/incidents/{outage.pk}/severity", {"severity": "SEV2"})

    assert before["severity"] is None
    assert after.status_code == 200
    assert after.json()["severity"] == "SEV2"


def test_a_ticket_that_is_not_an_incident_answers_404(agent, org):
    request = desk.create_ticket(org, actor=agent, subject="Laptop", type="service_request")

    assert api_as(agent).get(f"/incidents/{request.pk}/severity").status_code == 404


def test_roles_are_assigned_listed_and_released(agent, outage):
    api = api_as(agent)

    made = api.post(f"/incidents/{outage.pk}/roles", {"role": "commander", "user": agent.pk})
    listed = api.get(f"/incidents/{outage.pk}/roles").json()
    released = api.delete(f"/incidents/{outage.pk}/roles/{made.json()['id']}")

    assert made.status_code == 201
    assert [r["label"] for r in listed] == ["Incident commander"]
    assert released.status_code == 204


def test_a_customer_cannot_be_given_a_role_400(agent, outage, org_admin):
    response = api_as(agent).post(
        f"/incidents/{outage.pk}/roles", {"role": "scribe", "user": org_admin.pk}
    )

    assert response.status_code == 400
    assert "user" in response.json()["detail"]


def test_customers_read_only_customer_facing_updates(agent, outage, org_admin):
    api = api_as(agent)
    api.post(f"/incidents/{outage.pk}/status-updates", {"body": "internal only"})
    api.post(
        f"/incidents/{outage.pk}/status-updates",
        {"body": "We are on it", "visibility": "customer"},
    )

    staff = api.get(f"/incidents/{outage.pk}/status-updates").json()
    customer = api_as(org_admin).get(f"/incidents/{outage.pk}/status-updates").json()

    assert len(staff) == 2
    assert [u["body"] for u in customer] == ["We are on it"]


def test_customers_cannot_post_updates_or_read_the_postmortem(outage, org_admin):
    api = api_as(org_admin)

    assert api.post(f"/incidents/{outage.pk}/status-updates", {"body": "x"}).status_code == 403
    assert api.get(f"/incidents/{outage.pk}/postmortem").status_code == 403


def test_the_postmortem_is_written_and_an_action_item_converted(agent, outage):
    api = api_as(agent)

    written = api.patch(f"/incidents/{outage.pk}/postmortem", {"summary": "Down 40 min"})
    item = api.post(
        f"/incidents/{outage.pk}/postmortem/action-items",
        {"description": "Alert on expiry", "owner": agent.pk, "due_on": "2026-12-01"},
    )
    converted = api.post(
        f"/incidents/{outage.pk}/postmortem/action-items/{item.json()['id']}/convert",
        {"kind": "ticket"},
    )
    again = api.post(
        f"/incidents/{outage.pk}/postmortem/action-items/{item.json()['id']}/convert",
        {"kind": "problem"},
    )

    assert written.json()["summary"] == "Down 40 min"
    assert converted.status_code == 200
    assert converted.json()["action"]["ticket"] == converted.json()["ticket"]
    assert again.status_code == 400
    postmortem = api.get(f"/incidents/{outage.pk}/postmortem").json()
    assert postmortem["action_items"][0]["kind"] == "ticket"


def test_a_read_token_cannot_change_severity(agent, outage):
    services.set_severity(outage, "SEV3", actor=agent)

    response = api_as(agent, scope="read").request(
        "PUT", f"/incidents/{outage.pk}/severity", {"severity": "SEV1"}
    )

    assert response.status_code == 403
