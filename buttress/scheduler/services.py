"""The only place that changes scheduler state: heartbeats and periodic jobs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from buttress.lib.timeutil import now
from buttress.scheduler.housekeeping import DEFAULT_SCHEDULE, JOBS
from buttress.scheduler.models import PeriodicJob, SchedulerHeartbeat

logger = logging.getLogger(__name__)


def ensure_periodic_jobs() -> list[PeriodicJob]:
    """Create the default housekeeping rows that are missing, due at once; keep the rest."""
    created = []
    for name, (job, interval) in DEFAULT_SCHEDULE.items():
        row, was_created = PeriodicJob.objects.get_or_create(
            name=name,
            defaults={"job": job, "interval_seconds": interval, "next_due_at": now()},
        )
        if was_created:
            created.append(row)
    return created


def run_periodic_job(job: PeriodicJob) -> PeriodicJob:
    """Run ``job`` once, record the outcome and schedule the next run.

    Call while holding the row's claim (see ``claims.holding``). A failing job is recorded and
    still rescheduled: housekeeping is retried on its next interval, not in a tight loop.
    """
    started = now()
    function = JOBS.get(job.job)
    job.last_started_at = started
    if function is None:
        job.last_error = f"unknown job {job.job!r}"
        job.next_due_at = None
        logger.error("periodic job %s names unknown job %r; unscheduled", job.name, job.job)
    else:
        try:
            with transaction.atomic():
                job.last_result = function(job)[:300]
            job.last_error = ""
        except Exception as exc:
            logger.exception("periodic job %s failed", job.name)
            job.last_error = f"{type(exc).__name__}: {exc}"
        job.next_due_at = now() + timedelta(seconds=job.interval_seconds)
    job.last_finished_at = now()
    job.runs += 1
    job.save()
    return job


def beat(name: str, *, host: str, pid: int, started_at: datetime, loops: int, claimed: int) -> None:
    SchedulerHeartbeat.objects.update_or_create(
        name=name,
        defaults={
            "host": host,
            "pid": pid,
            "started_at": started_at,
            "seen_at": now(),
            "loops": loops,
            "claimed": claimed,
        },
    )


def stop_beating(name: str) -> None:
    SchedulerHeartbeat.objects.filter(name=name).delete()


def forget_stale_heartbeats(*, older_than: timedelta) -> int:
    """Drop the rows of schedulers that died without saying so (SIGKILL, power loss)."""
    deleted, _ = SchedulerHeartbeat.objects.filter(seen_at__lt=now() - older_than).delete()
    return deleted


def latest_heartbeat() -> SchedulerHeartbeat | None:
    return SchedulerHeartbeat.objects.order_by("-seen_at").first()
