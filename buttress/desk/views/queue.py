"""The queue: filtered, sorted, keyset-paged tickets, and bulk actions on the ticked ones."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe

from buttress.accounts.models import Role, Team
from buttress.desk import search, services
from buttress.desk.access import (
    DeskCapability,
    can,
    get_view_for,
    require,
    sees_internal,
    tickets_for,
    views_for,
)
from buttress.desk.forms import (
    ME,
    NO_SLA,
    NUMBER_RE,
    OPEN,
    ORDERS,
    UNASSIGNED,
    BulkForm,
    QueueFilterForm,
    workers,
)
from buttress.desk.models import DONE_STATUSES, Ticket, TicketQuerySet
from buttress.desk.services import saved_views
from buttress.desk.views import render as html
from buttress.desk.views.common import workspace_user
from buttress.lib.pagination import InvalidCursor, Page, paginate
from buttress.lib.timeutil import now
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.orgfilter import selected_organization, visible_organizations
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User

PAGE_SIZE = 50
# Bulk actions work on one page of tickets at most.
BULK_LIMIT = 200


def _filters(
    request: HttpRequest, user: User
) -> tuple[QueueFilterForm, TicketQuerySet, QueryDict, str, tuple[list[User], list[Team]]]:
    """The form, the filtered tickets, the query string without the cursor, the words to
    search for (empty unless the text box holds something other than a ticket number), and
    the workers and teams read for the form's choices."""
    organizations = visible_organizations(request, user)
    data = request.GET.copy()
    data.pop("cursor", None)
    if len(organizations) == 1:
        data["org"] = str(organizations[0].pk)
    elif "org" not in data and (default := selected_organization(request)) is not None:
        # The header's organisation is a default; an explicit "All organisations" wins.
        data["org"] = str(default.pk)
    if "status" not in data:
        data["status"] = OPEN
    teams = list(Team.objects.only("id", "name").order_by("name"))
    assignees = list(workers().only("id", "full_name", "email"))
    form = QueueFilterForm(data, organizations=organizations, teams=teams, assignees=assignees)
    form.is_valid()
    # An invalid filter is reported on the form and left out; the valid ones still apply.
    cleaned = form.cleaned_data
    tickets = tickets_for(user)
    if org := cleaned.get("org"):
        tickets = tickets.for_org(org)
    status = cleaned.get("status")
    if status == OPEN:
        tickets = tickets.exclude(status__in=DONE_STATUSES)
    elif status:
        tickets = tickets.filter(status=status)
    for field in ("priority", "type", "source"):
        if value := cleaned.get(field):
            tickets = tickets.filter(**{field: value})
    if team := cleaned.get("team"):
        tickets = tickets.filter(team_id=team)
    assignee = cleaned.get("assignee")
    if assignee == ME:
        tickets = tickets.filter(assignee_id=user.pk)
    elif assignee == UNASSIGNED:
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee:
        tickets = tickets.filter(assignee_id=int(assignee))
    if tag := cleaned.get("tag"):
        tickets = tickets.tagged(tag)
    if sla := cleaned.get("sla"):
        tickets = tickets.filter(sla_state="" if sla == NO_SLA else sla)
    if cleaned.get("sort") == "sla":
        tickets = tickets.filter(sla_due_at__isnull=False)
    words = ""
    if text := cleaned.get("q"):
        if match := NUMBER_RE.match(text):
            tickets = tickets.filter(number=int(match.group(1)))
        else:
            words = text
    return form, tickets, data, words, (assignees, teams)


def _rows(tickets: TicketQuerySet) -> TicketQuerySet:
    return tickets.select_related("organization", "requester", "assignee", "team").only(
        "id",
        "number",
        "subject",
        "status",
        "priority",
        "type",
        "tags",
        "updated_at",
        "created_at",
        "sla_state",
        "sla_due_at",
        "organization__name",
        "requester__name",
        "assignee__full_name",
        "assignee__email",
        "team__name",
    )


def _page(
    tickets: TicketQuerySet, order: tuple[str, ...], cursor: str | None, *, searching: bool
) -> Page[Ticket]:
    if searching:
        return search.search_page(_rows(tickets), cursor=cursor, limit=PAGE_SIZE)
    return paginate(_rows(tickets), order=order, cursor=cursor, limit=PAGE_SIZE)


def _bulk_options(bulk: BulkForm) -> dict[str, SafeString]:
    """The ``<option>`` elements of the bulk bar's selects, each list walked once."""
    return {
        name: html.options(
            cast("Iterable[tuple[Any, Any]]", getattr(bulk.fields[name], "choices", ())),
            skip_empty=name in {"assignee", "team"},
        )
        for name in ("action", "assignee", "status", "team")
    }


def _attach_snippets(tickets: list[Ticket], words: str, *, include_internal: bool) -> None:
    shown = search.snippets(
        [ticket.pk for ticket in tickets], words, include_internal=include_internal
    )
    for ticket in tickets:
        # snippets() escapes the ticket text itself and adds only <mark> around matches.
        ticket.snippet = mark_safe(shown.get(ticket.pk, ""))  # type: ignore[attr-defined]  # noqa: S308


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    user = workspace_user(request)
    form, tickets, query, words, shown = _filters(request, user)
    order = ORDERS.get(form.cleaned_data.get("sort") or "updated", ORDERS["updated"])
    internal = sees_internal(user)
    more_matches = False
    if words:
        # Relevance replaces the chosen sort while searching: the best match comes first.
        found = search.search(
            tickets,
            words,
            include_internal=internal,
            organizations=search.organizations_searched(user, form.cleaned_data.get("org")),
        )
        tickets, more_matches = found.tickets, found.capped
    try:
        page = _page(tickets, order, request.GET.get("cursor") or None, searching=bool(words))
    except InvalidCursor:
        messages.warning(request, "That page link is no longer valid; showing the first page.")
        page = _page(tickets, order, None, searching=bool(words))
    # Said on the first page of a search: later pages continue the same ranked set.
    capped = more_matches and not request.GET.get("cursor")
    if words:
        _attach_snippets(page.items, words, include_internal=internal)
    can_work = can(user, DeskCapability.WORK)
    show_org = not form.cleaned_data.get("org")
    bulk = (
        # The bulk form shows the lists the filter form read (once per page).
        BulkForm(initial={"next": f"?{query.urlencode()}"}, shown=shown) if can_work else None
    )
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "query": query,
        "saved_views": [
            (view, urlencode(view.query)) for view in views_for(user).select_related("owner")
        ],
        "can_share": user.role == Role.ADMIN,
        "show_org": show_org,
        "searching": bool(words),
        "ranked_limit": search.SEARCH_CANDIDATES if capped else None,
        "can_work": can_work,
        "bulk": bulk,
        "bulk_options": _bulk_options(bulk) if bulk is not None else None,
        "rows": html.queue_rows(
            page.items, show_org=show_org, selectable=bulk is not None, now=now()
        ),
        "htmx": is_htmx(request),
    }
    template = "desk/list.html#results" if is_htmx(request) else "desk/list.html"
    return vary_on_htmx(render(request, template, context))


def _apply(action: str, ticket: Ticket, user: User, cleaned: dict[str, Any]) -> None:
    if action == "assign_me":
        services.update_ticket(ticket, actor=user, assignee=user)
    elif action == "assign":
        services.update_ticket(ticket, actor=user, assignee=cleaned["assignee"])
    elif action == "team":
        services.update_ticket(ticket, actor=user, team=cleaned["team"])
    elif action == "status":
        services.transition(ticket, cleaned["status"], actor=user)


@login_required
def ticket_bulk(request: HttpRequest) -> HttpResponse:
    user = workspace_user(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    require(user, DeskCapability.WORK)
    form = BulkForm(request.POST)
    back = reverse("desk:list")
    nxt = request.POST.get("next", "")
    if nxt.startswith("?") and url_has_allowed_host_and_scheme(back + nxt, allowed_hosts=None):
        back += nxt.replace("\x00", "")
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = "Tickets" if field == "ticket" else field.replace("_", " ").capitalize()
            for error in errors:
                messages.error(request, f"{label}: {error}" if field != "__all__" else str(error))
        return redirect(back)
    cleaned = form.cleaned_data
    ids = cleaned["ticket"][:BULK_LIMIT]
    # Tickets the user cannot see are skipped, exactly as ids that do not exist.
    tickets = tickets_for(user).filter(pk__in=ids).select_related("organization", "assignee")
    done: list[str] = []
    for ticket in sorted(tickets, key=lambda t: t.number):
        try:
            _apply(cleaned["action"], ticket, user, cleaned)
        except ValidationError as exc:
            messages.error(request, f"{ticket.reference}: {' '.join(exc.messages)}")
        else:
            done.append(ticket.reference)
    missing = len(set(ids)) - len(tickets)
    if missing:
        messages.error(request, f"{missing} selected ticket(s) were not found.")
    if done:
        messages.success(request, f"Updated {len(done)} ticket(s): {', '.join(done)}.")
    return redirect(back)


@login_required
def view_save(request: HttpRequest) -> HttpResponse:
    """Keep the queue's current filters under a name (the same name replaces them)."""
    user = workspace_user(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    raw = request.POST.get("query", "").lstrip("?")
    query = {k: v for k, v in parse_qsl(raw) if k in saved_views.QUERY_FIELDS}
    try:
        view = saved_views.save_view(
            user,
            name=request.POST.get("name", ""),
            query=query,
            shared=request.POST.get("shared") == "1",
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, f"View not saved: {message}")
        return redirect(reverse("desk:list") + (f"?{urlencode(query)}" if query else ""))
    messages.success(request, f"Saved the view {view.name}.")
    return redirect(reverse("desk:list") + f"?{urlencode(view.query)}")


@login_required
def view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    # Looked up before the role check: someone else's view answers 404 to anyone.
    view = get_view_for(current_user(request), view_id)
    user = workspace_user(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        saved_views.delete_view(view, actor=user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deleted the view {view.name}.")
    return redirect("desk:list")
