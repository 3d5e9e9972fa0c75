from datetime import timedelta

from buttress.notify.models import Notification, WebhookDelivery
from buttress.notify.tasks import deliver_notification, deliver_webhook
from buttress.scheduler.claims import URGENT_PRIORITY
from buttress.scheduler.registry import Timer, register

# A due row is a first attempt after a delay or quiet hours, a retry after back-off, or an
# attempt whose task was lost; the lease covers one attempt (a channel times out well inside).
register(
    Timer(
        "notify.notification",
        Notification,
        "send_due_at",
        deliver_notification,
        lease=timedelta(minutes=2),
        priority=URGENT_PRIORITY,
    )
)
register(
    Timer(
        "notify.webhook",
        WebhookDelivery,
        "send_due_at",
        deliver_webhook,
        lease=timedelta(minutes=2),
    )
)
