from datetime import timedelta

from buttress.scheduler.registry import Timer, register
from buttress.sla.models import SlaAction, SlaClock
from buttress.sla.tasks import fire_clock, run_action

# A short lease: a lost delivery fires again within a minute, well inside any warning step.
register(Timer("sla.clock", SlaClock, "due_at", fire_clock, lease=timedelta(minutes=1)))
register(Timer("sla.action", SlaAction, "due_at", run_action, lease=timedelta(minutes=2)))
