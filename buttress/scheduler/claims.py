"""Claiming due rows so that several schedulers can run and each due row fires once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any

from django.db import connections, models, transaction
from django_tasks_db.backend import DatabaseBackend

from buttress.scheduler.registry import Timer

logger = logging.getLogger(__name__)


def _enqueue(timer: Timer, pk: Any, claim: datetime) -> None:
    token = claim.isoformat()
    if isinstance(timer.task.get_backend(), DatabaseBackend):
        # The queued task is a row in the same database: it commits with the claim or not at
        # all, so a crash can lose neither half.
        timer.task.enqueue(pk, token)
    else:
        # A broker is outside the transaction; enqueue only once the claim is durable. A task
        # lost between commit and broker fires again when the lease runs out.
        transaction.on_commit(partial(timer.task.enqueue, pk, token), robust=True)


def claim_due(timer: Timer, *, at: datetime, limit: int | None = None) -> int:
    """Claim up to ``limit`` (default the timer's batch) rows due at ``at`` and enqueue them.

    A claim moves the row's due time to ``at + lease`` rather than clearing it, so the row
    fires again if its task never completes; the task clears or reschedules it when done.
    """
    size = min(limit or timer.batch, timer.batch)
    manager = timer.model._default_manager
    if connections[manager.db].features.has_select_for_update_skip_locked:
        return _claim_locked(timer, at=at, size=size)
    return compare_and_set(timer, due_rows(timer, at=at, size=size), claim=at + timer.lease)


def _due_queryset(timer: Timer, at: datetime) -> models.QuerySet[Any]:
    return timer.model._default_manager.filter(
        timer.condition, **{f"{timer.due_field}__lte": at}
    ).order_by(timer.due_field, "pk")


def _claim_locked(timer: Timer, *, at: datetime, size: int) -> int:
    # Rows another scheduler holds are skipped rather than waited for, so schedulers share a
    # backlog instead of queueing behind each other.
    manager = timer.model._default_manager
    claim = at + timer.lease
    with transaction.atomic(using=manager.db):
        pks = list(
            _due_queryset(timer, at)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:size]
        )
        if pks:
            manager.filter(pk__in=pks).update(**{timer.due_field: claim})
        for pk in pks:
            _enqueue(timer, pk, claim)
    return len(pks)


def due_rows(timer: Timer, *, at: datetime, size: int) -> list[tuple[Any, datetime]]:
    """(pk, due time as seen) of up to ``size`` rows due at ``at``, most overdue first."""
    return list(_due_queryset(timer, at).values_list("pk", timer.due_field)[:size])


def compare_and_set(timer: Timer, seen: list[tuple[Any, datetime]], *, claim: datetime) -> int:
    """Claim each row whose due time is still the one seen; returns how many were claimed.

    Without row locks (SQLite) this is what keeps schedulers apart: of several that saw the
    same row, exactly one update matches it.
    """
    manager = timer.model._default_manager
    claimed = 0
    with transaction.atomic(using=manager.db):
        for pk, seen_due in seen:
            updated = manager.filter(pk=pk, **{timer.due_field: seen_due}).update(
                **{timer.due_field: claim}
            )
            if updated == 1:
                _enqueue(timer, pk, claim)
                claimed += 1
    return claimed


@contextmanager
def holding[M: models.Model](
    model: type[M], pk: Any, due_field: str, claim: str
) -> Iterator[M | None]:
    """The row ``pk`` locked, if it still carries the scheduler's ``claim``; else None.

    A task body runs inside this block and must set ``due_field`` to None or the next due
    time before leaving it. A duplicate delivery (or one whose lease already ran out and was
    re-claimed) gets None and must do nothing. An exception rolls back, leaving the claim in
    place so the row fires again after the lease.
    """
    expected = datetime.fromisoformat(claim)
    with transaction.atomic(using=model._default_manager.db):
        row = model._default_manager.select_for_update().filter(pk=pk).first()
        if row is None or getattr(row, due_field) != expected:
            logger.info("skipping %s %s: claim %s is no longer current", model.__name__, pk, claim)
            yield None
        else:
            yield row
