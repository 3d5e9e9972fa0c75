"""What a monitor's status change does beyond the monitor: the one incident path for checked
monitors (the runner) and heartbeats (pings and the lateness timer).

A monitor going down raises an alert of the organisation's built-in monitoring source
(:mod:`buttress.alerts.services.sources`): routing rules, silences, maintenance windows on
the monitor or its asset, grouping, and the escalation policy apply as to any alert, and the
incident ticket it opens says which monitor is down, with source ``monitoring`` and the
monitor's asset. A :class:`MonitorIncident` row links the monitor to each incident it is in.
Going up resolves the alert with a note on the incident, which resolves once none of its
alerts fire (unless the organisation's monitoring settings, or ``MONITORING_RESOLVE_INCIDENTS``
for organisations without a choice, keep it open). Flapping adds a note to the
open incident; unreachable monitors raise nothing.

Callers hold the monitor's row lock and have already recorded the status; everything here
runs in their transaction, once per status change (not per result), so a runner's batches
of results never wait on it.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from buttress.accounts.models import Role, User
from buttress.alerts.models import Alert
from buttress.alerts.services import sources
from buttress.alerts.services.incidents import IncidentSpec
from buttress.desk import services as desk
from buttress.desk.models import DONE_STATUSES, Source
from buttress.maintenance.services import window_for_monitor
from buttress.monitoring.models import (
    Monitor,
    MonitorIncident,
    MonitoringSettings,
    MonitorStatus,
)

SYSTEM_ACTOR_LABEL = "monitoring"
DOWNISH = {MonitorStatus.DOWN, MonitorStatus.UNREACHABLE}


def resolve_choice(organization_id: int) -> bool | None:
    """The organisation's own choice (its monitoring settings; None: the installation's
    default)."""
    return (
        MonitoringSettings.objects.filter(organization_id=organization_id)
        .values_list("resolve_incidents", flat=True)
        .first()
    )


def resolves_with(chosen: bool | None) -> bool:
    """Whether a recovery resolves its incident under an organisation's choice ``chosen``
    (None: the installation's default)."""
    if chosen is None:
        return bool(getattr(settings, "MONITORING_RESOLVE_INCIDENTS", True))
    return chosen


def resolves_incidents(organization_id: int) -> bool:
    """Whether a recovery of the organisation's monitors resolves their incidents."""
    return resolves_with(resolve_choice(organization_id))


def system_actor() -> User:
    """The author of what monitoring writes: an unsaved staff user, so the desk accepts its
    internal notes while the timeline names no person and the audit log shows ``monitoring``."""
    return User(email=SYSTEM_ACTOR_LABEL, full_name="Monitoring", role=Role.ADMIN)


def fingerprint(monitor_id: int) -> str:
    return f"monitor-{monitor_id}"


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


def _source_alert(monitor: Monitor, *, at: datetime, message: str) -> sources.SourceAlert:
    lines = [
        f"Monitor {monitor.name} ({monitor.get_kind_display()}) is down since "
        f"{at:%Y-%m-%d %H:%M:%S} UTC.",
        f"Last result: {message or '-'}",
    ]
    if monitor.is_heartbeat:
        lines.append("The job reported a failure or did not report in time.")
    else:
        lines.append(f"Down after {monitor.down_after} consecutive failed checks.")
    labels = {
        "alertname": "MonitorDown",
        "monitor": monitor.name,
        "monitor_id": str(monitor.pk),
        "kind": monitor.kind,
    }
    if monitor.asset is not None:
        labels["asset"] = monitor.asset.name
    return sources.SourceAlert(
        fingerprint=fingerprint(monitor.pk),
        labels=labels,
        summary=f"Monitor {monitor.name} is down",
        severity="",
        group_key=f"monitor:{monitor.pk}",
        spec=IncidentSpec(
            subject=f"Monitor {monitor.name} is down",
            description="\n".join(lines),
            source=Source.MONITORING,
            tags=["monitoring", monitor.kind],
            asset=monitor.asset,
        ),
        details={"monitor": monitor.pk, "message": message[:300]},
        window=window_for_monitor(monitor.pk, at),
    )


def _open_link(monitor: Monitor) -> MonitorIncident | None:
    for link in monitor.incidents.select_related("ticket").order_by("-opened_at", "-pk")[:5]:
        ticket = link.ticket
        if ticket.status not in DONE_STATUSES and ticket.merged_into_id is None:
            return link
    return None


def _linked(monitor: Monitor, fired: sources.Fired, *, at: datetime, message: str) -> None:
    """Keep the monitor's link to the incident its alert is in, and say so on the timeline
    when the monitor joins an incident that was already open (down again, or grouped)."""
    ticket = fired.incident
    if ticket is None:
        return
    link = monitor.incidents.filter(ticket=ticket).order_by("-opened_at", "-pk").first()
    if link is None:
        MonitorIncident.objects.create(
            organization_id=monitor.organization_id, monitor=monitor, ticket=ticket, opened_at=at
        )
    elif link.recovered_at is not None:
        link.recovered_at = None
        link.save(update_fields=["recovered_at"])
    if fired.joined and not fired.opened:
        body = f"{monitor.name} is down again at {at:%Y-%m-%d %H:%M:%S} UTC: {message}"
        if link is None:
            body = f"{monitor.name} is down too at {at:%Y-%m-%d %H:%M:%S} UTC: {message}"
        desk.add_reply(ticket, actor=system_actor(), body=body, internal=True, at=at)


def went_down(monitor: Monitor, *, at: datetime, message: str) -> bool:
    """Raise (or repeat) the monitor's alert; True when it is in an incident, False while a
    silence or maintenance window holds it back (the source's timer looks again when that
    ends; a runner also tries again with the next failed result)."""
    fired = sources.fire_source_alert(
        monitor.organization, _source_alert(monitor, at=at, message=message), at=at
    )
    _linked(monitor, fired, at=at, message=message)
    return fired.incident is not None


def came_up(monitor: Monitor, *, at: datetime) -> None:
    body = f"{monitor.name} is up again at {at:%Y-%m-%d %H:%M:%S} UTC."
    ticket = sources.resolve_source_alert(
        monitor.organization,
        fingerprint(monitor.pk),
        at=at,
        note=body,
        resolve_incident=resolves_incidents(monitor.organization_id),
    )
    if ticket is None:
        return
    MonitorIncident.objects.filter(monitor=monitor, ticket=ticket, recovered_at=None).update(
        recovered_at=at
    )


def status_changed(
    monitor: Monitor,
    *,
    previous: str,
    at: datetime,
    message: str,
    reason: str,
    status: str | None = None,
) -> bool:
    """Act on the monitor's new status, ``status`` or else ``monitor.status`` (already
    recorded; ``previous`` is the status before). For a monitor that is down, True when its
    alert is in an incident."""
    status = monitor.status if status is None else status
    if status == MonitorStatus.DOWN:
        return went_down(monitor, at=at, message=message)
    if previous == status:
        return True
    if status == MonitorStatus.UP:
        came_up(monitor, at=at)
    elif status == MonitorStatus.FLAPPING:
        link = _open_link(monitor)
        if link is not None:
            body = f"{monitor.name} is flapping: {reason}."
            desk.add_reply(link.ticket, actor=system_actor(), body=body, internal=True, at=at)
    return True


def release(alert: Alert) -> bool:
    """The silence or window holding back a monitor's alert has ended: if the monitor is
    still down (and not paused), its alert joins an incident now. Call while holding the
    alert's suppression claim; True when it joined one."""
    monitor_id = alert.details.get("monitor") if isinstance(alert.details, dict) else None
    monitor = (
        Monitor.objects.select_related("organization", "asset").filter(pk=monitor_id).first()
        if isinstance(monitor_id, int)
        else None
    )
    if monitor is None or monitor.is_paused or monitor.status != MonitorStatus.DOWN:
        alert.suppression_due_at = None
        alert.save(update_fields=["suppression_due_at"])
        return False
    at = alert.suppressed_until or alert.updated_at
    message = str(alert.details.get("message", ""))
    fired = sources.release_source_alert(
        alert, _source_alert(monitor, at=max(at, alert.updated_at), message=message)
    )
    _linked(monitor, fired, at=fired.alert.updated_at, message=message)
    return fired.incident is not None
