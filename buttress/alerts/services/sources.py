"""Built-in alert sources: buttress's own monitoring raises alerts the way a webhook does.

Each organisation has one integration of kind ``monitoring``, made when it is first needed.
A source alert goes through what a delivered alert goes through: deduplication by fingerprint
(one firing alert per monitor), the integration's routing rules (which may set the asset,
priority, grouping and escalation policy), silences, maintenance windows, grouping into one
incident, and resolution of the incident once all its alerts have resolved. Only the words
differ: the source writes the incident's subject, description and timeline notes itself
(:class:`IncidentSpec`), since it knows what it watches.

A source alert held back by a silence or a maintenance window is looked at again by the
source's own timer (the source must write its incident again, see ``release_source_alert``),
not by ``alerts.suppression``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from buttress.alerts.formats import TRIGGER, AlertEvent
from buttress.alerts.models import (
    Alert,
    AlertStatus,
    Integration,
    IntegrationKind,
)
from buttress.alerts.services.incidents import (
    IncidentSpec,
    _Changes,
    _open_group,
    _resolve,
    _route,
    _suppress,
    _write_timeline,
    system_actor,
)
from buttress.alerts.services.integrations import _new_key
from buttress.desk.models import Ticket
from buttress.lib.timeutil import now
from buttress.maintenance.models import MaintenanceWindow
from buttress.tenancy.models import Organization

MONITORING_NAME = "Monitoring"


@dataclass(frozen=True)
class SourceAlert:
    """One alert a built-in source raises.

    ``group_key`` names its own incident (a monitor's, say) for as long as that is open,
    unless a routing rule groups by labels; ``window`` is a maintenance window the source
    found on what it watches, with the end of its current occurrence.
    """

    fingerprint: str
    labels: dict[str, str]
    summary: str
    severity: str
    group_key: str
    spec: IncidentSpec
    details: dict[str, Any]
    window: tuple[MaintenanceWindow, datetime] | None = None


@dataclass(frozen=True)
class Fired:
    alert: Alert
    # The incident it is in (None: held back by a silence or maintenance window, or the
    # integration is disabled); ``opened`` when this call opened it, ``joined`` when the alert
    # entered it now (new, or released from a silence).
    incident: Ticket | None
    opened: bool
    joined: bool


def monitoring_integration(organization: Organization) -> Integration:
    """The organisation's built-in monitoring integration, made on first use. Its key is
    never shown, and its kind receives no webhooks."""
    found = Integration.objects.filter(
        organization=organization, kind=IntegrationKind.MONITORING
    ).first()
    if found is not None:
        return found
    prefix, key = _new_key()
    at = now()
    try:
        with transaction.atomic():
            return Integration.objects.create(
                organization=organization,
                kind=IntegrationKind.MONITORING,
                name=MONITORING_NAME,
                key_prefix=prefix,
                key_digest=Integration.hash_key(key + secrets.token_hex(8)),
                group_by=["monitor"],
                rate_limit_per_minute=0,
                created_at=at,
                updated_at=at,
            )
    except IntegrityError:
        # Another runner or worker made it first.
        return Integration.objects.get(organization=organization, kind=IntegrationKind.MONITORING)


def _locked(organization: Organization) -> Integration:
    """The integration, locked the way a delivery locks its own, so a source's alerts are
    applied one at a time per organisation (two runners cannot open two incidents for one
    group)."""
    integration = monitoring_integration(organization)
    return (
        # Only the integration's row: the policy is an outer join, which cannot be locked.
        Integration.objects.select_for_update(no_key=True, of=("self",))
        .select_related("organization", "escalation_policy")
        .get(pk=integration.pk)
    )


def _event(source: SourceAlert, at: datetime) -> AlertEvent:
    return AlertEvent(
        fingerprint=source.fingerprint,
        action=TRIGGER,
        labels=source.labels,
        annotations={},
        summary=source.summary,
        severity=source.severity,
        starts_at=at,
        ends_at=None,
        links={},
        details=source.details,
        group_key=source.group_key,
    )


def _join(
    integration: Integration,
    alert: Alert,
    source: SourceAlert,
    changes: _Changes,
) -> tuple[bool, bool]:
    """Route the (firing, not yet joined) alert and open or join its incident unless held
    back; (joined, opened)."""
    route = _route(integration, alert.labels, changes)
    alert.routing_rule = route.rule
    alert.asset = route.asset or source.spec.asset
    if _suppress(alert, route, changes, window=source.window):
        return False, False
    alert.silence = alert.maintenance_window = None
    alert.suppressed_until = alert.suppression_due_at = None
    group, opened = _open_group(
        integration, _event(source, changes.at), changes, system_actor(), route, spec=source.spec
    )
    alert.group, alert.incident = group, group.ticket
    return True, opened


@transaction.atomic
def fire_source_alert(organization: Organization, source: SourceAlert, *, at: datetime) -> Fired:
    """Raise (or repeat) a source alert at ``at``.

    A repeat of a firing alert only counts, unless the alert is still held back: then it is
    looked at again now (the window may have ended). Nothing is written to the incident's
    timeline here; the source writes its own note (:func:`note_source_incident`).
    """
    integration = _locked(organization)
    changes = _Changes(at=at)
    active = Alert.objects.filter(
        organization=organization,
        integration=integration,
        fingerprint=source.fingerprint,
        status=AlertStatus.FIRING,
    ).first()
    if active is not None:
        active.times_seen += 1
        active.summary = source.summary[:1024]
        active.updated_at = now()
        joined = opened = False
        if active.incident_id is None and integration.is_enabled:
            joined, opened = _join(integration, active, source, changes)
        active.save()
        return Fired(active, active.incident, opened, joined)
    alert = Alert(
        organization=organization,
        integration=integration,
        fingerprint=source.fingerprint,
        status=AlertStatus.FIRING,
        labels=source.labels,
        summary=source.summary[:1024],
        severity=source.severity,
        starts_at=at,
        details=source.details,
        group_key=source.group_key,
        created_at=at,
        updated_at=at,
    )
    joined = opened = False
    if integration.is_enabled:
        joined, opened = _join(integration, alert, source, changes)
    alert.save()
    return Fired(alert, alert.incident, opened, joined)


@transaction.atomic
def release_source_alert(alert: Alert, source: SourceAlert) -> Fired:
    """The silence or window holding back a source alert is over: join its incident now if
    nothing else holds it back. Call while holding the alert's suppression claim (after the
    integration's lock, as a delivery takes them)."""
    integration = (
        Integration.objects.select_related("organization", "escalation_policy")
        .filter(pk=alert.integration_id)
        .first()
        if alert.integration_id is not None
        else None
    )
    if alert.status != AlertStatus.FIRING or alert.incident_id is not None or integration is None:
        alert.suppression_due_at = None
        alert.save(update_fields=["suppression_due_at"])
        return Fired(alert, alert.incident, opened=False, joined=False)
    changes = _Changes(at=now())
    joined, opened = _join(integration, alert, source, changes)
    alert.updated_at = changes.at
    alert.save()
    return Fired(alert, alert.incident, opened, joined)


@transaction.atomic
def resolve_source_alert(
    organization: Organization,
    fingerprint: str,
    *,
    at: datetime,
    note: str,
    resolve_incident: bool = True,
) -> Ticket | None:
    """Resolve the firing alert ``fingerprint`` of the organisation's monitoring integration:
    ``note`` goes to its incident's timeline, and the incident resolves once none of its
    alerts fire (unless ``resolve_incident`` is False). Returns the incident, if any."""
    firing = Alert.objects.filter(
        organization=organization,
        integration__kind=IntegrationKind.MONITORING,
        fingerprint=fingerprint,
        status=AlertStatus.FIRING,
    )
    if not firing.exists():
        return None  # the usual case of a monitor coming up: no alert, no lock taken
    _locked(organization)
    alert = firing.first()
    if alert is None:
        return None
    changes = _Changes(at=at)
    _resolve(alert, at=at, ends_at=at, changes=changes)
    if alert.group_id is not None:
        changes.custom[alert.group_id] = note
    _write_timeline(changes, system_actor(), resolve=resolve_incident)
    if alert.incident_id is None:
        return None
    return Ticket.objects.filter(pk=alert.incident_id).first()
