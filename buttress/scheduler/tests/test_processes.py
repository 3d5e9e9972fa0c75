"""Real schedulers and workers in separate processes, as deployed."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from buttress.lib.timeutil import now
from buttress.scheduler.models import PeriodicJob, SchedulerHeartbeat
from buttress.testing.processes import database_url as _database_url
from buttress.testing.processes import wait_for

TASK_PATH = "buttress.scheduler.tasks.run_periodic_job"


def _make_probes(prefix: str, count: int) -> list[int]:
    due = now()
    PeriodicJob.objects.bulk_create(
        PeriodicJob(name=f"{prefix}-{n}", job="probe", interval_seconds=3600, next_due_at=due)
        for n in range(count)
    )
    return list(
        PeriodicJob.objects.filter(name__startswith=f"{prefix}-").values_list("pk", flat=True)
    )


def _assert_each_ran_exactly_once(pks: list[int]) -> None:
    runs = dict(PeriodicJob.objects.filter(pk__in=pks).values_list("pk", "runs"))
    assert Counter(runs.values()) == Counter({1: len(pks)})
    results = [
        r
        for r in DBTaskResult.objects.filter(task_path=TASK_PATH)
        if r.args_kwargs["args"][0] in runs
    ]
    by_row = Counter(r.args_kwargs["args"][0] for r in results)
    # one delivery per row: no row was claimed twice, none was lost
    assert by_row == Counter(dict.fromkeys(pks, 1))
    assert {r.status for r in results} == {TaskResultStatus.SUCCESSFUL}
    assert all(r.return_value is True for r in results)
    assert all(len(r.worker_ids) == 1 for r in results)


def _all_ran(pks: list[int]) -> Callable[[], bool]:
    return lambda: not PeriodicJob.objects.filter(pk__in=pks, runs=0).exists()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_schedulers_and_two_workers_run_each_due_row_exactly_once(transactional_db, processes):
    group = processes(
        {
            "DATABASE_URL": _database_url(),
            "BUTTRESS_TASK_BACKEND": "db",
            "BUTTRESS_SCHEDULER_INTERVAL": "0.2",
            # small batches make the schedulers take turns over many ticks
            "BUTTRESS_SCHEDULER_MAX_BATCH": "10",
        }
    )
    try:
        first = group.start("scheduler")
        second = group.start("scheduler")
        group.start("worker")
        group.start("worker")
        wait_for(lambda: SchedulerHeartbeat.objects.count() == 2, timeout=30, what="two heartbeats")

        # phase 1: 200 rows due at once
        batch_one = _make_probes("one", 200)
        wait_for(_all_ran(batch_one), timeout=90, what="200 rows to run")
        _assert_each_ran_exactly_once(batch_one)

        # phase 2: one scheduler is killed outright while claiming
        batch_two = _make_probes("two", 200)
        wait_for(
            lambda: PeriodicJob.objects.filter(pk__in=batch_two, runs=1).exists(),
            timeout=30,
            what="the second batch to start",
        )
        first.kill()
        first.wait(timeout=10)
        assert PeriodicJob.objects.filter(pk__in=batch_two, runs=0).exists(), "killed too late"
        wait_for(_all_ran(batch_two), timeout=90, what="the second batch to finish")
        _assert_each_ran_exactly_once(batch_two)
        assert second.poll() is None
    except AssertionError:
        print(group.output())  # noqa: T201 - shown by pytest only when the test fails
        raise
    finally:
        codes = group.stop_all()
    # SIGTERM stops the survivors cleanly
    assert [codes[p.pid] for _, p in group.started if p is not first] == [0, 0, 0]


@pytest.mark.redis
@pytest.mark.slow
def test_with_rq_the_scheduler_enqueues_after_commit_and_the_worker_runs_the_task(
    tmp_path, processes
):
    # a Redis database of its own, so a concurrent run's queue is not shared
    redis_db = random.randint(1, 14)  # 15 is the RQ test pass's
    group = processes(
        {
            "DATABASE_URL": "",
            "BUTTRESS_TASK_BACKEND": "rq",
            "BUTTRESS_REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "BUTTRESS_SCHEDULER_INTERVAL": "0.2",
        }
    )
    migrate = subprocess.run(
        [sys.executable, "-m", "buttress.cli", "migrate"],
        env=group.env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr.decode()
    database = tmp_path / "data" / "buttress.db"

    def runs() -> dict[str, int]:
        with sqlite3.connect(database, timeout=10) as db:
            return dict(db.execute("SELECT name, runs FROM scheduler_periodicjob").fetchall())

    try:
        group.start("worker")
        group.start("scheduler")
        wait_for(
            lambda: runs().get("probe", 0) >= 1, timeout=60, what="the probe job to run via RQ"
        )
        wait_for(lambda: min(runs().values()) >= 1, timeout=30, what="every default job")
        assert set(runs().values()) == {1}
    except AssertionError:
        print(group.output())  # noqa: T201 - shown by pytest only when the test fails
        raise
    finally:
        codes = group.stop_all()
    assert set(codes.values()) == {0}
