"""The only place that changes monitors, their pings, state changes and ping keys.

Configuration changes (create, update, pause, resume, delete, ping keys) are audited. Pings and
the status changes that time brings (late, down) are not: they are the monitor's own history,
kept in :class:`Ping` and :class:`StateChange` rows.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from buttress.audit import services as audit
from buttress.lib.timeutil import now
from buttress.monitoring import incidents
from buttress.monitoring.models import (
    Monitor,
    MonitoringSettings,
    MonitorKind,
    MonitorStatus,
    Ping,
    PingKey,
    PingKind,
    PrivateTargets,
    ScheduleKind,
    StateChange,
)
from buttress.monitoring.pinging import (
    PAIRING_WINDOW,
    SLUG,
    PingRequest,
    StatusChange,
    apply_ping,
    needs_start_lookup,
)
from buttress.monitoring.schedule import check_cron, check_seconds, check_zone
from buttress.monitoring.specs import ConfigError, build_spec
from buttress.tenancy.models import Organization

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.assets.models import Asset

MONITOR_FIELDS = (
    "organization",
    "asset",
    "name",
    "kind",
    "config",
    "interval",
    "slug",
    "schedule_kind",
    "period",
    "grace",
    "schedule",
    "tz",
    "is_paused",
    "down_after",
    "up_after",
    "depends_on",
    "depends_on_asset",
)
EDITABLE = frozenset(
    {"asset", "name", "config", "interval", "slug", "schedule_kind", "period", "grace"}
    | {"schedule", "tz", "down_after", "up_after", "depends_on", "depends_on_asset"}
)
# How far a chain of parents is followed looking for a cycle; no real chain is this long.
MAX_DEPENDENCY_DEPTH = 50
HEARTBEAT_FIELDS = frozenset({"slug", "schedule_kind", "period", "grace", "schedule", "tz"})
MIN_INTERVAL = 10
MAX_INTERVAL = 24 * 3600
MAX_SLUG = 100
PING_KEY_PREFIX = 6
PRUNE_EVERY = 10
DEFAULT_PERIOD = 86400
DEFAULT_GRACE = 3600


def ping_body_limit() -> int:
    return int(getattr(settings, "MONITORING_PING_BODY_LIMIT", 10_000))


def pings_kept() -> int:
    return int(getattr(settings, "MONITORING_PINGS_KEPT", 100))


# --- validation ------------------------------------------------------------------------------


def _name(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValidationError({"name": "A name is required."})
    if len(text) > 200:
        raise ValidationError({"name": "A name has at most 200 characters."})
    return text


def check_slug(value: Any) -> str:
    slug = str(value or "")
    if slug and (len(slug) > MAX_SLUG or not SLUG.match(slug)):
        raise ValidationError(
            {
                "slug": (
                    f"{slug[:MAX_SLUG]!r} is not a slug: use 1 to {MAX_SLUG} lowercase letters, "
                    "digits, '-' and '_'."
                )
            }
        )
    return slug


def _seconds(field: str, value: Any) -> int:
    try:
        return check_seconds(field, value)
    except ValueError as exc:
        raise ValidationError({field: str(exc).partition(": ")[2]}) from exc


def _config(kind: str, config: Any) -> dict[str, Any]:
    if kind == MonitorKind.HEARTBEAT:
        if config not in (None, {}):
            raise ValidationError({"config": "A heartbeat monitor has no config."})
        return {}
    if not isinstance(config, dict):
        raise ValidationError({"config": "Give an object of the check's options."})
    try:
        build_spec(kind, config)
    except ConfigError as exc:
        field = "config" if exc.field == "config" else f"config.{exc.field}"
        raise ValidationError({field: exc.message}) from exc
    return dict(config)


def _clean(organization: Organization, fields: dict[str, Any]) -> dict[str, Any]:
    """Validated, normalised monitor fields; ValidationError names the first bad field."""
    kind = fields["kind"]
    if kind not in MonitorKind.values:
        raise ValidationError({"kind": f"{kind!r} is not one of {', '.join(MonitorKind.values)}."})
    asset: Asset | None = fields["asset"]
    if asset is not None and asset.organization_id != organization.pk:
        raise ValidationError({"asset": "The asset belongs to another organisation."})
    cleaned: dict[str, Any] = {
        "name": _name(fields["name"]),
        "kind": kind,
        "asset": asset,
        "config": _config(kind, fields["config"]),
    }
    interval = fields["interval"]
    if isinstance(interval, bool) or not isinstance(interval, int):
        raise ValidationError({"interval": "Give a whole number of seconds."})
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ValidationError(
            {"interval": f"Must be from {MIN_INTERVAL} to {MAX_INTERVAL} seconds, got {interval}."}
        )
    cleaned["interval"] = interval
    for field in ("down_after", "up_after"):
        value = fields.get(field, 2 if field == "down_after" else 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
            raise ValidationError({field: f"Give a whole number from 1 to 10, got {value!r}."})
        cleaned[field] = value
    parent: Monitor | None = fields.get("depends_on")
    if parent is not None and parent.organization_id != organization.pk:
        raise ValidationError({"depends_on": "The monitor belongs to another organisation."})
    cleaned["depends_on"] = parent
    parent_asset: Asset | None = fields.get("depends_on_asset")
    if parent_asset is not None and parent_asset.organization_id != organization.pk:
        raise ValidationError({"depends_on_asset": "The asset belongs to another organisation."})
    cleaned["depends_on_asset"] = parent_asset
    if kind != MonitorKind.HEARTBEAT:
        for field in ("slug", "schedule"):
            if fields[field]:
                raise ValidationError({field: f"Only heartbeat monitors have a {field}."})
        return cleaned | {"slug": "", "schedule": "", "schedule_kind": ScheduleKind.SIMPLE}
    schedule_kind = fields["schedule_kind"]
    if schedule_kind not in ScheduleKind.values:
        raise ValidationError({"schedule_kind": f"{schedule_kind!r} is not simple or cron."})
    cleaned["slug"] = check_slug(fields["slug"])
    cleaned["schedule_kind"] = schedule_kind
    cleaned["period"] = _seconds("period", fields["period"])
    cleaned["grace"] = _seconds("grace", fields["grace"])
    try:
        cleaned["tz"] = check_zone("tz", fields["tz"]).key
    except ValueError as exc:
        raise ValidationError({"tz": str(exc).partition(": ")[2]}) from exc
    if schedule_kind == ScheduleKind.CRON:
        try:
            cleaned["schedule"] = check_cron("schedule", fields["schedule"])
        except ValueError as exc:
            raise ValidationError({"schedule": str(exc).partition(": ")[2]}) from exc
    else:
        cleaned["schedule"] = ""
    return cleaned


def _is_staff(actor: User | None) -> bool:
    """The system (None: the CLI, imports) counts as provider staff."""
    return actor is None or actor.is_provider_staff


def _check_no_cycle(monitor: Monitor, parent: Monitor | None) -> None:
    seen = {monitor.pk}
    for _ in range(MAX_DEPENDENCY_DEPTH):
        if parent is None:
            return
        if parent.pk in seen:
            raise ValidationError(
                {"depends_on": "A monitor cannot depend on itself, even through others."}
            )
        seen.add(parent.pk)
        parent = parent.depends_on
    raise ValidationError(
        {"depends_on": f"A chain of parents is at most {MAX_DEPENDENCY_DEPTH} long."}
    )


def refuse_heartbeat_fields(fields: Iterable[str]) -> None:
    """Refuse schedule fields sent for a monitor that is not a heartbeat."""
    given = sorted(HEARTBEAT_FIELDS & set(fields))
    if given:
        raise ValidationError({given[0]: f"Only heartbeat monitors have a {given[0]}."})


# --- monitors --------------------------------------------------------------------------------


def _record_state(monitor: Monitor, new: str, *, at: datetime, reason: str) -> None:
    """Move ``monitor.status`` to ``new`` (unsaved) and keep a StateChange row when it moved."""
    if monitor.status == new:
        return
    StateChange.objects.create(
        organization_id=monitor.organization_id,
        monitor=monitor,
        at=at,
        from_status=monitor.status,
        to_status=new,
        reason=reason[:200],
    )
    monitor.status = new


def ping_url(monitor: Monitor) -> str:
    """The absolute URL a heartbeat monitor's job pings (by its uuid)."""
    path = reverse("monitoring:ping", kwargs={"path": str(monitor.uuid)})
    return f"{settings.BASE_URL}{path}"


@transaction.atomic
def create_monitor(
    organization: Organization,
    *,
    actor: User | None,
    name: str,
    kind: str,
    config: dict[str, Any] | None = None,
    asset: Asset | None = None,
    interval: int = 60,
    slug: str = "",
    schedule_kind: str = ScheduleKind.SIMPLE,
    period: int = DEFAULT_PERIOD,
    grace: int = DEFAULT_GRACE,
    schedule: str = "",
    tz: str = "UTC",
    down_after: int = 2,
    up_after: int = 1,
    depends_on: Monitor | None = None,
    depends_on_asset: Asset | None = None,
) -> Monitor:
    cleaned = _clean(
        organization,
        {
            "name": name,
            "kind": kind,
            "config": config,
            "asset": asset,
            "interval": interval,
            "slug": slug,
            "schedule_kind": schedule_kind,
            "period": period,
            "grace": grace,
            "schedule": schedule,
            "tz": tz,
            "down_after": down_after,
            "up_after": up_after,
            "depends_on": depends_on,
            "depends_on_asset": depends_on_asset,
        },
    )
    monitor = Monitor.objects.create(
        organization=organization, configured_by_staff=_is_staff(actor), **cleaned
    )
    audit.record_create(monitor, actor=actor, organization=organization, fields=MONITOR_FIELDS)
    return monitor


@transaction.atomic
def update_monitor(monitor: Monitor, *, actor: User | None, **changes: Any) -> Monitor:
    """Change a monitor's settings; its kind stays. A new schedule applies from now."""
    if "kind" in changes and changes["kind"] != monitor.kind:
        raise ValidationError({"kind": "A monitor's kind cannot change; create a new monitor."})
    changes.pop("kind", None)
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))}.")
    if monitor.kind != MonitorKind.HEARTBEAT:
        refuse_heartbeat_fields(changes)
    monitor = Monitor.objects.select_for_update().get(pk=monitor.pk)
    before = audit.snapshot(monitor, MONITOR_FIELDS)
    relations = {"asset", "depends_on", "depends_on_asset"}
    current = {field: getattr(monitor, field) for field in (EDITABLE | {"kind"}) - relations}
    for relation in ("asset", "depends_on", "depends_on_asset"):
        current[relation] = getattr(monitor, relation)
    merged = {**current, **changes}
    if monitor.kind != MonitorKind.HEARTBEAT:
        # The heartbeat columns keep their defaults on other monitors; only a sent one counts.
        for field in ("slug", "schedule"):
            merged[field] = changes.get(field, "")
    cleaned = _clean(monitor.organization, merged)
    _check_no_cycle(monitor, cleaned["depends_on"])
    if "config" in changes and cleaned["config"] != monitor.config:
        monitor.configured_by_staff = _is_staff(actor)
    for field, value in cleaned.items():
        setattr(monitor, field, value)
    if monitor.is_heartbeat:
        # A due time already past fires on the scheduler's next pass, which records the
        # change at the instant the new schedule implies.
        monitor.heartbeat_due_at = monitor.next_transition(monitor.status)
    monitor.save()
    audit.record_update(
        monitor,
        actor=actor,
        organization=monitor.organization,
        before=before,
        fields=MONITOR_FIELDS,
    )
    return monitor


@transaction.atomic
def pause_monitor(monitor: Monitor, *, actor: User | None) -> Monitor:
    """Stop judging the monitor: no checks, no lateness, status paused until resumed."""
    monitor = Monitor.objects.select_for_update().get(pk=monitor.pk)
    if monitor.is_paused:
        return monitor
    before = audit.snapshot(monitor, MONITOR_FIELDS)
    _record_state(monitor, MonitorStatus.PAUSED, at=now(), reason="paused")
    monitor.is_paused = True
    monitor.heartbeat_due_at = None
    monitor.save(update_fields=["status", "is_paused", "heartbeat_due_at", "updated_at"])
    audit.record_update(
        monitor,
        actor=actor,
        organization=monitor.organization,
        before=before,
        fields=MONITOR_FIELDS,
    )
    return monitor


@transaction.atomic
def resume_monitor(monitor: Monitor, *, actor: User | None) -> Monitor:
    """Judge the monitor again from scratch: unknown until its next check or success ping."""
    monitor = Monitor.objects.select_for_update().get(pk=monitor.pk)
    if not monitor.is_paused:
        return monitor
    before = audit.snapshot(monitor, MONITOR_FIELDS)
    _record_state(monitor, MonitorStatus.UNKNOWN, at=now(), reason="resumed")
    monitor.is_paused = False
    monitor.last_start_at = None
    monitor.last_start_rid = None
    monitor.heartbeat_due_at = None
    # Results from before the pause say nothing about now.
    monitor.health = "unknown"
    monitor.consecutive_failures = monitor.consecutive_successes = 0
    monitor.recent_results = ""
    monitor.save(
        update_fields=[
            "status",
            "is_paused",
            "last_start_at",
            "last_start_rid",
            "heartbeat_due_at",
            "health",
            "consecutive_failures",
            "consecutive_successes",
            "recent_results",
            "updated_at",
        ]
    )
    audit.record_update(
        monitor,
        actor=actor,
        organization=monitor.organization,
        before=before,
        fields=MONITOR_FIELDS,
    )
    return monitor


@transaction.atomic
def delete_monitor(monitor: Monitor, *, actor: User | None) -> None:
    """Delete the monitor with its pings and state history."""
    pk = monitor.pk
    audit.record_delete(
        monitor,
        actor=actor,
        organization=monitor.organization,
        fields=MONITOR_FIELDS,
        object_id=pk,
    )
    monitor.delete()


# --- the organisation's policy ---------------------------------------------------------------


def private_targets_policy(organization: Organization) -> str:
    """The organisation's private-address policy (the default when it has no settings)."""
    found = (
        MonitoringSettings.objects.filter(organization=organization)
        .values_list("private_targets", flat=True)
        .first()
    )
    return found or PrivateTargets.STAFF


@transaction.atomic
def set_private_targets(
    organization: Organization, *, actor: User | None, policy: str
) -> MonitoringSettings:
    """Whether the organisation's checks may reach private addresses; the runners follow a
    change within a lease cycle."""
    if policy not in PrivateTargets.values:
        raise ValidationError(
            {"private_targets": f"Must be one of {', '.join(PrivateTargets.values)}."}
        )
    row, created = MonitoringSettings.objects.select_for_update().get_or_create(
        organization=organization, defaults={"private_targets": policy}
    )
    before = audit.snapshot(row, ("private_targets",))
    if created:
        before = {"private_targets": PrivateTargets.STAFF.value}
    row.private_targets = policy
    row.full_clean()
    row.save(update_fields=["private_targets"])
    audit.record_update(
        row, actor=actor, organization=organization, before=before, fields=("private_targets",)
    )
    return row


resolves_incidents = incidents.resolves_incidents
resolves_with = incidents.resolves_with


def resolve_incidents_choice(organization: Organization) -> bool | None:
    """The organisation's own choice (None: it follows the installation's default)."""
    return incidents.resolve_choice(organization.pk)


@transaction.atomic
def set_resolve_incidents(
    organization: Organization, *, actor: User | None, resolve: bool | None
) -> MonitoringSettings:
    """Whether recoveries resolve the organisation's monitor incidents (None: the
    installation's default); incidents already open follow it at their monitor's next recovery."""
    row, created = MonitoringSettings.objects.select_for_update().get_or_create(
        organization=organization, defaults={"resolve_incidents": resolve}
    )
    before = audit.snapshot(row, ("resolve_incidents",))
    if created:
        before = {"resolve_incidents": None}
    row.resolve_incidents = resolve
    row.save(update_fields=["resolve_incidents"])
    audit.record_update(
        row, actor=actor, organization=organization, before=before, fields=("resolve_incidents",)
    )
    return row


# --- lateness --------------------------------------------------------------------------------


def evaluate(monitor: Monitor, *, at: datetime) -> Monitor:
    """Move a heartbeat monitor to the status time has given it by ``at`` (up -> late -> down).

    Each change is recorded at the instant it happened, even when the call comes later (a
    busy worker): a monitor found two periods late gets its ``late`` and its ``down`` rows.
    Going down goes through :func:`buttress.monitoring.incidents.status_changed` as a
    checked monitor's does (unreachable instead while a parent is down). Call with the row
    locked (inside :func:`buttress.scheduler.claims.holding`); it always sets
    ``heartbeat_due_at`` to the next transition or clears it.
    """
    previous = monitor.status
    fell: tuple[str, datetime, str] | None = None
    for _ in range(len(MonitorStatus.values)):
        moment = monitor.next_transition(monitor.status)
        if moment is None or moment > at:
            break
        new = monitor.status_at(moment)
        if new == monitor.status:
            break
        before = monitor.status
        new, reason = _unless_parent_down(monitor, new, _lateness_reason(monitor, new, moment))
        _record_state(monitor, new, at=moment, reason=reason)
        if new in {MonitorStatus.DOWN, MonitorStatus.UNREACHABLE}:
            fell = (before, moment, reason)
            break
    due = monitor.next_transition(monitor.status)
    # An unreachable job judged already waits for its next ping rather than the same timer.
    monitor.heartbeat_due_at = None if fell is not None and due is not None and due <= at else due
    fields = ["heartbeat_due_at"]
    if monitor.status != previous:
        fields += ["status", "updated_at"]
    monitor.save(update_fields=fields)
    if fell is not None:
        before, moment, reason = fell
        incidents.status_changed(monitor, previous=before, at=moment, message=reason, reason=reason)
    return monitor


def _unless_parent_down(monitor: Monitor, status: str, reason: str) -> tuple[str, str]:
    """A heartbeat going down whose parent monitor or asset is down is unreachable instead."""
    if status != MonitorStatus.DOWN:
        return status, reason
    parent = incidents.parent_down(monitor)
    if parent:
        return MonitorStatus.UNREACHABLE, f"{parent} is down"
    return status, reason


def _lateness_reason(monitor: Monitor, new: str, moment: datetime) -> str:
    if new == MonitorStatus.LATE:
        return "no ping when expected"
    started = monitor.last_start_at
    if started is not None and moment >= started + timedelta(seconds=monitor.grace):
        return "started job did not finish within the grace period"
    return "no ping within the grace period"


# --- pings -----------------------------------------------------------------------------------


class AmbiguousSlug(Exception):
    """Several monitors of the organisation have the slug; the ping is ignored."""


def run_started_at(monitor: Monitor, request: PingRequest, *, at: datetime) -> datetime | None:
    """When the run a ping ends started, looked up among the monitor's kept start pings."""
    return (
        Ping.objects.filter(
            monitor=monitor,
            kind=PingKind.START,
            rid=request.rid,
            at__gte=at - PAIRING_WINDOW,
        )
        .order_by("-n")
        .values_list("at", flat=True)
        .first()
    )


def body_text(body: bytes) -> str:
    # PostgreSQL refuses NUL in text; a job's binary output keeps its shape otherwise.
    return body[: ping_body_limit()].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def record_heartbeat_change(monitor: Monitor, change: StatusChange, *, message: str = "") -> None:
    """Record a heartbeat monitor's status change that a ping caused and act on it.

    Both ping transports call this once per change, after the monitor's row is saved and
    inside the transaction that holds its lock (the intake process for a whole batch, so
    ``monitor.status`` may already be a later status: ``change`` is the one to act on). A job
    going down while a parent monitor or asset is down is unreachable instead, and a change
    goes through :func:`buttress.monitoring.incidents.status_changed` like a checked
    monitor's. ``message`` is what the ping said (its body), if anything.
    """
    to_status, reason = _unless_parent_down(monitor, change.to_status, change.reason)
    if to_status != change.to_status and monitor.status == change.to_status:
        # Still the status this change left (a later ping of the batch did not move it on).
        monitor.status = to_status
        monitor.heartbeat_due_at = monitor.next_transition(to_status)
        monitor.save(update_fields=["status", "heartbeat_due_at"])
    if to_status == change.from_status:
        # A failing job already unreachable stays so: nothing moved.
        return
    StateChange.objects.create(
        organization_id=monitor.organization_id,
        monitor=monitor,
        at=change.at,
        from_status=change.from_status,
        to_status=to_status,
        reason=reason[:200],
    )
    # Only a change does more than the ping: a repeated failure of a job already down adds
    # nothing, so a busy job's pings stay cheap.
    incidents.status_changed(
        monitor,
        previous=change.from_status,
        status=to_status,
        at=change.at,
        message=message[:200].strip() or reason,
        reason=reason,
    )


def record_ping(monitor: Monitor, request: PingRequest, *, at: datetime) -> Ping:
    """Store a ping and apply it to the monitor's status, run and timer (see
    :func:`buttress.monitoring.pinging.apply_ping`). Call inside a transaction with the
    monitor's row locked."""
    started = (
        run_started_at(monitor, request, at=at) if needs_start_lookup(monitor, request) else None
    )
    effect = apply_ping(monitor, request, at=at, started_at=started)
    ping = Ping.objects.create(
        organization_id=monitor.organization_id,
        monitor=monitor,
        n=effect.n,
        at=at,
        kind=request.kind,
        exit_status=request.exit_status,
        remote_addr=request.remote_addr,
        method=request.method[:10],
        user_agent=request.user_agent.replace("\x00", "")[:200],
        body=body_text(request.body),
        body_size=request.body_size,
        rid=request.rid,
        duration=effect.duration,
    )
    monitor.save(update_fields=effect.fields)
    if effect.change is not None:
        record_heartbeat_change(monitor, effect.change, message=body_text(request.body))
    if monitor.n_pings % PRUNE_EVERY == 0:
        Ping.objects.filter(monitor=monitor, n__lte=monitor.n_pings - pings_kept()).delete()
    return ping


@transaction.atomic
def ping_by_uuid(code: uuid.UUID, request: PingRequest, *, at: datetime | None = None) -> Ping:
    """Record a ping for the heartbeat monitor ``code``; Monitor.DoesNotExist when unknown."""
    monitor = Monitor.objects.select_for_update().heartbeats().get(uuid=code)
    return record_ping(monitor, request, at=at or now())


def _by_slug(organization_id: int, slug: str) -> list[Monitor]:
    return list(
        Monitor.objects.select_for_update()
        .filter(organization_id=organization_id)
        .heartbeats()
        .filter(slug=slug)
        .order_by("pk")[:2]
    )


def hash_ping_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def ping_by_slug(
    key: str,
    slug: str,
    request: PingRequest,
    *,
    create: bool = False,
    at: datetime | None = None,
) -> tuple[Ping, bool]:
    """Record a ping for the organisation's monitor ``slug``; (ping, whether it was created).

    PingKey.DoesNotExist for an unknown key, Monitor.DoesNotExist for an unknown slug (unless
    ``create``), AmbiguousSlug when several monitors share it.
    """
    organization_id = PingKey.objects.values_list("organization_id", flat=True).get(
        key_hash=hash_ping_key(key)
    )
    found = _by_slug(organization_id, slug)
    if not found and create:
        # Two first pings of a new job must not both create it (the slug would then be
        # ambiguous for ever): creators queue on the key's row and look again.
        list(PingKey.objects.select_for_update().filter(organization_id=organization_id))
        found = _by_slug(organization_id, slug)
    if len(found) > 1:
        raise AmbiguousSlug(slug)
    created = False
    if found:
        monitor = found[0]
    elif create:
        organization = Organization.objects.get(pk=organization_id)
        monitor = create_monitor(
            organization, actor=None, name=slug, kind=MonitorKind.HEARTBEAT, slug=slug
        )
        created = True
    else:
        raise Monitor.DoesNotExist(slug)
    return record_ping(monitor, request, at=at or now()), created


# --- ping keys -------------------------------------------------------------------------------


@transaction.atomic
def rotate_ping_key(organization: Organization, *, actor: User | None) -> tuple[PingKey, str]:
    """A new ping key for the organisation, replacing any old one; the key is shown once."""
    secret = secrets.token_urlsafe(24)
    old = PingKey.objects.filter(organization=organization).first()
    if old is not None:
        audit.record_delete(
            old, actor=actor, organization=organization, fields=("prefix",), object_id=old.pk
        )
        old.delete()
    ping_key = PingKey.objects.create(
        organization=organization, key_hash=hash_ping_key(secret), prefix=secret[:PING_KEY_PREFIX]
    )
    audit.record_create(ping_key, actor=actor, organization=organization, fields=("prefix",))
    return ping_key, secret
