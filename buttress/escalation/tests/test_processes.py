"""Escalation under crashes: workers and schedulers killed with SIGKILL at random moments."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from buttress.desk.models import EventKind
from buttress.escalation import services
from buttress.escalation.models import Escalation, EscalationState, Page
from buttress.escalation.services import StepSpec
from buttress.escalation.tests.helpers import incident, policy, staff
from buttress.lib.timeutil import now
from buttress.notify.models import PENDING_STATUSES, DeliveryStatus, Notification
from buttress.scheduler.models import SchedulerHeartbeat
from buttress.testing.processes import database_url, wait_for

KILLS = 55
STEPS = 3
REPEAT = 1
# Long enough that a claimed step's task is run before the claim lapses on a loaded machine
# (a shorter lease only makes the scheduler hand out stale duplicates).
LEASE_SECONDS = 10
# A step's wait is a whole number of minutes; the test plays the clock and lets each wait end
# after this many seconds instead, so steps come due all through the run and kills land
# while steps are claimed, running or waiting.
WAIT_SECONDS = (0.1, 0.8)


def _pass_the_waits(escalations: list[int], rng: random.Random) -> int:
    """End the waits of escalations between steps: a due time a minute away becomes a moment
    away. Compare-and-set on the due time seen, as a scheduler claims, so a row claimed or
    advanced meanwhile (its due time moved) is left alone."""
    at = now()
    waiting = Escalation.objects.filter(
        pk__in=escalations,
        state=EscalationState.ACTIVE,
        due_at__gt=at + timedelta(seconds=LEASE_SECONDS * 3),
    ).values_list("pk", "due_at")
    moved = 0
    for pk, due in waiting:
        soon = at + timedelta(seconds=rng.uniform(*WAIT_SECONDS))
        moved += Escalation.objects.filter(pk=pk, due_at=due).update(due_at=soon)
    return moved


@pytest.mark.postgres
@pytest.mark.slow
def test_no_page_or_notification_is_lost_or_doubled_when_processes_are_killed(
    transactional_db, processes, db_task_backend, org, settings
):
    # The first step's claim, taken by this process, lasts what the workers' claims last.
    settings.ESCALATION_LEASE_SECONDS = LEASE_SECONDS
    rng = random.Random(20261206)
    pager = policy(
        org,
        *(StepSpec(wait_minutes=1, users=[staff(f"oncall{n}")], teams=[]) for n in range(STEPS)),
        repeat=REPEAT,
    )
    group = processes(
        {
            "DATABASE_URL": database_url(),
            "BUTTRESS_TASK_BACKEND": "db",
            "BUTTRESS_SCHEDULER_INTERVAL": "0.2",
            "BUTTRESS_ESCALATION_LEASE_SECONDS": str(LEASE_SECONDS),
            "BUTTRESS_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
    )
    running = {kind: [group.start(kind), group.start(kind)] for kind in ("scheduler", "worker")}
    escalations: list[int] = []
    kills_while_paging = 0
    started = time.monotonic()
    try:
        wait_for(lambda: SchedulerHeartbeat.objects.count() >= 2, timeout=60, what="schedulers")
        for n in range(KILLS):
            # work keeps arriving while processes die
            ticket = incident(org, f"Outage {n}")
            escalations.append(services.start(ticket, pager, actor=None).pk)
            _pass_the_waits(escalations, rng)
            time.sleep(rng.uniform(0.05, 0.5))
            # Steps claimed or about to be: a kill now lands in the middle of the work.
            in_flight = Escalation.objects.filter(
                pk__in=escalations,
                state=EscalationState.ACTIVE,
                due_at__lte=now() + timedelta(seconds=LEASE_SECONDS),
            ).exists()
            kind = rng.choice(("scheduler", "worker"))
            victim = running[kind].pop(rng.randrange(2))
            victim.kill()
            victim.wait(timeout=10)
            kills_while_paging += in_flight
            running[kind].append(group.start(kind))

        def all_done() -> bool:
            """every escalation to run all its steps"""
            _pass_the_waits(escalations, rng)
            return not Escalation.objects.filter(pk__in=escalations).running().exists()

        wait_for(all_done, timeout=180, what="every escalation to run all its steps")
    except AssertionError:
        left = Escalation.objects.filter(pk__in=escalations).running()
        print(  # noqa: T201 - shown by pytest only when the test fails
            group.output(),
            Counter(left.values_list("steps_run", flat=True)),
            [(e.pk, e.due_at, e.step, e.round) for e in left[:5]],
            now(),
        )
        raise
    finally:
        group.stop_all()
    elapsed = time.monotonic() - started

    expected = {(0, r, p) for r in range(REPEAT + 1) for p in range(STEPS)}
    for escalation in Escalation.objects.filter(pk__in=escalations):
        assert escalation.state == EscalationState.EXHAUSTED
        assert escalation.steps_run == STEPS * (REPEAT + 1)
        pages = list(Page.objects.filter(escalation=escalation).prefetch_related("notifications"))
        positions = Counter((p.cycle, p.round, p.position) for p in pages)
        assert set(positions) == expected, f"escalation {escalation.pk} lost a step"
        assert set(positions.values()) == {1}, f"escalation {escalation.pk} ran a step twice"
        # Each page handed exactly one notification to its user's channel (no rules: mail).
        assert all(len(page.notifications.all()) == 1 for page in pages)
        notifications = Notification.objects.filter(ticket=escalation.ticket, event="escalation")
        assert notifications.count() == len(pages), f"escalation {escalation.pk}: notifications"
        paged = escalation.ticket.events.filter(
            kind=EventKind.ESCALATION, detail__action="paged"
        ).count()
        assert paged == STEPS * (REPEAT + 1)
    # None lost: each notification went out, or is still held by its timer (a worker killed
    # while sending it leaves it claimed; the scheduler hands it out again when the two-minute
    # lease ends, so delivery is at least once).
    unsent = Notification.objects.exclude(status=DeliveryStatus.SENT)
    assert not unsent.exclude(status__in=PENDING_STATUSES, send_due_at__isnull=False).exists()
    assert Notification.objects.filter(status=DeliveryStatus.SENT).count() >= (
        0.9 * Notification.objects.count()
    )
    assert len(escalations) == KILLS
    # The kills did land in the middle of the work, not between escalations.
    assert kills_while_paging >= KILLS // 2, kills_while_paging
    interrupted = DBTaskResult.objects.running().count()
    print(  # noqa: T201 - the run's figures, shown with -s
        f"{KILLS} kills ({kills_while_paging} while steps were due or claimed), "
        f"{interrupted} tasks left running by a killed worker, {elapsed:.0f} s"
    )
