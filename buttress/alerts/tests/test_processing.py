"""From recorded deliveries to alerts and incident tickets: dedup, grouping, resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from buttress.alerts import tasks
from buttress.alerts.models import Alert, AlertGroup, AlertStatus, Delivery
from buttress.alerts.tests.helpers import (
    ALERTMANAGER,
    GRAFANA,
    PAGERDUTY,
    PROMETHEUS,
    alert,
    group,
    make_integration,
    payload,
    post,
    process_pending,
)
from buttress.desk.models import EventKind, Reply, Source, Status, Ticket, TicketEvent, TicketType
from buttress.testing.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def _state() -> tuple[int, int, int, int, list[str]]:
    return (
        Alert.objects.count(),
        Ticket.objects.count(),
        TicketEvent.objects.count(),
        Reply.objects.count(),
        list(Alert.objects.order_by("pk").values_list("status", flat=True)),
    )


# --- one incident per alert group ------------------------------------------------------------


def test_alertmanager_alert_opens_an_incident_ticket(org):
    integration, key = make_integration(org, "alertmanager")

    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    process_pending()

    found = Alert.objects.get()
    ticket = Ticket.objects.get()
    assert found.incident == ticket
    assert found.organization == org
    assert found.integration == integration
    assert found.fingerprint == "5c2b6f1a0d3e4b77"
    assert found.status == AlertStatus.FIRING
    assert found.summary == "host unreachable"
    assert found.severity == "critical"
    assert found.starts_at == datetime(2026, 8, 22, 10, tzinfo=UTC)
    assert found.ends_at is None
    assert found.links == {
        "runbook": "https://runbooks/hd",
        "generator": "http://prometheus:9090/graph?g0.expr=up",
    }
    assert (ticket.type, ticket.source, ticket.organization) == (
        TicketType.INCIDENT,
        Source.ALERT,
        org,
    )
    assert ticket.subject == "HostDown: host unreachable"
    assert ticket.priority == "P1"
    assert "instance=srv1:9100" in ticket.description
    assert "runbook: https://runbooks/hd" in ticket.description
    assert ticket.tags == ["alert", "alertmanager"]
    delivery = Delivery.objects.get()
    assert delivery.processed_at is not None
    assert delivery.process_due_at is None
    assert delivery.alert_count == 1


def test_duplicate_deliveries_change_nothing(org):
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    process_pending()
    before = _state()

    for _ in range(3):
        post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    process_pending()

    assert _state() == before
    assert Alert.objects.get().times_seen == 4


def test_a_repeated_processing_task_does_nothing(org):
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    delivery = Delivery.objects.get()
    assert delivery.process_due_at is not None
    claim = delivery.process_due_at.isoformat()

    assert tasks.process_delivery.call(delivery.pk, claim)
    before = _state()
    assert not tasks.process_delivery.call(delivery.pk, claim)

    assert _state() == before
    assert Alert.objects.get().times_seen == 1


def test_alerts_of_one_group_key_collect_in_one_incident(org):
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", group(alert(instance="a")))
    process_pending()

    post(f"/hooks/alertmanager/{key}", group(alert(instance="a"), alert(instance="b")))
    process_pending()

    ticket = Ticket.objects.get()
    assert set(Alert.objects.values_list("incident", flat=True)) == {ticket.pk}
    assert Alert.objects.count() == 2
    note = Reply.objects.get(ticket=ticket)
    assert note.is_internal
    assert note.body.startswith("Alerts firing (1):")
    assert "instance=b" in note.body


def test_different_group_keys_are_different_incidents(org):
    _, key = make_integration(org, "alertmanager")

    post(f"/hooks/alertmanager/{key}", group(alert(instance="a"), key="g1"))
    post(f"/hooks/alertmanager/{key}", group(alert(instance="b"), key="g2"))
    process_pending()

    assert Ticket.objects.count() == 2
    assert Alert.objects.count() == 2


def test_incident_resolves_when_all_its_alerts_resolve(org):
    _, key = make_integration(org, "alertmanager")
    a, b = alert(instance="a"), alert(instance="b")
    post(f"/hooks/alertmanager/{key}", group(a, b))
    process_pending()
    ticket = Ticket.objects.get()

    post(f"/hooks/alertmanager/{key}", group(alert(instance="a", status="resolved"), b))
    process_pending()
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert Alert.objects.filter(status=AlertStatus.RESOLVED).count() == 1

    resolved = group(alert(instance="a", status="resolved"), alert(instance="b", status="resolved"))
    post(f"/hooks/alertmanager/{key}", resolved)
    process_pending()
    ticket.refresh_from_db()

    assert ticket.status == Status.RESOLVED
    assert ticket.resolved_at is not None
    assert not Alert.objects.filter(status=AlertStatus.FIRING).exists()
    assert AlertGroup.objects.get().closed_at is not None
    notes = list(Reply.objects.filter(ticket=ticket).values_list("body", flat=True))
    # b joined the incident a opened; then a resolved, then b.
    assert [body.split(":")[0] for body in notes] == [
        "Alerts firing (1)",
        "Alerts resolved (1)",
        "Alerts resolved (1)",
    ]
    resolved_alert = Alert.objects.get(labels__instance="a")
    assert resolved_alert.ends_at == datetime(2026, 8, 22, 11, tzinfo=UTC)


def test_repeated_resolution_changes_nothing(org):
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", group(alert()))
    post(f"/hooks/alertmanager/{key}", group(alert(status="resolved")))
    process_pending()
    before = _state()

    post(f"/hooks/alertmanager/{key}", group(alert(status="resolved")))
    process_pending()

    assert _state() == before


def test_late_firing_copy_of_a_resolved_alert_changes_nothing(org):
    # An HA Alertmanager pair: one peer's resolution arrives before the other's firing copy.
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", group(alert()))
    post(f"/hooks/alertmanager/{key}", group(alert(status="resolved")))
    process_pending()
    before = _state()

    post(f"/hooks/alertmanager/{key}", group(alert()))
    process_pending()

    assert _state() == before


def test_the_same_alert_firing_again_later_opens_a_new_incident(org):
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", group(alert()))
    post(f"/hooks/alertmanager/{key}", group(alert(status="resolved")))
    process_pending()

    post(f"/hooks/alertmanager/{key}", group(alert(starts="2026-08-23T08:00:00Z")))
    process_pending()

    assert Ticket.objects.count() == 2
    assert Ticket.objects.filter(status=Status.NEW).count() == 1
    assert Alert.objects.filter(status=AlertStatus.FIRING).count() == 1


def test_an_incident_closed_by_hand_takes_no_more_alerts(org, agent):
    from buttress.desk import services as desk

    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", group(alert(instance="a")))
    process_pending()
    first = Ticket.objects.get()
    desk.transition(first, Status.RESOLVED, actor=agent)

    post(f"/hooks/alertmanager/{key}", group(alert(instance="a"), alert(instance="b")))
    process_pending()

    second = Ticket.objects.exclude(pk=first.pk).get()
    assert Alert.objects.get(labels__instance="b").incident == second


def test_alerts_are_kept_apart_per_organisation(org):
    globex = OrganizationFactory.create(name="Globex", slug="globex")
    _, acme_key = make_integration(org, "alertmanager")
    _, globex_key = make_integration(globex, "alertmanager")

    post(f"/hooks/alertmanager/{acme_key}", ALERTMANAGER)
    post(f"/hooks/alertmanager/{globex_key}", ALERTMANAGER)
    process_pending()

    acme_ticket = Ticket.objects.for_org(org).get()
    globex_ticket = Ticket.objects.for_org(globex).get()
    assert Alert.objects.for_org(org).get().incident == acme_ticket
    assert Alert.objects.for_org(globex).get().incident == globex_ticket


def test_timeline_shows_the_incident_opened_by_alerts_without_a_person(org):
    _, key = make_integration(org, "alertmanager")

    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    process_pending()

    created = TicketEvent.objects.get(kind=EventKind.CREATED)
    assert created.actor is None
    assert created.detail["source"] == "alert"
    assert Ticket.objects.get().created_by is None


# --- Grafana ---------------------------------------------------------------------------------


def test_grafana_alert_keeps_its_links_and_values(org):
    _, key = make_integration(org, "grafana")

    post(f"/hooks/grafana/{key}", GRAFANA)
    process_pending()

    found = Alert.objects.get()
    assert found.fingerprint == "a1b2c3d4e5f60718"
    assert found.summary == "CPU above 90%"
    assert found.links == {
        "dashboard": "http://grafana:3000/d/xyz",
        "panel": "http://grafana:3000/d/xyz?viewPanel=2",
        "silence": "http://grafana:3000/alerting/silence/new",
        "generator": "http://grafana:3000/alerting/grafana/abc/view",
    }
    assert found.details == {"values": {"B": 93.5}, "valueString": "[ var='B' value=93.5 ]"}
    assert found.incident is not None
    assert found.incident.priority == "P3"


def test_grafana_resolution_resolves_the_incident(org):
    _, key = make_integration(org, "grafana")
    post(f"/hooks/grafana/{key}", GRAFANA)
    resolved = payload(GRAFANA, status="resolved", state="ok")
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-08-22T10:05:00Z"

    post(f"/hooks/grafana/{key}", resolved)
    process_pending()

    assert Ticket.objects.get().status == Status.RESOLVED


# --- Prometheus direct -----------------------------------------------------------------------


def test_prometheus_alerts_group_by_alertname(org):
    _, key = make_integration(org, "prometheus")
    second = payload(PROMETHEUS[0])
    second["labels"]["instance"] = "db2:9100"

    post(f"/hooks/{key}/api/v2/alerts", [PROMETHEUS[0], second])
    process_pending()

    assert Alert.objects.count() == 2
    assert Ticket.objects.get().subject == "DiskFull: disk 95% full"


def test_prometheus_resend_keeps_one_alert(org):
    _, key = make_integration(org, "prometheus")
    post(f"/hooks/{key}/api/v2/alerts", PROMETHEUS)
    process_pending()
    before = _state()

    post(f"/hooks/{key}/api/v2/alerts", PROMETHEUS)
    process_pending()

    assert _state() == before


def test_prometheus_alert_without_ends_at_expires_unless_resent(org):
    _, key = make_integration(org, "prometheus")
    with time_machine.travel("2026-08-22T10:00:00Z", tick=False):
        post(f"/hooks/{key}/api/v2/alerts", PROMETHEUS)
        process_pending()
    found = Alert.objects.get()
    due = found.expires_due_at
    assert due == datetime(2026, 8, 22, 10, 5, tzinfo=UTC)

    with time_machine.travel("2026-08-22T10:06:00Z", tick=False):
        assert tasks.expire_alert.call(found.pk, due.isoformat())

    found.refresh_from_db()
    assert found.status == AlertStatus.RESOLVED
    assert found.ends_at == datetime(2026, 8, 22, 10, 5, tzinfo=UTC)
    assert found.expires_due_at is None
    assert Ticket.objects.get().status == Status.RESOLVED


def test_prometheus_resend_moves_the_expiry(org):
    _, key = make_integration(org, "prometheus")
    with time_machine.travel("2026-08-22T10:00:00Z", tick=False):
        post(f"/hooks/{key}/api/v2/alerts", PROMETHEUS)
        process_pending()
    first_due = Alert.objects.get().expires_due_at
    assert first_due is not None
    with time_machine.travel("2026-08-22T10:03:00Z", tick=False):
        post(f"/hooks/{key}/api/v2/alerts", PROMETHEUS)
        process_pending()

    found = Alert.objects.get()
    assert found.expires_due_at == datetime(2026, 8, 22, 10, 8, tzinfo=UTC)
    # The expiry queued for the old time finds its claim gone.
    assert not tasks.expire_alert.call(found.pk, first_due.isoformat())
    assert Alert.objects.get().status == AlertStatus.FIRING


def test_prometheus_alert_with_past_ends_at_resolves(org):
    _, key = make_integration(org, "prometheus")
    with time_machine.travel("2026-08-22T10:00:00Z", tick=False):
        post(f"/hooks/{key}/api/v2/alerts", PROMETHEUS)
    with time_machine.travel("2026-08-22T10:02:00Z", tick=False):
        post(f"/hooks/{key}/api/v2/alerts", [{**PROMETHEUS[0], "endsAt": "2026-08-22T10:01:00Z"}])
        process_pending()

    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert Ticket.objects.get().status == Status.RESOLVED


def test_alerts_after_the_group_window_open_a_new_incident(org):
    _, key = make_integration(org, "prometheus", group_window_minutes=30)
    second = payload(PROMETHEUS[0])
    second["labels"]["instance"] = "db2:9100"
    third = payload(PROMETHEUS[0])
    third["labels"]["instance"] = "db3:9100"
    for moment, alerts in (
        ("2026-08-22T10:00:00Z", [PROMETHEUS[0]]),
        ("2026-08-22T10:20:00Z", [PROMETHEUS[0], second]),
        ("2026-08-22T11:20:00Z", [PROMETHEUS[0], second, third]),
    ):
        with time_machine.travel(moment, tick=False):
            post(f"/hooks/{key}/api/v2/alerts", alerts)
            process_pending()

    first_ticket, second_ticket = Ticket.objects.order_by("pk")
    assert Alert.objects.get(labels__instance="db2:9100").incident == first_ticket
    assert Alert.objects.get(labels__instance="db3:9100").incident == second_ticket


def test_group_by_labels_is_configurable(org):
    _, key = make_integration(org, "prometheus", group_by=["instance"])
    other = payload(PROMETHEUS[0])
    other["labels"]["alertname"] = "DiskSlow"

    post(f"/hooks/{key}/api/v2/alerts", [PROMETHEUS[0], other])
    process_pending()

    assert Ticket.objects.count() == 1
    assert AlertGroup.objects.get().key == "labels:instance=db1:9100"


# --- PagerDuty -------------------------------------------------------------------------------


def test_pagerduty_trigger_acknowledge_resolve(org):
    _, key = make_integration(org, "pagerduty")
    post("/v2/enqueue", {**PAGERDUTY, "routing_key": key})
    process_pending()
    found = Alert.objects.get()
    ticket = Ticket.objects.get()
    assert found.fingerprint == "srv1-disk"
    assert found.summary == "Disk on srv1 is 95% full"
    assert found.labels == {
        "source": "srv1",
        "severity": "error",
        "component": "disk",
        "group": "storage",
        "class": "disk",
    }
    assert found.links == {
        "dashboard": "https://dash.example/srv1",
        "generator": "https://monitor.example/srv1",
    }
    assert found.details["custom_details"] == {"free": "5%"}
    assert ticket.priority == "P2"
    assert ticket.subject == "Disk on srv1 is 95% full"

    ack = {"routing_key": key, "event_action": "acknowledge", "dedup_key": "srv1-disk"}
    post("/v2/enqueue", ack)
    post("/v2/enqueue", ack)
    process_pending()
    found.refresh_from_db()
    assert found.acknowledged_at is not None
    assert Reply.objects.filter(ticket=ticket, body__startswith="Alerts acknowledged").count() == 1

    post("/v2/enqueue", {**ack, "event_action": "resolve"})
    process_pending()
    found.refresh_from_db()
    ticket.refresh_from_db()
    assert found.status == AlertStatus.RESOLVED
    assert ticket.status == Status.RESOLVED


def test_pagerduty_trigger_after_resolve_opens_a_new_alert(org):
    _, key = make_integration(org, "pagerduty")
    event = {**PAGERDUTY, "routing_key": key}
    event["payload"] = {k: v for k, v in PAGERDUTY["payload"].items() if k != "timestamp"}
    post("/v2/enqueue", event)
    post("/v2/enqueue", {"routing_key": key, "event_action": "resolve", "dedup_key": "srv1-disk"})
    process_pending()

    post("/v2/enqueue", event)
    process_pending()

    assert Alert.objects.filter(fingerprint="srv1-disk").count() == 2
    assert Alert.objects.filter(status=AlertStatus.FIRING).count() == 1
    assert Ticket.objects.filter(status=Status.NEW).count() == 1


def test_pagerduty_resolve_of_an_unknown_key_changes_nothing(org):
    _, key = make_integration(org, "pagerduty")

    post("/v2/enqueue", {"routing_key": key, "event_action": "resolve", "dedup_key": "nope"})
    process_pending()

    assert _state() == (0, 0, 0, 0, [])


# --- generic ---------------------------------------------------------------------------------


def test_generic_mapping_reads_a_list_of_alerts(org):
    mapping = {
        "alerts": "checks",
        "fingerprint": "check_id",
        "summary": "output",
        "status": "state",
        "severity": "level",
        "labels": "{host: host, check: name}",
        "runbook_url": "docs",
        "group_key": "host",
        "resolved_values": ["up"],
    }
    _, key = make_integration(org, "generic", mapping=mapping)
    body = {
        "checks": [
            {"check_id": "c1", "output": "ping lost", "state": "down", "level": "critical",
             "host": "fw1", "name": "ping", "docs": "https://wiki/ping"},
            {"check_id": "c2", "output": "http 500", "state": "down", "level": "warning",
             "host": "fw1", "name": "http"},
        ]
    }  # fmt: skip

    post(f"/hooks/generic/{key}", body)
    process_pending()

    ticket = Ticket.objects.get()
    assert ticket.priority == "P1"
    first = Alert.objects.get(fingerprint="c1")
    assert first.labels == {"host": "fw1", "check": "ping"}
    assert first.links == {"runbook": "https://wiki/ping"}
    assert Alert.objects.count() == 2

    body["checks"][0]["state"] = body["checks"][1]["state"] = "UP"
    post(f"/hooks/generic/{key}", body)
    process_pending()
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_generic_defaults_read_a_plain_object(org):
    _, key = make_integration(org, "generic")

    post(f"/hooks/generic/{key}", {"title": "Backup failed", "severity": "high", "id": 42})
    process_pending()

    found = Alert.objects.get()
    assert (found.fingerprint, found.summary, found.severity) == ("42", "Backup failed", "high")
    assert Ticket.objects.get().subject == "Backup failed"


# --- failures --------------------------------------------------------------------------------


def test_a_failing_delivery_is_retried_then_given_up(org, monkeypatch):
    from buttress.alerts.services import incidents
    from buttress.desk import services as desk

    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", ALERTMANAGER)

    def broken(*args, **kwargs):
        raise RuntimeError("desk unavailable")

    monkeypatch.setattr(desk, "create_ticket", broken)
    delivery = Delivery.objects.get()
    for attempt in range(1, incidents.MAX_ATTEMPTS + 1):
        claim = delivery.process_due_at
        assert claim is not None
        with pytest.raises(RuntimeError):
            tasks.process_delivery.call(delivery.pk, claim.isoformat())
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        if delivery.process_due_at is not None:
            # The scheduler re-claims it after the lease; do what a claim does.
            new_claim = claim + timedelta(minutes=2)
            Delivery.objects.filter(pk=delivery.pk).update(process_due_at=new_claim)
            delivery.refresh_from_db()

    assert delivery.process_due_at is None
    assert "desk unavailable" in delivery.error
    assert not Alert.objects.exists()


def test_a_lost_processing_task_is_claimed_again_by_the_scheduler(org, db_task_backend):
    from django_tasks_db.models import DBTaskResult

    from buttress.scheduler.claims import claim_due
    from buttress.scheduler.registry import get_timer

    _, key = make_integration(org, "alertmanager")
    with time_machine.travel("2026-08-22T10:00:00Z", tick=False):
        post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    DBTaskResult.objects.all().delete()  # the queued task is lost (a broker restart)
    timer = get_timer("alerts.delivery")

    assert claim_due(timer, at=datetime(2026, 8, 22, 10, 1, tzinfo=UTC)) == 0
    assert claim_due(timer, at=datetime(2026, 8, 22, 10, 3, tzinfo=UTC)) == 1

    delivery_id, claim = DBTaskResult.objects.get().args_kwargs["args"]
    assert tasks.process_delivery.call(delivery_id, claim)
    assert Ticket.objects.count() == 1
    assert Delivery.objects.get().process_due_at is None


def test_a_task_that_waited_past_its_lease_still_applies_the_delivery_once(org, db_task_backend):
    """A backlog longer than the lease: the scheduler re-claims the delivery and queues a
    replacement (behind fresh work); the original task, reached first, applies it, and the
    replacement then does nothing."""
    from django_tasks_db.models import DBTaskResult

    from buttress.scheduler.claims import claim_due
    from buttress.scheduler.registry import get_timer

    _, key = make_integration(org, "alertmanager")
    with time_machine.travel("2026-08-22T10:00:00Z", tick=False):
        post(f"/hooks/alertmanager/{key}", ALERTMANAGER)
    original = DBTaskResult.objects.get()
    assert claim_due(get_timer("alerts.delivery"), at=datetime(2026, 8, 22, 10, 3, tzinfo=UTC))
    replacement = DBTaskResult.objects.exclude(pk=original.pk).get()
    assert replacement.priority == tasks.BUSY_PRIORITY

    assert tasks.process_delivery.call(*original.args_kwargs["args"])
    assert not tasks.process_delivery.call(*replacement.args_kwargs["args"])
    assert Ticket.objects.count() == 1
    assert Alert.objects.count() == 1
    assert Delivery.objects.get().process_due_at is None
