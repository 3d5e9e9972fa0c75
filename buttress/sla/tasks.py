"""The scheduler's SLA work: clocks coming due (a warning or a breach) and warning actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.tasks import task

from buttress.desk.models import Ticket
from buttress.lib.timeutil import now
from buttress.scheduler.claims import holding
from buttress.sla import actions, clocks, clockwork
from buttress.sla.models import Calendar, SlaAction, SlaClock


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


@task()
def apply_configuration(
    policy_ids: list[int], edited_at: str, old_calendar: dict[str, Any] | None = None
) -> int:
    """Apply edited policies (or their calendar) to the open clocks they run, from the edit
    on: time up to ``edited_at`` is banked on the calendar as it was (``old_calendar``, a
    snapshot, when the hours changed), then the new targets, ladders and hours apply.
    Returns how many tickets were brought up to date."""
    edited = datetime.fromisoformat(edited_at)
    before = None
    if old_calendar is not None:
        before = Calendar(**old_calendar).engine(range(clocks.FIRST_HOLIDAY_YEAR, edited.year + 2))
    ticket_ids = (
        SlaClock.objects.filter(policy_id__in=policy_ids, is_current=True)
        .exclude(state=clockwork.MET)
        .values_list("ticket_id", flat=True)
        .distinct()
    )
    done = 0
    for ticket_id in list(ticket_ids):
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
            if ticket is None:
                continue
            if before is not None:
                clocks.bank_until(ticket, calendar=before, at=edited)
            clocks.sync(ticket, signal=clocks.Signal.CHANGED)
            done += 1
    return done
