from __future__ import annotations

from django.tasks import task

from buttress.lib.timeutil import now
from buttress.monitoring import services
from buttress.monitoring.models import Monitor
from buttress.scheduler.claims import holding


@task()
def check_heartbeat(monitor_id: int, claim: str) -> bool:
    """True when this delivery moved the monitor on; False for a stale or duplicate delivery."""
    with holding(Monitor, monitor_id, "heartbeat_due_at", claim) as monitor:
        if monitor is None:
            return False
        services.evaluate(monitor, at=now())
        return True
