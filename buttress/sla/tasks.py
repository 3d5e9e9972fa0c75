"""The scheduler's SLA work: clocks coming due (a warning or a breach) and warning actions."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db import transaction
from django.tasks import task

from buttress.desk.models import Ticket
from buttress.lib.timeutil import now
from buttress.scheduler.claims import held
from buttress.sla import actions, clocks, clockwork
from buttress.sla.models import Calendar, SlaAction, SlaClock

logger = logging.getLogger(__name__)


@task()
def fire_clocks(clock_ids: list[int], claim: str) -> int:
    """Fire what is due on the tickets of these clocks (one batch the scheduler claimed).

    Each ticket is its own transaction, locking the ticket before its clocks like every other
    writer of clocks; a ticket whose clocks no longer carry the claim (re-claimed, or already
    brought up to date by a change) is skipped, and one that fails keeps its claim and fires
    again when the lease runs out. Returns the number of tickets fired.
    """
    by_ticket: defaultdict[int, list[int]] = defaultdict(list)
    for pk, ticket_id in (
        SlaClock.objects.filter(pk__in=clock_ids).order_by().values_list("pk", "ticket_id")
    ):
        by_ticket[ticket_id].append(pk)
    fired = 0
    for ticket_id, pks in sorted(by_ticket.items()):
        try:
            with transaction.atomic():
                ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
                if ticket is None or not held(SlaClock, pks, "due_at", claim):
                    continue
                clocks.sync(ticket, at=now(), signal=clocks.Signal.TICK)
                fired += 1
        except Exception:
            # One broken ticket must not hold back the rest of the batch.
            logger.exception(
                "SLA clocks of ticket %s could not fire; retried after the lease", ticket_id
            )
    return fired


@task()
def run_actions(action_ids: list[int], claim: str) -> int:
    """Carry out fired warning steps, each once; answers how many were carried out."""
    done = 0
    for action_id in sorted(action_ids):
        try:
            with transaction.atomic():
                rows = held(SlaAction, [action_id], "due_at", claim)
                if not rows:
                    continue
                action = rows[0]
                action.outcome = actions.perform(action)[:500]
                action.done_at = now()
                action.due_at = None
                action.save(update_fields=["outcome", "done_at", "due_at"])
                done += 1
        except Exception:
            logger.exception("SLA action %s failed; retried after the lease", action_id)
    return done


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
    return clocks.resync(list(ticket_ids), before=(before, edited) if before is not None else None)
