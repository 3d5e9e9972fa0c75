"""What the runner writes: check results, the state they move monitors to, and incidents.

These are the monitoring services the runner calls from its database thread. Results and
the counters they move are written in batches; a status change is written one monitor at a
time, with the row locked, and only while the calling runner still holds the monitor's
lease, so a runner whose lease was taken over cannot record a change twice.

A monitor going down opens an incident ticket through :mod:`buttress.desk.services` (or adds
to the one still open), unless a maintenance window suppresses the monitor's alerts; going up
adds a note to it and, with ``MONITORING_RESOLVE_INCIDENTS``, resolves it. Flapping and
unreachable monitors open nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from buttress.accounts.models import Role, User
from buttress.desk import services as desk
from buttress.desk.models import DONE_STATUSES, Source, Status, Ticket, TicketType
from buttress.desk.services.tickets import allowed_transitions
from buttress.escalation import services as escalation
from buttress.maintenance.services import active_for_monitor
from buttress.monitoring import rollups
from buttress.monitoring.models import (
    CheckResult,
    Monitor,
    MonitorIncident,
    MonitoringSettings,
    MonitorStatus,
    PrivateTargets,
    allows_private,
)
from buttress.monitoring.services import _record_state
from buttress.monitoring.states import State, Thresholds

SYSTEM_ACTOR_LABEL = "monitoring"
MESSAGE_LENGTH = 300
DOWNISH = {MonitorStatus.DOWN, MonitorStatus.UNREACHABLE}


def resolve_incidents() -> bool:
    return bool(getattr(settings, "MONITORING_RESOLVE_INCIDENTS", True))


def system_actor() -> User:
    """The author of what the runner writes: an unsaved staff user, so the desk accepts its
    internal notes while the timeline names no person and the audit log shows ``monitoring``."""
    return User(email=SYSTEM_ACTOR_LABEL, full_name="Monitoring", role=Role.ADMIN)


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
    thousand a second), so both writes are plain multi-row statements: a model instance per
    row and Django's ``bulk_update`` (a CASE per column per row) were a large share of the
    runner's CPU in its profile.
    """
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
        template = _UPDATE_PROGRESS[connection.vendor == "postgresql"]
        for chunk in _chunks(updates, WRITE_CHUNK):
            cursor.execute(template.format(values=_values(len(chunk), 7)), _flat(chunk))
    # Last, so the share lock it takes is held only until the commit.
    rollups.note_late([(r.monitor_id, r.at) for r in results if r.monitor_id in held])
    return len(rows)


WRITE_CHUNK = 1000
_INSERT_RESULTS = (
    f"INSERT INTO {CheckResult._meta.db_table} "  # noqa: S608 (table names, values bound)
    "(organization_id, monitor_id, at, status, latency_ms, message) VALUES "
)
# (id, health, consecutive_failures, consecutive_successes, recent_results, check_due_at,
# last_checked_at); PostgreSQL needs the types of the bound values spelt out.
_PROGRESS_COLUMNS = "v(id, health, failures, successes, recent, due_at, checked_at)"
_UPDATE_PROGRESS = {
    cast: (
        f"WITH {_PROGRESS_COLUMNS} AS (VALUES {{values}}) "  # noqa: S608 (values bound)
        f"UPDATE {Monitor._meta.db_table} SET health = v.health, "
        f"consecutive_failures = v.failures{'::integer' if cast else ''}, "
        f"consecutive_successes = v.successes{'::integer' if cast else ''}, "
        "recent_results = v.recent, "
        f"check_due_at = v.due_at{'::timestamptz' if cast else ''}, "
        f"last_checked_at = v.checked_at{'::timestamptz' if cast else ''} "
        f"FROM v WHERE {Monitor._meta.db_table}.id = v.id{'::bigint' if cast else ''}"
    )
    for cast in (False, True)
}


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


def parent_down(monitor: Monitor) -> str:
    """The name of the down parent that makes ``monitor`` unreachable, or ''.

    A parent monitor counts as down when it is down or unreachable, and also while it is
    failing but not yet confirmed down, so a child whose check fails first does not open an
    incident a moment before its parent does. A parent asset counts as down when it has
    checked monitors (other than this one) and every one of them counts as down.
    """
    if monitor.depends_on_id is not None:
        parent = Monitor.objects.filter(pk=monitor.depends_on_id).first()
        if (
            parent is not None
            and not parent.is_paused
            and (parent.status in DOWNISH or parent.consecutive_failures > 0)
        ):
            return f"monitor {parent.name}"
    if monitor.depends_on_asset_id is not None:
        siblings = list(
            Monitor.objects.checked()
            .filter(asset_id=monitor.depends_on_asset_id)
            .exclude(pk=monitor.pk)
            .values_list("status", "consecutive_failures")
        )
        if siblings and all(s in DOWNISH or f > 0 for s, f in siblings):
            asset = monitor.depends_on_asset
            return f"asset {asset.name if asset is not None else monitor.depends_on_asset_id}"
    return ""


@transaction.atomic
def apply_status(
    monitor_id: int, *, owner: str, status: str, reason: str, at: datetime, message: str
) -> Applied | None:
    """Move a monitor to ``status`` (the state machine's answer) and open or resolve its
    incident. None when ``owner`` no longer holds the monitor or it was paused meanwhile."""
    monitor = (
        Monitor.objects.select_for_update(of=("self",))
        .select_related("organization", "asset")
        .filter(pk=monitor_id)
        .first()
    )
    if monitor is None or monitor.is_paused or monitor.lease_owner != owner:
        return None
    if status == MonitorStatus.DOWN:
        parent = parent_down(monitor)
        if parent:
            status, reason = MonitorStatus.UNREACHABLE, f"{parent} is down"
    previous = monitor.status
    if previous != status:
        _record_state(monitor, status, at=at, reason=reason or status)
        monitor.save(update_fields=["status"])
    pending = False
    if status == MonitorStatus.DOWN:
        pending = not _open_incident(monitor, at=at, message=message, again=previous == status)
    elif status == MonitorStatus.UP and previous != status:
        _recover(monitor, at=at)
    elif status == MonitorStatus.FLAPPING and previous != status:
        _note_open_incident(monitor, f"{monitor.name} is flapping: {reason}.", at=at)
    return Applied(status=status, incident_pending=pending)


def _open_link(monitor: Monitor) -> MonitorIncident | None:
    for link in monitor.incidents.select_related("ticket").order_by("-opened_at", "-pk")[:5]:
        ticket = link.ticket
        if ticket.status not in DONE_STATUSES and ticket.merged_into_id is None:
            return link
    return None


def _open_incident(monitor: Monitor, *, at: datetime, message: str, again: bool) -> bool:
    """Open the monitor's incident or add to the open one; False when suppressed."""
    link = _open_link(monitor)
    if link is not None:
        if link.recovered_at is not None or not again:
            link.recovered_at = None
            link.save(update_fields=["recovered_at"])
            body = f"{monitor.name} is down again at {at:%Y-%m-%d %H:%M:%S} UTC: {message}"
            desk.add_reply(link.ticket, actor=system_actor(), body=body, internal=True, at=at)
        return True
    if active_for_monitor(monitor.pk, at):
        return False
    lines = [
        f"Monitor {monitor.name} ({monitor.get_kind_display()}) is down since "
        f"{at:%Y-%m-%d %H:%M:%S} UTC.",
        f"Last result: {message or '-'}",
        f"Down after {monitor.down_after} consecutive failed checks.",
    ]
    ticket = desk.create_ticket(
        monitor.organization,
        actor=system_actor(),
        subject=f"Monitor {monitor.name} is down"[:250],
        description="\n".join(lines),
        type=TicketType.INCIDENT,
        source=Source.MONITORING,
        tags=["monitoring", monitor.kind],
        assets=[monitor.asset] if monitor.asset is not None else [],
        at=at,
    )
    MonitorIncident.objects.create(
        organization_id=monitor.organization_id, monitor=monitor, ticket=ticket, opened_at=at
    )
    # Somebody is paged for it under the organisation's default escalation policy.
    escalation.start_default(ticket, at=at)
    return True


def _note_open_incident(monitor: Monitor, body: str, *, at: datetime) -> MonitorIncident | None:
    link = _open_link(monitor)
    if link is not None:
        desk.add_reply(link.ticket, actor=system_actor(), body=body, internal=True, at=at)
    return link


def _recover(monitor: Monitor, *, at: datetime) -> None:
    body = f"{monitor.name} is up again at {at:%Y-%m-%d %H:%M:%S} UTC."
    link = _note_open_incident(monitor, body, at=at)
    if link is None:
        return
    link.recovered_at = at
    link.save(update_fields=["recovered_at"])
    ticket = Ticket.objects.get(pk=link.ticket_id)
    if resolve_incidents() and Status.RESOLVED in allowed_transitions(ticket):
        desk.transition(ticket, Status.RESOLVED, actor=system_actor(), at=at)
