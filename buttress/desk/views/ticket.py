"""One ticket: its header, timeline and the forms that work on it.

Every POST answers the ticket's main block for HTMX (so a change shows in place, timeline
included) or redirects back to the page; a form with errors is shown again with them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.timezone import localtime

from buttress.accounts.models import Team, User
from buttress.assets.access import assets_for
from buttress.desk import services
from buttress.desk.access import (
    DeskCapability,
    attachments_for,
    can,
    events_for,
    macros_for,
    replies_for,
)
from buttress.desk.forms import (
    AssetLinkForm,
    MacroApplyForm,
    ReplyForm,
    TicketFieldsForm,
    TimeEntryForm,
    TransitionForm,
)
from buttress.desk.models import (
    DONE_STATUSES,
    Attachment,
    EventKind,
    Status,
    Ticket,
    TimeEntry,
)
from buttress.desk.services import attachments, macros
from buttress.desk.services.tickets import allowed_transitions
from buttress.desk.views import render as html
from buttress.desk.views.common import ticket_for_request
from buttress.sla import clocks
from buttress.tenancy.access import Capability
from buttress.tenancy.access import can as can_tenancy
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx

if TYPE_CHECKING:
    from buttress.assets.models import Asset

STATUS_LABELS = dict(Status.choices)
KIND_LABELS = dict(EventKind.choices)
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
    # Only the columns the page shows, and people looked up once each rather than joined to
    # every entry: a long timeline names the same few people hundreds of times.
    # Rows rather than model instances: the page only reads them.
    events: list[Any] = list(
        events_for(user, ticket)
        .order_by("-at", "-id")
        .values_list("id", "kind", "actor_id", "at", "detail", "is_internal", named=True)[
            :TIMELINE_LIMIT
        ]
    )
    events.reverse()
    # Only the replies the shown entries name: a long ticket's older ones are not on the page.
    reply_ids: set[int] = set()
    for event in events:
        named = event.detail.get("reply") if isinstance(event.detail, dict) else None
        if event.kind in (EventKind.REPLIED, EventKind.NOTE_ADDED) and isinstance(named, int):
            reply_ids.add(named)
    replies: dict[int, Any] = {
        r.id: r
        for r in replies_for(user, ticket)
        .filter(pk__in=reply_ids)
        .values_list("id", "body", "author_id", "author_contact__name", named=True)
    }
    files_by_reply: defaultdict[int, list[Attachment]] = defaultdict(list)
    for attachment in (
        attachments_for(user, ticket)
        .filter(reply_id__in=reply_ids)
        .only("id", "reply_id", "filename", "size")
    ):
        assert attachment.reply_id is not None
        files_by_reply[attachment.reply_id].append(attachment)
    # Field changes store ids; one query per kind of name turns them into names.
    wanted: defaultdict[str, set[int]] = defaultdict(set)
    for event in events:
        if event.actor_id is not None:
            wanted["assignee"].add(event.actor_id)
        field = event.detail.get("field") if isinstance(event.detail, dict) else None
        if field in NAMED_FIELDS:
            for key in ("before", "after"):
                if isinstance(event.detail.get(key), int):
                    wanted[field].add(event.detail[key])
    for reply in replies.values():
        if reply.author_id is not None:
            wanted["assignee"].add(reply.author_id)
    people = {
        u.pk: u.display_name
        for u in User.objects.filter(pk__in=wanted["assignee"]).only("full_name", "email")
    }
    names: dict[str, dict[int, str]] = {
        "team": dict(Team.objects.filter(pk__in=wanted["team"]).values_list("pk", "name")),
        "assignee": people,
    }
    entries = []
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        entry: dict[str, Any] = {"event": event, "detail": detail}
        reply_id = detail.get("reply")
        reply = None
        if event.kind in (EventKind.REPLIED, EventKind.NOTE_ADDED) and reply_id in replies:
            reply = entry["reply"] = replies[reply_id]
            entry["files"] = files_by_reply.get(reply_id, [])
        # Worked out here rather than in the template: a long timeline renders it per entry.
        entry["who"] = _author_name(reply, event, people)
        entry["label"] = KIND_LABELS.get(event.kind, event.kind).lower()
        # What the template's date filters would print, without their per-call overhead.
        at = localtime(event.at)
        entry["at_iso"], entry["at_text"] = at.isoformat(), at.strftime("%Y-%m-%d %H:%M")
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


def _author_name(reply: Any, event: Any, people: dict[int, str]) -> str:
    """Who wrote the reply (a person or a contact) or made the change; rows from _timeline."""
    if reply is not None and reply.author_id is not None and reply.author_id in people:
        return people[reply.author_id]
    if reply is not None and reply.author_contact__name is not None:
        return str(reply.author_contact__name)
    if event.actor_id is not None and event.actor_id in people:
        return people[event.actor_id]
    return "System"


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
    timeline = _timeline(user, ticket)
    context: dict[str, Any] = {
        "ticket": ticket,
        "clocks": [
            clocks.clock_view(clock) for clock in clocks.current_clocks([ticket]).get(ticket.pk, [])
        ],
        "timeline": timeline,
        "timeline_html": html.timeline_entries(timeline),
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
        "macro_form": forms.get("macro")
        or (MacroApplyForm(macros=macros_for(user, ticket)) if can_work else None),
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


def _act(
    request: HttpRequest,
    pk: int,
    key: str,
    make_form: Callable[[User, Ticket], BaseForm],
    perform: Callable[[User, Ticket, BaseForm], str],
) -> HttpResponse:
    """One ticket-page action: POST only, the form, the service call, then the ticket's main
    block for HTMX or back to the page; errors go back onto the form under ``key``.
    ``perform`` answers the message shown after a full-page post (empty for none)."""
    found = _post_only(request, pk)
    if isinstance(found, HttpResponse):
        return found
    user, ticket = found
    form = make_form(user, ticket)
    if form.is_valid():
        try:
            message = perform(user, ticket, form)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if message and not is_htmx(request):
                messages.success(request, message)
            return _respond(request, user, ticket)
    elif key == "asset_unlink" and not is_htmx(request):
        messages.error(request, "That asset is not linked to this ticket.")
    return _respond(request, user, ticket, {key.removesuffix("_unlink"): form})


def _reply(user: User, ticket: Ticket, form: BaseForm) -> str:
    data = form.cleaned_data
    with transaction.atomic():
        reply = services.add_reply(ticket, actor=user, body=data["body"], internal=data["internal"])
        attachments.attach(ticket, data["upload"], actor=user, reply=reply)
    return "Note added." if data["internal"] else "Reply sent."


def _transition(user: User, ticket: Ticket, form: BaseForm) -> str:
    data = form.cleaned_data
    services.transition(ticket, data["status"], actor=user)
    return f"Status set to {ticket.get_status_display()}."


def _link(user: User, ticket: Ticket, form: BaseForm) -> str:
    data = form.cleaned_data
    services.link_asset(ticket, data["asset"], actor=user)
    return ""


def _unlink(user: User, ticket: Ticket, form: BaseForm) -> str:
    data = form.cleaned_data
    services.unlink_asset(ticket, data["asset"], actor=user)
    return ""


def _time(user: User, ticket: Ticket, form: BaseForm) -> str:
    data = form.cleaned_data
    services.log_time(ticket, actor=user, **data)
    return "Time logged."


def _macro(user: User, ticket: Ticket, form: BaseForm) -> str:
    data = form.cleaned_data
    done = macros.apply_macro(ticket, data["macro"], actor=user)
    return f"Macro {data['macro'].name} applied: {', '.join(done) or 'nothing to change'}."


@login_required
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "reply", lambda u, t: ReplyForm(request.POST, request.FILES), _reply)


@login_required
def ticket_transition(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "transition", lambda u, t: TransitionForm(request.POST), _transition)


@login_required
def ticket_update(request: HttpRequest, pk: int) -> HttpResponse:
    def make(user: User, ticket: Ticket) -> BaseForm:
        return TicketFieldsForm(
            request.POST, organization=ticket.organization, initial=_fields_initial(ticket)
        )

    def perform(user: User, ticket: Ticket, form: BaseForm) -> str:
        # Only what the form changed, so an untouched field is not rewritten.
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        if changed:
            services.update_ticket(ticket, actor=user, **changed)
        return "Ticket saved." if changed else "Nothing changed."

    return _act(request, pk, "fields", make, perform)


@login_required
def ticket_asset_link(request: HttpRequest, pk: int) -> HttpResponse:
    def make(user: User, ticket: Ticket) -> BaseForm:
        return AssetLinkForm(request.POST, assets=_linkable_assets(user, ticket))

    return _act(request, pk, "asset", make, _link)


@login_required
def ticket_asset_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    def make(user: User, ticket: Ticket) -> BaseForm:
        return AssetLinkForm(request.POST, assets=ticket.assets.all())

    return _act(request, pk, "asset_unlink", make, _unlink)


@login_required
def ticket_time(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "time", lambda u, t: TimeEntryForm(request.POST), _time)


@login_required
def ticket_macro(request: HttpRequest, pk: int) -> HttpResponse:
    def make(user: User, ticket: Ticket) -> BaseForm:
        return MacroApplyForm(request.POST, macros=macros_for(user, ticket))

    return _act(request, pk, "macro", make, _macro)
