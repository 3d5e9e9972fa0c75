from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from buttress.accounts import services as accounts
from buttress.accounts.models import UserSession
from buttress.scheduler import housekeeping, services
from buttress.scheduler.models import PeriodicJob
from buttress.scheduler.tasks import run_periodic_job

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# These read django-tasks-db rows, so they pin that backend in the Redis pass too.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_task_backend")]


def _job(job: str, **fields) -> PeriodicJob:
    defaults = {"interval_seconds": 3600, "next_due_at": T0}
    return PeriodicJob.objects.create(name=job, job=job, **{**defaults, **fields})


def _finished_result(finished_at: datetime) -> DBTaskResult[..., Any]:
    result = run_periodic_job.enqueue(0, T0.isoformat()).id
    DBTaskResult.objects.filter(id=result).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=finished_at
    )
    return DBTaskResult.objects.get(id=result)


def test_prune_deletes_finished_results_past_retention_only(settings, time_machine):
    settings.TASK_RESULT_RETENTION_DAYS = 14
    time_machine.move_to(T0, tick=False)
    old = _finished_result(T0 - timedelta(days=15))
    recent = _finished_result(T0 - timedelta(days=13))
    waiting = run_periodic_job.enqueue(0, T0.isoformat()).id

    summary = housekeeping.prune_task_results(_job("prune_task_results"))

    remaining = set(DBTaskResult.objects.values_list("id", flat=True))
    assert remaining == {recent.id, DBTaskResult.objects.get(id=waiting).id}
    assert old.id not in remaining
    assert summary.startswith("deleted 1 ")


def test_expire_sessions_deletes_expired_sessions_and_their_records(admin_user, time_machine):
    time_machine.move_to(T0, tick=False)
    live = SessionStore()
    live.set_expiry(3600)
    live.create()
    expired = SessionStore()
    expired.set_expiry(60)
    expired.create()
    for store in (live, expired):
        assert store.session_key is not None
        accounts.track_session(
            admin_user, session_key=store.session_key, ip_address=None, user_agent="test"
        )
    time_machine.move_to(T0 + timedelta(minutes=5), tick=False)

    summary = housekeeping.expire_sessions(_job("expire_sessions"))

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [live.session_key]
    assert summary == "deleted 1 expired sessions and 1 session records"


def test_report_expired_tokens_counts_tokens_that_expired_since_the_last_run(
    admin_user, time_machine
):
    time_machine.move_to(T0, tick=False)
    for name, minutes in (("soon", 10), ("later", 120)):
        accounts.create_token(
            admin_user, actor=None, name=name, expires_at=T0 + timedelta(minutes=minutes)
        )
    job = _job("report_expired_tokens", last_started_at=T0)
    time_machine.move_to(T0 + timedelta(hours=1), tick=False)

    assert housekeeping.report_expired_tokens(job).startswith("1 API tokens expired")


def test_running_a_job_records_the_run_and_schedules_the_next(time_machine):
    time_machine.move_to(T0, tick=False)
    job = _job("probe", interval_seconds=60)

    services.run_periodic_job(job)

    job.refresh_from_db()
    assert (job.runs, job.last_result, job.last_error) == (1, "ok", "")
    assert job.last_started_at == T0
    assert job.last_finished_at == T0
    assert job.next_due_at == T0 + timedelta(seconds=60)


def test_a_failing_job_records_the_error_and_is_still_rescheduled(monkeypatch, time_machine):
    time_machine.move_to(T0, tick=False)

    def broken(job):
        raise OSError("disk full")

    monkeypatch.setitem(housekeeping.JOBS, "probe", broken)
    job = _job("probe", interval_seconds=60)

    services.run_periodic_job(job)

    job.refresh_from_db()
    assert job.last_error == "OSError: disk full"
    assert job.runs == 1
    assert job.next_due_at == T0 + timedelta(seconds=60)


def test_a_job_naming_no_known_function_is_unscheduled():
    job = _job("no-such-job")

    services.run_periodic_job(job)

    job.refresh_from_db()
    assert job.next_due_at is None
    assert "unknown job" in job.last_error


def test_default_jobs_are_created_once_and_existing_schedules_kept(time_machine):
    time_machine.move_to(T0, tick=False)
    first = services.ensure_periodic_jobs()
    PeriodicJob.objects.filter(name="probe").update(next_due_at=T0 + timedelta(hours=5))

    second = services.ensure_periodic_jobs()

    assert {job.name for job in first} == set(housekeeping.DEFAULT_SCHEDULE)
    assert second == []
    assert PeriodicJob.objects.get(name="probe").next_due_at == T0 + timedelta(hours=5)
    assert set(PeriodicJob.objects.values_list("job", flat=True)) <= set(housekeeping.JOBS)
