"""Background work: running escalation steps and handing their pages to the mail server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.tasks import task
from django.urls import reverse
from django_tasks_db.backend import DatabaseBackend

from buttress.escalation import services
from buttress.escalation.models import Escalation, Page
from buttress.lib.timeutil import now
from buttress.scheduler.claims import held, holding

logger = logging.getLogger(__name__)


def lease() -> timedelta:
    """How long a claimed step may take before another worker runs it instead.

    Short, because a page held by a crashed worker is a page late by this much."""
    return timedelta(seconds=float(getattr(settings, "ESCALATION_LEASE_SECONDS", 30)))


@task()
def advance_escalation(escalation_id: int, claim: str) -> bool:
    """True when this run advanced the escalation; False for a stale or duplicate run."""
    with holding(Escalation, escalation_id, "due_at", claim) as escalation:
        if escalation is None:
            return False
        services.advance(escalation)
        return True


def _claim_now(escalation: Escalation) -> str:
    """Take the due escalation for a task of our own right away (the scheduler would find it
    on its next tick otherwise); the lease covers the task being lost."""
    claim = now() + lease()
    Escalation.objects.filter(pk=escalation.pk).update(due_at=claim)
    escalation.due_at = claim
    return claim.isoformat()


def _send_after_commit(call: Callable[[], object]) -> None:
    if isinstance(advance_escalation.get_backend(), DatabaseBackend):
        call()
    else:
        transaction.on_commit(call, robust=True)


def enqueue_advance(escalation: Escalation) -> None:
    token = _claim_now(escalation)
    _send_after_commit(partial(advance_escalation.enqueue, escalation.pk, token))


# --- delivering pages ------------------------------------------------------------------------


def page_message(page: Page) -> EmailMessage:
    ticket = page.escalation.ticket
    link = settings.BASE_URL + reverse("desk:detail", kwargs={"pk": ticket.pk})
    body = "\n".join(
        [
            f"You are paged for {ticket.reference}: {ticket.subject}",
            f"Organisation: {ticket.organization.name}",
            f"Priority: {ticket.priority}",
            f"Escalation policy: {page.escalation.policy.name}, step {page.position + 1}",
            "",
            f"Acknowledge or resolve it here: {link}",
        ]
    )
    return EmailMessage(
        subject=f"[{ticket.reference}] Paging: {ticket.subject}",
        body=body,
        to=[page.user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )


@task()
def deliver_pages(page_ids: list[int], claim: str) -> int:
    """Mail each claimed page; a failure is retried later, the others are not held back."""
    sent = 0
    with transaction.atomic():
        pages = held(Page, page_ids, "deliver_due_at", claim)
        for page in Page.objects.filter(pk__in=[p.pk for p in pages]).select_related(
            "user", "escalation__policy", "escalation__ticket__organization"
        ):
            at = now()
            page.attempts += 1
            try:
                page_message(page).send()
            except Exception as exc:  # any transport failure is retried
                logger.warning("page %s not delivered: %r", page.pk, exc)
                page.last_error = repr(exc)[:500]
                retry = services.RETRY_DELAYS
                page.deliver_due_at = (
                    at + retry[page.attempts - 1] if page.attempts <= len(retry) else None
                )
            else:
                page.delivered_at = at
                page.deliver_due_at = None
                page.last_error = ""
                sent += 1
            page.save(update_fields=["attempts", "last_error", "deliver_due_at", "delivered_at"])
    return sent


def enqueue_delivery(escalation: Escalation) -> None:
    """Hand the escalation's new pages to a delivery task now rather than at the next tick."""
    claim = now() + timedelta(minutes=2)
    pending = Page.objects.filter(
        escalation=escalation, delivered_at__isnull=True, deliver_due_at__lte=now()
    )
    ids = list(pending.values_list("pk", flat=True))
    if not ids:
        return
    Page.objects.filter(pk__in=ids).update(deliver_due_at=claim)
    _send_after_commit(partial(deliver_pages.enqueue, ids, claim.isoformat()))
