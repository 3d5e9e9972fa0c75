"""/api/v1/escalation/policies and /api/v1/incidents/{id}/escalations."""

from __future__ import annotations

import pytest

from buttress.api.tests.conftest import api_as
from buttress.audit.models import AuditEntry
from buttress.escalation.models import Escalation, EscalationPolicy, EscalationState
from buttress.escalation.tests.helpers import incident, run_due, staff
from buttress.testing.factories import TeamFactory

pytestmark = pytest.mark.django_db


def _body(org, *steps, **fields):
    return {
        "organization": org.pk if org else None,
        "name": "Primary",
        "steps": list(steps),
    } | fields


def test_admin_creates_reads_edits_and_deletes_a_policy(as_admin, org):
    first, team = staff("first"), TeamFactory.create()
    created = as_admin.post(
        "/escalation/policies",
        _body(
            org,
            {"wait_minutes": 5, "users": [first.pk]},
            {"wait_minutes": 10, "teams": [team.pk]},
            repeat=2,
            ack_timeout=30,
        ),
    )
    assert created.status_code == 201, created.content
    policy = created.json()
    assert policy["steps"] == [
        {"wait_minutes": 5, "users": [first.pk], "teams": [], "schedules": []},
        {"wait_minutes": 10, "users": [], "teams": [team.pk], "schedules": []},
    ]
    assert policy["repeat"] == 2
    assert policy["ack_timeout"] == 30
    assert AuditEntry.objects.filter(action="create", object_id=str(policy["id"])).exists()

    listed = as_admin.get("/escalation/policies", organization=org.pk).json()["items"]
    assert [p["id"] for p in listed] == [policy["id"]]

    edited = as_admin.patch(
        f"/escalation/policies/{policy['id']}",
        {"steps": [{"wait_minutes": 1, "users": [first.pk]}], "ack_timeout": None},
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["steps"] == [
        {"wait_minutes": 1, "users": [first.pk], "teams": [], "schedules": []}
    ]
    assert edited.json()["ack_timeout"] is None

    assert as_admin.delete(f"/escalation/policies/{policy['id']}").status_code == 204
    assert not EscalationPolicy.objects.exists()


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "at least one step"),
        ([{"wait_minutes": 5}], "pages nobody"),
        ([{"wait_minutes": 5, "users": [987654]}], "no user 987654"),
        ([{"wait_minutes": 5, "teams": [987654]}], "no team 987654"),
        ([{"wait_minutes": 5, "schedules": [987654]}], "no schedule 987654"),
    ],
)
def test_bad_steps_are_a_400_naming_the_problem(as_admin, org, steps, message):
    response = as_admin.post("/escalation/policies", _body(org, *steps))
    assert response.status_code == 400
    assert message in response.content.decode()


def test_customers_and_agents_may_not_change_policies(org, agent, org_admin):
    one = staff("one")
    body = _body(org, {"wait_minutes": 5, "users": [one.pk]})
    assert api_as(agent).post("/escalation/policies", body).status_code == 403
    assert api_as(org_admin).get("/escalation/policies").status_code == 403


def test_an_incident_is_escalated_acknowledged_and_listed(as_agent, as_admin, org):
    one = staff("one")
    policy = as_admin.post(
        "/escalation/policies", _body(org, {"wait_minutes": 5, "users": [one.pk]})
    ).json()
    ticket = incident(org)

    started = as_agent.post(f"/incidents/{ticket.pk}/escalations", {"policy": policy["id"]})
    assert started.status_code == 201, started.content
    assert started.json()["state"] == "active"
    again = as_agent.post(f"/incidents/{ticket.pk}/escalations", {"policy": policy["id"]})
    assert again.status_code == 400
    assert "already running" in again.content.decode()

    assert run_due(Escalation.objects.get(ticket=ticket))
    acked = as_agent.post(f"/incidents/{ticket.pk}/acknowledge")
    assert acked.status_code == 200
    assert acked.json()["state"] == EscalationState.ACKNOWLEDGED
    history = as_agent.get(f"/incidents/{ticket.pk}/escalations").json()
    assert [(p["user"], p["step"]) for p in history[0]["pages"]] == [(one.pk, 0)]
    assert [d["channel"] for d in history[0]["pages"][0]["deliveries"]] == ["email"]

    cancelled = as_agent.post(f"/incidents/{ticket.pk}/escalations/cancel")
    assert cancelled.json()["state"] == EscalationState.CANCELLED
    assert as_agent.post(f"/incidents/{ticket.pk}/acknowledge").status_code == 400


def test_starting_without_a_policy_uses_the_default_or_says_there_is_none(as_agent, as_admin, org):
    ticket = incident(org)
    refused = as_agent.post(f"/incidents/{ticket.pk}/escalations", {})
    assert refused.status_code == 400
    assert "no default policy" in refused.content.decode()
    as_admin.post(
        "/escalation/policies",
        _body(None, {"wait_minutes": 5, "users": [staff("one").pk]}, is_default=True),
    )
    assert as_agent.post(f"/incidents/{ticket.pk}/escalations", {}).status_code == 201
