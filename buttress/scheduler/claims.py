"""Claiming due rows so that several schedulers can run and each due row fires once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any

from django.db import connections, models, transaction
from django.tasks import Task
from django.tasks.base import TASK_MAX_PRIORITY
from django_tasks_db.backend import DatabaseBackend

from buttress.scheduler.registry import Timer

logger = logging.getLogger(__name__)


# Pages (notification attempts, escalation steps) come before any other queued work.
URGENT_PRIORITY = TASK_MAX_PRIORITY


def at_priority[**P, R](task: Task[P, R], priority: int | None) -> Task[P, R]:
    """``task`` to be queued at ``priority`` where the backend orders its queue by priority
    (django-tasks-db); unchanged where it does not (RQ runs a queue's jobs in arrival order and
    refuses priorities)."""
    if priority is None or not task.get_backend().supports_priority:
        return task
    return task.using(priority=priority)


def enqueue_with_claim[**P, R](task: Task[P, R], *args: P.args, **kwargs: P.kwargs) -> None:
    """Queue ``task(*args)`` for a row whose timer the caller's transaction has just set or
    claimed. With the database task backend the queued task is a row in the same database: it
    commits with the claim or not at all, so a crash can lose neither half. A broker is outside
    the transaction, so the task is sent only once the claim is durable; one lost between the
    commit and the broker runs again when the row's lease runs out."""
    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue(*args, **kwargs)
    else:
        transaction.on_commit(partial(task.enqueue, *args, **kwargs), robust=True)


def _enqueue(timer: Timer, pks: list[Any], claim: datetime) -> None:
    """One task per row, or one for all of ``pks`` on a ``batch_task`` timer."""
    token = claim.isoformat()
    calls: list[tuple[Any, str]] = (
        [(list(pks), token)] if timer.batch_task else [(pk, token) for pk in pks]
    )
    task = at_priority(timer.task, timer.priority)
    for args in calls:
        enqueue_with_claim(task, *args)


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
    """One statement: lock up to ``size`` due rows, skipping rows another scheduler holds (so
    schedulers share a backlog instead of queueing behind each other), move their due time to
    the claim and answer their keys."""
    manager = timer.model._default_manager
    claim = at + timer.lease
    meta = timer.model._meta
    due_field = meta.get_field(timer.due_field)
    assert isinstance(due_field, models.Field)
    assert meta.pk is not None
    table, due_column, pk_column = meta.db_table, str(due_field.column), str(meta.pk.column)
    connection = connections[manager.db]
    quote = connection.ops.quote_name
    with transaction.atomic(using=manager.db):
        # Compiled inside the transaction: Django refuses FOR UPDATE outside one.
        locked = (
            _due_queryset(timer, at)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:size]
        )
        inner, params = locked.query.sql_with_params()
        # Only quoted names from the model's own metadata and Django's compiled subquery go
        # into the text; every value is a parameter.
        sql = (
            f"UPDATE {quote(table)} SET {quote(due_column)} = %s "  # noqa: S608
            f"WHERE {quote(pk_column)} = ANY(ARRAY({inner})) "
            f"RETURNING {quote(pk_column)}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [claim, *params])
            pks = sorted(row[0] for row in cursor.fetchall())
        if pks:
            _enqueue(timer, pks, claim)
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
    claimed: list[Any] = []
    with transaction.atomic(using=manager.db):
        for pk, seen_due in seen:
            updated = manager.filter(pk=pk, **{timer.due_field: seen_due}).update(
                **{timer.due_field: claim}
            )
            if updated == 1:
                claimed.append(pk)
        if claimed:
            _enqueue(timer, claimed, claim)
    return len(claimed)


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


@contextmanager
def pending[M: models.Model](model: type[M], pk: Any, due_field: str) -> Iterator[M | None]:
    """The row ``pk`` locked, if its timer is still set, whatever claim it carries; else None.

    For idempotent work only, where doing it on an out-of-date claim is harmless: a task that
    waited in a long queue past its lease still does the work when it comes up (its row was
    re-claimed and a replacement queued behind it, which then finds nothing to do), instead of
    every run finding its claim replaced while it waited. The row lock keeps two runs from
    overlapping; the body must clear ``due_field`` when done, as with :func:`holding`.
    """
    with transaction.atomic(using=model._default_manager.db):
        row = model._default_manager.select_for_update().filter(pk=pk).first()
        if row is None or getattr(row, due_field) is None:
            logger.info("skipping %s %s: nothing left to do", model.__name__, pk)
            yield None
        else:
            yield row


def held[M: models.Model](model: type[M], pks: list[Any], due_field: str, claim: str) -> list[M]:
    """Of ``pks``, the rows (locked, call inside a transaction) that still carry ``claim``:
    what a batch task may act on; the others were re-claimed or finished by someone else."""
    expected = datetime.fromisoformat(claim)
    # Selected by key only (a batch shares one due time, so filtering on it makes PostgreSQL
    # walk the whole batch in the due-time index); the claim is compared here.
    rows = model._default_manager.select_for_update().filter(pk__in=pks).order_by("pk")
    return [row for row in rows if getattr(row, due_field) == expected]
