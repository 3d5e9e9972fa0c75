"""Recording an accepted request durably, under the integration's flood limit."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
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


def busy_threshold() -> int:
    """Deliveries since the start of the previous minute past which an integration is busy
    (0: never)."""
    return int(getattr(settings, "ALERTS_BUSY_DELIVERIES", 60))


def is_busy(counted: int) -> bool:
    """Whether an integration that has taken ``counted`` deliveries since the start of the
    previous minute is flooding (counting the previous minute too, so a storm is still busy in
    the first seconds of each new minute).

    A busy integration's deliveries are processed after everyone else's (see
    :func:`buttress.alerts.tasks.enqueue_processing`): one customer's alert storm cannot hold
    back another's first alert, and the storm still ends up grouped into its incidents.
    Integrations without a flood limit are not counted, so never busy.
    """
    threshold = busy_threshold()
    return threshold > 0 and counted > threshold


def _recent(integration: Integration, window: datetime) -> int:
    """Deliveries counted in the window and the one before it (kept for this)."""
    counts = RateWindow.objects.filter(
        integration=integration, window_start__gte=window - WINDOW, window_start__lte=window
    ).values_list("count", flat=True)
    return sum(counts)


def _forget_before(integration: Integration, window: datetime) -> None:
    RateWindow.objects.filter(integration=integration, window_start__lt=window - WINDOW).delete()


def _increment(integration: Integration, window: datetime, limit: int) -> int:
    """The deliveries of this window and the previous one after taking a slot in this one;
    0 when this one is full (or not there)."""
    rows = RateWindow.objects.filter(integration=integration, window_start=window)
    if rows.filter(count__lt=limit).update(count=F("count") + 1) != 1:
        return 0
    return _recent(integration, window)


def take_slot(integration: Integration, *, at: datetime) -> int:
    """Count one delivery in the current minute, or raise :class:`RateLimited`; the count of
    this minute and the previous one with it (0 for an integration without a limit, which is
    not counted).

    The conditional UPDATE is atomic in the database, so concurrent web processes never let
    more than the limit through; a limit of 0 means none. Call inside the transaction that
    records the delivery, so a rolled-back delivery does not use up a slot.
    """
    limit = integration.rate_limit_per_minute
    if limit == 0:
        return 0
    window = at.replace(second=0, microsecond=0)
    if counted := _increment(integration, window, limit):
        return counted
    if not RateWindow.objects.filter(integration=integration, window_start=window).exists():
        try:
            with transaction.atomic():
                RateWindow.objects.create(integration=integration, window_start=window, count=1)
        except IntegrityError:
            # Another request opened the window first; count in it like everyone else.
            if counted := _increment(integration, window, limit):
                return counted
        else:
            _forget_before(integration, window)
            return _recent(integration, window)
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
    counted = take_slot(integration, at=at)
    delivery = Delivery.objects.create(
        organization_id=integration.organization_id,
        integration=integration,
        received_at=at,
        content_type=content_type[:120],
        body=body,
        generated_key=generated_key,
        process_due_at=at + PROCESS_LEASE,
    )
    delivery.busy = is_busy(counted)
    return delivery


def take_slots(integration: Integration, count: int, *, at: datetime) -> tuple[int, int]:
    """Count up to ``count`` deliveries in the current minute: (how many fit under the limit,
    the count of this minute and the previous one with them; 0 for an integration without a
    limit, which is not counted).

    The batch form of :func:`take_slot` for the intake process: the window's row is locked
    (PostgreSQL) or the write transaction holds the database (SQLite), so processes sharing
    the database never admit more than the limit between them. Call inside the transaction
    that records the deliveries.
    """
    limit = integration.rate_limit_per_minute
    if limit == 0:
        return count, 0
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
            return admitted, _recent(integration, window)
        try:
            with transaction.atomic():
                RateWindow.objects.create(
                    integration=integration, window_start=window, count=min(count, limit)
                )
        except IntegrityError:
            continue  # another process opened the window first: count in it
        _forget_before(integration, window)
        return min(count, limit), _recent(integration, window)
    return 0, limit


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
    taken = {
        pk: take_slots(by_pk[pk], wanted[pk], at=min(i.at for i in items)) for pk in sorted(wanted)
    }
    room = {pk: admitted for pk, (admitted, _) in taken.items()}
    busy = {pk: is_busy(counted) for pk, (_, counted) in taken.items()}
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
        delivery.busy = busy[pk]
        stored.append(delivery)
        results.append(delivery)
    Delivery.objects.bulk_create(stored)
    return results
