"""Recording an accepted request durably, under the integration's flood limit."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
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


def take_slots(integration: Integration, count: int, *, at: datetime) -> int:
    """Count up to ``count`` deliveries in the current minute; how many fit under the limit.

    The batch form of :func:`take_slot` for the intake process: the window's row is locked
    (PostgreSQL) or the write transaction holds the database (SQLite), so processes sharing
    the database never admit more than the limit between them. Call inside the transaction
    that records the deliveries.
    """
    limit = integration.rate_limit_per_minute
    if limit == 0:
        return count
    window = at.replace(second=0, microsecond=0)
    for _ in range(2):
        row = (
            RateWindow.objects.select_for_update()
            .filter(integration=integration, window_start=window)
            .values_list("pk", "count")
            .first()
        )
        if row is not None:
            admitted = max(0, min(count, limit - row[1]))
            if admitted:
                RateWindow.objects.filter(pk=row[0]).update(count=F("count") + admitted)
            return admitted
        try:
            with transaction.atomic():
                RateWindow.objects.create(
                    integration=integration, window_start=window, count=min(count, limit)
                )
        except IntegrityError:
            continue  # another process opened the window first: count in it
        RateWindow.objects.filter(integration=integration, window_start__lt=window).delete()
        return min(count, limit)
    return 0


def retry_after(at: datetime) -> timedelta:
    """How long a sender refused by the flood limit at ``at`` waits for the next minute."""
    return at.replace(second=0, microsecond=0) + WINDOW - at


@dataclass(frozen=True)
class Incoming:
    """A request the intake process checked and parsed, to be recorded in a batch."""

    integration: Integration
    body: str
    content_type: str
    generated_key: str
    at: datetime


@transaction.atomic(savepoint=False)
def record_deliveries(items: Sequence[Incoming]) -> list[Delivery | RateLimited]:
    """Record many requests at once under their integrations' flood limits: for each, the
    stored delivery or the RateLimited refusal (in arrival order within an integration).

    One INSERT for every delivery; each one's ``process_due_at`` is its processing claim,
    as :func:`record_delivery` sets it.
    """
    wanted: dict[int, int] = defaultdict(int)
    by_pk: dict[int, Integration] = {}
    for item in items:
        wanted[item.integration.pk] += 1
        by_pk[item.integration.pk] = item.integration
    # Integrations in key order, so that two processes lock their windows in the same order.
    room = {
        pk: take_slots(by_pk[pk], wanted[pk], at=min(i.at for i in items)) for pk in sorted(wanted)
    }
    results: list[Delivery | RateLimited] = []
    stored: list[Delivery] = []
    for item in items:
        pk = item.integration.pk
        if room[pk] <= 0:
            results.append(RateLimited(retry_after(item.at)))
            continue
        room[pk] -= 1
        delivery = Delivery(
            organization_id=item.integration.organization_id,
            integration=item.integration,
            received_at=item.at,
            content_type=item.content_type[:120],
            body=item.body,
            generated_key=item.generated_key,
            process_due_at=item.at + PROCESS_LEASE,
        )
        stored.append(delivery)
        results.append(delivery)
    Delivery.objects.bulk_create(stored)
    return results
