"""Outgoing webhooks: endpoints (per organisation or provider-wide) and each delivery with
its retries and exponential back-off."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from buttress.accounts.models import User
from buttress.audit import services as audit
from buttress.lib.timeutil import now
from buttress.notify import crypto, listening, webhooks
from buttress.notify.models import (
    PENDING_STATUSES,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from buttress.tenancy.models import Organization

MAX_NAME = 120
MAX_URL = 2000
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=2)
LEASE = timedelta(minutes=2)
ENDPOINT_FIELDS = ("organization", "name", "url", "events", "is_active", "allow_private")

# The events a webhook may receive, as named in its payload's ``event`` and the
# ``Buttress-Event`` header.
EVENTS = {
    "ticket.created": "A ticket was opened",
    "ticket.assigned": "A ticket's assignee or team changed",
    "ticket.replied": "A public reply was added (by an agent or the customer)",
    "ticket.status_changed": "A ticket's status changed",
    "ticket.resolved": "A ticket was resolved",
    "ticket.reopened": "A ticket was reopened",
    "ticket.acknowledged": "Somebody acknowledged a ticket",
    "sla.warning": "An SLA warning step fired",
    "sla.breached": "An SLA target was breached",
}


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, ... at most two hours."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, MAX_RETRY)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _check(
    actor: User,
    *,
    organization: Organization | None,
    name: str,
    url: str,
    events: list[str],
    allow_private: bool,
) -> tuple[str, str]:
    if organization is None and not (actor.is_provider_staff and actor.role == "admin"):
        raise PermissionDenied("Only provider admins manage provider-wide webhooks.")
    if allow_private and not actor.is_provider_staff:
        raise ValidationError({"allow_private": "Only provider staff may allow private addresses."})
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationError({"name": f"Give a name of 1 to {MAX_NAME} characters."})
    url = url.strip()
    if len(url) > MAX_URL:
        raise ValidationError({"url": f"At most {MAX_URL} characters."})
    problem = webhooks.check_url(url, allow_private=allow_private)
    if problem is not None:
        raise ValidationError({"url": problem})
    if not events:
        raise ValidationError({"events": "Choose at least one event."})
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValidationError(
            {"events": f"Unknown event(s) {', '.join(unknown)}; one of {', '.join(EVENTS)}."}
        )
    return name, url


@transaction.atomic
def create_endpoint(
    organization: Organization | None,
    *,
    actor: User,
    name: str,
    url: str,
    events: list[str],
    allow_private: bool = False,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which is shown this once."""
    name, url = _check(
        actor,
        organization=organization,
        name=name,
        url=url,
        events=events,
        allow_private=allow_private,
    )
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        name=name,
        url=url,
        events=sorted(set(events)),
        secret_sealed=crypto.seal(secret),
        secret_prefix=secret[:12],
        allow_private=allow_private,
    )
    audit.record_create(endpoint, actor=actor, organization=organization, fields=ENDPOINT_FIELDS)
    listening.forget()
    return endpoint, secret


@transaction.atomic
def update_endpoint(endpoint: WebhookEndpoint, *, actor: User, **changes: Any) -> WebhookEndpoint:
    before = audit.snapshot(endpoint, ENDPOINT_FIELDS)
    values = {
        "name": changes.get("name", endpoint.name),
        "url": changes.get("url", endpoint.url),
        "events": changes.get("events", endpoint.events),
        "allow_private": changes.get("allow_private", endpoint.allow_private),
    }
    name, url = _check(actor, organization=endpoint.organization, **values)
    endpoint.name, endpoint.url = name, url
    endpoint.events = sorted(set(values["events"]))
    endpoint.allow_private = values["allow_private"]
    if "is_active" in changes:
        endpoint.is_active = bool(changes["is_active"])
    endpoint.updated_at = now()
    endpoint.save()
    audit.record_update(
        endpoint,
        actor=actor,
        organization=endpoint.organization,
        before=before,
        fields=ENDPOINT_FIELDS,
    )
    listening.forget()
    return endpoint


@transaction.atomic
def rotate_secret(endpoint: WebhookEndpoint, *, actor: User) -> str:
    secret = new_secret()
    endpoint.secret_sealed = crypto.seal(secret)
    endpoint.secret_prefix = secret[:12]
    endpoint.updated_at = now()
    endpoint.save(update_fields=["secret_sealed", "secret_prefix", "updated_at"])
    audit.record(
        endpoint,
        actor=actor,
        action="security",
        organization=endpoint.organization,
        note="signing secret rotated",
    )
    return secret


@transaction.atomic
def delete_endpoint(endpoint: WebhookEndpoint, *, actor: User) -> None:
    audit.record_delete(
        endpoint,
        actor=actor,
        organization=endpoint.organization,
        fields=ENDPOINT_FIELDS,
        object_id=endpoint.pk,
    )
    endpoint.delete()
    listening.forget()


@transaction.atomic
def redeliver(delivery: WebhookDelivery, *, actor: User) -> WebhookDelivery:
    """Send a finished delivery again (a fresh series of attempts)."""
    if delivery.status in PENDING_STATUSES:
        raise ValidationError("This delivery is still being attempted.")
    delivery.status = DeliveryStatus.QUEUED
    delivery.attempts = 0
    delivery.send_due_at = now()
    delivery.save(update_fields=["status", "attempts", "send_due_at"])
    return delivery


def _finish(row: WebhookDelivery, outcome: webhooks.Outcome | None, error: str) -> None:
    at = now()
    row.attempts += 1
    if outcome is not None:
        row.response_status = outcome.status
        row.response_excerpt = outcome.excerpt
    if outcome is not None and outcome.ok:
        row.status = DeliveryStatus.SENT
        row.sent_at = at
        row.send_due_at = None
        row.last_error = ""
    elif row.attempts >= MAX_ATTEMPTS or outcome is None:
        row.status = DeliveryStatus.FAILED
        row.send_due_at = None
        row.last_error = error[:2000]
    else:
        row.status = DeliveryStatus.RETRYING
        row.send_due_at = at + backoff(row.attempts)
        row.last_error = error[:2000]
    row.save()


# The POST; a test may replace it.
poster: Callable[..., webhooks.Outcome] = webhooks.post


def attempt(pk: int, claim: str) -> bool | None:
    """One attempt of delivery ``pk`` under ``claim``: None when the claim is stale, else
    whether the endpoint answered 2xx. The POST runs outside any transaction."""
    expected = datetime.fromisoformat(claim)
    with transaction.atomic():
        row = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .filter(pk=pk)
            .first()
        )
        if row is None or row.send_due_at != expected:
            return None
        if row.status not in PENDING_STATUSES or not row.endpoint.is_active:
            if row.status in PENDING_STATUSES:
                row.status = DeliveryStatus.CANCELLED
                row.last_error = "the endpoint is disabled"
            row.send_due_at = None
            row.save(update_fields=["status", "last_error", "send_due_at"])
            return None
        endpoint = row.endpoint
        try:
            secret = crypto.unseal(endpoint.secret_sealed)
        except crypto.Unreadable as exc:
            _finish(row, None, str(exc))
            return False
        url, allow_private, payload, event = (
            endpoint.url,
            endpoint.allow_private,
            row.payload,
            row.event,
        )
    outcome = poster(
        url, payload, secret=secret, event=event, delivery_id=pk, allow_private=allow_private
    )
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.send_due_at != expected:
            return outcome.ok
        _finish(row, outcome, outcome.error)
    return outcome.ok
