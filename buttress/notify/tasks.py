"""Background work of notifications: one delivery attempt of a notification or a webhook
delivery, run under the scheduler's claim (see :mod:`buttress.scheduler.claims`)."""

from __future__ import annotations

from django.tasks import task

from buttress.notify.services import delivery, hooks


# Queued at the urgent priority (see buttress.notify.services.sending.enqueue and the timer):
# a backlog of alerts or mail never holds a notification back.
@task()
def deliver_notification(notification_id: int, claim: str) -> bool | None:
    """Hand the notification to its channel; None for a stale or duplicate run."""
    return delivery.attempt(notification_id, claim)


@task()
def deliver_webhook(delivery_id: int, claim: str) -> bool | None:
    """POST the delivery to its endpoint; None for a stale or duplicate run."""
    return hooks.attempt(delivery_id, claim)
