from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail

from buttress.accounts.models import Role
from buttress.notify.models import DeliveryStatus, MethodKind, Notification, Urgency
from buttress.notify.services import delivery, people, sending
from buttress.notify.tests.receiver import receiver
from buttress.scheduler.claims import claim_due
from buttress.scheduler.registry import get_timer
from buttress.testing.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def _claim(notification: Notification) -> str:
    assert notification.send_due_at is not None
    return notification.send_due_at.isoformat()


def test_an_apprise_notification_reaches_a_loopback_server():
    agent = UserFactory.create(role=Role.AGENT)
    with receiver() as server:
        method = people.add_contact_method(
            agent,
            actor=agent,
            kind=MethodKind.APPRISE,
            label="Hook",
            target=f"json://127.0.0.1:{server.port}/hook",
        )
        people.add_rule(agent, actor=agent, method=method)
        [notification] = sending.notify_user(agent, subject="Disk full", body="db01 is at 99%")

        assert delivery.attempt(notification.pk, _claim(notification)) is True

    notification.refresh_from_db()
    assert notification.status == DeliveryStatus.SENT
    assert notification.attempts == 1
    assert notification.send_due_at is None
    [request] = server.requests
    sent = json.loads(request.body)
    assert sent["title"] == "Disk full"
    assert "db01 is at 99%" in sent["message"]
    method.refresh_from_db()
    assert method.verified_at is not None


def test_without_rules_a_user_is_mailed_at_their_account_address():
    agent = UserFactory.create(role=Role.AGENT, email="duty@provider.example")
    [notification] = sending.notify_user(agent, subject="Hello", body="Body")

    delivery.attempt(notification.pk, _claim(notification))

    assert [m.to for m in mail.outbox] == [["duty@provider.example"]]
    assert mail.outbox[0].subject == "Hello"


def test_a_ticket_notification_ends_with_acknowledge_and_resolve_links(org):
    agent = UserFactory.create(role=Role.AGENT)
    ticket = TicketFactory.create(organization=org)

    [notification] = sending.notify_user(agent, subject="P1", body="Down", ticket=ticket)

    assert "/notifications/act/" in notification.body
    assert "Acknowledge: " in notification.body
    assert "Resolve: " in notification.body


def test_a_refused_delivery_is_retried_with_growing_waits_then_given_up():
    agent = UserFactory.create(role=Role.AGENT)
    with receiver(statuses=[500] * 10) as server:
        method = people.add_contact_method(
            agent,
            actor=agent,
            kind="apprise",
            label="Hook",
            target=f"json://127.0.0.1:{server.port}",
        )
        people.add_rule(agent, actor=agent, method=method)
        [notification] = sending.notify_user(agent, subject="s", body="b")
        waits = []
        for _ in range(delivery.MAX_ATTEMPTS):
            before = notification.send_due_at
            assert delivery.attempt(notification.pk, _claim(notification)) is False
            notification.refresh_from_db()
            if notification.send_due_at is not None:
                assert before is not None
                waits.append(notification.send_due_at)

    assert notification.status == DeliveryStatus.FAILED
    assert notification.attempts == delivery.MAX_ATTEMPTS
    assert notification.send_due_at is None
    assert "JSON" in notification.last_error or "HTTP" in notification.last_error
    assert len(waits) == delivery.MAX_ATTEMPTS - 1
    assert [delivery.backoff(n) for n in (1, 2, 3)] == [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
    ]


def test_a_stale_claim_does_nothing():
    agent = UserFactory.create(role=Role.AGENT)
    [notification] = sending.notify_user(agent, subject="s", body="b")

    assert delivery.attempt(notification.pk, "2000-01-01T00:00:00+00:00") is None
    assert mail.outbox == []


def test_a_delayed_rule_waits_and_a_p1_only_rule_skips_ordinary_notifications():
    agent = UserFactory.create(role=Role.AGENT)
    method = people.add_contact_method(
        agent, actor=agent, kind="email", label="Mail", target="a@example.com"
    )
    people.add_rule(agent, actor=agent, method=method, delay_minutes=10)
    people.add_rule(agent, actor=agent, method=method, urgency=Urgency.URGENT)
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    ordinary = sending.notify_user(agent, subject="s", body="b", at=at)
    urgent = sending.notify_user(agent, subject="s", body="b", urgent=True, at=at)

    assert [n.scheduled_for for n in ordinary] == [at + timedelta(minutes=10)]
    assert [n.send_due_at for n in ordinary] == [at + timedelta(minutes=10)]
    assert sorted(n.scheduled_for for n in urgent) == [at, at + timedelta(minutes=10)]


def test_quiet_hours_hold_a_notification_but_not_a_p1():
    agent = UserFactory.create(role=Role.AGENT, time_zone="Europe/Paris")
    method = people.add_contact_method(
        agent, actor=agent, kind="email", label="Mail", target="a@example.com"
    )
    people.add_rule(agent, actor=agent, method=method, quiet_start=time(22), quiet_end=time(7))
    at = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # 23:30 in Paris

    [held] = sending.notify_user(agent, subject="s", body="b", at=at)
    [urgent] = sending.notify_user(agent, subject="s", body="b", urgent=True, at=at)

    assert held.scheduled_for == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)  # 07:00 in Paris
    assert urgent.scheduled_for == at


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("21:59", "21:59"),
        ("22:00", "07:00+1"),
        ("03:00", "07:00"),
        ("07:00", "07:00"),
    ],
)
def test_after_quiet_hours_past_midnight(local, expected):
    hour, minute = map(int, local.split(":"))
    at = datetime(2026, 6, 1, hour, minute, tzinfo=UTC)

    result = sending.after_quiet_hours(at, time(22), time(7), "UTC")

    day = 2 if expected.endswith("+1") else 1
    h, m = map(int, expected.removesuffix("+1").split(":"))
    assert result == datetime(2026, 6, day, h, m, tzinfo=UTC)


def test_after_quiet_hours_within_a_day():
    at = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    assert sending.after_quiet_hours(at, time(12), time(14), "UTC") == datetime(
        2026, 6, 1, 14, tzinfo=UTC
    )
    assert sending.after_quiet_hours(at, time(13), time(14), "UTC") == at


def test_an_inactive_user_is_not_notified():
    agent = UserFactory.create(role=Role.AGENT, is_active=False)
    assert sending.notify_user(agent, subject="s", body="b") == []


def test_a_delayed_notification_is_claimed_by_the_scheduler_when_due():
    agent = UserFactory.create(role=Role.AGENT)
    method = people.add_contact_method(
        agent, actor=agent, kind="email", label="Mail", target="a@example.com"
    )
    people.add_rule(agent, actor=agent, method=method, delay_minutes=5)
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    [notification] = sending.notify_user(agent, subject="s", body="b", at=at)
    timer = get_timer("notify.notification")

    assert claim_due(timer, at=at + timedelta(minutes=4)) == 0
    with time_machine.travel(at + timedelta(minutes=5), tick=False):
        assert claim_due(timer, at=at + timedelta(minutes=5)) == 1
        notification.refresh_from_db()
        assert delivery.attempt(notification.pk, _claim(notification)) is True

    assert [m.to for m in mail.outbox] == [["a@example.com"]]


def test_a_notification_is_taken_before_processing_queued_earlier(org, db_task_backend):
    from django_tasks_db.models import DBTaskResult

    from buttress.alerts.models import Delivery
    from buttress.alerts.tasks import enqueue_processing
    from buttress.alerts.tests.helpers import make_integration

    integration, _ = make_integration(org, "alertmanager")
    for _ in range(3):
        enqueue_processing(
            Delivery.objects.create(
                organization=org,
                integration=integration,
                body="{}",
                process_due_at=datetime(2026, 8, 22, 10, tzinfo=UTC),
            )
        )
    agent = UserFactory.create(role=Role.AGENT)
    [notification] = sending.notify_user(agent, subject="Down", body="Body")

    first = DBTaskResult.objects.ready().first()
    assert first is not None
    assert first.task_path == "buttress.notify.tasks.deliver_notification"
    assert first.args_kwargs["args"][0] == notification.pk
