import os
import signal
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from buttress.scheduler.loop import Scheduler
from buttress.scheduler.models import PeriodicJob, SchedulerHeartbeat

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# These read django-tasks-db rows, so they pin that backend in the Redis pass too.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_task_backend")]


def test_a_tick_beats_and_claims_what_is_due(time_machine):
    time_machine.move_to(T0, tick=False)
    PeriodicJob.objects.create(name="p", job="probe", interval_seconds=60, next_due_at=T0)
    scheduler = Scheduler(interval=0)

    claimed = scheduler.tick()

    beat = SchedulerHeartbeat.objects.get()
    assert claimed == 1
    assert beat.name == scheduler.name
    assert beat.seen_at == T0
    assert beat.pid == os.getpid()
    assert DBTaskResult.objects.count() == 1


def test_max_batch_caps_the_rows_claimed_per_timer_per_tick():
    for n in range(4):
        PeriodicJob.objects.create(name=f"p{n}", job="probe", interval_seconds=60, next_due_at=T0)

    assert Scheduler(interval=0, max_batch=3).tick() == 3


# run() closes stale connections between ticks, which would end a test's wrapping transaction.
@pytest.mark.django_db(transaction=True)
def test_sigterm_stops_the_loop_and_removes_its_heartbeat():
    # given a running scheduler
    scheduler = Scheduler(interval=0.05)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    previous = signal.getsignal(signal.SIGTERM)

    # when it receives SIGTERM
    try:
        scheduler.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    # then it returns, having looped and cleaned up after itself
    assert scheduler.loops > 0
    assert not SchedulerHeartbeat.objects.filter(name=scheduler.name).exists()
    # and the housekeeping rows exist, so it had work to drive
    assert PeriodicJob.objects.filter(name="probe").exists()


@pytest.mark.django_db(transaction=True)
def test_heartbeats_of_long_dead_schedulers_are_forgotten_at_start(time_machine):
    time_machine.move_to(T0, tick=False)
    SchedulerHeartbeat.objects.create(
        name="gone:1:x",
        host="gone",
        pid=1,
        started_at=T0 - timedelta(days=3),
        seen_at=T0 - timedelta(days=2),
    )
    scheduler = Scheduler(interval=0)
    scheduler.stopping.set()

    scheduler.run()

    assert not SchedulerHeartbeat.objects.filter(name="gone:1:x").exists()
