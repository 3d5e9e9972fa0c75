"""What the runner writes: check results, the state they move monitors to, and incidents.

These are the monitoring services the runner calls from its database thread. Results and
the counters they move are written in batches; a status change is written one monitor at a
time, with the row locked, and only while the calling runner still holds the monitor's
lease, so a runner whose lease was taken over cannot record a change twice.

What a status change does beyond the monitor (alerts, incidents, paging) is the same for
heartbeats and lives in :mod:`buttress.monitoring.incidents`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection, transaction

from buttress.monitoring import incidents, rollups
from buttress.monitoring.models import (
    CheckResult,
    Monitor,
    MonitoringSettings,
    MonitorStatus,
    PrivateTargets,
    allows_private,
)
from buttress.monitoring.services import _record_state
from buttress.monitoring.states import State, Thresholds

MESSAGE_LENGTH = 300


def phase(pk: int, interval: int) -> float:
    """Seconds into each interval at which the monitor is checked: spread by a hash of its
    id, the same on every runner, so checks do not bunch at the top of the minute."""
    digest = hashlib.blake2b(str(pk).encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64 * interval


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a runner needs of one monitor it holds."""

    pk: int
    organization_id: int
    name: str
    kind: str
    config: dict[str, object]
    interval: int
    thresholds: Thresholds
    state: State
    configured_by_staff: bool
    allow_private: bool
    check_due_at: datetime | None
    updated_at: datetime


def policies(organization_ids: Sequence[int]) -> dict[int, str]:
    """Each organisation's private-address policy (the default when it has no settings)."""
    found = dict(
        MonitoringSettings.objects.filter(organization_id__in=organization_ids).values_list(
            "organization_id", "private_targets"
        )
    )
    return {pk: found.get(pk, PrivateTargets.STAFF) for pk in organization_ids}


def load_targets(pks: Sequence[int]) -> list[Target]:
    monitors = list(Monitor.objects.checked().filter(pk__in=pks).order_by("pk"))
    policy = policies(sorted({m.organization_id for m in monitors}))
    return [
        Target(
            pk=m.pk,
            organization_id=m.organization_id,
            name=m.name,
            kind=m.kind,
            config=dict(m.config),
            interval=m.interval,
            thresholds=Thresholds(
                down_after=min(max(m.down_after, 1), 10), up_after=min(max(m.up_after, 1), 10)
            ),
            state=State(
                status=m.status,
                health="up" if m.health == "up" else "down" if m.health == "down" else "unknown",
                failures=m.consecutive_failures,
                successes=m.consecutive_successes,
                recent=m.recent_results,
            ),
            configured_by_staff=m.configured_by_staff,
            allow_private=allows_private(
                policy[m.organization_id], configured_by_staff=m.configured_by_staff
            ),
            check_due_at=m.check_due_at,
            updated_at=m.updated_at,
        )
        for m in monitors
    ]


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    monitor_id: int
    organization_id: int
    at: datetime
    status: str
    latency_ms: float | None
    message: str


@dataclass(frozen=True)
class Progress:
    """A monitor's counters after its newest result, and when it is checked next."""

    monitor_id: int
    state: State
    checked_at: datetime
    due_at: datetime


@transaction.atomic
def save_results(owner: str, results: Sequence[Result], progress: Sequence[Progress]) -> int:
    """Write a batch of results and the counters they moved; only for monitors ``owner``
    still holds (a result of a monitor taken over meanwhile is dropped). Returns how many
    results were written.

    A runner writes about one result per monitor per interval (10,000 monitors at 10 s: a
    thousand a second), so both writes are single statements for the whole batch: a model
    instance per row and Django's ``bulk_update`` (a CASE per column per row) were a large
    share of the runner's CPU in its profile. On PostgreSQL each column travels as one array
    (``unnest``), so the statement's text stays short and the same whatever the batch's size;
    a placeholder per value made the driver parse a statement of thousands of placeholders
    for every batch, about 0.1 ms of the runner's CPU per result.
    """
    if connection.vendor == "postgresql":
        held = _save_postgresql(owner, results, progress)
    else:
        held = _save_rows(owner, results, progress)
    # Last, so the share lock it takes is held only until the commit.
    rollups.note_late([(r.monitor_id, r.at) for r in results if r.monitor_id in held])
    return sum(1 for r in results if r.monitor_id in held)


def _save_postgresql(
    owner: str, results: Sequence[Result], progress: Sequence[Progress]
) -> set[int]:
    """Both writes with one array per column, each joined to the monitors ``owner`` holds;
    the ids of the monitors whose results were written."""
    held: set[int] = set()
    connection.ensure_connection()
    # The driver's own cursor binds the values on the server, in binary: Django's cursor
    # quotes every array element into the statement's text.
    with psycopg.Cursor(connection.connection) as cursor:
        if results:
            cursor.execute(
                _INSERT_RESULTS_PG,
                [
                    [r.organization_id for r in results],
                    [r.monitor_id for r in results],
                    [r.at for r in results],
                    [r.status for r in results],
                    [r.latency_ms for r in results],
                    [r.message[:MESSAGE_LENGTH] for r in results],
                    owner,
                ],
            )
            held.update(row[0] for row in cursor.fetchall())
        if progress:
            cursor.execute(
                _UPDATE_PROGRESS_PG,
                [
                    [p.monitor_id for p in progress],
                    [p.state.health for p in progress],
                    [p.state.failures for p in progress],
                    [p.state.successes for p in progress],
                    [p.state.recent for p in progress],
                    [p.due_at for p in progress],
                    [p.checked_at for p in progress],
                    owner,
                ],
            )
    return held


def _save_rows(owner: str, results: Sequence[Result], progress: Sequence[Progress]) -> set[int]:
    """Both writes as multi-row statements (SQLite has no arrays), for the monitors ``owner``
    holds; the ids of those monitors."""
    ids = {r.monitor_id for r in results} | {p.monitor_id for p in progress}
    held = set(Monitor.objects.filter(pk__in=ids, lease_owner=owner).values_list("pk", flat=True))
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (
            r.organization_id,
            r.monitor_id,
            adapt(r.at),
            r.status,
            r.latency_ms,
            r.message[:MESSAGE_LENGTH],
        )
        for r in results
        if r.monitor_id in held
    ]
    updates = [
        (
            p.monitor_id,
            p.state.health,
            p.state.failures,
            p.state.successes,
            p.state.recent,
            adapt(p.due_at),
            adapt(p.checked_at),
        )
        for p in progress
        if p.monitor_id in held
    ]
    with connection.cursor() as cursor:
        for written in _chunks(rows, WRITE_CHUNK):
            cursor.execute(_INSERT_RESULTS + _values(len(written), 6), _flat(written))
        # updated_at is left alone: it tells runners that the configuration changed.
        for chunk in _chunks(updates, WRITE_CHUNK):
            cursor.execute(_UPDATE_PROGRESS.format(values=_values(len(chunk), 7)), _flat(chunk))
    return held


WRITE_CHUNK = 1000
_RESULTS = CheckResult._meta.db_table
_MONITORS = Monitor._meta.db_table
_INSERT_RESULTS = (
    f"INSERT INTO {_RESULTS} "  # noqa: S608 (table names, values bound)
    "(organization_id, monitor_id, at, status, latency_ms, message) VALUES "
)
_INSERT_RESULTS_PG = (
    f"INSERT INTO {_RESULTS} "  # noqa: S608 (table names, values bound)
    "(organization_id, monitor_id, at, status, latency_ms, message) "
    "SELECT v.organization_id, v.monitor_id, v.at, v.status, v.latency_ms, v.message "
    "FROM unnest(%b::bigint[], %b::bigint[], %b::timestamptz[], %b::text[], "
    "%b::double precision[], %b::text[]) "
    "AS v(organization_id, monitor_id, at, status, latency_ms, message) "
    f"JOIN {_MONITORS} m ON m.id = v.monitor_id AND m.lease_owner = %s "
    "RETURNING monitor_id"
)
# (id, health, consecutive_failures, consecutive_successes, recent_results, check_due_at,
# last_checked_at); updated_at is left alone: it tells runners that the configuration changed.
_UPDATE_PROGRESS = (
    "WITH v(id, health, failures, successes, recent, due_at, checked_at) AS "  # noqa: S608
    f"(VALUES {{values}}) UPDATE {_MONITORS} SET health = v.health, "
    "consecutive_failures = v.failures, consecutive_successes = v.successes, "
    "recent_results = v.recent, check_due_at = v.due_at, last_checked_at = v.checked_at "
    f"FROM v WHERE {_MONITORS}.id = v.id"
)
_UPDATE_PROGRESS_PG = (
    f"UPDATE {_MONITORS} SET health = v.health, "  # noqa: S608 (table names, values bound)
    "consecutive_failures = v.failures, consecutive_successes = v.successes, "
    "recent_results = v.recent, check_due_at = v.due_at, last_checked_at = v.checked_at "
    "FROM unnest(%b::bigint[], %b::text[], %b::integer[], %b::integer[], %b::text[], "
    "%b::timestamptz[], %b::timestamptz[]) "
    "AS v(id, health, failures, successes, recent, due_at, checked_at) "
    f"WHERE {_MONITORS}.id = v.id AND {_MONITORS}.lease_owner = %s"
)


def _values(count: int, width: int) -> str:
    row = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([row] * count)


def _chunks[T](rows: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _flat(rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


# --- status changes and incidents ------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    status: str
    incident_pending: bool  # down with no incident yet (in maintenance): try again next result


@transaction.atomic
def apply_status(
    monitor_id: int, *, owner: str, status: str, reason: str, at: datetime, message: str
) -> Applied | None:
    """Move a monitor to ``status`` (the state machine's answer) and act on it through
    :func:`buttress.monitoring.incidents.status_changed`. None when ``owner`` no longer holds
    the monitor or it was paused meanwhile."""
    monitor = (
        Monitor.objects.select_for_update(of=("self",))
        .select_related("organization", "asset")
        .filter(pk=monitor_id)
        .first()
    )
    if monitor is None or monitor.is_paused or monitor.lease_owner != owner:
        return None
    if status == MonitorStatus.DOWN:
        parent = incidents.parent_down(monitor)
        if parent:
            status, reason = MonitorStatus.UNREACHABLE, f"{parent} is down"
    previous = monitor.status
    if previous != status:
        _record_state(monitor, status, at=at, reason=reason or status)
        monitor.save(update_fields=["status"])
    in_incident = incidents.status_changed(
        monitor, previous=previous, at=at, message=message, reason=reason
    )
    return Applied(status=status, incident_pending=not in_incident)
