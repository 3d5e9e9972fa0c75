from buttress.scheduler.models import PeriodicJob
from buttress.scheduler.registry import Timer, register
from buttress.scheduler.tasks import run_periodic_job

register(Timer("scheduler.periodic_job", PeriodicJob, "next_due_at", run_periodic_job))
