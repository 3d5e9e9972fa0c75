from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from buttress.scheduler.claims import claim_due, compare_and_set, due_rows, holding
from buttress.scheduler.models import PeriodicJob
from buttress.scheduler.registry import get_timer
from buttress.scheduler.tasks import run_periodic_job

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TIMER = "scheduler.periodic_job"

# These read django-tasks-db rows, so they pin that backend in the Redis pass too.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_task_backend")]


def _probe(name: str = "probe-a", due: datetime = T0) -> PeriodicJob:
    return PeriodicJob.objects.create(
        name=name, job="probe", interval_seconds=3600, next_due_at=due
    )


def _queued_calls() -> list[list[Any]]:
    return [r.args_kwargs["args"] for r in DBTaskResult.objects.order_by("enqueued_at")]


def test_due_row_is_claimed_for_a_lease_and_its_task_enqueued():
    timer = get_timer(TIMER)
    job = _probe()

    claimed = claim_due(timer, at=T0 + timedelta(seconds=1))

    job.refresh_from_db()
    assert claimed == 1
    assert job.next_due_at == T0 + timedelta(seconds=1) + timer.lease
    assert _queued_calls() == [[job.pk, job.next_due_at.isoformat()]]


def test_rows_not_yet_due_are_left_alone():
    _probe(due=T0 + timedelta(minutes=1))

    assert claim_due(get_timer(TIMER), at=T0) == 0
    assert DBTaskResult.objects.count() == 0


def test_a_claimed_row_is_not_claimed_again_within_its_lease():
    timer = get_timer(TIMER)
    _probe()
    claim_due(timer, at=T0)

    assert claim_due(timer, at=T0 + timer.lease - timedelta(seconds=1)) == 0
    assert DBTaskResult.objects.count() == 1


def test_two_claimers_that_saw_the_same_row_claim_it_once():
    # given two schedulers that both read the row while it was due
    timer = get_timer(TIMER)
    job = _probe()
    seen_by_first = due_rows(timer, at=T0, size=10)
    seen_by_second = due_rows(timer, at=T0, size=10)

    # when both try to claim it
    first = compare_and_set(timer, seen_by_first, claim=T0 + timer.lease)
    second = compare_and_set(timer, seen_by_second, claim=T0 + timedelta(seconds=1) + timer.lease)

    # then only the first succeeds and only one task is queued
    assert (first, second) == (1, 0)
    assert _queued_calls() == [[job.pk, (T0 + timer.lease).isoformat()]]


def test_the_batch_limits_how_many_rows_one_claim_takes():
    timer = get_timer(TIMER)
    for n in range(5):
        _probe(f"probe-{n}", due=T0 - timedelta(seconds=n))

    assert claim_due(timer, at=T0, limit=3) == 3
    assert claim_due(timer, at=T0, limit=3) == 2
    # the most overdue went first
    assert PeriodicJob.objects.filter(name="probe-4", next_due_at__gt=T0).exists()


def test_a_lost_task_fires_again_after_the_lease(time_machine):
    # given a claimed row whose queued task was lost (a crashed worker, a flushed broker)
    timer = get_timer(TIMER)
    job = _probe()
    time_machine.move_to(T0, tick=False)
    claim_due(timer, at=T0)
    first_claim = _queued_calls()[0][1]
    DBTaskResult.objects.all().delete()

    # when the lease runs out
    time_machine.move_to(T0 + timer.lease + timedelta(seconds=1), tick=False)
    assert claim_due(timer, at=T0 + timer.lease + timedelta(seconds=1)) == 1

    # then the new delivery runs the job once, and the lost one, if it turns up, does nothing
    ((pk, second_claim),) = _queued_calls()
    assert run_periodic_job.call(pk, second_claim) is True
    assert run_periodic_job.call(pk, first_claim) is False
    job.refresh_from_db()
    assert job.runs == 1


def test_a_duplicate_delivery_does_nothing():
    timer = get_timer(TIMER)
    job = _probe()
    claim_due(timer, at=T0)
    ((pk, claim),) = _queued_calls()

    results = [run_periodic_job.call(pk, claim) for _ in range(3)]

    job.refresh_from_db()
    assert results == [True, False, False]
    assert job.runs == 1
    assert job.next_due_at is not None
    assert job.next_due_at > T0 + timer.lease


def test_a_failing_task_body_leaves_the_claim_so_the_row_fires_again():
    timer = get_timer(TIMER)
    job = _probe()
    claim_due(timer, at=T0)
    ((pk, claim),) = _queued_calls()

    def crash_half_way() -> None:
        with holding(PeriodicJob, pk, "next_due_at", claim) as row:
            assert row is not None
            row.next_due_at = None
            row.save()
            raise RuntimeError("worker crashed half-way")

    with pytest.raises(RuntimeError):
        crash_half_way()

    job.refresh_from_db()
    assert job.next_due_at == datetime.fromisoformat(claim)
    assert claim_due(timer, at=T0 + timer.lease) == 1


def test_a_task_for_a_deleted_row_does_nothing():
    timer = get_timer(TIMER)
    job = _probe()
    claim_due(timer, at=T0)
    ((pk, claim),) = _queued_calls()
    job.delete()

    assert run_periodic_job.call(pk, claim) is False


def test_with_a_broker_backend_the_task_is_enqueued_only_after_commit(
    settings, django_capture_on_commit_callbacks
):
    # given a backend outside the database (the immediate backend stands in for a broker)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    timer = get_timer(TIMER)
    job = _probe()

    # when the claim commits
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        claim_due(timer, at=T0)
    job.refresh_from_db()
    assert job.runs == 0
    for callback in callbacks:
        callback()

    # then the task runs, once
    job.refresh_from_db()
    assert job.runs == 1
