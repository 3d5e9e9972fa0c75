"""Background work: processing recorded deliveries and expiring alerts that were not re-sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.tasks import task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.compat import normalize_json
from django_tasks_db.models import DBTaskResult, get_date_max

from buttress.alerts import services
from buttress.alerts.models import Alert, Delivery, Integration
from buttress.scheduler.claims import at_priority, enqueue_with_claim, holding, pending

# The processing of a flooding integration's deliveries (``Delivery.busy``) runs after every
# other queued task (the database backend takes higher priorities first).
BUSY_PRIORITY = -10


@task()
def process_delivery(delivery_id: int, claim: str) -> bool:
    """True when this run applied the delivery; False when it was already applied.

    Applying a delivery twice changes nothing, so a run whose claim went out of date while it
    waited in the queue (a backlog longer than the lease) still applies it: under a long
    alert storm each delivery is applied by whichever of its tasks comes up first, instead
    of every claim being replaced before its task is reached."""
    try:
        with pending(Delivery, delivery_id, "process_due_at") as delivery:
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


def release_held(alert_id: int, claim: str, release: Callable[[Alert], object]) -> bool:
    """Run ``release`` on the alert while holding its suppression claim; False for a stale
    delivery. The integration is locked first, in the order a delivery locks them, so the two
    never deadlock."""
    with transaction.atomic():
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
            release(alert)
            return True


@task()
def release_alert(alert_id: int, claim: str) -> bool:
    """The silence or maintenance window holding the alert back has ended: process it."""
    return release_held(alert_id, claim, services.release_alert)


def enqueue_processing_many(deliveries: list[Delivery]) -> None:
    """:func:`enqueue_processing` for a batch (the intake process): with the database task
    backend, one INSERT of every task row instead of one each, in the caller's transaction.
    The rows are the ones the backend's ``enqueue`` writes; its ``task_enqueued`` signal is not
    sent (nothing in buttress listens to it)."""
    backend = process_delivery.get_backend()
    if not isinstance(backend, DatabaseBackend):
        for delivery in deliveries:
            enqueue_processing(delivery)
        return
    backend.validate_task(process_delivery)
    rows: list[DBTaskResult[Any, Any]] = []
    for delivery in deliveries:
        assert delivery.process_due_at is not None
        arguments = {"args": [delivery.pk, delivery.process_due_at.isoformat()], "kwargs": {}}
        rows.append(
            DBTaskResult(
                id=backend._get_id(),  # the backend's own id function (a UUID by default)
                args_kwargs=normalize_json(arguments),
                priority=BUSY_PRIORITY if delivery.busy else process_delivery.priority,
                task_path=process_delivery.module_path,
                queue_name=process_delivery.queue_name,
                # The backend stores "as soon as possible" (None) as its far-future marker.
                run_after=process_delivery.run_after or get_date_max(),
                backend_name=backend.alias,
            )
        )
    DBTaskResult.objects.bulk_create(rows)


def enqueue_processing(delivery: Delivery) -> None:
    """Queue the delivery's processing under the claim it was recorded with (see
    :func:`buttress.scheduler.claims.enqueue_with_claim`: if the task is lost on the way, the
    scheduler finds the delivery due when its lease ends)."""
    assert delivery.process_due_at is not None
    task = at_priority(process_delivery, BUSY_PRIORITY if delivery.busy else None)
    enqueue_with_claim(task, delivery.pk, delivery.process_due_at.isoformat())
