from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.tasks import task

from buttress.alerts.models import Alert, Integration
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
    with transaction.atomic():
        # The integration first, in the order a delivery locks them, so the two never deadlock.
        integration_id = (
            Alert.objects.filter(pk=alert_id).values_list("integration_id", flat=True).first()
        )
        if integration_id is not None:
            list(
                Integration.objects.select_for_update(no_key=True)
                .filter(pk=integration_id)
                .values("pk")
            )
        with holding(Alert, alert_id, "suppression_due_at", claim) as alert:
            if alert is None:
                return False
            incidents.release(alert)
            return True
