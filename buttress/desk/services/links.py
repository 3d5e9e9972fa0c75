"""Links between a ticket and its assets and other tickets, and merging duplicates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import User as UserModel
from buttress.assets.models import Asset
from buttress.audit import services as audit
from buttress.desk.models import DONE_STATUSES, EventKind, Reply, Status, Ticket, TicketType
from buttress.desk.models import TimeEntry as TimeEntryModel
from buttress.desk.search import index_ticket
from buttress.desk.services.tickets import transition
from buttress.desk.services.timeline import (
    check_not_merged,
    check_same_org,
    record_event,
    touch,
)
from buttress.lib.timeutil import now
from buttress.sla import clocks

if TYPE_CHECKING:
    from buttress.accounts.models import User

# Parent chains deeper than this are refused; it also bounds the cycle check.
MAX_DEPTH = 20


def _audit_link(
    ticket: Ticket, actor: User | None, field: str, before: object, after: object
) -> None:
    audit.record(
        ticket,
        actor=actor,
        action="update",
        organization=ticket.organization,
        changes={field: [before, after]},
    )


@transaction.atomic
def link_asset(ticket: Ticket, asset: Asset, *, actor: User | None) -> bool:
    """Link ``asset``; False when it already was."""
    if asset.organization_id != ticket.organization_id:
        raise ValidationError({"asset": "The asset belongs to another organisation."})
    if ticket.assets.filter(pk=asset.pk).exists():
        return False
    ticket.assets.add(asset)
    at = now()
    record_event(
        ticket,
        EventKind.ASSET_LINKED,
        actor=actor,
        at=at,
        detail={"asset": asset.pk, "name": asset.name},
    )
    _audit_link(ticket, actor, "assets", None, asset.name)
    touch(ticket, at)
    # An asset in maintenance may pause the ticket's clocks.
    clocks.sync(ticket, at=at, signal=clocks.Signal.CHANGED)
    return True


@transaction.atomic
def unlink_asset(ticket: Ticket, asset: Asset, *, actor: User | None) -> bool:
    """Unlink ``asset``; False when it was not linked."""
    if not ticket.assets.filter(pk=asset.pk).exists():
        return False
    ticket.assets.remove(asset)
    at = now()
    record_event(
        ticket,
        EventKind.ASSET_UNLINKED,
        actor=actor,
        at=at,
        detail={"asset": asset.pk, "name": asset.name},
    )
    _audit_link(ticket, actor, "assets", asset.name, None)
    touch(ticket, at)
    clocks.sync(ticket, at=at, signal=clocks.Signal.CHANGED)
    return True


@transaction.atomic
def set_parent(ticket: Ticket, parent: Ticket | None, *, actor: User | None) -> Ticket:
    """Make ``ticket`` a child of ``parent`` (None detaches it); cycles are refused."""
    if parent is not None:
        check_same_org(ticket, parent, "parent")
        ancestor: Ticket | None = parent
        for _ in range(MAX_DEPTH):
            if ancestor is None:
                break
            if ancestor.pk == ticket.pk:
                raise ValidationError({"parent": "That would make the ticket its own ancestor."})
            ancestor = ancestor.parent
        else:
            raise ValidationError({"parent": f"Parent chains are at most {MAX_DEPTH} deep."})
    before = ticket.parent
    if (before.pk if before else None) == (parent.pk if parent else None):
        return ticket
    ticket.parent = parent
    ticket.save(update_fields=["parent"])
    at = now()
    record_event(
        ticket,
        EventKind.PARENT_SET,
        actor=actor,
        at=at,
        detail={
            "before": before.pk if before else None,
            "after": parent.pk if parent else None,
        },
    )
    _audit_link(
        ticket,
        actor,
        "parent",
        before.reference if before else None,
        parent.reference if parent else None,
    )
    touch(ticket, at)
    return ticket


@transaction.atomic
def relate(ticket: Ticket, other: Ticket, *, actor: User | None, follow_up: bool = False) -> bool:
    """Mark two tickets of an organisation as related (both ways); False if they were.

    ``follow_up``: ``ticket`` was opened as the follow-up of the closed ``other``; both
    timeline entries say so (reasons ``follow_up`` and ``followed_up``) and name the other."""
    check_same_org(ticket, other, "ticket")
    if ticket.related.filter(pk=other.pk).exists():
        return False
    ticket.related.add(other)
    at = now()
    for one, two, reason in ((ticket, other, "follow_up"), (other, ticket, "followed_up")):
        detail: dict[str, object] = {"ticket": two.pk}
        if follow_up:
            detail.update(reason=reason, reference=two.reference)
        record_event(one, EventKind.RELATED, actor=actor, at=at, detail=detail)
        _audit_link(one, actor, "related", None, two.reference)
        touch(one, at)
    return True


@transaction.atomic
def link_incident(problem: Ticket, incident: Ticket, *, actor: User | None) -> bool:
    """Record that ``problem`` explains ``incident``; False if it already did."""
    check_same_org(problem, incident, "incident")
    if problem.type != TicketType.PROBLEM:
        raise ValidationError({"type": "Only a problem ticket explains incidents."})
    if incident.type != TicketType.INCIDENT:
        raise ValidationError({"incident": f"{incident.reference} is not an incident."})
    if problem.incidents.filter(pk=incident.pk).exists():
        return False
    problem.incidents.add(incident)
    at = now()
    detail = {"problem": problem.pk, "incident": incident.pk}
    for ticket in (problem, incident):
        record_event(ticket, EventKind.INCIDENT_LINKED, actor=actor, at=at, detail=detail)
        touch(ticket, at)
    _audit_link(problem, actor, "incidents", None, incident.reference)
    return True


@transaction.atomic
def merge_tickets(duplicate: Ticket, *, into: Ticket, actor: User | None) -> Ticket:
    """Fold ``duplicate`` into ``into``: its replies, time entries and watchers move over, both
    timelines record the merge, and the duplicate is closed and points at ``into``."""
    check_same_org(duplicate, into, "into")
    check_not_merged(duplicate)
    if into.merged_into_id is not None:
        raise ValidationError({"into": f"{into.reference} was itself merged into another."})
    at = now()
    moved = Reply.objects.filter(ticket=duplicate).update(ticket=into)
    TimeEntryModel.objects.filter(ticket=duplicate).update(ticket=into)
    into.watchers.add(*duplicate.watchers.all())
    if duplicate.requester_id is not None and duplicate.requester_id != into.requester_id:
        # The duplicate's requester keeps hearing about the issue through the surviving ticket.
        watching = UserModel.objects.filter(
            contact_id=duplicate.requester_id, is_active=True
        ).first()
        if watching is not None:
            into.watchers.add(watching)
    if duplicate.status not in DONE_STATUSES or duplicate.status == Status.RESOLVED:
        transition(duplicate, Status.CLOSED, actor=actor, at=at, merged=True)
    duplicate.merged_into = into
    duplicate.save(update_fields=["merged_into"])
    record_event(
        duplicate,
        EventKind.MERGED_INTO,
        actor=actor,
        at=at,
        detail={"into": into.pk, "reference": into.reference, "replies": moved},
    )
    record_event(
        into,
        EventKind.MERGED_FROM,
        actor=actor,
        at=at,
        detail={"ticket": duplicate.pk, "reference": duplicate.reference, "replies": moved},
    )
    _audit_link(duplicate, actor, "merged_into", None, into.reference)
    _audit_link(into, actor, "merged_from", None, duplicate.reference)
    touch(into, at)
    # The moved replies are found through the surviving ticket from now on.
    index_ticket(duplicate)
    index_ticket(into)
    return into
