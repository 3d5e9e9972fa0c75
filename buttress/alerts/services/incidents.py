"""Turning recorded deliveries into alerts, and alerts into incident tickets.

Every change to a ticket goes through :mod:`buttress.desk.services`: an incident is opened
with ``create_ticket`` (type incident, source alert), later alerts and resolutions are written
to its timeline as internal notes with ``add_reply``, and it is resolved with ``transition``
once every alert in it has resolved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import Role, User
from buttress.alerts import formats
from buttress.alerts.formats import ACKNOWLEDGE, RESOLVE, TRIGGER, AlertEvent, PayloadError
from buttress.alerts.models import (
    Alert,
    AlertGroup,
    AlertStatus,
    Delivery,
    Integration,
    IntegrationKind,
)
from buttress.alerts.services import routing
from buttress.alerts.services import silences as silencing
from buttress.assets.models import Asset
from buttress.desk import services as desk
from buttress.desk.models import DONE_STATUSES, Level, Source, Status, Ticket, TicketType
from buttress.desk.services.tickets import allowed_transitions
from buttress.escalation import services as escalation
from buttress.lib.timeutil import now
from buttress.maintenance import services as maintenance
from buttress.maintenance.models import Effect, MaintenanceWindow

SYSTEM_ACTOR_LABEL = "alert-ingestion"
# A note lists at most this many alerts; a flood's note says how many more there were.
NOTE_ALERTS = 50
MAX_ATTEMPTS = 5

# Severity words senders use -> (impact, urgency), which the desk's matrix turns into a
# priority (by default P1, P2, P3, P4 in this order).
SEVERITY_LEVELS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("critical", "crit", "page", "emergency", "fatal", "disaster", "p1"),
        (Level.HIGH, Level.HIGH),
    ),
    **dict.fromkeys(("error", "high", "major", "p2"), (Level.HIGH, Level.MEDIUM)),
    **dict.fromkeys(("warning", "warn", "medium", "average", "p3"), (Level.MEDIUM, Level.MEDIUM)),
    **dict.fromkeys(
        ("info", "informational", "low", "minor", "none", "p4", "p5"), (Level.LOW, Level.LOW)
    ),
}


def system_actor() -> User:
    """The author of what alert processing writes: an unsaved staff user, so the desk services
    accept its internal notes while the timeline names no person and the audit log shows
    ``alert-ingestion``."""
    return User(email=SYSTEM_ACTOR_LABEL, full_name="Alert ingestion", role=Role.ADMIN)


def parse_for(
    integration: Integration, data: Any, *, received_at: datetime, generated_key: str = ""
) -> formats.Batch:
    """The events in decoded ``data`` read as the integration's kind; PayloadError if bad."""
    kind = integration.kind
    if kind == IntegrationKind.ALERTMANAGER:
        return formats.parse_alertmanager(data)
    if kind == IntegrationKind.GRAFANA:
        return formats.parse_alertmanager(data, grafana=True)
    if kind == IntegrationKind.PROMETHEUS:
        return formats.parse_prometheus(data, received_at=received_at)
    if kind == IntegrationKind.GENERIC:
        return formats.parse_generic(data, mapping=integration.mapping, received_at=received_at)
    if kind == IntegrationKind.PAGERDUTY:
        return formats.parse_pagerduty(data, received_at=received_at, generated_key=generated_key)
    if kind == IntegrationKind.EMAIL:
        return formats.parse_email(data, received_at=received_at)
    raise PayloadError([f"{integration.get_kind_display()} integrations receive no webhooks."])


@dataclass(frozen=True)
class IncidentSpec:
    """What a built-in source's incident says (a webhook's incident is written from the
    alert itself); a routing rule's asset, impact, urgency and category still win."""

    subject: str
    description: str
    source: str
    tags: list[str]
    asset: Asset | None = None
    impact: str = Level.MEDIUM
    urgency: str = Level.MEDIUM


@dataclass
class _Changes:
    """What one delivery did, per group, so each incident gets one note per delivery."""

    at: datetime
    groups: dict[str, AlertGroup] = field(default_factory=dict)
    new: dict[int, list[Alert]] = field(default_factory=lambda: defaultdict(list))
    resolved: dict[int, list[Alert]] = field(default_factory=lambda: defaultdict(list))
    acknowledged: dict[int, list[Alert]] = field(default_factory=lambda: defaultdict(list))
    by_pk: dict[int, AlertGroup] = field(default_factory=dict)
    # Looked up once per delivery: the integration's rules, the organisation's silences, and
    # the maintenance window (with its end) on each routed asset.
    rules: list[routing.CompiledRule] | None = None
    silences: list[silencing.CompiledSilence] | None = None
    windows: dict[int, tuple[MaintenanceWindow, datetime] | None] = field(default_factory=dict)
    # Known before the events are applied (see _load_known), kept current while they are.
    firing: dict[str, Alert] = field(default_factory=dict)
    resolved_starts: set[tuple[str, datetime | None]] = field(default_factory=set)
    # New alerts not yet written (see _insert_pending).
    pending: list[Alert] = field(default_factory=list)
    # A built-in source's own words for a group's note, instead of the alert lists.
    custom: dict[int, str] = field(default_factory=dict)


# --- text ------------------------------------------------------------------------------------


def _subject(event: AlertEvent) -> str:
    name = event.name
    if event.summary and event.summary != name:
        return f"{name}: {event.summary}"[:250]
    return name[:250]


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items()))


def _describe(alert: Alert) -> list[str]:
    lines = [f"- {alert.summary or alert.fingerprint} (fingerprint {alert.fingerprint})"]
    if alert.labels:
        lines.append(f"  labels: {_pairs(alert.labels)}")
    for name, url in sorted(alert.links.items()):
        lines.append(f"  {name}: {url}")
    return lines


def _description(
    integration: Integration, group: str, alert: AlertEvent, route: routing.Route
) -> str:
    lines = [
        f"Opened by alert integration {integration.name!r} ({integration.get_kind_display()}).",
        f"Group: {group}",
        "",
        f"Summary: {alert.summary or '-'}",
        f"Severity: {alert.severity or '-'}",
    ]
    if alert.starts_at is not None:
        lines.append(f"Started: {alert.starts_at.isoformat()}")
    if route.rule is not None:
        lines.append(f"Routing rule: {route.rule.name}")
    lines += ["", "Labels:"]
    lines += [f"  {k}={v}" for k, v in sorted(alert.labels.items())] or ["  (none)"]
    if alert.annotations:
        lines += ["", "Annotations:"]
        lines += [f"  {k}: {v}" for k, v in sorted(alert.annotations.items())]
    if alert.links:
        lines += ["", "Links:"]
        lines += [f"  {k}: {v}" for k, v in sorted(alert.links.items())]
    return "\n".join(lines)


def _note(title: str, alerts: list[Alert]) -> str:
    lines = [f"{title} ({len(alerts)}):"]
    for alert in alerts[:NOTE_ALERTS]:
        lines += _describe(alert)
    if len(alerts) > NOTE_ALERTS:
        lines.append(f"... and {len(alerts) - NOTE_ALERTS} more.")
    return "\n".join(lines)


# --- groups ----------------------------------------------------------------------------------


def _group_key(
    integration: Integration, event: AlertEvent, route: routing.Route
) -> tuple[str, timedelta | None]:
    """The group an alert belongs to and how long a quiet group keeps taking alerts.

    A routing rule's group labels come first. Else a sender's own group key (Alertmanager's
    groupKey) is used as it is, with no window: it names one group for as long as its incident
    is open. Otherwise the values of the integration's group labels (default: alertname) form
    the key, within its window (or the rule's). Alerts routed by different rules never share
    a group, since a rule decides the incident's asset and priority.
    """
    prefix = f"route:{route.rule.pk}|" if route.rule is not None else ""
    window = route.group_window or timedelta(minutes=integration.group_window_minutes)
    if event.group_key and not route.group_by:
        return f"{prefix}group:{event.group_key}", None
    names = route.group_by or integration.group_by or ["alertname"]
    values = [f"{name}={event.labels.get(name, '')}" for name in names]
    if all(not event.labels.get(name) for name in names):
        values = [f"name={event.name}"]
    return prefix + "labels:" + ",".join(values), window


def _accepts(group: AlertGroup, window: timedelta | None, at: datetime) -> bool:
    ticket = group.ticket
    if ticket.status in DONE_STATUSES or ticket.merged_into_id is not None:
        return False
    return window is None or group.last_alert_at >= at - window


def _open_group(
    integration: Integration,
    event: AlertEvent,
    changes: _Changes,
    actor: User,
    route: routing.Route,
    *,
    spec: IncidentSpec | None = None,
) -> tuple[AlertGroup, bool]:
    """The open group for the event, or a new one with its incident; True when new."""
    key, window = _group_key(integration, event, route)
    key_hash = formats.group_hash(key)
    at = changes.at
    cached = changes.groups.get(key_hash)
    if cached is not None:
        return cached, False
    group = (
        AlertGroup.objects.select_related("ticket")
        .filter(integration=integration, key_hash=key_hash, closed_at__isnull=True)
        .first()
    )
    if group is not None and not _accepts(group, window, at):
        group.closed_at = at
        group.save(update_fields=["closed_at"])
        group = None
    opened = group is None
    if group is None:
        if spec is None:
            impact, urgency = SEVERITY_LEVELS.get(event.severity, (Level.MEDIUM, Level.MEDIUM))
            spec = IncidentSpec(
                subject=_subject(event),
                description=_description(integration, key, event, route),
                source=Source.ALERT,
                tags=["alert", integration.kind],
                impact=impact,
                urgency=urgency,
            )
        asset = route.asset or spec.asset
        ticket = desk.create_ticket(
            integration.organization,
            actor=actor,
            subject=spec.subject[:250],
            description=spec.description,
            type=TicketType.INCIDENT,
            source=spec.source,
            impact=route.impact or spec.impact,
            urgency=route.urgency or spec.urgency,
            category=route.category,
            assets=[asset] if asset is not None else [],
            tags=spec.tags,
            at=at,
        )
        # Somebody is paged for it: under the routing rule's policy, else the integration's,
        # else the organisation's default.
        escalation.start_default(
            ticket, at=at, policy=route.escalation_policy or integration.escalation_policy
        )
        group = AlertGroup.objects.create(
            organization_id=integration.organization_id,
            integration=integration,
            key=key,
            key_hash=key_hash,
            ticket=ticket,
            opened_at=at,
            last_alert_at=at,
        )
    else:
        group.last_alert_at = max(group.last_alert_at, at)
        group.save(update_fields=["last_alert_at"])
    changes.groups[key_hash] = group
    changes.by_pk[group.pk] = group
    return group, opened


# --- applying events -------------------------------------------------------------------------


def _refresh(alert: Alert, event: AlertEvent, delivery: Delivery) -> None:
    """A repeat of a firing alert: keep its latest text; nothing new for the incident."""
    alert.labels = event.labels or alert.labels
    alert.annotations = event.annotations or alert.annotations
    alert.summary = event.summary or alert.summary
    alert.severity = event.severity or alert.severity
    alert.links = {**alert.links, **event.links}
    if event.details:
        alert.details = event.details
    alert.ends_at = event.ends_at
    alert.expires_due_at = event.ends_at if event.expires else None
    alert.last_delivery = delivery
    alert.times_seen += 1
    alert.updated_at = now()
    alert.save()


def _resolve(alert: Alert, *, at: datetime, ends_at: datetime | None, changes: _Changes) -> None:
    alert.status = AlertStatus.RESOLVED
    alert.ends_at = ends_at or at
    alert.resolved_at = at
    alert.expires_due_at = None
    alert.suppression_due_at = None
    alert.updated_at = now()
    alert.save(
        update_fields=[
            "status",
            "ends_at",
            "resolved_at",
            "expires_due_at",
            "suppression_due_at",
            "updated_at",
        ]
    )
    if changes.firing.get(alert.fingerprint) is alert:
        del changes.firing[alert.fingerprint]
    changes.resolved_starts.add((alert.fingerprint, alert.starts_at))
    if alert.group_id is not None:
        if alert.group_id not in changes.by_pk:
            changes.by_pk[alert.group_id] = AlertGroup.objects.select_related("ticket").get(
                pk=alert.group_id
            )
        changes.resolved[alert.group_id].append(alert)


def _insert_pending(changes: _Changes) -> None:
    """Write the new alerts of the delivery so far, in one statement."""
    if changes.pending:
        Alert.objects.bulk_create(changes.pending)
        changes.pending = []


def _load_known(integration: Integration, events: list[AlertEvent], changes: _Changes) -> None:
    """What the delivery's events need to know about earlier alerts, in two queries rather
    than two per event: the firing alert of each fingerprint, and which (fingerprint, start)
    occurrences have already resolved."""
    same = Alert.objects.filter(
        organization_id=integration.organization_id,
        integration=integration,
        fingerprint__in={event.fingerprint for event in events},
    )
    changes.firing = {alert.fingerprint: alert for alert in same.filter(status=AlertStatus.FIRING)}
    starts = {
        event.starts_at
        for event in events
        if event.action == TRIGGER
        and event.starts_at is not None
        and event.fingerprint not in changes.firing
    }
    if starts:
        changes.resolved_starts = set(
            same.filter(status=AlertStatus.RESOLVED, starts_at__in=starts).values_list(
                "fingerprint", "starts_at"
            )
        )


# --- routing and suppression -----------------------------------------------------------------


def _route(integration: Integration, labels: dict[str, Any], changes: _Changes) -> routing.Route:
    if changes.rules is None:
        changes.rules = routing.compile_rules(integration)
    return routing.route(changes.rules, labels)


def _suppress(
    alert: Alert,
    route: routing.Route,
    changes: _Changes,
    window: tuple[MaintenanceWindow, datetime] | None = None,
) -> bool:
    """Mark the (unsaved) alert with the silence or suppressing maintenance window that holds
    it back at ``changes.at``, and when that ends; False when nothing does. ``window`` is one
    the alert's source found on what it watches (a monitor's own window)."""
    if changes.silences is None:
        changes.silences = silencing.active_silences(alert.organization_id, changes.at)
    silence = silencing.silence_for(changes.silences, alert.labels)
    if silence is not None:
        alert.silence, alert.maintenance_window = silence, None
        alert.suppressed_until = alert.suppression_due_at = silence.ends_at
        return True
    if window is not None:
        alert.maintenance_window, alert.silence = window[0], None
        alert.suppressed_until = alert.suppression_due_at = window[1]
        return True
    if route.asset is not None:
        if route.asset.pk not in changes.windows:
            changes.windows[route.asset.pk] = maintenance.window_on_assets(
                [route.asset.pk], changes.at, effect=Effect.SUPPRESS_ALERTS
            )
        found = changes.windows[route.asset.pk]
        if found is not None:
            alert.maintenance_window, alert.silence = found[0], None
            alert.suppressed_until = alert.suppression_due_at = found[1]
            return True
    alert.suppression_due_at = None
    return False


def _apply(
    integration: Integration,
    event: AlertEvent,
    delivery: Delivery,
    changes: _Changes,
    actor: User,
) -> None:
    active = changes.firing.get(event.fingerprint)
    if active is not None and active.pk is None:
        _insert_pending(changes)  # a second event for an alert new in this delivery
    if event.action == TRIGGER:
        if active is not None:
            _refresh(active, event, delivery)
            return
        if (
            event.starts_at is not None
            and (event.fingerprint, event.starts_at) in changes.resolved_starts
        ):
            # A late copy of an occurrence that has already resolved (an HA peer's, or a
            # retry): the alert is over, so it changes nothing.
            return
        route = _route(integration, event.labels, changes)
        alert = Alert(
            organization_id=integration.organization_id,
            integration=integration,
            fingerprint=event.fingerprint,
            status=AlertStatus.FIRING,
            labels=event.labels,
            annotations=event.annotations,
            summary=event.summary,
            severity=event.severity,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            links=event.links,
            details=event.details,
            group_key=event.group_key,
            routing_rule=route.rule,
            asset=route.asset,
            first_delivery=delivery,
            last_delivery=delivery,
            expires_due_at=event.ends_at if event.expires else None,
        )
        if not _suppress(alert, route, changes):
            group, opened = _open_group(integration, event, changes, actor, route)
            alert.group, alert.incident = group, group.ticket
            if not opened:
                changes.new[group.pk].append(alert)
        changes.pending.append(alert)
        changes.firing[alert.fingerprint] = alert
    if active is None:
        return  # an acknowledgement or resolution of nothing that fires: nothing to do
    if event.action == ACKNOWLEDGE:
        if active.acknowledged_at is None:
            active.acknowledged_at = changes.at
            active.last_delivery = delivery
            active.save(update_fields=["acknowledged_at", "last_delivery"])
            if active.group_id is not None:
                if active.group_id not in changes.by_pk:
                    changes.by_pk[active.group_id] = AlertGroup.objects.select_related(
                        "ticket"
                    ).get(pk=active.group_id)
                changes.acknowledged[active.group_id].append(active)
        return
    if event.action == RESOLVE:
        active.last_delivery = delivery
        active.save(update_fields=["last_delivery"])
        _resolve(active, at=changes.at, ends_at=event.ends_at, changes=changes)


def _acknowledge_if_all(ticket: Ticket, group_pk: int, actor: User, *, at: datetime) -> None:
    """The sender acknowledged alerts of the incident: once every alert of it that still
    fires is acknowledged, the incident is acknowledged as a person's link would do it, so
    paging stops (until the policy's acknowledgement timeout, if it has one)."""
    if ticket.status in DONE_STATUSES:
        return
    firing = Alert.objects.filter(group_id=group_pk, status=AlertStatus.FIRING)
    if not firing.exists() or firing.filter(acknowledged_at__isnull=True).exists():
        return
    try:
        escalation.acknowledge(ticket, actor=actor, at=at, via="sender")
    except ValidationError:
        # Nobody is being paged; the acknowledgement is still the incident's history.
        desk.acknowledge(ticket, actor=actor, at=at, via="sender")


def _write_timeline(changes: _Changes, actor: User, *, resolve: bool = True) -> None:
    """One note per kind of change and incident; an incident whose alerts have all resolved
    is resolved too (unless ``resolve`` is False: its group stays open for the next one)."""
    for group_pk, group in changes.by_pk.items():
        ticket = Ticket.objects.get(pk=group.ticket_id)
        if ticket.merged_into_id is not None:
            continue
        custom = changes.custom.get(group_pk)
        if custom:
            desk.add_reply(ticket, actor=actor, body=custom, internal=True, at=changes.at)
        for title, alerts in (
            ("Alerts firing", [] if custom else changes.new.get(group_pk, [])),
            ("Alerts acknowledged by the sender", changes.acknowledged.get(group_pk, [])),
            ("Alerts resolved", [] if custom else changes.resolved.get(group_pk, [])),
        ):
            if alerts:
                desk.add_reply(ticket, actor=actor, body=_note(title, alerts), internal=True)
        if changes.acknowledged.get(group_pk):
            _acknowledge_if_all(ticket, group_pk, actor, at=changes.at)
        if group_pk not in changes.resolved:
            continue
        if (
            not resolve
            or Alert.objects.filter(group_id=group_pk, status=AlertStatus.FIRING).exists()
        ):
            continue
        if group.closed_at is None:
            group.closed_at = changes.at
            group.save(update_fields=["closed_at"])
        if ticket.status not in DONE_STATUSES and Status.RESOLVED in allowed_transitions(ticket):
            desk.transition(ticket, Status.RESOLVED, actor=actor, at=changes.at if custom else None)


# --- entry points ----------------------------------------------------------------------------


@transaction.atomic
def process_delivery(delivery: Delivery) -> int:
    """Apply a recorded delivery; returns the number of alert events in it.

    Call while holding the delivery's claim (the processing task does). Deliveries of one
    integration are applied one at a time (its row is locked), so two copies of the same
    alert arriving together still make one alert and one incident.
    """
    # FOR NO KEY UPDATE: it serialises processing, yet lets the endpoints go on inserting
    # deliveries (whose foreign key takes FOR KEY SHARE on this row) while a delivery is
    # processed; a plain FOR UPDATE would hold every incoming request until the commit.
    integration = Integration.objects.select_for_update(no_key=True).get(pk=delivery.integration_id)
    actor = system_actor()
    at = now()
    try:
        batch = parse_for(
            integration,
            formats.load_json(delivery.body.encode("utf-8")),
            received_at=delivery.received_at,
            generated_key=delivery.generated_key,
        )
    except PayloadError as exc:
        # Checked when received, so only a payload stored by an older version gets here.
        batch, delivery.error = formats.Batch([]), str(exc)[:2000]
    changes = _Changes(at=delivery.received_at)
    _load_known(integration, batch.events, changes)
    for event in batch.events:
        _apply(integration, event, delivery, changes, actor)
    _insert_pending(changes)
    _write_timeline(changes, actor)
    delivery.processed_at = at
    delivery.process_due_at = None
    delivery.alert_count = len(batch.events)
    delivery.attempts += 1
    delivery.save(
        update_fields=["processed_at", "process_due_at", "alert_count", "attempts", "error"]
    )
    return len(batch.events)


@transaction.atomic
def note_failure(delivery_id: int, claim: datetime, error: str) -> None:
    """Count a failed processing attempt (after its transaction rolled back); after
    ``MAX_ATTEMPTS`` the delivery is given up on, with its error kept for the operator."""
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None or delivery.process_due_at != claim:
        return
    delivery.attempts += 1
    delivery.error = error[:2000]
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.process_due_at = None
        delivery.processed_at = now()
    delivery.save(update_fields=["attempts", "error", "process_due_at", "processed_at"])


def _event_of(alert: Alert) -> AlertEvent:
    return AlertEvent(
        fingerprint=alert.fingerprint,
        action=TRIGGER,
        labels=alert.labels,
        annotations=alert.annotations,
        summary=alert.summary,
        severity=alert.severity,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        links=alert.links,
        details=alert.details,
        group_key=alert.group_key,
    )


@transaction.atomic
def release_alert(alert: Alert) -> bool:
    """Look again at an alert held back by a silence or maintenance window whose time is up:
    if it still fires and nothing else holds it back, route it and open or join its incident.
    True when it joined an incident.

    Call while holding the lock on the alert's integration row (taken first, as a delivery
    does, so this and a delivery of the same alert take turns) and then the alert's
    suppression claim; the timer task does both.
    """
    integration = (
        Integration.objects.select_related("organization").filter(pk=alert.integration_id).first()
        if alert.integration_id is not None
        else None
    )
    if alert.status != AlertStatus.FIRING or alert.incident_id is not None or integration is None:
        alert.suppression_due_at = None
        alert.save(update_fields=["suppression_due_at"])
        return False
    changes = _Changes(at=now())
    route = _route(integration, alert.labels, changes)
    alert.routing_rule, alert.asset = route.rule, route.asset
    alert.updated_at = changes.at
    if _suppress(alert, route, changes):
        alert.save()
        return False
    actor = system_actor()
    group, opened = _open_group(integration, _event_of(alert), changes, actor, route)
    alert.group, alert.incident = group, group.ticket
    alert.save()
    if not opened:
        changes.new[group.pk].append(alert)
    _write_timeline(changes, actor)
    return True


@transaction.atomic
def expire_alert(alert: Alert) -> None:
    """Resolve an alert that was sent without endsAt and not sent again in time.

    Call while holding the alert's expiry claim (the timer task does).
    """
    if alert.status != AlertStatus.FIRING:
        alert.expires_due_at = None
        alert.save(update_fields=["expires_due_at"])
        return
    changes = _Changes(at=now())
    _resolve(alert, at=changes.at, ends_at=alert.ends_at, changes=changes)
    _write_timeline(changes, system_actor())
