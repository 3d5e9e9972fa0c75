"""The timers the scheduler drives.

A timer is a nullable, indexed ``*_due_at`` column on some model and the task to run when a row
comes due. An app declares its timers in a ``timers.py`` module (found at start-up, the way the
admin finds ``admin.py``)::

    from buttress.scheduler.registry import Timer, register
    from buttress.sla.models import SlaClock
    from buttress.sla.tasks import breach_clock

    register(Timer("sla.breach", SlaClock, "due_at", breach_clock))

When a row is due the scheduler moves its due time forward by ``lease`` and enqueues
``task(pk, claim)`` (or, for a ``batch_task`` timer, one ``task([pk, ...], claim)`` per
batch). The task runs inside :func:`buttress.scheduler.claims.holding` (a batch task uses
:func:`buttress.scheduler.claims.held`), which hands it the row only while the row still
carries that claim; the task then clears the due time (``None``) or sets the next one. A task
that is lost before it runs fires again once the lease has passed, and a stale duplicate finds
the claim gone and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import models
from django.tasks import Task

DEFAULT_BATCH = 500
DEFAULT_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Timer:
    name: str
    model: type[models.Model]
    due_field: str
    task: Task[..., Any]
    batch: int = DEFAULT_BATCH
    lease: timedelta = DEFAULT_LEASE
    # Optional extra filter on the due rows, e.g. ``Q(is_active=True)``.
    condition: models.Q = field(default_factory=models.Q)
    # One task per claimed batch, ``task([pk, ...], claim)``, instead of one per row: for
    # timers where many rows come due at once (a mass breach); the task checks each row's
    # claim itself (see :func:`buttress.scheduler.claims.held`).
    batch_task: bool = False
    # The priority of the tasks the scheduler queues (None: the task's own). A timer that
    # catches tasks lost on the way can queue its replacements behind fresh work.
    priority: int | None = None

    def __post_init__(self) -> None:
        due = self.model._meta.get_field(self.due_field)
        if not isinstance(due, models.DateTimeField):
            msg = f"{self.model.__name__}.{self.due_field} must be a DateTimeField"
            raise TypeError(msg)
        if not due.null:
            # Clearing the due time is how a task says "nothing more to do".
            msg = f"{self.model.__name__}.{self.due_field} must be nullable"
            raise TypeError(msg)
        if self.batch < 1 or self.lease <= timedelta(0):
            msg = f"timer {self.name}: batch and lease must be positive"
            raise ValueError(msg)


_TIMERS: dict[str, Timer] = {}


def register(timer: Timer) -> Timer:
    existing = _TIMERS.get(timer.name)
    if existing is not None and existing != timer:
        msg = f"a different timer named {timer.name!r} is already registered"
        raise ValueError(msg)
    _TIMERS[timer.name] = timer
    return timer


def unregister(name: str) -> None:
    _TIMERS.pop(name, None)


def timers() -> list[Timer]:
    return sorted(_TIMERS.values(), key=lambda t: t.name)


def get_timer(name: str) -> Timer:
    try:
        return _TIMERS[name]
    except KeyError:
        msg = f"no timer named {name!r}"
        raise LookupError(msg) from None
