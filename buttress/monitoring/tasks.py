from __future__ import annotations

from datetime import datetime

from django.tasks import task

from buttress.alerts.tasks import release_held
from buttress.lib.timeutil import now
from buttress.monitoring import incidents, rollups, services
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


@task()
def run_upkeep(upkeep_id: int, claim: str) -> str:
    """Roll results up or prune them (the row names which); "stale" for a stale delivery."""
    return rollups.run(upkeep_id, claim=datetime.fromisoformat(claim), at=now())


@task()
def release_monitor_alert(alert_id: int, claim: str) -> bool:
    """The silence or maintenance window holding back a monitor's alert has ended."""
    return release_held(alert_id, claim, incidents.release)
