from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.notify.models import ContactMethod, NotificationRule, Subscription, WebhookEndpoint
from buttress.notify.tests.receiver import receiver
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db

SLACK = "slack://TA1234XYZ/BB12345XYZ/CCC1234567890abcdef"


def test_the_settings_page_adds_a_method_a_rule_and_followed_events(client: Client, agent):
    client.force_login(agent)

    added = client.post(
        reverse("notify:method_add"), {"kind": "apprise", "label": "Slack", "target": SLACK}
    )
    method = ContactMethod.objects.get(user=agent)
    rule = client.post(
        reverse("notify:rule_add"),
        {
            "method": method.pk,
            "delay_minutes": 5,
            "urgency": "all",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )
    events = client.post(
        reverse("notify:subscriptions"), {"events": ["assigned", "sla_warning"], "scope": "mine"}
    )
    page = client.get(reverse("notify:settings"))

    assert (added.status_code, rule.status_code, events.status_code) == (302, 302, 302)
    assert NotificationRule.objects.get(user=agent).delay_minutes == 5
    assert sorted(s.event for s in Subscription.objects.filter(user=agent)) == [
        "assigned",
        "sla_warning",
    ]
    assert page.status_code == 200
    assert "CCC1234567890abcdef" not in page.content.decode()


def test_a_bad_method_shows_the_error_next_to_the_field(client: Client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("notify:method_add"), {"kind": "email", "label": "x", "target": "nope"}
    )
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()


def test_the_test_button_reports_the_outcome(client: Client, agent):
    client.force_login(agent)
    with receiver(statuses=[500]) as server:
        client.post(
            reverse("notify:method_add"),
            {"kind": "apprise", "label": "Hook", "target": f"json://127.0.0.1:{server.port}"},
        )
        method = ContactMethod.objects.get(user=agent)
        response = client.post(reverse("notify:method_test", args=[method.pk]), follow=True)

    assert "failed" in response.content.decode()


def test_an_admin_adds_a_webhook_and_sees_its_secret_once_and_its_log(
    client: Client, admin_user, org
):
    client.force_login(admin_user)
    created = client.post(
        reverse("notify:webhooks"),
        {
            "organization": org.pk,
            "name": "ITSM",
            "url": "https://1.1.1.1/in",
            "events": ["ticket.created"],
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    detail = client.get(reverse("notify:webhook_detail", args=[endpoint.pk]))

    assert created.status_code == 200
    assert "whsec_" in created.content.decode()
    assert detail.status_code == 200
    assert endpoint.secret_prefix in detail.content.decode()


def test_an_end_user_has_no_webhook_pages(client: Client, org):
    user = UserFactory.create(role=Role.END_USER, organization=org)
    client.force_login(user)
    assert client.get(reverse("notify:webhooks")).status_code == 403
    assert client.get(reverse("notify:log")).status_code == 200
