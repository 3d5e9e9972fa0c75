from __future__ import annotations

import pytest

from buttress.accounts.models import Role
from buttress.api.tests.conftest import ApiClient, api_as
from buttress.notify.models import ContactMethod, Notification
from buttress.notify.tests.receiver import receiver
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db

SLACK = "slack://TA1234XYZ/BB12345XYZ/CCC1234567890abcdef"


def test_a_contact_method_is_never_shown_back_in_full(as_agent: ApiClient):
    created = as_agent.post(
        "/me/contact-methods", {"kind": "apprise", "label": "Slack", "target": SLACK}
    )

    assert created.status_code == 201
    listed = as_agent.get("/me/contact-methods")
    for response in (created, listed):
        assert "CCC1234567890abcdef" not in response.content.decode()
    assert listed.json()[0]["target"].startswith("slack://")


def test_a_bad_contact_method_is_a_400_naming_the_field(as_agent: ApiClient):
    response = as_agent.post(
        "/me/contact-methods", {"kind": "email", "label": "x", "target": "nope"}
    )

    assert response.status_code == 400
    assert "target" in response.json()["detail"]


def test_the_test_button_sends_and_answers_the_log_entry(as_agent: ApiClient, agent):
    with receiver() as server:
        method = as_agent.post(
            "/me/contact-methods",
            {"kind": "apprise", "label": "Hook", "target": f"json://127.0.0.1:{server.port}"},
        ).json()
        response = as_agent.post(f"/me/contact-methods/{method['id']}/test")

    assert response.status_code == 200
    assert response.json()["status"] == "sent"
    assert len(server.requests) == 1
    assert ContactMethod.objects.get(pk=method["id"]).verified_at is not None


def test_rules_name_only_ones_own_methods(as_agent: ApiClient):
    other = UserFactory.create(role=Role.AGENT)
    theirs = (
        api_as(other)
        .post("/me/contact-methods", {"kind": "email", "label": "m", "target": "o@example.com"})
        .json()
    )
    mine = as_agent.post(
        "/me/contact-methods", {"kind": "email", "label": "m", "target": "me@example.com"}
    ).json()

    refused = as_agent.post("/me/notification-rules", {"method": theirs["id"]})
    made = as_agent.post(
        "/me/notification-rules",
        {"method": mine["id"], "delay_minutes": 5, "quiet_start": "22:00", "quiet_end": "07:00"},
    )
    bad = as_agent.post("/me/notification-rules", {"method": mine["id"], "delay_minutes": -1})

    assert refused.status_code == 400
    assert made.status_code == 201
    assert made.json()["quiet_start"] == "22:00:00"
    assert bad.status_code == 400
    assert "delay_minutes" in bad.json()["detail"]
    patched = as_agent.patch(f"/me/notification-rules/{made.json()['id']}", {"urgency": "urgent"})
    assert patched.json()["urgency"] == "urgent"


def test_subscriptions_round_trip(as_agent: ApiClient):
    response = as_agent.request(
        "PUT", "/me/subscriptions", {"events": ["assigned", "sla_breached"]}
    )
    assert response.json() == {"events": ["assigned", "sla_breached"], "scope": "mine"}
    assert as_agent.get("/me/subscriptions").json()["events"] == ["assigned", "sla_breached"]
    bad = as_agent.request("PUT", "/me/subscriptions", {"events": ["all"]})
    assert bad.status_code == 400


def test_the_notification_log_shows_only_ones_own(as_agent: ApiClient, agent):
    other = UserFactory.create(role=Role.AGENT)
    for user in (agent, other):
        Notification.objects.create(
            user=user, channel="email", destination=user.email, subject="s", body="b"
        )

    items = as_agent.get("/notifications").json()["items"]

    assert [item["user"] for item in items] == [agent.pk]


def test_a_webhooks_secret_is_shown_once(as_admin: ApiClient, org):
    created = as_admin.post(
        "/webhooks",
        {
            "organization": org.pk,
            "name": "ITSM",
            "url": "https://1.1.1.1/in",
            "events": ["ticket.created"],
        },
    )

    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    shown = as_admin.get(f"/webhooks/{created.json()['id']}")
    assert secret not in shown.content.decode()
    assert as_admin.get(f"/webhooks/{created.json()['id']}/deliveries").json()["items"] == []


def test_a_customer_manages_its_own_webhooks_only_without_private_targets(
    as_org_admin: ApiClient, org, other_org
):
    body = {"name": "x", "url": "https://1.1.1.1/in", "events": ["ticket.created"]}

    assert as_org_admin.post("/webhooks", {**body, "organization": org.pk}).status_code == 201
    assert as_org_admin.post("/webhooks", {**body, "organization": other_org.pk}).status_code == 404
    assert as_org_admin.post("/webhooks", body).status_code == 403
    private = as_org_admin.post(
        "/webhooks", {**body, "organization": org.pk, "url": "http://127.0.0.1:8080/"}
    )
    assert private.status_code == 400
    assert "url" in private.json()["detail"]
