from django.db.models import Q

from buttress.alerts.models import Alert, IntegrationKind
from buttress.monitoring.models import Monitor, Upkeep
from buttress.monitoring.rollups import LEASE
from buttress.monitoring.tasks import check_heartbeat, release_monitor_alert, run_upkeep
from buttress.scheduler.registry import Timer, register

# A heartbeat monitor's next move without a ping (up -> late, late or running -> down).
register(Timer("monitoring.heartbeat", Monitor, "heartbeat_due_at", check_heartbeat))
# Rolling results up and pruning them (buttress.monitoring.rollups), every minute.
register(Timer("monitoring.upkeep", Upkeep, "due_at", run_upkeep, lease=LEASE))
# A monitor's alert held back by a silence or maintenance window whose time is up: the
# monitor's incident is written here, so these are not alerts.suppression's.
register(
    Timer(
        "monitoring.alert_release",
        Alert,
        "suppression_due_at",
        release_monitor_alert,
        condition=Q(integration__kind=IntegrationKind.MONITORING),
    )
)
