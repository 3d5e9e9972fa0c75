from __future__ import annotations

from django.tasks import task

from buttress.scheduler import services
from buttress.scheduler.claims import holding
from buttress.scheduler.models import PeriodicJob


@task()
def run_periodic_job(job_id: int, claim: str) -> bool:
    """True when this delivery ran the job; False for a stale or duplicate delivery."""
    with holding(PeriodicJob, job_id, "next_due_at", claim) as job:
        if job is None:
            return False
        services.run_periodic_job(job)
        return True
