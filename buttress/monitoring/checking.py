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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from buttress.monitoring import incidents
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
PRUNE_CHUNK = 5000
PRUNE_CHUNKS_PER_CALL = 20
STATE_FIELDS = [
    "health",
    "consecutive_failures",
    "consecutive_successes",
    "recent_results",
    "check_due_at",
    "last_checked_at",
]


def results_days() -> int:
    return int(getattr(settings, "MONITORING_RESULTS_DAYS", 7))


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
    results were written."""
    ids = {r.monitor_id for r in results} | {p.monitor_id for p in progress}
    held = set(Monitor.objects.filter(pk__in=ids, lease_owner=owner).values_list("pk", flat=True))
    rows = [
        CheckResult(
            organization_id=r.organization_id,
            monitor_id=r.monitor_id,
            at=r.at,
            status=r.status,
            latency_ms=r.latency_ms,
            message=r.message[:MESSAGE_LENGTH],
        )
        for r in results
        if r.monitor_id in held
    ]
    CheckResult.objects.bulk_create(rows, batch_size=1000)
    updates = []
    for p in progress:
        if p.monitor_id not in held:
            continue
        monitor = Monitor(pk=p.monitor_id)
        monitor.health = p.state.health
        monitor.consecutive_failures = p.state.failures
        monitor.consecutive_successes = p.state.successes
        monitor.recent_results = p.state.recent
        monitor.check_due_at = p.due_at
        monitor.last_checked_at = p.checked_at
        updates.append(monitor)
    # updated_at is left alone: it tells runners that the configuration changed.
    Monitor.objects.bulk_update(updates, STATE_FIELDS, batch_size=500)
    return len(rows)


def prune_results(*, at: datetime) -> int:
    """Delete results older than ``MONITORING_RESULTS_DAYS``, a bounded amount per call."""
    cutoff = at - timedelta(days=results_days())
    deleted = 0
    for _ in range(PRUNE_CHUNKS_PER_CALL):
        ids = list(
            CheckResult.objects.filter(at__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:PRUNE_CHUNK]
        )
        if not ids:
            break
        deleted += CheckResult.objects.filter(pk__in=ids).delete()[0]
    return deleted


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
