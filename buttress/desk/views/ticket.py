"""One ticket: its header, timeline and the forms that work on it.

Every POST answers the ticket's main block for HTMX (so a change shows in place, timeline
included) or redirects back to the page; a form with errors is shown again with them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from buttress.accounts.models import Team, User
from buttress.assets.access import assets_for
from buttress.desk import services
from buttress.desk.access import DeskCapability, can, events_for, replies_for
from buttress.desk.forms import (
    AssetLinkForm,
    ReplyForm,
    TicketFieldsForm,
    TimeEntryForm,
    TransitionForm,
)
from buttress.desk.models import DONE_STATUSES, EventKind, Status, Ticket, TimeEntry
from buttress.desk.services.tickets import allowed_transitions
from buttress.desk.views.common import ticket_for_request
from buttress.sla import clocks
from buttress.tenancy.access import Capability
from buttress.tenancy.access import can as can_tenancy
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx

if TYPE_CHECKING:
    from buttress.assets.models import Asset

STATUS_LABELS = dict(Status.choices)
# Timeline entries shown on the page; the API pages through all of them.
TIMELINE_LIMIT = 500
ASSET_CHOICES_LIMIT = 300
OTHER_TICKETS_LIMIT = 100
NAMED_FIELDS = {"team": Team, "assignee": User}


def _linkable_assets(user: User, ticket: Ticket) -> Any:
    return assets_for(user).filter(organization_id=ticket.organization_id).order_by("name", "id")


def _fields_initial(ticket: Ticket) -> dict[str, Any]:
    return {
        "type": ticket.type,
        "impact": ticket.impact,
        "urgency": ticket.urgency,
        "category": ticket.category,
        "team": ticket.team_id,
        "assignee": ticket.assignee_id,
        "tags": ", ".join(ticket.tags or []),
    }


def _timeline(user: User, ticket: Ticket) -> list[dict[str, Any]]:
    """The timeline, oldest first, each entry with the reply it names and readable names."""
    events = list(
        events_for(user, ticket).select_related("actor").order_by("-at", "-id")[:TIMELINE_LIMIT]
    )
    events.reverse()
    replies = {
        r.pk: r for r in replies_for(user, ticket).select_related("author", "author_contact")
    }
    # Field changes store ids; one query per kind of name turns them into names.
    wanted: defaultdict[str, set[int]] = defaultdict(set)
    for event in events:
        field = event.detail.get("field")
        if field in NAMED_FIELDS:
            for key in ("before", "after"):
                if isinstance(event.detail.get(key), int):
                    wanted[field].add(event.detail[key])
    names: dict[str, dict[int, str]] = {
        "team": dict(Team.objects.filter(pk__in=wanted["team"]).values_list("pk", "name")),
        "assignee": {
            u.pk: u.display_name
            for u in User.objects.filter(pk__in=wanted["assignee"]).only("full_name", "email")
        },
    }
    entries = []
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        entry: dict[str, Any] = {"event": event, "detail": detail}
        reply_id = detail.get("reply")
        if event.kind in (EventKind.REPLIED, EventKind.NOTE_ADDED) and reply_id in replies:
            entry["reply"] = replies[reply_id]
        if event.kind.startswith("sla_") and "clock" in detail:
            entry["sla"] = clocks.describe_event(event.kind, detail)
        field = detail.get("field")
        if field in names:
            for key in ("before", "after"):
                value = detail.get(key)
                entry[key] = names[field].get(value, value) if isinstance(value, int) else value
        elif "field" in detail:
            entry["before"], entry["after"] = detail.get("before"), detail.get("after")
        for key in ("from", "to"):
            if key in detail:
                entry[key] = STATUS_LABELS.get(detail[key], detail[key])
        entries.append(entry)
    return entries


def _linked_assets(user: User, ticket: Ticket) -> list[tuple[Asset, list[Ticket]]]:
    assets = list(ticket.assets.order_by("name", "id"))
    if not assets:
        return []
    others: defaultdict[int, list[Ticket]] = defaultdict(list)
    through = (
        Ticket.assets.through.objects.filter(
            asset_id__in=[a.pk for a in assets],
            ticket__organization_id=ticket.organization_id,
        )
        .exclude(ticket_id=ticket.pk)
        .exclude(ticket__status__in=DONE_STATUSES)
    )
    for link in through.select_related("ticket").order_by("-ticket__updated_at")[
        :OTHER_TICKETS_LIMIT
    ]:
        others[link.asset_id].append(link.ticket)
    return [(asset, others.get(asset.pk, [])) for asset in assets]


def _context(
    request: HttpRequest, user: User, ticket: Ticket, forms: dict[str, BaseForm] | None = None
) -> dict[str, Any]:
    forms = forms or {}
    can_work = can(user, DeskCapability.WORK)
    linkable = _linkable_assets(user, ticket).exclude(tickets=ticket)
    time_entries = list(
        TimeEntry.objects.filter(ticket=ticket).select_related("user").order_by("date", "id")
    )
    context: dict[str, Any] = {
        "ticket": ticket,
        "clocks": [
            clocks.clock_view(clock) for clock in clocks.current_clocks([ticket]).get(ticket.pk, [])
        ],
        "timeline": _timeline(user, ticket),
        "transitions": [(s, STATUS_LABELS[s]) for s in allowed_transitions(ticket)],
        "can_work": can_work,
        "linked_assets": _linked_assets(user, ticket),
        "sees_cmdb": can_tenancy(user, Capability.VIEW_CMDB),
        "time_entries": time_entries,
        "time_total": sum(e.minutes for e in time_entries),
        "children": list(ticket.children.order_by("number")),
        "related": list(ticket.related.order_by("number")),
        "merged": list(ticket.merged.order_by("number")),
        "htmx": is_htmx(request),
        "reply_form": forms.get("reply") or ReplyForm(),
        "transition_form": forms.get("transition") or TransitionForm(),
        "fields_form": forms.get("fields")
        or TicketFieldsForm(organization=ticket.organization, initial=_fields_initial(ticket)),
        "time_form": forms.get("time") or TimeEntryForm(),
        "asset_form": forms.get("asset") or AssetLinkForm(assets=linkable[:ASSET_CHOICES_LIMIT]),
    }
    return context


def _respond(
    request: HttpRequest, user: User, ticket: Ticket, forms: dict[str, BaseForm] | None = None
) -> HttpResponse:
    """The ticket's main block for HTMX, the page with errors, or back to the page."""
    has_errors = any(form.errors for form in (forms or {}).values())
    if not is_htmx(request) and not has_errors:
        return redirect("desk:detail", pk=ticket.pk)
    # Refetched so the header shows what the services wrote (priority, timestamps).
    ticket = Ticket.objects.select_related("organization", "requester", "assignee", "team").get(
        pk=ticket.pk
    )
    template = "desk/detail.html#ticket" if is_htmx(request) else "desk/detail.html"
    return vary_on_htmx(render(request, template, _context(request, user, ticket, forms)))


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user, ticket = ticket_for_request(request, pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return vary_on_htmx(render(request, "desk/detail.html", _context(request, user, ticket)))


def _post_only(request: HttpRequest, pk: int) -> tuple[User, Ticket] | HttpResponse:
    # The ticket is looked up before the method is checked, so that another organisation's
    # ticket answers 404 whatever the method.
    user, ticket = ticket_for_request(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return user, ticket


@login_required
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    found = _post_only(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, ticket = found
    form = ReplyForm(request.POST)
    if form.is_valid():
        internal = form.cleaned_data["internal"]
        try:
            services.add_reply(
                ticket, actor=user, body=form.cleaned_data["body"], internal=internal
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not is_htmx(request):
                messages.success(request, "Note added." if internal else "Reply sent.")
            return _respond(request, user, ticket)
    return _respond(request, user, ticket, {"reply": form})


@login_required
def ticket_transition(request: HttpRequest, pk: int) -> HttpResponse:
    found = _post_only(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, ticket = found
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            services.transition(ticket, form.cleaned_data["status"], actor=user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not is_htmx(request):
                messages.success(request, f"Status set to {ticket.get_status_display()}.")
            return _respond(request, user, ticket)
    return _respond(request, user, ticket, {"transition": form})


@login_required
def ticket_update(request: HttpRequest, pk: int) -> HttpResponse:
    found = _post_only(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, ticket = found
    form = TicketFieldsForm(
        request.POST, organization=ticket.organization, initial=_fields_initial(ticket)
    )
    if form.is_valid():
        # Only what the form changed, so an untouched field is not rewritten.
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            if changes:
                services.update_ticket(ticket, actor=user, **changes)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not is_htmx(request):
                messages.success(request, "Ticket saved." if changes else "Nothing changed.")
            return _respond(request, user, ticket)
    return _respond(request, user, ticket, {"fields": form})


@login_required
def ticket_asset_link(request: HttpRequest, pk: int) -> HttpResponse:
    found = _post_only(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, ticket = found
    form = AssetLinkForm(request.POST, assets=_linkable_assets(user, ticket))
    if form.is_valid():
        try:
            services.link_asset(ticket, form.cleaned_data["asset"], actor=user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _respond(request, user, ticket)
    return _respond(request, user, ticket, {"asset": form})


@login_required
def ticket_asset_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    found = _post_only(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, ticket = found
    form = AssetLinkForm(request.POST, assets=ticket.assets.all())
    if form.is_valid():
        services.unlink_asset(ticket, form.cleaned_data["asset"], actor=user)
        return _respond(request, user, ticket)
    if not is_htmx(request):
        messages.error(request, "That asset is not linked to this ticket.")
    return _respond(request, user, ticket, {"asset": form})


@login_required
def ticket_time(request: HttpRequest, pk: int) -> HttpResponse:
    found = _post_only(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, ticket = found
    form = TimeEntryForm(request.POST)
    if form.is_valid():
        try:
            services.log_time(ticket, actor=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if not is_htmx(request):
                messages.success(request, "Time logged.")
            return _respond(request, user, ticket)
    return _respond(request, user, ticket, {"time": form})
