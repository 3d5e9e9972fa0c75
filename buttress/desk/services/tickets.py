"""Opening tickets, editing their fields and moving them through their statuses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from buttress.accounts.models import STAFF_ROLES, Role, Team, User
from buttress.assets.models import Asset
from buttress.audit import services as audit
from buttress.desk.models import (
    DONE_STATUSES,
    FIRST_NUMBER,
    TRANSITIONS,
    EventKind,
    Level,
    Priority,
    Source,
    Status,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketType,
    pausing_statuses,
)
from buttress.desk.search import index_ticket
from buttress.desk.services.priority import priority_for
from buttress.desk.services.timeline import check_not_merged, record_event
from buttress.desk.tasks import send_acknowledgement, send_status_change, send_survey
from buttress.lib.timeutil import now
from buttress.sla import clocks
from buttress.tenancy.models import Contact, Organization

# What the audit log and the timeline show of a ticket.
TICKET_FIELDS = (
    "subject",
    "description",
    "type",
    "impact",
    "urgency",
    "priority",
    "category",
    "team",
    "assignee",
    "requester",
    "tags",
    "source",
    "root_cause",
    "workaround",
    "known_error",
    "watchers",
)
UNWATCHED_TICKET_FIELDS = tuple(f for f in TICKET_FIELDS if f != "watchers")
EDITABLE_FIELDS = frozenset(TICKET_FIELDS) - {"priority"}
ASSIGNMENT_FIELDS = frozenset({"team", "assignee"})
# Tickets raised by machines: their requester (if any) is not mailed an acknowledgement.
MACHINE_SOURCES = frozenset({Source.MONITORING, Source.ALERT})
# Fields that choose the SLA policy or its targets.
SLA_FIELDS = ("type", "category", "priority")
WORKER_ROLES = frozenset({Role.ADMIN, Role.AGENT})
MAX_TAGS = 30
MAX_TAG_LENGTH = 64


def next_number() -> int:
    """The next ticket number; call inside the transaction that saves the ticket.

    The UPDATE locks the counter row until that transaction ends, so two concurrent creates
    are serialised on it and never share a number (SQLite serialises all writers anyway).
    """
    table = connection.ops.quote_name(TicketCounter._meta.db_table)
    with connection.cursor() as cursor:
        # One statement that counts and answers (both databases have RETURNING).
        cursor.execute(f"UPDATE {table} SET last = last + 1 WHERE id = 1 RETURNING last")  # noqa: S608
        row = cursor.fetchone()
    if row is not None:
        return int(row[0])
    try:
        with transaction.atomic():
            TicketCounter.objects.create(pk=1, last=FIRST_NUMBER)
        return FIRST_NUMBER
    except IntegrityError:
        # Another transaction created the row first; take the next number after it.
        TicketCounter.objects.filter(pk=1).update(last=F("last") + 1)
    return TicketCounter.objects.values_list("last", flat=True).get(pk=1)


def normalise_tags(tags: Iterable[Any]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        text = str(tag).strip().lower()
        if not text:
            continue
        if len(text) > MAX_TAG_LENGTH:
            raise ValidationError({"tags": f"Tag {text[:20]!r}… is longer than 64 characters."})
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"At most {MAX_TAGS} tags per ticket."})
    return sorted(cleaned)


def _sees_org(user: User, organization_id: int) -> bool:
    if user.role in STAFF_ROLES:
        limited = list(user.limited_to.values_list("pk", flat=True))
        return not limited or organization_id in limited
    return user.organization_id == organization_id


def _check_assignee(organization_id: int, assignee: User | None) -> None:
    if assignee is None:
        return
    if (
        assignee.role not in WORKER_ROLES
        or not assignee.is_active
        or not _sees_org(assignee, organization_id)
    ):
        raise ValidationError(
            {"assignee": "The assignee must be an active agent or admin who sees the organisation."}
        )


def _check_requester(organization_id: int, requester: Contact | None) -> None:
    if requester is not None and requester.organization_id != organization_id:
        raise ValidationError({"requester": "The requester belongs to another organisation."})


def _check_watchers(organization_id: int, watchers: Iterable[User]) -> list[User]:
    users = list(watchers)
    for user in users:
        if not user.is_active or not _sees_org(user, organization_id):
            raise ValidationError(
                {"watchers": f"{user.email} cannot see this organisation's tickets."}
            )
    return users


def _check_choice(field: str, value: Any, choices: list[str]) -> None:
    if value not in choices:
        raise ValidationError({field: f"Must be one of {', '.join(choices)}."})


def _event_value(ticket: Ticket, field: str) -> Any:
    """A field as the timeline stores it: ids for related rows, so history can be replayed."""
    if field == "watchers":
        return sorted(ticket.watchers.values_list("pk", flat=True))
    if field in ("team", "assignee", "requester"):
        value: Any = getattr(ticket, f"{field}_id")
        return value
    return getattr(ticket, field)


@transaction.atomic
def create_ticket(
    organization: Organization,
    *,
    actor: User | None,
    subject: str,
    description: str = "",
    type: str = TicketType.INCIDENT,
    impact: str = Level.MEDIUM,
    urgency: str = Level.MEDIUM,
    requester: Contact | None = None,
    category: str = "",
    team: Team | None = None,
    assignee: User | None = None,
    tags: Iterable[str] = (),
    source: str = Source.API,
    watchers: Iterable[User] = (),
    assets: Iterable[Asset] = (),
    at: datetime | None = None,
) -> Ticket:
    at = at or now()
    _check_choice("type", type, TicketType.values)
    _check_choice("source", source, Source.values)
    _check_requester(organization.pk, requester)
    _check_assignee(organization.pk, assignee)
    watcher_list = _check_watchers(organization.pk, watchers)
    asset_list = list(assets)
    if any(asset.organization_id != organization.pk for asset in asset_list):
        raise ValidationError({"assets": "An asset belongs to another organisation."})
    ticket = Ticket(
        organization=organization,
        requester=requester,
        created_by=actor if actor is not None and actor.pk else None,
        subject=subject.strip(),
        description=description,
        type=type,
        impact=impact,
        urgency=urgency,
        priority=priority_for(impact, urgency),
        category=category.strip(),
        team=team,
        assignee=assignee,
        tags=normalise_tags(tags),
        source=source,
        created_at=at,
        updated_at=at,
    )
    ticket.number = 0  # a placeholder so that full_clean passes; replaced below
    ticket.full_clean(exclude=["number"], validate_unique=False)
    ticket.number = next_number()
    ticket.save()
    if watcher_list:
        ticket.watchers.set(watcher_list)
    if asset_list:
        ticket.assets.set(asset_list)
    index_ticket(ticket)
    # A create entry leaves out empty fields: without watchers, none are read back.
    audited = TICKET_FIELDS if watcher_list else UNWATCHED_TICKET_FIELDS
    audit.record_create(ticket, actor=actor, organization=organization, fields=audited)
    record_event(
        ticket,
        EventKind.CREATED,
        actor=actor,
        at=at,
        detail={
            "number": ticket.number,
            "status": ticket.status,
            "type": ticket.type,
            "priority": ticket.priority,
            "impact": ticket.impact,
            "urgency": ticket.urgency,
            "source": ticket.source,
            "requester": ticket.requester_id,
            "team": ticket.team_id,
            "assignee": ticket.assignee_id,
            "pauses": ticket.is_paused,
        },
    )
    clocks.sync(ticket, at=at, signal=clocks.Signal.OPENED)
    if requester is not None and source not in MACHINE_SOURCES:
        transaction.on_commit(partial(send_acknowledgement.enqueue, ticket.pk))
    return ticket


@transaction.atomic
def update_ticket(
    ticket: Ticket, *, actor: User | None, at: datetime | None = None, **changes: Any
) -> Ticket:
    """Change fields; priority follows impact and urgency. Status changes go through
    :func:`transition`, the parent through :func:`set_parent`."""
    at = at or now()
    for field in changes:
        if field not in EDITABLE_FIELDS:
            raise ValidationError({field: "This field cannot be changed here."})
    check_not_merged(ticket)
    before_audit = audit.snapshot(ticket, TICKET_FIELDS)
    before = {field: _event_value(ticket, field) for field in TICKET_FIELDS}
    watchers = changes.pop("watchers", None)
    if "tags" in changes:
        changes["tags"] = normalise_tags(changes["tags"] or ())
    for field in ("subject", "category"):
        if field in changes:
            changes[field] = str(changes[field]).strip()
    for field, value in changes.items():
        setattr(ticket, field, value)
    _check_choice("type", ticket.type, TicketType.values)
    _check_choice("source", ticket.source, Source.values)
    ticket.priority = priority_for(ticket.impact, ticket.urgency)
    _check_requester(ticket.organization_id, ticket.requester)
    _check_assignee(ticket.organization_id, ticket.assignee)
    ticket.full_clean(validate_unique=False, validate_constraints=False)
    ticket.updated_at = at
    ticket.save()
    if watchers is not None:
        ticket.watchers.set(_check_watchers(ticket.organization_id, watchers))
    if before["subject"] != ticket.subject or before["description"] != ticket.description:
        index_ticket(ticket)
    for field in TICKET_FIELDS:
        after = _event_value(ticket, field)
        if after == before[field]:
            continue
        kind = EventKind.ASSIGNED if field in ASSIGNMENT_FIELDS else EventKind.FIELD_CHANGED
        record_event(
            ticket,
            kind,
            actor=actor,
            at=at,
            detail={"field": field, "before": before[field], "after": after},
        )
    audit.record_update(
        ticket,
        actor=actor,
        organization=ticket.organization,
        before=before_audit,
        fields=TICKET_FIELDS,
    )
    if any(_event_value(ticket, field) != before[field] for field in SLA_FIELDS):
        clocks.sync(ticket, at=at, signal=clocks.Signal.CHANGED)
    return ticket


_LEVELS = (Level.LOW, Level.MEDIUM, Level.HIGH)


@transaction.atomic
def raise_priority(ticket: Ticket, *, actor: User | None, at: datetime | None = None) -> bool:
    """Raise the ticket one priority level by raising its urgency, then its impact, one step at
    a time until the matrix gives a higher priority. False when it is already at the top."""
    order = {value: index for index, value in enumerate(Priority.values)}
    for impact_step, urgency_step in ((0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 2)):
        impact = _LEVELS[min(_LEVELS.index(Level(ticket.impact)) + impact_step, 2)]
        urgency = _LEVELS[min(_LEVELS.index(Level(ticket.urgency)) + urgency_step, 2)]
        if order[priority_for(impact, urgency)] < order[ticket.priority]:
            update_ticket(ticket, actor=actor, at=at, impact=impact, urgency=urgency)
            return True
    return False


def allowed_transitions(ticket: Ticket) -> list[str]:
    if ticket.merged_into_id is not None:
        return []
    return [s for s in Status.values if s in TRANSITIONS[ticket.status]]


def _tell_requester(
    ticket: Ticket, to_status: str, *, actor: User | None, merged: bool, reason: str
) -> bool:
    """Whether a status change is news to the requester: not one they made themselves (a
    reply, closing their request), not a merge, not on a machine's ticket; a resolution is
    told by the survey mail instead."""
    if ticket.requester_id is None or merged or ticket.source in MACHINE_SOURCES:
        return False
    if to_status == Status.RESOLVED or reason == "customer_replied":
        return False
    return actor is None or actor.role in STAFF_ROLES


@transaction.atomic
def transition(
    ticket: Ticket,
    to_status: str,
    *,
    actor: User | None,
    at: datetime | None = None,
    merged: bool = False,
    reason: str = "",
    reply: int | None = None,
) -> Ticket:
    """Move the ticket to ``to_status`` if the transition table allows it.

    Resolving stamps ``resolved_at``; closing stamps ``closed_at`` (and ``resolved_at`` if the
    ticket was never resolved); a reopen (resolved or closed -> open) clears both and counts.
    ``reason`` (and the ``reply`` that caused it) go on the timeline entry.
    """
    at = at or now()
    _check_choice("status", to_status, Status.values)
    if not merged:
        check_not_merged(ticket)
    current = ticket.status
    if to_status == current:
        raise ValidationError({"status": f"The ticket is already {current}."})
    if to_status not in TRANSITIONS[current]:
        allowed = ", ".join(s for s in Status.values if s in TRANSITIONS[current])
        raise ValidationError(
            {"status": f"A {current} ticket cannot move to {to_status}; it may move to {allowed}."}
        )
    reopen = current in DONE_STATUSES and to_status == Status.OPEN
    ticket.status = to_status
    fields = ["status", "updated_at"]
    if to_status == Status.RESOLVED:
        ticket.resolved_at = at
        fields.append("resolved_at")
    elif to_status == Status.CLOSED:
        ticket.closed_at = at
        ticket.resolved_at = ticket.resolved_at or at
        fields += ["closed_at", "resolved_at"]
    elif reopen:
        ticket.resolved_at = None
        ticket.closed_at = None
        ticket.reopened_count += 1
        fields += ["resolved_at", "closed_at", "reopened_count"]
    ticket.updated_at = at
    ticket.save(update_fields=fields)
    detail: dict[str, Any] = {
        "from": current,
        "to": to_status,
        "pauses": to_status in pausing_statuses(),
    }
    if reopen:
        detail["reopened_count"] = ticket.reopened_count
    if merged:
        detail["merged"] = True
    if reason:
        detail["reason"] = reason
    if reply is not None:
        detail["reply"] = reply
    event = record_event(
        ticket,
        EventKind.REOPENED if reopen else EventKind.STATUS_CHANGED,
        actor=actor,
        at=at,
        detail=detail,
    )
    clocks.sync(ticket, at=at, signal=clocks.Signal.STATUS, previous_status=current)
    if _tell_requester(ticket, to_status, actor=actor, merged=merged, reason=reason):
        transaction.on_commit(partial(send_status_change.enqueue, event.pk))
    if to_status in DONE_STATUSES:
        from buttress.escalation import services as escalation

        escalation.ticket_status_changed(ticket, at=at)
    if to_status == Status.RESOLVED and not merged:
        # The requester is asked to rate the work once the resolution is committed.
        transaction.on_commit(partial(send_survey.enqueue, ticket.pk, ticket.reopened_count))
    audit.record(
        ticket,
        actor=actor,
        action="update",
        organization=ticket.organization,
        changes={"status": [current, to_status]},
    )
    return ticket


@transaction.atomic
def acknowledge(
    ticket: Ticket, *, actor: User, at: datetime | None = None, via: str = ""
) -> TicketEvent:
    """Record on the timeline that ``actor`` has taken the ticket in hand (from a
    notification's link or the ticket page): what escalation waits for."""
    check_not_merged(ticket)
    at = at or now()
    event = record_event(
        ticket,
        EventKind.ACKNOWLEDGED,
        actor=actor,
        at=at,
        detail={"via": via} if via else {},
        internal=True,
    )
    audit.record(
        ticket,
        actor=actor,
        action="update",
        organization=ticket.organization,
        note=f"acknowledged{f' via {via}' if via else ''}",
    )
    return event


def customer_close_path(ticket: Ticket) -> list[str]:
    """The statuses a requester's "close this request" walks through, following the transition
    table: a ticket still being worked on is first marked resolved (so the requester is asked
    to rate it), then closed; an already resolved one is only closed. Empty when it cannot be
    closed now (already closed, or merged into another ticket)."""
    if ticket.merged_into_id is not None or ticket.status == Status.CLOSED:
        return []
    allowed = TRANSITIONS[ticket.status]
    if ticket.status != Status.RESOLVED and Status.RESOLVED in allowed:
        if Status.CLOSED in TRANSITIONS[Status.RESOLVED]:
            return [Status.RESOLVED, Status.CLOSED]
        return [Status.RESOLVED]
    if Status.CLOSED in allowed:
        return [Status.CLOSED]
    return []


@transaction.atomic
def close_by_customer(ticket: Ticket, *, actor: User, comment: str = "") -> Ticket:
    """The requester (or their organisation's admin) closes their own request.

    An optional closing ``comment`` becomes a public reply; then the ticket walks the path of
    :func:`customer_close_path` with ``actor`` recorded on every timeline entry. The caller
    has checked that ``actor`` may see the ticket and write on it.
    """
    from buttress.desk.services.conversation import add_reply

    # Two clicks racing: the second one sees the first one's status and is refused.
    Ticket.objects.select_for_update(of=("self",)).only("pk").get(pk=ticket.pk)
    ticket.refresh_from_db()
    check_not_merged(ticket)
    path = customer_close_path(ticket)
    if not path:
        raise ValidationError({"status": f"The request is already {ticket.status}."})
    if comment.strip():
        add_reply(ticket, actor=actor, body=comment, keep_status=True)
    for status in path:
        transition(ticket, status, actor=actor)
    return ticket
