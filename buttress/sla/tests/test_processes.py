"""Warnings and breaches fired by real scheduler and worker processes, as deployed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from buttress.desk import services as desk
from buttress.desk.models import EventKind
from buttress.lib.timeutil import now
from buttress.scheduler.models import SchedulerHeartbeat
from buttress.sla import services
from buttress.sla.models import SlaClock
from buttress.sla.tests.helpers import make_calendar, make_policy, targets
from buttress.testing.processes import database_url, wait_for

ALWAYS = {str(day): [["00:00", "24:00"]] for day in range(7)}


@pytest.mark.postgres
@pytest.mark.slow
def test_two_schedulers_fire_each_warning_and_breach_once_within_seconds(
    transactional_db, processes, org, agent
):
    made = make_policy(
        calendar=make_calendar(name="Always", timezone="UTC", weekly=ALWAYS),
        targets=targets(first=1, nxt=1, resolution=1),
        warnings=[{"percent": 90, "action": "raise_priority", "clock": "resolution"}],
    )
    services.create_rule(actor=None, policy=made)
    group = processes(
        {"DATABASE_URL": database_url(), "BUTTRESS_TASK_BACKEND": "db"}
    )  # the deployed defaults: schedulers tick every second, workers poll every second
    try:
        group.start("scheduler")
        group.start("scheduler")
        group.start("worker")
        wait_for(lambda: SchedulerHeartbeat.objects.count() == 2, timeout=30, what="schedulers")
        # Opened 52 seconds ago with one-minute targets: the 90% warning comes due in 2 s,
        # the breaches in 8 s.
        ticket = desk.create_ticket(
            org, actor=agent, subject="Due soon", at=now() - timedelta(seconds=52)
        )
        wait_for(
            lambda: ticket.events.filter(kind=EventKind.SLA_BREACHED).count() == 2,
            timeout=40,
            what="both breaches",
        )
        wait_for(
            lambda: ticket.events.filter(kind=EventKind.FIELD_CHANGED).exists(),
            timeout=20,
            what="the raise-priority action",
        )
    except AssertionError:
        print(group.output())  # noqa: T201 - shown by pytest only when the test fails
        raise
    finally:
        group.stop_all()
    warnings = list(ticket.events.filter(kind=EventKind.SLA_WARNING))
    breaches = list(ticket.events.filter(kind=EventKind.SLA_BREACHED))
    assert len(warnings) == 1
    assert sorted(e.detail["clock"] for e in breaches) == ["first_response", "resolution"]
    for clock in SlaClock.objects.filter(ticket=ticket):
        assert clock.breached_at is not None
        # Written (updated_at) within 10 seconds of the instant it records.
        assert clock.updated_at - clock.breached_at < timedelta(seconds=10)
    ticket.refresh_from_db()
    assert ticket.priority == "P2"
