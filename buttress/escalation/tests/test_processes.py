"""Escalation under crashes: workers and schedulers killed with SIGKILL at random moments."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from buttress.desk.models import EventKind
from buttress.escalation import services
from buttress.escalation.models import Escalation, EscalationState, Page
from buttress.escalation.services import StepSpec
from buttress.escalation.tests.helpers import incident, policy, staff
from buttress.scheduler.models import SchedulerHeartbeat
from buttress.testing.processes import database_url, wait_for

KILLS = 55
STEPS = 2
REPEAT = 1


@pytest.mark.postgres
@pytest.mark.slow
def test_no_step_is_lost_or_run_twice_when_processes_are_killed(
    transactional_db, processes, db_task_backend, org
):
    rng = random.Random(20261127)
    pager = policy(
        org,
        *(StepSpec(wait_minutes=0, users=[staff(f"oncall{n}")], teams=[]) for n in range(STEPS)),
        repeat=REPEAT,
    )
    group = processes(
        {
            "DATABASE_URL": database_url(),
            "BUTTRESS_TASK_BACKEND": "db",
            "BUTTRESS_SCHEDULER_INTERVAL": "0.2",
            "BUTTRESS_ESCALATION_LEASE_SECONDS": "10",
            "BUTTRESS_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
    )
    running = {kind: [group.start(kind), group.start(kind)] for kind in ("scheduler", "worker")}
    escalations: list[int] = []
    try:
        wait_for(lambda: SchedulerHeartbeat.objects.count() >= 2, timeout=60, what="schedulers")
        for n in range(KILLS):
            # work keeps arriving while processes die
            ticket = incident(org, f"Outage {n}")
            escalations.append(services.start(ticket, pager, actor=None).pk)
            time.sleep(rng.uniform(0.05, 0.6))
            kind = rng.choice(("scheduler", "worker"))
            victim = running[kind].pop(rng.randrange(2))
            victim.kill()
            victim.wait(timeout=10)
            running[kind].append(group.start(kind))
        wait_for(
            lambda: not Escalation.objects.filter(pk__in=escalations).running().exists(),
            timeout=300,
            what="every escalation to run all its steps",
        )
    except AssertionError:
        print(group.output())  # noqa: T201 - shown by pytest only when the test fails
        raise
    finally:
        group.stop_all()

    expected = {(0, r, p) for r in range(REPEAT + 1) for p in range(STEPS)}
    for escalation in Escalation.objects.filter(pk__in=escalations):
        assert escalation.state == EscalationState.EXHAUSTED
        assert escalation.steps_run == STEPS * (REPEAT + 1)
        pages = Counter(
            (p.cycle, p.round, p.position) for p in Page.objects.filter(escalation=escalation)
        )
        assert set(pages) == expected, f"escalation {escalation.pk} lost a step"
        assert set(pages.values()) == {1}, f"escalation {escalation.pk} ran a step twice"
        paged = escalation.ticket.events.filter(
            kind=EventKind.ESCALATION, detail__action="paged"
        ).count()
        assert paged == STEPS * (REPEAT + 1)
    assert len(escalations) == KILLS
