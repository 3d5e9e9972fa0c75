from buttress.escalation.models import Escalation
from buttress.escalation.tasks import advance_escalation, lease
from buttress.scheduler.claims import URGENT_PRIORITY
from buttress.scheduler.registry import Timer, register

# Each escalation's next step or the end of its acknowledgement; normally its own task runs
# the first step at once and the scheduler the rest.
register(
    Timer(
        "escalation.advance",
        Escalation,
        "due_at",
        advance_escalation,
        lease=lease(),
        priority=URGENT_PRIORITY,
    )
)
