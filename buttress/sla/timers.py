from datetime import timedelta

from buttress.scheduler.registry import Timer, register
from buttress.sla.models import SlaAction, SlaClock
from buttress.sla.tasks import fire_clocks, run_actions

# Many clocks can come due at once (a mass breach): large batches, one task each. A short
# lease: a lost delivery fires again within a minute, well inside any warning step.
register(
    Timer(
        "sla.clock",
        SlaClock,
        "due_at",
        fire_clocks,
        batch=5000,
        lease=timedelta(minutes=1),
        batch_task=True,
    )
)
register(
    Timer(
        "sla.action",
        SlaAction,
        "due_at",
        run_actions,
        batch=500,
        lease=timedelta(minutes=2),
        batch_task=True,
    )
)
