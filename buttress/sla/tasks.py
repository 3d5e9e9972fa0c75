"""The scheduler's SLA work: clocks coming due (a warning or a breach) and warning actions."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.tasks import task

from buttress.desk.models import Ticket
from buttress.lib.timeutil import now
from buttress.scheduler.claims import holding
from buttress.sla import actions, clocks
from buttress.sla.models import SlaAction, SlaClock


@task()
def fire_clock(clock_id: int, claim: str) -> bool:
    """Fire what is due on the clock's ticket; False for a stale or duplicate delivery.

    Locks the ticket before its clocks, like every other writer of clocks.
    """
    ticket_id = SlaClock.objects.filter(pk=clock_id).values_list("ticket_id", flat=True).first()
    if ticket_id is None:
        return False
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        held = (
            SlaClock.objects.select_for_update()
            .filter(pk=clock_id, due_at=datetime.fromisoformat(claim))
            .exists()
        )
        if ticket is None or not held:
            return False
        clocks.sync(ticket, at=now(), signal=clocks.Signal.TICK)
        return True


@task()
def run_action(action_id: int, claim: str) -> bool:
    """Carry out one fired warning step, once; False for a stale or duplicate delivery."""
    with holding(SlaAction, action_id, "due_at", claim) as action:
        if action is None:
            return False
        action.outcome = actions.perform(action)[:500]
        action.done_at = now()
        action.due_at = None
        action.save(update_fields=["outcome", "done_at", "due_at"])
        return True
