"""Recording an accepted request durably, under the integration's flood limit."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F

from buttress.alerts.models import Delivery, Integration, RateWindow
from buttress.lib.timeutil import now

WINDOW = timedelta(minutes=1)
# A recorded delivery is processed by a task; if that task is lost, the scheduler runs it
# again once this lease has passed.
PROCESS_LEASE = timedelta(minutes=2)


class RateLimited(Exception):
    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(
            f"Too many requests for this integration; retry in {self.retry_after_seconds} s."
        )


def _increment(integration: Integration, window: datetime, limit: int) -> bool:
    return (
        RateWindow.objects.filter(
            integration=integration, window_start=window, count__lt=limit
        ).update(count=F("count") + 1)
        == 1
    )


def take_slot(integration: Integration, *, at: datetime) -> None:
    """Count one delivery in the current minute, or raise :class:`RateLimited`.

    The conditional UPDATE is atomic in the database, so concurrent web processes never let
    more than the limit through; a limit of 0 means none. Call inside the transaction that
    records the delivery, so a rolled-back delivery does not use up a slot.
    """
    limit = integration.rate_limit_per_minute
    if limit == 0:
        return
    window = at.replace(second=0, microsecond=0)
    if _increment(integration, window, limit):
        return
    if not RateWindow.objects.filter(integration=integration, window_start=window).exists():
        try:
            with transaction.atomic():
                RateWindow.objects.create(integration=integration, window_start=window, count=1)
        except IntegrityError:
            # Another request opened the window first; count in it like everyone else.
            if _increment(integration, window, limit):
                return
        else:
            RateWindow.objects.filter(integration=integration, window_start__lt=window).delete()
            return
    raise RateLimited(window + WINDOW - at)


# No savepoint: the endpoint calls this inside its own transaction (with the task it queues),
# and a savepoint would cost each request two more round trips for nothing.
@transaction.atomic(savepoint=False)
def record_delivery(
    integration: Integration,
    *,
    body: str,
    content_type: str,
    generated_key: str = "",
    at: datetime | None = None,
) -> Delivery:
    """The request, stored before it is answered; its ``process_due_at`` is the claim the
    processing task must present (see :func:`buttress.scheduler.claims.holding`)."""
    at = at or now()
    take_slot(integration, at=at)
    return Delivery.objects.create(
        organization_id=integration.organization_id,
        integration=integration,
        received_at=at,
        content_type=content_type[:120],
        body=body,
        generated_key=generated_key,
        process_due_at=at + PROCESS_LEASE,
    )
