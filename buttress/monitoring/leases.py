"""Sharing monitors between runners through leases on the monitor rows.

A runner holds a monitor while ``lease_owner`` names it and ``lease_expires_at`` is ahead.
The lease period ``P`` (``MONITORING_RUNNER_LEASE``) is the promise: a runner that dies has its
monitors taken over by the others within ``P``. So every ``P / 4`` (:func:`renew_every`) a
runner beats and renews its leases for ``P / 2`` (:func:`hold_for`), and counts as alive while
its beat is younger than ``P / 2``. A runner killed just after renewing leaves leases that end
``P / 2`` later, when it also stops counting; the others claim them at their next cycle, at most
``P / 4`` after that: ``3P / 4`` in the worst case, the last quarter left for slow cycles.
A live runner may be late with one renewal (``P / 4``) before it loses anything.

Each runner aims at its fair share (the checked monitors divided by the live runners): it claims
free or expired monitors up to that share and releases what it holds beyond it, so a runner
that starts takes work from the others and a runner that dies leaves its monitors to them
as soon as its leases run out.

Claiming is one ``UPDATE ... WHERE id = ANY(ARRAY(SELECT ... FOR UPDATE SKIP LOCKED))`` on
PostgreSQL, so runners claiming together take different rows without waiting on each other,
and a compare-and-set on the lease columns as they were read on SQLite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections, models, transaction

from buttress.monitoring.models import Monitor, MonitorKind, Runner

# A runner keeps up to this many monitors over its share before releasing any, so that
# shares rounding differently on two runners do not pass monitors back and forth.
SLACK_FRACTION = 0.05


def renew_every(lease: timedelta) -> timedelta:
    """How often a runner beats, renews its leases and claims: a quarter of the period."""
    return lease / 4


def hold_for(lease: timedelta) -> timedelta:
    """How long a renewed lease (and a beat) lasts: half the period, so that death, expiry and
    the next claim fit in one period (see the module's docstring)."""
    return lease / 2


@dataclass(frozen=True)
class Cycle:
    """One lease cycle's outcome: what the runner holds now, with each row's ``updated_at``."""

    held: dict[int, datetime]
    share: int
    runners: int
    claimed: int
    released: int


def beat(
    name: str, *, host: str, pid: int, started_at: datetime, at: datetime, checks: int
) -> None:
    updated = Runner.objects.filter(name=name).update(seen_at=at, checks=checks)
    if not updated:
        Runner.objects.create(
            name=name, host=host, pid=pid, started_at=started_at, seen_at=at, checks=checks
        )


def live_runners(*, at: datetime, lease: timedelta) -> int:
    # The same window as a lease: a runner stops counting when its leases end.
    return Runner.objects.filter(seen_at__gte=at - hold_for(lease)).count()


def fair_share(*, at: datetime, lease: timedelta) -> tuple[int, int]:
    """(monitors per runner, live runners)."""
    runners = max(live_runners(at=at, lease=lease), 1)
    total = Monitor.objects.checked().count()
    return math.ceil(total / runners), runners


def _free(at: datetime) -> models.Q:
    return models.Q(lease_expires_at__isnull=True) | models.Q(lease_expires_at__lt=at)


def claim(owner: str, *, at: datetime, lease: timedelta, limit: int) -> list[int]:
    """Lease up to ``limit`` free checked monitors to ``owner`` (for :func:`hold_for`); the keys
    claimed."""
    if limit <= 0:
        return []
    connection = connections[Monitor.objects.db]
    if connection.features.has_select_for_update_skip_locked:
        return _claim_locked(owner, at=at, lease=lease, limit=limit)
    seen = list(
        Monitor.objects.checked()
        .filter(_free(at))
        .order_by("pk")
        .values_list("pk", "lease_owner", "lease_expires_at")[:limit]
    )
    claimed: list[int] = []
    with transaction.atomic():
        for pk, seen_owner, seen_expiry in seen:
            # Of several runners that read the same row, one update matches it.
            matched = (
                Monitor.objects.filter(pk=pk, lease_owner=seen_owner, lease_expires_at=seen_expiry)
                if seen_expiry is not None
                else Monitor.objects.filter(
                    pk=pk, lease_owner=seen_owner, lease_expires_at__isnull=True
                )
            )
            if matched.update(lease_owner=owner, lease_expires_at=at + hold_for(lease)) == 1:
                claimed.append(pk)
    return claimed


def _claim_locked(owner: str, *, at: datetime, lease: timedelta, limit: int) -> list[int]:
    meta = Monitor._meta
    connection = connections[Monitor.objects.db]
    quote = connection.ops.quote_name
    with transaction.atomic():
        locked = (
            Monitor.objects.checked()
            .filter(_free(at))
            .order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        inner, params = locked.query.sql_with_params()
        owner_column = quote(str(meta.get_field("lease_owner").column))
        expiry_column = quote(str(meta.get_field("lease_expires_at").column))
        assert meta.pk is not None
        pk_column = quote(str(meta.pk.column))
        # Only quoted names from the model's metadata and Django's compiled subquery go into
        # the text; every value is a parameter.
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {owner_column} = %s, "  # noqa: S608
            f"{expiry_column} = %s WHERE {pk_column} = ANY(ARRAY({inner})) "
            f"RETURNING {pk_column}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [owner, at + hold_for(lease), *params])
            return sorted(row[0] for row in cursor.fetchall())


def release(owner: str, pks: list[int] | None = None) -> int:
    """Give up ``owner``'s leases (all of them without ``pks``), for another runner to take."""
    held = Monitor.objects.filter(lease_owner=owner)
    if pks is not None:
        held = held.filter(pk__in=pks)
    return held.update(lease_owner="", lease_expires_at=None)


def cycle(
    owner: str,
    *,
    at: datetime,
    lease: timedelta,
    host: str,
    pid: int,
    started_at: datetime,
    checks: int,
) -> Cycle:
    """Beat, renew the leases still held, then move towards the fair share."""
    beat(owner, host=host, pid=pid, started_at=started_at, at=at, checks=checks)
    mine = Monitor.objects.checked().filter(lease_owner=owner)
    mine.update(lease_expires_at=at + hold_for(lease))
    # Leases of monitors paused since, or no longer checked, are dropped.
    Monitor.objects.filter(lease_owner=owner).filter(
        models.Q(is_paused=True) | models.Q(kind=MonitorKind.HEARTBEAT)
    ).update(lease_owner="", lease_expires_at=None)
    held = dict(mine.order_by("pk").values_list("pk", "updated_at"))
    share, runners = fair_share(at=at, lease=lease)
    released = 0
    slack = max(1, math.ceil(share * SLACK_FRACTION))
    if len(held) > share + slack:
        excess = sorted(held)[share:]
        released = release(owner, excess)
        for pk in excess:
            held.pop(pk, None)
    claimed = 0
    if len(held) < share:
        new = claim(owner, at=at, lease=lease, limit=share - len(held))
        claimed = len(new)
        if new:
            held.update(Monitor.objects.filter(pk__in=new).values_list("pk", "updated_at"))
    Runner.objects.filter(name=owner).update(held=len(held))
    return Cycle(held=held, share=share, runners=runners, claimed=claimed, released=released)


def forget(owner: str) -> None:
    """A stopping runner: leases released, its beat removed so the others' shares grow."""
    release(owner)
    Runner.objects.filter(name=owner).delete()


def forget_stale(*, at: datetime, older_than: timedelta) -> int:
    return Runner.objects.filter(seen_at__lt=at - older_than).delete()[0]
