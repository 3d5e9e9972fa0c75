"""From the ticket timeline to notifications and webhook deliveries.

Each recorded event the desk hands over (see :mod:`buttress.notify.events`) is matched
against the subscriptions of people and teams and against the webhooks of its organisation
and the provider-wide ones. Running twice over an event sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from buttress.accounts.models import User
from buttress.desk import access as desk_access
from buttress.desk.models import EventKind, Status, Ticket, TicketEvent
from buttress.lib.timeutil import now
from buttress.notify.models import (
    DeskEvent,
    Notification,
    Scope,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from buttress.notify.services import hooks
from buttress.notify.services.sending import enqueue, notify_user
from buttress.notify.tasks import deliver_webhook

# The timeline kinds that can notify anybody.
WATCHED_KINDS = frozenset(
    {
        EventKind.CREATED,
        EventKind.ASSIGNED,
        EventKind.REPLIED,
        EventKind.STATUS_CHANGED,
        EventKind.REOPENED,
        EventKind.SLA_WARNING,
        EventKind.SLA_BREACHED,
        EventKind.ACKNOWLEDGED,
    }
)


def desk_event(event: TicketEvent) -> str | None:
    """The subscription event a timeline entry counts as, if any."""
    kind = event.kind
    if kind == EventKind.REPLIED:
        return DeskEvent.CUSTOMER_REPLIED if event.detail.get("by") == "customer" else None
    if kind == EventKind.STATUS_CHANGED:
        return DeskEvent.RESOLVED if event.detail.get("to") == Status.RESOLVED else None
    found: dict[str, str] = {
        EventKind.CREATED: DeskEvent.NEW_TICKET,
        EventKind.ASSIGNED: DeskEvent.ASSIGNED,
        EventKind.REOPENED: DeskEvent.REOPENED,
        EventKind.SLA_WARNING: DeskEvent.SLA_WARNING,
        EventKind.SLA_BREACHED: DeskEvent.SLA_BREACHED,
        EventKind.ACKNOWLEDGED: DeskEvent.ACKNOWLEDGED,
    }
    return found.get(kind)


def webhook_events(event: TicketEvent) -> list[str]:
    """The webhook event names a timeline entry produces."""
    kind = event.kind
    if kind == EventKind.REPLIED:
        return [] if event.is_internal else ["ticket.replied"]
    if kind == EventKind.STATUS_CHANGED:
        names = ["ticket.status_changed"]
        if event.detail.get("to") == Status.RESOLVED:
            names.append("ticket.resolved")
        return names
    names_by_kind: dict[str, str] = {
        EventKind.CREATED: "ticket.created",
        EventKind.ASSIGNED: "ticket.assigned",
        EventKind.REOPENED: "ticket.reopened",
        EventKind.ACKNOWLEDGED: "ticket.acknowledged",
        EventKind.SLA_WARNING: "sla.warning",
        EventKind.SLA_BREACHED: "sla.breached",
    }
    name = names_by_kind.get(kind)
    return [name] if name else []


def _team_ids(user: User) -> set[int]:
    return set(user.teams.values_list("pk", flat=True))


def _relevant(subscription: Subscription, user: User, ticket: Ticket, event: TicketEvent) -> bool:
    if subscription.event == DeskEvent.ASSIGNED:
        field, after = event.detail.get("field"), event.detail.get("after")
        if field == "assignee":
            return bool(after == user.pk)
        return field == "team" and after in _team_ids(user)
    if subscription.scope == Scope.ALL:
        return True
    return ticket.assignee_id == user.pk or (
        ticket.team_id is not None and ticket.team_id in _team_ids(user)
    )


def recipients(event: TicketEvent, ticket: Ticket) -> list[User]:
    """Who hears of ``event``: followers of its kind for whom it concerns their tickets (or
    any ticket, with scope ``all``), who may see the ticket (and, for internal entries, are
    staff), except whoever caused it."""
    kind = desk_event(event)
    if kind is None:
        return []
    found: dict[int, User] = {}
    for subscription in Subscription.objects.filter(event=kind).select_related("user", "team"):
        if subscription.user is not None:
            if _relevant(subscription, subscription.user, ticket, event):
                found.setdefault(subscription.user.pk, subscription.user)
            continue
        team = subscription.team
        assert team is not None
        if kind == DeskEvent.ASSIGNED:
            concerns = event.detail.get("field") == "team" and event.detail.get("after") == team.pk
        else:
            concerns = ticket.team_id == team.pk
        if concerns:
            for member in team.members.all():
                found.setdefault(member.pk, member)
    people = []
    for user in found.values():
        if not user.is_active or user.pk == event.actor_id:
            continue
        if event.is_internal and not user.is_provider_staff:
            continue
        if not desk_access.tickets_for(user).filter(pk=ticket.pk).exists():
            continue
        people.append(user)
    return people


def _ticket_url(ticket: Ticket, user: User) -> str:
    name = "desk:detail" if user.is_provider_staff else "portal:detail"
    return settings.BASE_URL + reverse(name, kwargs={"pk": ticket.pk})


def _describe(event: TicketEvent, ticket: Ticket) -> tuple[str, str]:
    kind = desk_event(event)
    label = DeskEvent(kind).label if kind else event.get_kind_display()
    if kind == DeskEvent.ASSIGNED:
        label = "Assigned"
    lines = [f"{ticket.reference} {ticket.subject}", ""]
    detail = event.detail
    if event.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED):
        lines.append(f"{label}: the {str(detail.get('clock', '')).replace('_', ' ')} target.")
    elif event.kind == EventKind.REPLIED:
        lines.append("The customer replied.")
    elif event.kind == EventKind.ACKNOWLEDGED:
        who = event.actor.display_name if event.actor is not None else "Somebody"
        lines.append(f"{who} acknowledged it.")
    else:
        lines.append(f"{label}.")
    lines.append(f"Priority: {ticket.priority}   Status: {ticket.get_status_display()}")
    return f"[{ticket.reference}] {label}: {ticket.subject}", "\n".join(lines)


def payload(
    event: TicketEvent, ticket: Ticket, name: str, endpoint: WebhookEndpoint
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event": name,
        "occurred_at": event.at.isoformat(),
        "organization": {"id": ticket.organization_id, "slug": ticket.organization.slug},
        "ticket": {
            "id": ticket.pk,
            "reference": ticket.reference,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "type": ticket.type,
            "assignee": ticket.assignee_id,
            "team": ticket.team_id,
            "url": settings.BASE_URL + reverse("portal:detail", kwargs={"pk": ticket.pk}),
        },
    }
    # A customer's endpoint gets what its portal shows; internal detail only provider-wide.
    if endpoint.organization_id is None or not event.is_internal:
        data["detail"] = event.detail
    return data


def _webhooks(event: TicketEvent, ticket: Ticket) -> int:
    names = webhook_events(event)
    if not names:
        return 0
    endpoints = WebhookEndpoint.objects.filter(is_active=True).filter(
        Q(organization_id=ticket.organization_id) | Q(organization__isnull=True)
    )
    made = 0
    for endpoint in endpoints:
        for name in names:
            if name not in endpoint.events:
                continue
            if WebhookDelivery.objects.filter(
                endpoint=endpoint, ticket_event=event, event=name
            ).exists():
                continue
            at = now()
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint,
                organization_id=ticket.organization_id,
                ticket_event=event,
                event=name,
                payload=payload(event, ticket, name, endpoint),
                created_at=at,
                send_due_at=at + hooks.LEASE,
            )
            assert delivery.send_due_at is not None
            enqueue(deliver_webhook, delivery.pk, delivery.send_due_at)
            made += 1
    return made


def fan_out(event_ids: Iterable[int]) -> int:
    """Notify the followers of each event and queue its webhooks; returns how many
    notifications and deliveries were made."""
    made = 0
    events = TicketEvent.objects.filter(pk__in=list(event_ids)).select_related(
        "ticket__organization", "ticket__assignee", "ticket__team", "actor"
    )
    for event in events:
        with transaction.atomic():
            ticket = event.ticket
            subject, body = _describe(event, ticket)
            for user in recipients(event, ticket):
                if Notification.objects.filter(ticket_event=event, user=user).exists():
                    continue
                sent = notify_user(
                    user,
                    subject=subject,
                    body=f"{body}\n\n{_ticket_url(ticket, user)}",
                    ticket=ticket,
                    urgent=ticket.priority == "P1",
                    event=desk_event(event) or "",
                    ticket_event=event,
                )
                made += len(sent)
            made += _webhooks(event, ticket)
    return made
