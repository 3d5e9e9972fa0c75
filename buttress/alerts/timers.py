from datetime import timedelta

from django.db.models import Q

from buttress.alerts.models import Alert, Delivery, IntegrationKind
from buttress.alerts.tasks import BUSY_PRIORITY, expire_alert, process_delivery, release_alert
from buttress.scheduler.registry import Timer, register

# Normally the task queued with the delivery processes it; this catches a lost one (or one
# still waiting in a long queue, which then applies the delivery first: see process_delivery),
# queuing the replacement behind fresh deliveries.
register(
    Timer(
        "alerts.delivery",
        Delivery,
        "process_due_at",
        process_delivery,
        lease=timedelta(minutes=2),
        priority=BUSY_PRIORITY,
    )
)
register(Timer("alerts.expire", Alert, "expires_due_at", expire_alert))
# Built-in sources release their own alerts (monitoring: monitoring.alert_release).
register(
    Timer(
        "alerts.suppression",
        Alert,
        "suppression_due_at",
        release_alert,
        condition=~Q(integration__kind=IntegrationKind.MONITORING),
    )
)
