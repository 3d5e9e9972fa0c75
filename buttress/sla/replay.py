"""Rebuilding clocks from ticket history, and simulating a history that never happened.

Both feed :class:`buttress.sla.clockwork.Machine` the same signals the live service does, so a
rebuilt or simulated clock is what a live one would have been under the same configuration.

A ticket's history is its timeline: the ``created`` event (status, type, priority), status
changes and reopens, public replies (by an agent or the requester's side) and changes of the
fields that choose a policy or a target (type, category, priority). SLA events themselves are
outputs, never inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from buttress.desk.models import DONE_STATUSES, EventKind, Priority, Status, Ticket, TicketEvent
from buttress.lib.timeutil import now
from buttress.maintenance import services as maintenance
from buttress.sla import clockwork
from buttress.sla.clocks import save_machine, terms_for
from buttress.sla.models import PolicyRule, SlaClock, SlaPolicy, first_match
from buttress.tenancy.models import Organization

POLICY_FIELDS = ("type", "category", "priority")
INPUT_KINDS = (
    EventKind.CREATED,
    EventKind.STATUS_CHANGED,
    EventKind.REOPENED,
    EventKind.REPLIED,
    EventKind.FIELD_CHANGED,
)


@dataclass
class Attributes:
    """What chooses a ticket's policy, as it stood at some instant."""

    organization_id: int
    type: str
    category: str
    priority: str


@dataclass(frozen=True)
class Step:
    """One thing that happened: ``kind`` is status, agent_reply, customer_reply, priority,
    type or category; ``value`` the new status or field value."""

    at: datetime
    kind: str
    value: str = ""


class Rules:
    """The rule list, read once, choosing policies for any number of tickets."""

    def __init__(self, rules: Sequence[PolicyRule] | None = None) -> None:
        if rules is None:
            rules = list(PolicyRule.objects.select_related("policy__calendar"))
        self.rules = list(rules)

    def policy(self, attributes: Attributes) -> SlaPolicy | None:
        return first_match(self.rules, attributes)


def steps_from_events(events: Iterable[TicketEvent]) -> tuple[Attributes | None, str, list[Step]]:
    """The ticket's starting attributes and status, and its history as steps, from its
    timeline (oldest first). None when there is no ``created`` event."""
    events = list(events)
    created = next((e for e in events if e.kind == EventKind.CREATED), None)
    if created is None:
        return None, "", []
    ticket = created.ticket
    first_values: dict[str, Any] = {}
    for event in events:
        name = event.detail.get("field") if event.kind == EventKind.FIELD_CHANGED else None
        if name in POLICY_FIELDS and name not in first_values:
            first_values[name] = event.detail.get("before")
    start = Attributes(
        organization_id=ticket.organization_id,
        type=str(created.detail.get("type") or first_values.get("type") or ticket.type),
        category=str(first_values.get("category", ticket.category) or ""),
        priority=str(
            created.detail.get("priority") or first_values.get("priority") or ticket.priority
        ),
    )
    steps: list[Step] = []
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        if event.kind in (EventKind.STATUS_CHANGED, EventKind.REOPENED):
            steps.append(Step(event.at, "status", str(detail.get("to", ""))))
        elif event.kind == EventKind.REPLIED and not event.is_internal:
            by = "agent_reply" if detail.get("by") == "agent" else "customer_reply"
            steps.append(Step(event.at, by))
        elif event.kind == EventKind.FIELD_CHANGED and detail.get("field") in POLICY_FIELDS:
            steps.append(Step(event.at, str(detail["field"]), str(detail.get("after") or "")))
    status = str(created.detail.get("status") or "new")
    return start, status, steps


def maintenance_steps(ticket: Ticket, *, until: datetime) -> list[Step]:
    """When maintenance windows (that pause SLA clocks) covered the ticket's assets."""
    asset_ids = list(ticket.assets.values_list("pk", flat=True))
    if not asset_ids or until <= ticket.created_at:
        return []
    steps: list[Step] = []
    for start, end in maintenance.intervals_for_assets(asset_ids, ticket.created_at, until):
        steps.append(Step(start, "maintenance", "on"))
        if end < until:
            steps.append(Step(end, "maintenance", "off"))
    return steps


def run(
    start: Attributes,
    status: str,
    created_at: datetime,
    steps: Iterable[Step],
    *,
    choose: Any,
    until: datetime | None = None,
) -> clockwork.Machine:
    """Fold ``steps`` through a fresh machine; ``choose(attributes)`` gives the policy."""
    attributes = Attributes(**vars(start))

    def terms() -> clockwork.Terms | None:
        return terms_for(choose(attributes), attributes.priority, since=created_at)

    machine = clockwork.Machine(terms(), status=status, done_statuses=frozenset(DONE_STATUSES))
    machine.open(created_at)
    for step in sorted(steps, key=lambda s: s.at):
        if step.kind == "status":
            if step.value != machine.status:
                machine.set_status(step.at, step.value)
        elif step.kind == "agent_reply":
            machine.agent_replied(step.at)
        elif step.kind == "customer_reply":
            machine.customer_replied(step.at)
        elif step.kind in POLICY_FIELDS:
            setattr(attributes, step.kind, step.value)
            machine.set_terms(step.at, terms())
        elif step.kind == "maintenance":
            machine.set_maintenance(step.at, step.value == "on")
    if until is not None:
        machine.advance(until)
    return machine


# --- replay ----------------------------------------------------------------------------------


@dataclass
class ClockChange:
    ticket: str
    clock: str
    before: str
    after: str


@dataclass
class ReplayReport:
    examined: int = 0
    changed_tickets: int = 0
    newly_breached: int = 0
    no_longer_breached: int = 0
    changes: list[ClockChange] = field(default_factory=list)

    def describe(self, *, dry_run: bool) -> str:
        verb = "would change" if dry_run else "changed"
        return (
            f"{self.examined} ticket(s) examined, {self.changed_tickets} {verb}: "
            f"{self.newly_breached} newly breached, {self.no_longer_breached} no longer breached."
        )


def _summary(clock: clockwork.Clock | None, at: datetime, calendar: Any) -> str:
    if clock is None:
        return "none"
    elapsed = clock.elapsed_at(calendar, at) if calendar is not None else clock.elapsed
    parts = [
        clock.state,
        f"{int(elapsed.total_seconds() // 60)}/{int(clock.target.total_seconds() // 60)} min",
    ]
    if clock.breached_at is not None:
        parts.append(f"breached {clock.breached_at:%Y-%m-%d %H:%M}")
    return " ".join(parts)


def tickets_to_replay(
    *, organization: Organization | None = None, since: datetime | None = None
) -> Iterator[int]:
    """Open tickets, and with ``since`` also those resolved or closed since then."""
    tickets = Ticket.objects.filter(merged_into__isnull=True)
    if organization is not None:
        tickets = tickets.for_org(organization)
    scope = Q(resolved_at__isnull=True) & ~Q(status__in=DONE_STATUSES)
    if since is not None:
        scope |= Q(updated_at__gte=since)
    yield from tickets.filter(scope).order_by("pk").values_list("pk", flat=True).iterator()


def replay_ticket(
    ticket_id: int, *, rules: Rules, at: datetime, dry_run: bool, report: ReplayReport
) -> None:
    """Rebuild one ticket's clocks under the current configuration (inside its own lock)."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        if ticket is None:
            return
        events = TicketEvent.objects.filter(ticket=ticket, kind__in=INPUT_KINDS).order_by(
            "at", "id"
        )
        start, status, steps = steps_from_events(events.select_related("ticket"))
        report.examined += 1
        if start is None:
            return
        steps += maintenance_steps(ticket, until=at)
        machine = run(start, status, ticket.created_at, steps, choose=rules.policy, until=at)
        rows = list(SlaClock.objects.select_for_update().filter(ticket=ticket))
        old = {(row.kind, row.cycle): row.to_clock() for row in rows}
        new = dict(machine.touched)
        calendar = machine.terms.calendar if machine.terms is not None else None
        changed = False
        for key in sorted(set(old) | set(new)):
            before = _summary(old.get(key), at, calendar)
            after = _summary(new.get(key), at, calendar)
            if before == after:
                continue
            changed = True
            label = key[0] if key[1] == 1 else f"{key[0]} #{key[1]}"
            report.changes.append(ClockChange(ticket.reference, label, before, after))
            was = old.get(key)
            now_breached = new.get(key)
            if now_breached is not None and now_breached.breached_at is not None:
                if was is None or was.breached_at is None:
                    report.newly_breached += 1
            elif was is not None and was.breached_at is not None:
                report.no_longer_breached += 1
        if not changed:
            return
        report.changed_tickets += 1
        if dry_run:
            return
        SlaClock.objects.filter(ticket=ticket).exclude(
            pk__in=[row.pk for row in rows if (row.kind, row.cycle) in new]
        ).delete()
        machine.transitions = []
        save_machine(
            ticket,
            machine,
            [row for row in rows if (row.kind, row.cycle) in new],
            at=at,
            actions=False,
            events=False,
        )
        TicketEvent.objects.create(
            ticket=ticket,
            kind=EventKind.SLA_REPLAYED,
            at=at,
            detail={
                "clocks": [
                    {"clock": c.clock, "before": c.before, "after": c.after}
                    for c in report.changes
                    if c.ticket == ticket.reference
                ]
            },
            is_internal=True,
        )


def replay(
    *,
    organization: Organization | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
    at: datetime | None = None,
) -> ReplayReport:
    """Rebuild the clocks of open tickets (and with ``since``, of those done since then) from
    their history under the current calendars, policies and rules. Each ticket is rebuilt in
    its own short transaction, so live work goes on meanwhile."""
    at = at or now()
    rules = Rules()
    report = ReplayReport()
    for ticket_id in tickets_to_replay(organization=organization, since=since):
        replay_ticket(ticket_id, rules=rules, at=at, dry_run=dry_run, report=report)
    return report


# --- simulation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    clock: str
    cycle: int
    state: str
    elapsed: timedelta
    target: timedelta
    breached_at: datetime | None
    met_at: datetime | None
    due_at: datetime | None
    warnings: list[tuple[str, datetime]]


def project(machine: clockwork.Machine) -> list[Projection]:
    """Each current clock at the end of a history, with when it will be due and warn."""
    out: list[Projection] = []
    terms = machine.terms
    for kind in clockwork.CLOCKS:
        clock = machine.clocks.get(kind)
        if clock is None:
            continue
        upcoming: list[tuple[str, datetime]] = []
        if terms is not None:
            for instant, step in clock.pending(terms.calendar, terms.steps_for(kind)):
                if step is not None:
                    upcoming.append((step.key, instant))
        out.append(
            Projection(
                clock=kind,
                cycle=clock.cycle,
                state=clock.state,
                elapsed=clock.elapsed,
                target=clock.target,
                breached_at=clock.breached_at,
                met_at=clock.met_at,
                due_at=clock.breached_at or machine.breach_due(clock),
                warnings=upcoming,
            )
        )
    return out


def simulate(
    policy: SlaPolicy,
    *,
    created_at: datetime,
    priority: str,
    status: str = "new",
    steps: Sequence[Step] = (),
) -> tuple[clockwork.Machine, list[Projection]]:
    """A ticket under ``policy`` created at ``created_at`` with ``steps`` happening to it: the
    transitions on the way and, for each clock, when it is due and when each warning fires."""
    attributes = Attributes(organization_id=0, type="", category="", priority=priority)
    machine = run(attributes, status, created_at, steps, choose=lambda _: policy)
    return machine, project(machine)


MAX_HISTORY = 500
REPLY_BY = {"agent": "agent_reply", "customer": "customer_reply"}


def check_history(
    items: Sequence[Mapping[str, Any]], *, created_at: datetime, field: str = "history"
) -> list[Step]:
    """A simulated history (``{"at", and one of "status", "priority", "reply"}``) as steps;
    raises ``ValidationError`` naming ``field`` and the item."""
    if len(items) > MAX_HISTORY:
        raise ValidationError({field: f"At most {MAX_HISTORY} entries."})
    steps: list[Step] = []
    for index, item in enumerate(items, start=1):
        where = f"entry {index}"
        at = item.get("at")
        if not isinstance(at, datetime) or at.utcoffset() is None:
            raise ValidationError({field: f"{where}: 'at' is a date and time with a UTC offset."})
        if at < created_at:
            raise ValidationError({field: f"{where}: happens before the ticket was created."})
        given = [key for key in ("status", "priority", "reply", "maintenance") if item.get(key)]
        if len(given) != 1:
            raise ValidationError(
                {field: f"{where}: give one of status, priority, reply or maintenance."}
            )
        value = str(item[given[0]])
        if given[0] == "status":
            if value not in Status.values:
                raise ValidationError({field: f"{where}: {value!r} is not a ticket status."})
            steps.append(Step(at, "status", value))
        elif given[0] == "priority":
            if value not in Priority.values:
                raise ValidationError({field: f"{where}: priority is one of P1, P2, P3, P4."})
            steps.append(Step(at, "priority", value))
        elif given[0] == "maintenance":
            if value not in ("start", "end"):
                raise ValidationError({field: f"{where}: maintenance is start or end."})
            steps.append(Step(at, "maintenance", "on" if value == "start" else "off"))
        else:
            if value not in REPLY_BY:
                raise ValidationError({field: f"{where}: reply is by agent or customer."})
            steps.append(Step(at, REPLY_BY[value]))
    return steps
