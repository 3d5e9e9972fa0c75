"""Carrying out fired warning steps: notify the people on the ticket, reassign it to a team,
or raise its priority. Called by :func:`buttress.sla.tasks.run_action`, once per step."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse

from buttress.accounts.models import Team, User
from buttress.desk import services as desk
from buttress.desk.models import Ticket
from buttress.sla.models import ClockKind, SlaAction, WarningAction


def recipients(ticket: Ticket) -> list[str]:
    """The assignee, or the team's members while nobody is assigned, and the watchers."""
    people: list[User] = []
    if ticket.assignee is not None:
        people.append(ticket.assignee)
    elif ticket.team is not None:
        people.extend(ticket.team.members.all())
    people.extend(ticket.watchers.all())
    seen: dict[str, None] = {}
    for user in people:
        if user.is_active and user.email:
            seen.setdefault(user.email, None)
    return list(seen)


def _notify(action: SlaAction, ticket: Ticket) -> str:
    to = recipients(ticket)
    if not to:
        return "nobody to notify: the ticket has no assignee, team members or watchers"
    clock = ClockKind(action.clock.kind).label.lower()
    point = (
        f"{action.detail['percent']}% of the target used"
        if "percent" in action.detail
        else f"{action.detail.get('minutes_before')} minutes before due"
    )
    due = action.clock.breach_at
    link = settings.BASE_URL + reverse("desk:detail", kwargs={"pk": ticket.pk})
    body = "\n".join(
        [
            f"{ticket.reference} {ticket.subject}",
            "",
            f"The {clock} target is at risk: {point}.",
            f"Due: {due:%Y-%m-%d %H:%M %Z}" if due else "Due: paused",
            f"Priority: {ticket.priority}   Status: {ticket.get_status_display()}",
            "",
            link,
        ]
    )
    subject = f"[{ticket.reference}] SLA warning: {clock} ({point})"
    EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, to).send()
    return f"notified {', '.join(to)}"


def _reassign(action: SlaAction, ticket: Ticket) -> str:
    team = Team.objects.filter(pk=action.detail.get("team")).first()
    if team is None:
        return "not reassigned: the step's team no longer exists"
    if ticket.team_id == team.pk and ticket.assignee_id is None:
        return f"already with team {team.name}"
    desk.update_ticket(ticket, actor=None, team=team, assignee=None)
    return f"reassigned to team {team.name}"


def _raise(ticket: Ticket) -> str:
    before = ticket.priority
    if desk.raise_priority(ticket, actor=None):
        return f"priority raised from {before} to {ticket.priority}"
    return f"priority already {before}"


def perform(action: SlaAction) -> str:
    ticket = Ticket.objects.select_related("assignee", "team").get(pk=action.ticket_id)
    if ticket.merged_into_id is not None:
        return "skipped: the ticket was merged"
    if action.action == WarningAction.NOTIFY:
        return _notify(action, ticket)
    if action.action == WarningAction.REASSIGN:
        return _reassign(action, ticket)
    if action.action == WarningAction.RAISE_PRIORITY:
        return _raise(ticket)
    return f"unknown action {action.action!r}"
