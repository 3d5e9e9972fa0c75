"""The services that keep tickets' SLA clocks: the only code that writes :class:`SlaClock` rows.

The desk's services call :func:`sync` after every change that matters to a clock (a ticket
opened, its status, priority, type or category changed, a public reply); the scheduler calls
it when a clock's ``due_at`` comes (a warning or a breach). Each call loads the ticket's
current clocks into a :class:`buttress.sla.clockwork.Machine`, applies the policy that now
applies to the ticket, feeds it the one thing that happened, and writes back the clocks,
the transitions as events on the ticket's timeline, the warning actions to carry out, and the
ticket's SLA summary (``sla_state`` and ``sla_due_at``, which queues filter and sort by).

Lock order, the same everywhere: the ticket row, then its clock rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import transaction

from buttress.desk.models import DONE_STATUSES, EventKind, Ticket, TicketEvent
from buttress.lib.timeutil import now
from buttress.maintenance import services as maintenance
from buttress.notify import events as notify_events
from buttress.sla import clockwork
from buttress.sla.calendar import BusinessCalendar
from buttress.sla.models import (
    Calendar,
    ClockKind,
    SlaAction,
    SlaClock,
    SlaPolicy,
    engine_years,
    select_policy,
)


class Signal(StrEnum):
    OPENED = "opened"
    STATUS = "status"
    AGENT_REPLY = "agent_reply"
    CUSTOMER_REPLY = "customer_reply"
    CHANGED = "changed"
    TICK = "tick"


EVENT_KINDS = {
    clockwork.STARTED: EventKind.SLA_STARTED,
    clockwork.PAUSED_EVENT: EventKind.SLA_PAUSED,
    clockwork.RESUMED: EventKind.SLA_RESUMED,
    clockwork.WARNING: EventKind.SLA_WARNING,
    clockwork.BREACHED: EventKind.SLA_BREACHED,
    clockwork.MET_EVENT: EventKind.SLA_MET,
    clockwork.RETARGETED: EventKind.SLA_RETARGETED,
}

# Calendars as engines, keyed by row and version; holidays for the years clocks can touch.
_ENGINES: OrderedDict[tuple[int, datetime, int], BusinessCalendar] = OrderedDict()
_ENGINE_CACHE_SIZE = 256
FIRST_HOLIDAY_YEAR = 2000


def calendar_engine(calendar: Calendar, *, since: datetime | None = None) -> BusinessCalendar:
    """The calendar's engine with public holidays from ``since`` (default 2000) to ten years
    ahead; cached per calendar version, so an edited calendar is rebuilt."""
    first = min((since.year if since else FIRST_HOLIDAY_YEAR), FIRST_HOLIDAY_YEAR)
    key = (calendar.pk, calendar.updated_at, first)
    engine = _ENGINES.get(key)
    if engine is None:
        years = range(first, engine_years(now()).stop)
        engine = calendar.engine(years)
        _ENGINES[key] = engine
        while len(_ENGINES) > _ENGINE_CACHE_SIZE:
            _ENGINES.popitem(last=False)
    else:
        _ENGINES.move_to_end(key)
    return engine


def terms_for(
    policy: SlaPolicy | None, priority: str, *, since: datetime | None = None
) -> clockwork.Terms | None:
    """What ``policy`` says at ``priority``; None without a policy."""
    if policy is None:
        return None
    targets = {
        clock: timedelta(minutes=int(minutes))
        for clock, minutes in policy.targets.get(priority, {}).items()
        if clock in clockwork.CLOCKS
    }
    return clockwork.Terms(
        calendar=calendar_engine(policy.calendar, since=since),
        targets=targets,
        pausing_statuses=frozenset(policy.pausing_statuses),
        paused_clocks=frozenset(policy.paused_clocks),
        pause_on_maintenance=policy.pause_on_maintenance,
        steps=tuple(clockwork.Step.from_config(step) for step in policy.warnings),
        policy_id=policy.pk,
        calendar_id=policy.calendar_id,
        priority=priority,
    )


def _policy(policy_id: int | None) -> SlaPolicy | None:
    if policy_id is None:
        return None
    return SlaPolicy.objects.select_related("calendar").filter(pk=policy_id).first()


@transaction.atomic
def sync(
    ticket: Ticket,
    *,
    at: datetime | None = None,
    signal: Signal,
    previous_status: str | None = None,
) -> list[clockwork.Transition]:
    """Bring the ticket's clocks up to ``at`` after ``signal`` and save everything.

    ``previous_status`` is the status before a :attr:`Signal.STATUS` change.
    """
    at = at or now()
    Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("pk", flat=True).first()
    rows = list(
        SlaClock.objects.select_for_update()
        .filter(ticket_id=ticket.pk, is_current=True)
        .order_by("kind")
    )
    policy_id = next((row.policy_id for row in rows if row.policy_id is not None), None)
    machine = clockwork.Machine(
        terms_for(_policy(policy_id), ticket.priority),
        status=previous_status if signal == Signal.STATUS and previous_status else ticket.status,
        done_statuses=frozenset(DONE_STATUSES),
        clocks=[row.to_clock() for row in rows],
        responded=ticket.first_response_at is not None,
        # Maintenance matters only where it paused a clock; that is what the rows remember.
        maintenance=any(clockwork.BY_MAINTENANCE in row.pause_reasons for row in rows),
    )
    machine.set_terms(at, terms_for(select_policy(ticket), ticket.priority))
    machine.set_maintenance(at, under_maintenance(ticket, at))
    if signal == Signal.STATUS:
        machine.set_status(at, ticket.status)
    elif signal == Signal.AGENT_REPLY:
        machine.agent_replied(at)
    elif signal == Signal.CUSTOMER_REPLY:
        machine.customer_replied(at)
    elif signal == Signal.TICK:
        machine.advance(at)
    save_machine(ticket, machine, rows, at=at)
    return machine.transitions


def under_maintenance(ticket: Ticket, at: datetime) -> bool:
    """Is a maintenance window that pauses SLA clocks covering one of the ticket's assets?"""
    asset_ids = list(ticket.assets.values_list("pk", flat=True))
    return bool(asset_ids) and maintenance.active_for_assets(asset_ids, at)


def assets_maintenance_changed(*, asset_ids: Iterable[int], at: datetime) -> int:
    """A maintenance window began or ended on these assets at ``at``: bring the clocks of the
    open tickets linked to them up to date (each in its own transaction). Returns how many."""
    ids = (
        Ticket.objects.filter(assets__in=list(asset_ids), merged_into__isnull=True)
        .exclude(status__in=DONE_STATUSES)
        .values_list("pk", flat=True)
        .distinct()
    )
    return resync(list(ids), at=at)


def resync(
    ticket_ids: Iterable[int],
    *,
    at: datetime | None = None,
    before: tuple[clockwork.CalendarLike, datetime] | None = None,
) -> int:
    """Bring these tickets' clocks up to date (after a maintenance edge or a configuration
    edit), each in its own transaction under the ticket's lock. ``before`` (hours as they were
    and the instant of the edit) banks running time up to that instant on those hours first.
    Returns how many tickets were brought up to date."""
    done = 0
    for ticket_id in ticket_ids:
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
            if ticket is None:
                continue
            if before is not None:
                bank_until(ticket, calendar=before[0], at=before[1])
            sync(ticket, at=at, signal=Signal.CHANGED)
            done += 1
    return done


def save_machine(
    ticket: Ticket,
    machine: clockwork.Machine,
    rows: Sequence[SlaClock],
    *,
    at: datetime,
    actions: bool = True,
    events: bool = True,
) -> list[SlaClock]:
    """Write the machine's clocks over ``rows`` (the ticket's current clock rows), then its
    transitions as timeline events, warning actions (with ``actions``) and the summary."""
    by_key = {(row.kind, row.cycle): row for row in rows}
    saved: dict[tuple[str, int], SlaClock] = {}
    current = {(clock.kind, clock.cycle) for clock in machine.clocks.values()}
    keys = list(machine.touched) + [key for key in current if key not in machine.touched]
    stamp = now()
    for key in keys:
        clock = machine.touched.get(key) or machine.clocks[key[0]]
        row = by_key.get(key)
        if row is None:
            SlaClock.objects.filter(ticket_id=ticket.pk, kind=key[0], is_current=True).update(
                is_current=False, due_at=None, breach_at=None
            )
            row = SlaClock(organization_id=ticket.organization_id, ticket=ticket, kind=key[0])
            row.cycle = key[1]
        row.take(clock)
        row.is_current = key in current
        row.due_at = machine.next_due(clock) if row.is_current else None
        row.breach_at = machine.breach_due(clock) if row.is_current else None
        row.updated_at = stamp
        row.save()
        saved[key] = row
    if events and machine.transitions:
        recorded = TicketEvent.objects.bulk_create(
            TicketEvent(
                ticket=ticket,
                kind=EVENT_KINDS[t.kind],
                at=t.at,
                detail={"clock": t.clock, "cycle": t.cycle, **t.detail},
                is_internal=True,
            )
            for t in machine.transitions
        )
        notify_events.ticket_events_recorded(recorded)
    if actions:
        SlaAction.objects.bulk_create(
            SlaAction(
                organization_id=ticket.organization_id,
                ticket=ticket,
                clock=saved[(t.clock, t.cycle)],
                step=str(t.detail["step"]),
                action=str(t.detail["action"]),
                detail=dict(t.detail),
                fired_at=t.at,
                due_at=stamp,
            )
            for t in machine.transitions
            if t.kind == clockwork.WARNING
        )
    # The summary sorts by the breach instants just written, not computed a second time.
    dues = {(row.kind, row.cycle): row.breach_at for row in saved.values() if row.is_current}
    write_summary(ticket, machine, due=lambda clock: dues.get((clock.kind, clock.cycle)))
    return list(saved.values())


def write_summary(
    ticket: Ticket,
    machine: clockwork.Machine,
    *,
    due: Callable[[clockwork.Clock], datetime | None],
) -> None:
    state, soonest = clockwork.summary(machine.clocks.values(), due)
    if (ticket.sla_state, ticket.sla_due_at) != (state, soonest):
        ticket.sla_state = state
        ticket.sla_due_at = soonest
        Ticket.objects.filter(pk=ticket.pk).update(sla_state=state, sla_due_at=soonest)


def bank_until(ticket: Ticket, *, calendar: clockwork.CalendarLike, at: datetime) -> None:
    """Bank the running clocks' business time up to ``at`` on ``calendar`` (the hours as they
    were before an edit), so that only time after ``at`` is measured on the new hours."""
    for row in SlaClock.objects.select_for_update().filter(
        ticket_id=ticket.pk, is_current=True, state=clockwork.RUNNING
    ):
        if row.running_since is not None and row.running_since < at:
            row.elapsed += calendar.between(row.running_since, at)
            row.running_since = at
            row.save(update_fields=["elapsed", "running_since"])


def human_duration(seconds: int) -> str:
    """``"2d 3h"``, ``"3h 5m"``, ``"4m"``: the two largest units, never negative."""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{seconds % 60}s"


def clock_view(clock: SlaClock, *, at: datetime | None = None) -> dict[str, object]:
    """A clock as the workspace, the portal and the API show it: state, target, elapsed
    business time, business time left (negative when late) and wall-clock due instant."""
    at = at or now()
    elapsed = clock.elapsed
    since = clock.running_since
    if clock.state == clockwork.RUNNING and since is not None and clock.calendar is not None:
        elapsed += calendar_engine(clock.calendar).between(since, max(at, since))
    left = clock.target - elapsed
    breached = clock.breached_at is not None
    if clock.state == clockwork.MET:
        shown = "met"
    elif breached:
        shown = "breached"
    else:
        shown = clock.state
    wall_left = (
        int((clock.breach_at - at).total_seconds())
        if clock.breach_at is not None and not breached
        else None
    )
    return {
        "kind": clock.kind,
        "label": ClockKind(clock.kind).label,
        "cycle": clock.cycle,
        "state": shown,
        "running": clock.state == clockwork.RUNNING,
        "breached": breached,
        "target_minutes": clock.target.total_seconds() / 60,
        "elapsed_seconds": int(elapsed.total_seconds()),
        "left_seconds": int(left.total_seconds()),
        "due_at": clock.breached_at if breached else clock.breach_at,
        "wall_left_seconds": wall_left,
        "left_text": human_duration(int(left.total_seconds())),
        "wall_left_text": human_duration(wall_left) if wall_left is not None else "",
        "target_text": human_duration(int(clock.target.total_seconds())),
        "started_at": clock.started_at,
        "breached_at": clock.breached_at,
        "met_at": clock.met_at,
        "paused_by": list(clock.pause_reasons),
        "warnings_fired": list(clock.fired),
    }


def describe_event(kind: str, detail: dict[str, object]) -> str:
    """One line for an SLA event on the timeline."""
    clock = str(detail.get("clock", ""))
    label = ClockKind(clock).label if clock in ClockKind.values else clock
    cycle = detail.get("cycle")
    if clock == clockwork.NEXT_RESPONSE and isinstance(cycle, int) and cycle > 1:
        label += f" #{cycle}"

    def minutes(key: str) -> str:
        value = detail.get(key)
        return human_duration(int(float(value) * 60)) if isinstance(value, int | float) else "?"

    if kind == EventKind.SLA_STARTED:
        return f"{label}: started, target {minutes('target_minutes')}"
    if kind == EventKind.SLA_PAUSED:
        reasons = detail.get("reasons")
        by = ", ".join(map(str, reasons)) if isinstance(reasons, list) else "?"
        return f"{label}: paused by {by} after {minutes('elapsed_minutes')}"
    if kind == EventKind.SLA_RESUMED:
        why = " (reopened)" if detail.get("reason") == "reopened" else ""
        return f"{label}: resumed{why} with {minutes('elapsed_minutes')} used"
    if kind == EventKind.SLA_WARNING:
        point = (
            f"{detail['percent']}% used"
            if "percent" in detail
            else f"{detail.get('minutes_before')} min before due"
        )
        return f"{label}: warning at {point}, action {detail.get('action')}"
    if kind == EventKind.SLA_BREACHED:
        return f"{label}: breached, target {minutes('target_minutes')}"
    if kind == EventKind.SLA_MET:
        late = " late" if detail.get("late") else ""
        return f"{label}: met{late} after {minutes('elapsed_minutes')}"
    if kind == EventKind.SLA_RETARGETED:
        return (
            f"{label}: target {minutes('before_minutes')} → {minutes('target_minutes')}, "
            f"{minutes('elapsed_minutes')} already used"
        )
    return f"{label}: {kind}"


def current_clocks(tickets: Iterable[Ticket]) -> dict[int, list[SlaClock]]:
    """Each ticket's current clocks, in clock order, in one query."""
    order = {kind: index for index, kind in enumerate(clockwork.CLOCKS)}
    found: dict[int, list[SlaClock]] = {}
    ids = [ticket.pk for ticket in tickets]
    for clock in SlaClock.objects.filter(ticket_id__in=ids, is_current=True).select_related(
        "calendar"
    ):
        found.setdefault(clock.ticket_id, []).append(clock)
    for clocks in found.values():
        clocks.sort(key=lambda c: order[c.kind])
    return found
