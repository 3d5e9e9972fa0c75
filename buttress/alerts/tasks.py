"""Background work: processing recorded deliveries and expiring alerts that were not re-sent."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.db import transaction
from django.tasks import task
from django_tasks_db.backend import DatabaseBackend

from buttress.alerts import services
from buttress.alerts.models import Alert, Delivery, Integration
from buttress.scheduler.claims import holding


@task()
def process_delivery(delivery_id: int, claim: str) -> bool:
    """True when this run applied the delivery; False for a stale or duplicate run."""
    try:
        with holding(Delivery, delivery_id, "process_due_at", claim) as delivery:
            if delivery is None:
                return False
            services.process_delivery(delivery)
            return True
    except Exception as exc:
        # The work rolled back; count the attempt so a delivery that always fails is given
        # up on rather than retried for ever, then let the task report the failure.
        services.note_failure(delivery_id, datetime.fromisoformat(claim), repr(exc))
        raise


@task()
def expire_alert(alert_id: int, claim: str) -> bool:
    with holding(Alert, alert_id, "expires_due_at", claim) as alert:
        if alert is None:
            return False
        services.expire_alert(alert)
        return True


@task()
def release_alert(alert_id: int, claim: str) -> bool:
    """The silence or maintenance window holding the alert back has ended: process it."""
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
            services.release_alert(alert)
            return True


def enqueue_processing(delivery: Delivery) -> None:
    """Queue the delivery's processing under the claim it was recorded with.

    With the database task backend the queued task commits with the delivery or not at all;
    with a broker it is sent once the delivery is committed, and if it is lost on the way the
    scheduler finds the delivery due when its lease ends.
    """
    assert delivery.process_due_at is not None
    token = delivery.process_due_at.isoformat()
    if isinstance(process_delivery.get_backend(), DatabaseBackend):
        process_delivery.enqueue(delivery.pk, token)
    else:
        transaction.on_commit(partial(process_delivery.enqueue, delivery.pk, token), robust=True)
