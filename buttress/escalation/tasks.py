"""Background work: running escalation steps (their pages go out through notify)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.tasks import task

from buttress.escalation import services
from buttress.escalation.models import Escalation
from buttress.lib.timeutil import now
from buttress.scheduler.claims import URGENT_PRIORITY, at_priority, enqueue_with_claim, holding


def lease() -> timedelta:
    """How long a claimed step may take before another worker runs it instead.

    Short, because a page held by a crashed worker is a page late by this much."""
    return timedelta(seconds=float(getattr(settings, "ESCALATION_LEASE_SECONDS", 30)))


# Queued at the urgent priority (enqueue_advance and the timer), ahead of any backlog, like
# the notifications its steps send.
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


def enqueue_advance(escalation: Escalation) -> None:
    token = _claim_now(escalation)
    enqueue_with_claim(at_priority(advance_escalation, URGENT_PRIORITY), escalation.pk, token)
