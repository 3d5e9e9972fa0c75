from datetime import timedelta

from buttress.escalation.models import Escalation, Page
from buttress.escalation.tasks import advance_escalation, deliver_pages, lease
from buttress.scheduler.registry import Timer, register

# Each escalation's next step or the end of its acknowledgement; normally its own task runs
# the first step at once and the scheduler the rest.
register(Timer("escalation.advance", Escalation, "due_at", advance_escalation, lease=lease()))
# Pages whose mail was lost or failed; normally the step hands them over itself.
register(
    Timer(
        "escalation.deliver",
        Page,
        "deliver_due_at",
        deliver_pages,
        lease=timedelta(minutes=2),
        batch_task=True,
    )
)
