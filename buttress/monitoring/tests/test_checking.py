from __future__ import annotations

from datetime import timedelta

import pytest

from buttress.desk.models import Status, TicketEvent
from buttress.lib.timeutil import now
from buttress.maintenance import services as maintenance
from buttress.maintenance.models import MaintenanceWindow
from buttress.monitoring import checking, services
from buttress.monitoring.models import CheckResult, Monitor, MonitorIncident, StateChange
from buttress.monitoring.states import State
from buttress.testing.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
OWNER = "runner-a"


def held_monitor(org, name: str = "api") -> Monitor:
    monitor = services.create_monitor(
        org, actor=None, name=name, kind="tcp", config={"host": "127.0.0.1", "port": 9}
    )
    Monitor.objects.filter(pk=monitor.pk).update(
        lease_owner=OWNER, lease_expires_at=now() + timedelta(minutes=1)
    )
    return monitor


def apply(monitor: Monitor, status: str, *, owner: str = OWNER) -> checking.Applied | None:
    return checking.apply_status(
        monitor.pk, owner=owner, status=status, reason="test", at=now(), message="refused"
    )


def test_only_the_lease_holder_changes_the_status(org):
    monitor = held_monitor(org)

    assert apply(monitor, "down", owner="runner-b") is None
    assert Monitor.objects.get(pk=monitor.pk).status == "unknown"
    assert not StateChange.objects.filter(monitor=monitor).exists()


def test_an_incident_held_back_by_maintenance_opens_once_the_window_is_gone(org):
    monitor = held_monitor(org)
    maintenance.create_window(
        org,
        actor=None,
        name="patching",
        starts_at=now() - timedelta(minutes=1),
        duration=timedelta(hours=1),
        monitors=[monitor],
    )

    first = apply(monitor, "down")
    assert first == checking.Applied(status="down", incident_pending=True)
    assert not MonitorIncident.objects.exists()

    MaintenanceWindow.objects.all().delete()
    again = apply(monitor, "down")
    assert again == checking.Applied(status="down", incident_pending=False)
    assert MonitorIncident.objects.filter(monitor=monitor).count() == 1
    assert StateChange.objects.filter(monitor=monitor).count() == 1


def test_going_down_again_while_the_incident_is_open_adds_a_note(org, settings):
    settings.MONITORING_RESOLVE_INCIDENTS = False
    monitor = held_monitor(org)

    apply(monitor, "down")
    apply(monitor, "up")
    apply(monitor, "down")

    link = MonitorIncident.objects.select_related("ticket").get(monitor=monitor)
    assert link.ticket.status != Status.RESOLVED
    assert link.recovered_at is None
    notes = TicketEvent.objects.filter(ticket=link.ticket, kind="note_added").count()
    assert notes == 2  # up again, down again


def test_an_organisation_chooses_whether_recovery_resolves_its_incidents(org, settings):
    other = OrganizationFactory.create()
    settings.MONITORING_RESOLVE_INCIDENTS = True
    services.set_resolve_incidents(org, actor=None, resolve=False)
    kept, resolved = held_monitor(org, "kept"), held_monitor(other, "resolved")

    for monitor in (kept, resolved):
        apply(monitor, "down")
        apply(monitor, "up")

    assert MonitorIncident.objects.get(monitor=kept).ticket.status != Status.RESOLVED
    assert MonitorIncident.objects.get(monitor=resolved).ticket.status == Status.RESOLVED

    # Back to the installation's default, which here keeps incidents open.
    settings.MONITORING_RESOLVE_INCIDENTS = False
    services.set_resolve_incidents(org, actor=None, resolve=None)
    assert not services.resolves_incidents(org.pk)
    services.set_resolve_incidents(org, actor=None, resolve=True)
    assert services.resolves_incidents(org.pk)


def test_a_resolved_incident_is_not_reused(org):
    monitor = held_monitor(org)

    apply(monitor, "down")
    apply(monitor, "up")
    apply(monitor, "down")

    links = MonitorIncident.objects.filter(monitor=monitor).select_related("ticket")
    assert [link.ticket.status for link in links] == [Status.NEW, Status.RESOLVED]


def test_results_of_monitors_no_longer_held_are_dropped(org):
    mine, theirs = held_monitor(org, "mine"), held_monitor(org, "theirs")
    Monitor.objects.filter(pk=theirs.pk).update(lease_owner="runner-b")
    at = now()
    results = [checking.Result(m.pk, org.pk, at, "up", 1.5, "ok") for m in (mine, theirs)]
    progress = [
        checking.Progress(m.pk, State(status="up", health="up", successes=1, recent="u"), at, at)
        for m in (mine, theirs)
    ]

    assert checking.save_results(OWNER, results, progress) == 1

    assert list(CheckResult.objects.values_list("monitor_id", flat=True)) == [mine.pk]
    assert Monitor.objects.get(pk=mine.pk).recent_results == "u"
    assert Monitor.objects.get(pk=theirs.pk).recent_results == ""


def test_a_batch_is_written_whole_with_every_value_as_given(org):
    first, second = held_monitor(org, "first"), held_monitor(org, "second")
    at = now().replace(microsecond=123456)
    due = at + timedelta(seconds=10)
    results = [
        checking.Result(first.pk, org.pk, at, "down", None, "x" * 500),
        checking.Result(first.pk, org.pk, at + timedelta(seconds=1), "unknown", None, ""),
        checking.Result(second.pk, org.pk, at, "up", None, "HTTP 200 in 3 ms"),
    ]
    progress = [
        checking.Progress(first.pk, State("down", "down", 2, 0, "ud"), at, due),
        checking.Progress(second.pk, State("up", "up", 0, 7, "uuu"), at, due),
    ]

    assert checking.save_results(OWNER, results, progress) == 3

    rows = list(
        CheckResult.objects.order_by("monitor_id", "at").values_list(
            "monitor_id", "at", "status", "latency_ms", "message"
        )
    )
    assert rows == [
        (first.pk, at, "down", None, "x" * checking.MESSAGE_LENGTH),
        (first.pk, at + timedelta(seconds=1), "unknown", None, ""),
        (second.pk, at, "up", None, "HTTP 200 in 3 ms"),
    ]
    written = {
        m.pk: (m.health, m.consecutive_failures, m.consecutive_successes, m.recent_results)
        for m in Monitor.objects.filter(pk__in=[first.pk, second.pk])
    }
    assert written == {first.pk: ("down", 2, 0, "ud"), second.pk: ("up", 0, 7, "uuu")}
    assert set(Monitor.objects.values_list("check_due_at", "last_checked_at")) == {(due, at)}
    assert checking.save_results(OWNER, [], []) == 0


def test_phases_spread_monitors_over_the_interval():
    phases = [checking.phase(pk, 60) for pk in range(1, 1001)]

    assert all(0 <= p < 60 for p in phases)
    # Every ten-second slice of the minute gets a share of the checks.
    slices = {int(p // 10) for p in phases}
    assert slices == set(range(6))
    assert checking.phase(42, 60) == checking.phase(42, 60)
