from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from buttress.accounts.models import Role
from buttress.desk import services as desk
from buttress.desk.models import EventKind, TicketEvent
from buttress.notify import webhooks
from buttress.notify.models import DeliveryStatus, WebhookDelivery
from buttress.notify.services import fanout, hooks
from buttress.notify.tests.receiver import receiver
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_signature_verifies_and_a_changed_body_or_old_timestamp_does_not():
    body = b'{"event":"ticket.created"}'
    header = webhooks.sign("whsec_x", body, timestamp=1_800_000_000)

    assert webhooks.verify("whsec_x", header, body, now=1_800_000_010)
    assert not webhooks.verify("whsec_x", header, body + b" ", now=1_800_000_010)
    assert not webhooks.verify("whsec_y", header, body, now=1_800_000_010)
    assert not webhooks.verify("whsec_x", header, body, now=1_800_000_000 + 301)
    assert not webhooks.verify("whsec_x", "garbage", body)


def _deliver_all() -> None:
    for row in WebhookDelivery.objects.filter(send_due_at__isnull=False):
        assert row.send_due_at is not None
        hooks.attempt(row.pk, row.send_due_at.isoformat())


def test_a_ticket_event_is_posted_signed_and_logged(
    org, admin_user, django_capture_on_commit_callbacks
):
    with receiver() as server:
        endpoint, secret = hooks.create_endpoint(
            org,
            actor=admin_user,
            name="ITSM",
            url=server.url + "/in",
            events=["ticket.created"],
            allow_private=True,
        )
        with django_capture_on_commit_callbacks(execute=True):
            ticket = desk.create_ticket(org, actor=admin_user, subject="Mail down")
        _deliver_all()

    [request] = server.requests
    assert webhooks.verify(secret, request.headers["Buttress-Signature"], request.body)
    assert request.headers["Buttress-Event"] == "ticket.created"
    payload = json.loads(request.body)
    assert payload["ticket"]["reference"] == ticket.reference
    assert payload["organization"]["id"] == org.pk
    [row] = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert row.status == DeliveryStatus.SENT
    assert row.response_status == 200
    assert '"ok"' in row.response_excerpt


def test_a_failing_receiver_is_retried_with_back_off(
    org, admin_user, django_capture_on_commit_callbacks
):
    with receiver(statuses=[503]) as server:
        hooks.create_endpoint(
            org,
            actor=admin_user,
            name="x",
            url=server.url,
            events=["ticket.created"],
            allow_private=True,
        )
        with django_capture_on_commit_callbacks(execute=True):
            desk.create_ticket(org, actor=admin_user, subject="Mail down")
        _deliver_all()
        [row] = WebhookDelivery.objects.all()
        assert row.status == DeliveryStatus.RETRYING
        assert row.response_status == 503
        assert row.last_error == "HTTP 503"
        assert row.send_due_at is not None
        _deliver_all()

    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT
    assert row.attempts == 2
    assert len(server.requests) == 2


def test_a_customer_cannot_point_a_webhook_at_a_private_address(org):
    customer = UserFactory.create(role=Role.ORG_ADMIN, organization=org)
    for url in ("http://127.0.0.1:9/", "http://10.0.0.5/", "http://[::1]/x"):
        with pytest.raises(ValidationError) as caught:
            hooks.create_endpoint(org, actor=customer, name="x", url=url, events=["ticket.created"])
        assert "private address" in caught.value.message_dict["url"][0]
    with pytest.raises(ValidationError) as caught:
        hooks.create_endpoint(
            org,
            actor=customer,
            name="x",
            url="http://1.1.1.1/",
            events=["ticket.created"],
            allow_private=True,
        )
    assert "allow_private" in caught.value.message_dict


def test_a_delivery_to_a_private_address_is_refused_at_send_time(org, admin_user):
    endpoint, _ = hooks.create_endpoint(
        org, actor=admin_user, name="x", url="http://1.1.1.1/", events=["ticket.created"]
    )
    endpoint.url = "http://127.0.0.1:9/"  # as if the name now resolved to loopback
    endpoint.save()

    outcome = webhooks.post(
        endpoint.url, {"a": 1}, secret="s", event="e", delivery_id=1, allow_private=False
    )

    assert not outcome.ok
    assert "private address" in outcome.error


def test_internal_detail_goes_only_to_provider_wide_endpoints(org, admin_user):
    ticket = desk.create_ticket(org, actor=admin_user, subject="x")
    event = TicketEvent.objects.create(
        ticket=ticket, kind=EventKind.SLA_BREACHED, detail={"clock": "resolution"}, is_internal=True
    )
    mine, _ = hooks.create_endpoint(
        org, actor=admin_user, name="a", url="http://1.1.1.1/", events=["sla.breached"]
    )
    wide, _ = hooks.create_endpoint(
        None, actor=admin_user, name="b", url="http://1.1.1.1/", events=["sla.breached"]
    )

    assert "detail" not in fanout.payload(event, ticket, "sla.breached", mine)
    assert fanout.payload(event, ticket, "sla.breached", wide)["detail"] == {"clock": "resolution"}
