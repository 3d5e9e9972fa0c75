"""Incidents from monitors: heartbeats and checks share one path, through the alerts app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from buttress.alerts.models import Alert, AlertStatus, IntegrationKind
from buttress.alerts.services import routing, silences
from buttress.alerts.services.sources import monitoring_integration
from buttress.api.tests.conftest import api_as
from buttress.desk.models import Source, Status, Ticket
from buttress.escalation import services as escalation
from buttress.escalation.models import Escalation
from buttress.escalation.services import StepSpec
from buttress.escalation.tests.helpers import staff
from buttress.lib.timeutil import now
from buttress.maintenance import services as maintenance
from buttress.monitoring import checking, services
from buttress.monitoring.models import Monitor, MonitorIncident, MonitorStatus
from buttress.monitoring.pinging import PingRequest
from buttress.monitoring.tasks import check_heartbeat, release_monitor_alert
from buttress.scheduler.claims import claim_due
from buttress.scheduler.registry import get_timer
from buttress.testing.factories import AssetFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_task_backend")]

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
OWNER = "runner-a"


def heartbeat(org, name: str = "backup", **fields: Any) -> Monitor:
    defaults: dict[str, Any] = {"period": 3600, "grace": 300}
    return services.create_monitor(
        org, actor=None, name=name, kind="heartbeat", **(defaults | fields)
    )


def checked(org, name: str, **fields: Any) -> Monitor:
    monitor = services.create_monitor(
        org, actor=None, name=name, kind="tcp", config={"host": "127.0.0.1", "port": 9}, **fields
    )
    Monitor.objects.filter(pk=monitor.pk).update(
        lease_owner=OWNER, lease_expires_at=now() + timedelta(days=1)
    )
    return monitor


def ping(monitor: Monitor, kind: str = "success", **fields: Any) -> Monitor:
    services.ping_by_uuid(monitor.uuid, PingRequest(kind=kind, **fields))
    monitor.refresh_from_db()
    return monitor


def apply(monitor: Monitor, status: str) -> checking.Applied | None:
    return checking.apply_status(
        monitor.pk, owner=OWNER, status=status, reason="test", at=now(), message="refused"
    )


def fire_timer(name: str, task: Any, model: Any, field: str, pk: int) -> bool:
    """Claim due rows of timer ``name`` as the scheduler would now and run the task for ``pk``."""
    assert claim_due(get_timer(name), at=now()) >= 1
    claim = getattr(model.objects.get(pk=pk), field)
    return bool(task.call(pk, claim.isoformat()))


def incident_of(monitor: Monitor) -> Ticket:
    return MonitorIncident.objects.select_related("ticket").get(monitor=monitor).ticket


# --- heartbeats ------------------------------------------------------------------------------


def test_a_failure_ping_opens_an_incident_through_the_alerts_app(org):
    asset = AssetFactory.create(organization=org, name="nas1")
    monitor = ping(heartbeat(org, asset=asset))

    ping(monitor, "fail", body=b"tar: disk full")

    ticket = incident_of(monitor)
    assert ticket.subject == "Monitor backup is down"
    assert ticket.source == Source.MONITORING
    assert list(ticket.assets.all()) == [asset]
    assert "tar: disk full" in ticket.description
    firing = Alert.objects.get()
    assert firing.fingerprint == f"monitor-{monitor.pk}"
    assert firing.integration is not None
    assert firing.integration.kind == IntegrationKind.MONITORING
    assert (firing.incident, firing.status) == (ticket, AlertStatus.FIRING)
    assert firing.labels["monitor"] == "backup"


def test_a_non_zero_exit_status_opens_an_incident_and_a_success_resolves_it(org):
    monitor = ping(heartbeat(org))

    ping(monitor, "exit", exit_status=3)
    ticket = incident_of(monitor)
    ping(monitor)

    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert Alert.objects.get().status == AlertStatus.RESOLVED
    link = MonitorIncident.objects.get(monitor=monitor)
    assert link.recovered_at is not None
    assert ticket.replies.filter(body__contains="backup is up again").count() == 1


def test_repeated_failure_pings_open_one_incident(org):
    monitor = ping(heartbeat(org))

    for _ in range(3):
        ping(monitor, "fail")

    assert Ticket.objects.count() == 1
    assert Alert.objects.get().status == AlertStatus.FIRING


def test_a_late_heartbeat_going_down_opens_an_incident(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = ping(heartbeat(org, period=600, grace=60))

    time_machine.move_to(T0 + timedelta(minutes=10, seconds=1), tick=False)
    fire_timer("monitoring.heartbeat", check_heartbeat, Monitor, "heartbeat_due_at", monitor.pk)
    assert not Ticket.objects.exists()  # late is not down
    time_machine.move_to(T0 + timedelta(minutes=11, seconds=1), tick=False)
    fire_timer("monitoring.heartbeat", check_heartbeat, Monitor, "heartbeat_due_at", monitor.pk)

    monitor.refresh_from_db()
    assert monitor.status == MonitorStatus.DOWN
    ticket = incident_of(monitor)
    assert "no ping within the grace period" in ticket.description


def test_a_heartbeat_down_starts_the_default_escalation(org):
    escalation.create_policy(
        org,
        actor=None,
        name="On call",
        steps=[StepSpec(wait_minutes=5, users=[staff("oncall")], teams=[])],
        is_default=True,
    )
    monitor = ping(heartbeat(org))

    ping(monitor, "fail")

    assert Escalation.objects.get(ticket=incident_of(monitor)).policy.name == "On call"


def test_a_heartbeat_in_maintenance_opens_its_incident_when_the_window_ends(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = ping(heartbeat(org))
    maintenance.create_window(
        org,
        actor=None,
        name="patching",
        starts_at=T0 - timedelta(minutes=1),
        duration=timedelta(hours=1),
        monitors=[monitor],
    )

    ping(monitor, "fail")
    held = Alert.objects.get()
    assert held.incident is None
    assert held.maintenance_window is not None
    assert not Ticket.objects.exists()

    time_machine.move_to(T0 + timedelta(hours=1, seconds=1), tick=False)
    assert fire_timer(
        "monitoring.alert_release", release_monitor_alert, Alert, "suppression_due_at", held.pk
    )

    ticket = incident_of(monitor)
    assert Alert.objects.get().incident == ticket
    assert ticket.subject == "Monitor backup is down"


def test_a_heartbeat_that_recovers_in_maintenance_never_opens_an_incident(org):
    monitor = ping(heartbeat(org))
    maintenance.create_window(
        org,
        actor=None,
        name="patching",
        starts_at=now() - timedelta(minutes=1),
        duration=timedelta(hours=1),
        monitors=[monitor],
    )

    ping(monitor, "fail")
    ping(monitor)

    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert not Ticket.objects.exists()
    assert not Alert.objects.filter(suppression_due_at__isnull=False).exists()


def test_a_heartbeat_whose_parent_is_down_is_unreachable_and_opens_nothing(org):
    uplink = checked(org, "uplink")
    apply(uplink, "down")
    monitor = ping(heartbeat(org, depends_on=uplink))

    ping(monitor, "fail")

    assert monitor.status == MonitorStatus.UNREACHABLE
    assert not MonitorIncident.objects.filter(monitor=monitor).exists()
    assert Ticket.objects.count() == 1  # the uplink's


def test_the_alerts_of_a_monitor_incident_are_listed_by_the_api(org, agent):
    monitor = ping(heartbeat(org))
    ping(monitor, "fail")

    response = api_as(agent).get(f"/incidents/{incident_of(monitor).pk}/alerts")

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["fingerprint"] == f"monitor-{monitor.pk}"
    assert item["labels"]["alertname"] == "MonitorDown"


# --- checked monitors: the alert path's rules ------------------------------------------------


def test_a_flapping_monitor_opens_no_incident(org):
    monitor = checked(org, "api")

    applied = apply(monitor, "flapping")

    assert applied == checking.Applied(status="flapping", incident_pending=False)
    assert not Alert.objects.exists()
    assert not Ticket.objects.exists()


def test_a_monitor_of_a_down_asset_is_unreachable_and_opens_no_incident(org):
    router = AssetFactory.create(organization=org, name="router1")
    for name in ("router ping", "router ssh"):
        apply(checked(org, name, asset=router), "down")
    behind = checked(org, "file server", depends_on_asset=router)

    applied = apply(behind, "down")

    assert applied == checking.Applied(status="unreachable", incident_pending=False)
    assert Monitor.objects.get(pk=behind.pk).status == MonitorStatus.UNREACHABLE
    assert not MonitorIncident.objects.filter(monitor=behind).exists()
    assert Ticket.objects.count() == 2


def test_a_monitor_of_an_asset_with_one_monitor_up_is_down(org):
    router = AssetFactory.create(organization=org, name="router1")
    apply(checked(org, "router ping", asset=router), "down")
    apply(checked(org, "router ssh", asset=router), "up")
    behind = checked(org, "file server", depends_on_asset=router)

    applied = apply(behind, "down")

    assert applied == checking.Applied(status="down", incident_pending=False)
    assert MonitorIncident.objects.filter(monitor=behind).count() == 1


def test_a_silence_on_the_monitor_label_holds_its_incident_back(org):
    silences.create_silence(
        org,
        actor=None,
        matchers=['monitor="api"'],
        ends_at=now() + timedelta(hours=1),
        comment="known",
    )
    monitor = checked(org, "api")

    applied = apply(monitor, "down")

    assert applied == checking.Applied(status="down", incident_pending=True)
    assert Alert.objects.get().silence is not None
    assert not Ticket.objects.exists()


def test_a_routing_rule_groups_monitors_of_an_asset_into_one_incident(org, settings):
    settings.MONITORING_RESOLVE_INCIDENTS = True
    integration = monitoring_integration(org)
    routing.create_rule(
        integration, actor=None, name="by asset", group_by=["asset"], impact="high", urgency="high"
    )
    router = AssetFactory.create(organization=org, name="router1")
    ping_mon, ssh_mon = checked(org, "ping", asset=router), checked(org, "ssh", asset=router)

    apply(ping_mon, "down")
    apply(ssh_mon, "down")
    ticket = incident_of(ping_mon)
    assert incident_of(ssh_mon) == ticket
    assert ticket.priority == "P1"
    assert ticket.replies.filter(body__contains="ssh is down too").count() == 1

    apply(ping_mon, "up")
    ticket.refresh_from_db()
    assert ticket.status != Status.RESOLVED  # ssh still down
    apply(ssh_mon, "up")
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_a_routing_rule_chooses_the_policy_of_monitor_incidents(org):
    integration = monitoring_integration(org)
    network = escalation.create_policy(
        org,
        actor=None,
        name="Network",
        steps=[StepSpec(wait_minutes=5, users=[staff("neteng")], teams=[])],
    )
    routing.create_rule(
        integration, actor=None, name="net", matchers=['kind="tcp"'], escalation_policy=network
    )

    apply(checked(org, "switch"), "down")

    assert Escalation.objects.get().policy == network


def test_a_disabled_monitoring_integration_records_the_alert_but_opens_nothing(org):
    integration = monitoring_integration(org)
    integration.is_enabled = False
    integration.save()

    apply(checked(org, "api"), "down")

    assert Alert.objects.get().incident is None
    assert not Ticket.objects.exists()
