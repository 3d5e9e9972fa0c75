"""/tickets: the service desk's tickets, their conversation, time and timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import CharField, Q, Value
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as HttpStatus
from pydantic import Field

from buttress.accounts.models import Role, User
from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    optional_organization,
    organization_param,
    paginated,
    require_write,
    responses,
    staff_user,
    team_param,
)
from buttress.assets.models import Asset
from buttress.desk import search as desk_search
from buttress.desk import services
from buttress.desk.access import (
    DeskCapability,
    attachments_for,
    events_for,
    get_attachment_for,
    get_ticket_for,
    get_view_for,
    is_staff,
    replies_for,
    require,
    sees_internal,
    tickets_for,
    views_for,
)
from buttress.desk.models import (
    REFERENCE_PREFIX,
    Activity,
    Attachment,
    Level,
    Priority,
    Reply,
    Source,
    Status,
    Ticket,
    TicketType,
    TimeEntry,
)
from buttress.desk.services import attachments as desk_attachments
from buttress.desk.services import saved_views
from buttress.desk.services.tickets import allowed_transitions
from buttress.desk.views.files import attachment_response
from buttress.sla import clocks
from buttress.tenancy import access as tenancy_access
from buttress.tenancy.access import Capability
from buttress.tenancy.models import Contact, Organization

router = Router(tags=["tickets"])

CUSTOMER_REFUSED = ("team", "assignee", "watchers", "assets", "source")


class TicketOut(Schema):
    id: int
    number: int
    reference: str = Field(description="The number as people quote it, e.g. T-10423.")
    organization: int = Field(validation_alias="organization_id")
    requester: int | None = Field(validation_alias="requester_id")
    created_by: int | None = Field(validation_alias="created_by_id")
    subject: str
    description: str
    type: TicketType
    status: Status
    priority: Priority
    impact: Level
    urgency: Level
    category: str
    team: int | None = Field(validation_alias="team_id")
    assignee: int | None = Field(validation_alias="assignee_id")
    tags: list[str]
    source: Source
    parent: int | None = Field(validation_alias="parent_id")
    merged_into: int | None = Field(validation_alias="merged_into_id")
    root_cause: str
    workaround: str
    known_error: bool
    paused: bool = Field(
        validation_alias="is_paused", description="In a status that pauses SLA clocks."
    )
    reopened_count: int
    sla_state: str = Field(
        description="breached, warning, running, paused, met, or empty without SLA clocks."
    )
    sla_due_at: dt.datetime | None = Field(
        description="The earliest breach (past) or projected breach (future) of running clocks."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None


LINKS = ("watchers", "assets", "related", "incidents", "problems", "children")


def _links(obj: Ticket, name: str) -> list[int]:
    """The ids of one kind of linked row, as :func:`_with_links` read them."""
    return list(getattr(obj, "links", {}).get(name, []))


class TicketDetail(TicketOut):
    watchers: list[int]
    assets: list[int]
    related: list[int]
    incidents: list[int] = Field(description="For a problem: the incidents it explains.")
    problems: list[int] = Field(description="For an incident: the problems that explain it.")
    children: list[int]
    transitions: list[str] = Field(description="The statuses the ticket may move to now.")

    @staticmethod
    def resolve_watchers(obj: Ticket) -> list[int]:
        return _links(obj, "watchers")

    @staticmethod
    def resolve_assets(obj: Ticket) -> list[int]:
        return _links(obj, "assets")

    @staticmethod
    def resolve_related(obj: Ticket) -> list[int]:
        return _links(obj, "related")

    @staticmethod
    def resolve_incidents(obj: Ticket) -> list[int]:
        return _links(obj, "incidents")

    @staticmethod
    def resolve_problems(obj: Ticket) -> list[int]:
        return _links(obj, "problems")

    @staticmethod
    def resolve_children(obj: Ticket) -> list[int]:
        return _links(obj, "children")

    @staticmethod
    def resolve_transitions(obj: Ticket) -> list[str]:
        return allowed_transitions(obj)


class TicketIn(Schema):
    organization: int
    subject: str = Field(min_length=1, max_length=250)
    description: str = ""
    type: TicketType = TicketType.INCIDENT
    impact: Level = Level.MEDIUM
    urgency: Level = Level.MEDIUM
    requester: int | None = Field(None, description="A contact of the organisation.")
    category: str = Field("", max_length=120)
    team: int | None = None
    assignee: int | None = None
    tags: list[str] = Field(default_factory=list)
    source: Source | None = Field(None, description="Staff only; api by default.")
    watchers: list[int] = Field(default_factory=list, description="User ids.")
    assets: list[int] = Field(default_factory=list, description="Asset ids of the organisation.")


class TicketPatch(Schema):
    subject: str | None = Field(None, min_length=1, max_length=250)
    description: str | None = None
    type: TicketType | None = None
    impact: Level | None = None
    urgency: Level | None = None
    requester: int | None = None
    category: str | None = Field(None, max_length=120)
    team: int | None = None
    assignee: int | None = None
    tags: list[str] | None = None
    source: Source | None = None
    watchers: list[int] | None = None
    root_cause: str | None = None
    workaround: str | None = None
    known_error: bool | None = None
    parent: int | None = Field(None, description="A ticket id of the organisation, or null.")


NULLABLE = frozenset({"requester", "team", "assignee", "parent"})


class TicketFilters(Schema):
    organization: int | None = None
    type: TicketType | None = None
    status: Status | None = None
    priority: Priority | None = None
    source: Source | None = None
    assignee: int | None = Field(None, description="A user id.")
    team: int | None = Field(None, description="A team id.")
    requester: int | None = Field(None, description="A contact id.")
    tag: str | None = Field(None, max_length=64, description="Tickets carrying this tag.")
    q: str | None = Field(None, description="Subject contains, or a ticket number (T-10423).")
    sla: Literal["breached", "warning", "running", "paused", "met", "none"] | None = Field(
        None, description="The SLA state; none: tickets without clocks."
    )
    sort: Literal["updated", "sla"] = Field(
        "updated",
        description="updated: most recently updated first; sla: soonest due first, only "
        "tickets with a running clock.",
    )


class ClockOut(Schema):
    kind: str = Field(description="first_response, next_response or resolution.")
    cycle: int = Field(description="Next response counts its exchanges: 1, 2, ...")
    state: str = Field(description="running, paused, breached (still running or paused) or met.")
    running: bool
    breached: bool
    target_minutes: float = Field(description="The target in business minutes.")
    elapsed_seconds: int = Field(description="Business time used so far.")
    left_seconds: int = Field(description="Business time left; negative when late.")
    due_at: dt.datetime | None = Field(
        description="When it breached, or when it will breach if nothing changes (wall time)."
    )
    wall_left_seconds: int | None
    started_at: dt.datetime
    breached_at: dt.datetime | None
    met_at: dt.datetime | None
    paused_by: list[str] = Field(description="status, maintenance or no_policy.")
    warnings_fired: list[str] = Field(description="Warning steps fired (staff only).")


class SearchParams(Schema):
    q: str = Field(
        description=(
            "Words to find in subjects, descriptions, replies and (staff only) internal notes."
        )
    )
    organization: int | None = None


class TicketHit(TicketOut):
    snippet: str = Field(
        description="HTML: a short extract of where the ticket matched, matches in <mark>."
    )


class ReplyOut(Schema):
    id: int
    ticket: int = Field(validation_alias="ticket_id")
    author: int | None = Field(validation_alias="author_id")
    author_contact: int | None = Field(validation_alias="author_contact_id")
    body: str
    internal: bool = Field(validation_alias="is_internal")
    created_at: dt.datetime


class ReplyIn(Schema):
    body: str = Field(min_length=1)
    internal: bool = Field(False, description="An internal note (provider staff only).")


class NoteIn(Schema):
    body: str = Field(min_length=1)


class TransitionIn(Schema):
    status: Status
    comment: str = Field(
        "",
        max_length=100_000,
        description="Optional; sent as a public reply before the status changes.",
    )


class TimeEntryOut(Schema):
    id: int
    ticket: int = Field(validation_alias="ticket_id")
    user: int | None = Field(validation_alias="user_id")
    minutes: int
    activity: Activity
    billable: bool
    note: str
    date: dt.date
    created_at: dt.datetime


class TimeEntryIn(Schema):
    minutes: int = Field(description="1 to 1440.")
    activity: Activity = Activity.REMOTE
    billable: bool = True
    note: str = Field("", max_length=500)
    date: dt.date | None = None


class EventOut(Schema):
    id: int
    kind: str
    actor: int | None = Field(validation_alias="actor_id")
    at: dt.datetime
    detail: dict[str, Any]
    internal: bool = Field(validation_alias="is_internal")


class LinkedAssetOut(Schema):
    id: int
    name: str
    kind: str


class AssetLinkIn(Schema):
    asset: int


class MergeIn(Schema):
    into: int = Field(description="The ticket that survives.")


class RelateIn(Schema):
    ticket: int


class IncidentIn(Schema):
    incident: int


# --- helpers ---------------------------------------------------------------------------------


def _with_links(ticket: Ticket) -> Ticket:
    """The ticket with the ids of its watchers, assets, related tickets, incidents, problems
    and children in ``ticket.links``: one query for the six lists (``TicketDetail`` reads
    them there)."""
    pk = ticket.pk

    def kind(name: str) -> Value:
        return Value(name, output_field=CharField())

    through = Ticket.incidents.through.objects
    parts: list[Any] = [
        Ticket.watchers.through.objects.filter(ticket_id=pk).values_list(
            kind("watchers"), "user_id"
        ),
        Ticket.assets.through.objects.filter(ticket_id=pk).values_list(kind("assets"), "asset_id"),
        Ticket.related.through.objects.filter(from_ticket_id=pk).values_list(
            kind("related"), "to_ticket_id"
        ),
        through.filter(from_ticket_id=pk).values_list(kind("incidents"), "to_ticket_id"),
        through.filter(to_ticket_id=pk).values_list(kind("problems"), "from_ticket_id"),
        Ticket.objects.filter(parent_id=pk).values_list(kind("children"), "id"),
    ]
    links: dict[str, list[int]] = {name: [] for name in LINKS}
    first, *rest = (part.order_by() for part in parts)
    for name, ident in first.union(*rest, all=True):
        links[name].append(ident)
    ticket.links = {name: sorted(ids) for name, ids in links.items()}  # type: ignore[attr-defined]
    return ticket


def _fresh(ticket: Ticket) -> Ticket:
    """The ticket as the services left it, with its links (after a change)."""
    return _with_links(Ticket.objects.get(pk=ticket.pk))


def _contact(org: Organization, pk: int | None) -> Contact | None:
    if pk is None:
        return None
    contact = Contact.objects.for_org(org).filter(pk=pk).first()
    if contact is None:
        raise ValidationError({"requester": f"There is no contact {pk} in this organisation."})
    return contact


def _user(field: str, pk: int | None) -> User | None:
    if pk is None:
        return None
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise ValidationError({field: f"There is no user {pk}."})
    return user


def _users(pks: list[int]) -> list[User]:
    users = list(User.objects.filter(pk__in=set(pks)))
    if len(users) != len(set(pks)):
        raise ValidationError({"watchers": "A watcher is not a user."})
    return users


def _assets(org: Organization, pks: list[int]) -> list[Asset]:
    assets = list(Asset.objects.for_org(org).filter(pk__in=set(pks)))
    if len(assets) != len(set(pks)):
        raise ValidationError({"assets": "An asset is not one of this organisation's."})
    return assets


def _visible_ticket(user: User, field: str, pk: int) -> Ticket:
    """A ticket named in a body: one the user can see, else a field error."""
    ticket = tickets_for(user).filter(pk=pk).first()
    if ticket is None:
        raise ValidationError({field: f"There is no ticket {pk} you can see."})
    return ticket


def _number_in(text: str) -> int | None:
    raw = text.strip().upper().removeprefix(REFERENCE_PREFIX)
    # isascii: str.isdigit() accepts characters such as "²" that int() refuses.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


# --- tickets ---------------------------------------------------------------------------------


@router.get("/tickets", response=responses(CursorPage[TicketOut]))
def list_tickets(
    request: HttpRequest, filters: Query[TicketFilters], page: Query[PageParams]
) -> dict[str, Any]:
    user = current_user(request)
    org = optional_organization(request, filters.organization)
    queryset = tickets_for(user)
    if org is not None:
        queryset = queryset.for_org(org)
    for field in ("type", "status", "priority", "source"):
        if (value := getattr(filters, field)) is not None:
            queryset = queryset.filter(**{field: value})
    for field in ("assignee", "team", "requester"):
        if (value := getattr(filters, field)) is not None:
            queryset = queryset.filter(**{f"{field}_id": value})
    if filters.tag and (tag := filters.tag.strip().lower()):
        queryset = queryset.tagged(tag)
    if filters.q:
        match = Q(subject__icontains=filters.q.strip())
        if (number := _number_in(filters.q)) is not None:
            match |= Q(number=number)
        queryset = queryset.filter(match)
    if filters.sla is not None:
        queryset = queryset.filter(sla_state="" if filters.sla == "none" else filters.sla)
    if filters.sort == "sla":
        queryset = queryset.filter(sla_due_at__isnull=False)
        return paginated(queryset, page, order=("sla_due_at", "id"))
    return paginated(queryset, page, order=("-updated_at", "-id"))


@router.get("/tickets/search", response=responses(CursorPage[TicketHit]))
def search_tickets(
    request: HttpRequest, params: Query[SearchParams], page: Query[PageParams]
) -> dict[str, Any]:
    """Full-text search, best match first. The cursor carries the rank of the last ticket seen:
    follow it with the same ``q``."""
    user = current_user(request)
    if not params.q.strip():
        raise HttpError(400, "q is required.")
    org = optional_organization(request, params.organization)
    queryset = tickets_for(user)
    if org is not None:
        queryset = queryset.for_org(org)
    internal = sees_internal(user)
    found = desk_search.search(
        queryset,
        params.q,
        include_internal=internal,
        organizations=desk_search.organizations_searched(user, org.pk if org else None),
    ).tickets

    def with_snippets(tickets: list[Ticket]) -> list[Ticket]:
        shown = desk_search.snippets(
            [ticket.pk for ticket in tickets], params.q, include_internal=internal
        )
        for ticket in tickets:
            ticket.snippet = shown.get(ticket.pk, "")  # type: ignore[attr-defined]
        return tickets

    return paginated(found, page, order=desk_search.SEARCH_ORDER, serialize=with_snippets)


@router.post("/tickets", response=responses(TicketDetail, 201))
def create_ticket(request: HttpRequest, body: TicketIn) -> HttpStatus[Ticket]:
    require_write(request)
    user = current_user(request)
    org = organization_param(request, body.organization)
    require(user, DeskCapability.OPEN)
    fields = body.model_dump(exclude={"organization"}, exclude_unset=True)
    requester = _contact(org, body.requester)
    if not is_staff(user):
        for field in CUSTOMER_REFUSED:
            if fields.get(field):
                raise PermissionDenied(f"Your role may not set {field}.")
        if body.type == TicketType.PROBLEM:
            raise PermissionDenied("Your role may not open problem tickets.")
        if user.role == Role.END_USER:
            if requester is not None and requester.pk != user.contact_id:
                raise ValidationError({"requester": "You can only open tickets for yourself."})
            requester = user.contact
    ticket = services.create_ticket(
        org,
        actor=user,
        subject=body.subject,
        description=body.description,
        type=body.type,
        impact=body.impact,
        urgency=body.urgency,
        requester=requester,
        category=body.category,
        team=team_param(body.team, field="team"),
        assignee=_user("assignee", body.assignee),
        tags=body.tags,
        source=body.source or Source.API,
        watchers=_users(body.watchers),
        assets=_assets(org, body.assets),
    )
    return HttpStatus(201, _fresh(ticket))


@router.get("/tickets/{ticket_id}", response=responses(TicketDetail))
def get_ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    # Just read for the access check: only the links are still to read.
    return _with_links(get_ticket_for(current_user(request), ticket_id))


@router.patch("/tickets/{ticket_id}", response=responses(TicketDetail))
def update_ticket(request: HttpRequest, ticket_id: int, body: TicketPatch) -> Ticket:
    require_write(request)
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise ValidationError({field: "This field cannot be null."})
    org = ticket.organization
    parent_given = "parent" in changes
    parent_id = changes.pop("parent", None)
    parent = None if parent_id is None else _visible_ticket(user, "parent", parent_id)
    if "requester" in changes:
        changes["requester"] = _contact(org, changes["requester"])
    if "team" in changes:
        changes["team"] = team_param(changes["team"], field="team")
    if "assignee" in changes:
        changes["assignee"] = _user("assignee", changes["assignee"])
    if "watchers" in changes:
        changes["watchers"] = _users(changes["watchers"])
    # One PATCH is all or nothing: a refused field must not leave the new parent behind.
    with transaction.atomic():
        if parent_given:
            services.set_parent(ticket, parent, actor=user)
        if changes:
            services.update_ticket(ticket, actor=user, **changes)
    return _fresh(ticket)


@router.post("/tickets/{ticket_id}/transitions", response=responses(TicketDetail))
def transition_ticket(request: HttpRequest, ticket_id: int, body: TransitionIn) -> Ticket:
    """Provider staff move a ticket along the transition table. A customer may only close
    their own request (``closed``; the organisation's admin any of the organisation's): a ticket
    still being worked on is marked resolved, then closed, as in the portal."""
    require_write(request)
    user = current_user(request)
    if is_staff(user):
        ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
        with transaction.atomic():
            if body.comment.strip():
                services.add_reply(ticket, actor=user, body=body.comment)
            services.transition(ticket, body.status, actor=user)
        return _fresh(ticket)
    ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.OPEN)
    if body.status != Status.CLOSED:
        raise PermissionDenied("Customers may only close their own requests (status closed).")
    services.close_by_customer(ticket, actor=user, comment=body.comment)
    return _fresh(ticket)


@router.post("/tickets/{ticket_id}/merge", response=responses(TicketDetail))
def merge_ticket(request: HttpRequest, ticket_id: int, body: MergeIn) -> Ticket:
    require_write(request)
    user = current_user(request)
    duplicate = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    into = _visible_ticket(user, "into", body.into)
    return _fresh(services.merge_tickets(duplicate, into=into, actor=user))


@router.post("/tickets/{ticket_id}/related", response=responses(TicketDetail))
def relate_ticket(request: HttpRequest, ticket_id: int, body: RelateIn) -> Ticket:
    require_write(request)
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    services.relate(ticket, _visible_ticket(user, "ticket", body.ticket), actor=user)
    return _fresh(ticket)


@router.post("/tickets/{ticket_id}/incidents", response=responses(TicketDetail))
def link_incident(request: HttpRequest, ticket_id: int, body: IncidentIn) -> Ticket:
    require_write(request)
    user = current_user(request)
    problem = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    incident = _visible_ticket(user, "incident", body.incident)
    services.link_incident(problem, incident, actor=user)
    return _fresh(problem)


# --- conversation ----------------------------------------------------------------------------


@router.get("/tickets/{ticket_id}/replies", response=responses(CursorPage[ReplyOut]))
def list_replies(request: HttpRequest, ticket_id: int, page: Query[PageParams]) -> dict[str, Any]:
    """Public replies; provider staff also get internal notes, marked ``internal``."""
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    return paginated(replies_for(user, ticket), page, order=("created_at", "id"))


@router.post("/tickets/{ticket_id}/replies", response=responses(ReplyOut, 201))
def create_reply(request: HttpRequest, ticket_id: int, body: ReplyIn) -> HttpStatus[Reply]:
    require_write(request)
    user = current_user(request)
    needed = DeskCapability.WORK if body.internal else DeskCapability.OPEN
    ticket = get_ticket_for(user, ticket_id, capability=needed)
    reply = services.add_reply(ticket, actor=user, body=body.body, internal=body.internal)
    return HttpStatus(201, reply)


@router.get("/tickets/{ticket_id}/notes", response=responses(CursorPage[ReplyOut]))
def list_notes(request: HttpRequest, ticket_id: int, page: Query[PageParams]) -> dict[str, Any]:
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    if not sees_internal(user):
        raise PermissionDenied("Internal notes are for provider staff.")
    notes = Reply.objects.filter(ticket=ticket, is_internal=True)
    return paginated(notes, page, order=("created_at", "id"))


@router.post("/tickets/{ticket_id}/notes", response=responses(ReplyOut, 201))
def create_note(request: HttpRequest, ticket_id: int, body: NoteIn) -> HttpStatus[Reply]:
    require_write(request)
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    return HttpStatus(201, services.add_reply(ticket, actor=user, body=body.body, internal=True))


@router.get("/tickets/{ticket_id}/time-entries", response=responses(CursorPage[TimeEntryOut]))
def list_time_entries(
    request: HttpRequest, ticket_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    if not sees_internal(user):
        raise PermissionDenied("Time entries are for provider staff.")
    entries = TimeEntry.objects.filter(ticket=ticket)
    return paginated(entries, page, order=("date", "id"))


@router.post("/tickets/{ticket_id}/time-entries", response=responses(TimeEntryOut, 201))
def create_time_entry(
    request: HttpRequest, ticket_id: int, body: TimeEntryIn
) -> HttpStatus[TimeEntry]:
    require_write(request)
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    entry = services.log_time(
        ticket,
        actor=user,
        minutes=body.minutes,
        activity=body.activity,
        billable=body.billable,
        note=body.note,
        date=body.date,
    )
    return HttpStatus(201, entry)


@router.get("/tickets/{ticket_id}/sla", response=responses(list[ClockOut]))
def list_clocks(request: HttpRequest, ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's current SLA clocks: state, business and wall time left, due instant."""
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    views = [
        clocks.clock_view(clock) for clock in clocks.current_clocks([ticket]).get(ticket.pk, [])
    ]
    if not sees_internal(user):
        for view in views:
            view["warnings_fired"] = []
    return views


@router.get("/tickets/{ticket_id}/events", response=responses(CursorPage[EventOut]))
def list_events(request: HttpRequest, ticket_id: int, page: Query[PageParams]) -> dict[str, Any]:
    """The timeline, oldest first; customers do not see internal entries."""
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    events: Any = events_for(user, ticket)
    return paginated(events, page, order=("at", "id"))


# --- assets ----------------------------------------------------------------------------------


@router.get("/tickets/{ticket_id}/assets", response=responses(list[LinkedAssetOut]))
def list_ticket_assets(request: HttpRequest, ticket_id: int) -> list[Asset]:
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    tenancy_access.require(user, Capability.VIEW_CMDB)
    # A ticket links a handful of assets, so the list is not paginated.
    return list(ticket.assets.order_by("name", "id"))


@router.post("/tickets/{ticket_id}/assets", response=responses(list[LinkedAssetOut], 201))
def link_ticket_asset(
    request: HttpRequest, ticket_id: int, body: AssetLinkIn
) -> HttpStatus[list[Asset]]:
    require_write(request)
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    asset = _assets(ticket.organization, [body.asset])[0]
    services.link_asset(ticket, asset, actor=user)
    return HttpStatus(201, list(ticket.assets.order_by("name", "id")))


@router.delete("/tickets/{ticket_id}/assets/{asset_id}", response=responses(None, 204))
def unlink_ticket_asset(request: HttpRequest, ticket_id: int, asset_id: int) -> HttpStatus[None]:
    require_write(request)
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.WORK)
    asset = ticket.assets.filter(pk=asset_id).first()
    if asset is None:
        raise Http404("The asset is not linked to this ticket.")
    services.unlink_asset(ticket, asset, actor=user)
    return HttpStatus(204, None)


# --- saved views -----------------------------------------------------------------------------

VIEWS_REFUSAL = "Saved views belong to the agent workspace (provider staff)."


class SavedViewOut(Schema):
    id: int
    name: str
    owner: int = Field(validation_alias="owner_id")
    query: dict[str, str] = Field(description="The queue's filters and sort, as in /tickets/.")
    is_shared: bool
    created_at: dt.datetime


class SavedViewIn(Schema):
    name: str = Field(min_length=1, max_length=80)
    query: dict[str, Any] = Field(
        default_factory=dict,
        description="Any of q, org, status, priority, type, team, assignee, source, tag, sla, "
        "sort. The same name replaces the owner's view.",
    )
    is_shared: bool = Field(False, description="Offered to all staff; admins only.")


@router.get("/ticket-views", response=responses(list[SavedViewOut]))
def list_views(request: HttpRequest) -> list[Any]:
    """Your saved queue views and the shared ones."""
    return list(views_for(staff_user(request, refusal=VIEWS_REFUSAL)))


@router.post("/ticket-views", response=responses(SavedViewOut, 201))
def save_view(request: HttpRequest, body: SavedViewIn) -> HttpStatus[Any]:
    require_write(request)
    user = staff_user(request, refusal=VIEWS_REFUSAL)
    view = saved_views.save_view(user, name=body.name, query=body.query, shared=body.is_shared)
    return HttpStatus(201, view)


@router.delete("/ticket-views/{view_id}", response=responses(None, 204))
def delete_view(request: HttpRequest, view_id: int) -> HttpStatus[None]:
    user = current_user(request)
    view = get_view_for(user, view_id)
    require_write(request)
    saved_views.delete_view(view, actor=user)
    return HttpStatus(204, None)


class SurveyOut(Schema):
    round: int = Field(description="Which resolution it rates: 0 the first, 1 after one reopen...")
    rating: int = Field(description="1 (very poor) to 5 (excellent).")
    comment: str
    answered_at: dt.datetime


@router.get("/tickets/{ticket_id}/survey", response=responses(list[SurveyOut]))
def list_survey(request: HttpRequest, ticket_id: int) -> list[Any]:
    """The requester's satisfaction ratings of the ticket's resolutions, newest first."""
    ticket = get_ticket_for(current_user(request), ticket_id)
    return list(ticket.survey_responses.all())


# --- attachments -----------------------------------------------------------------------------


class AttachmentOut(Schema):
    id: int
    ticket: int = Field(validation_alias="ticket_id")
    reply: int | None = Field(validation_alias="reply_id")
    filename: str
    content_type: str
    size: int
    sha256: str
    is_internal: bool
    created_at: dt.datetime
    url: str = Field(description="Where to download it (same authentication).")

    @staticmethod
    def resolve_url(obj: Attachment) -> str:
        return f"/api/v1/attachments/{obj.pk}/content"


class AttachParams(Schema):
    internal: bool = Field(False, description="Staff only: files only staff see.")


@router.get("/tickets/{ticket_id}/attachments", response=responses(list[AttachmentOut]))
def list_attachments(request: HttpRequest, ticket_id: int) -> list[Attachment]:
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    return list(attachments_for(user, ticket))


@router.post(
    "/tickets/{ticket_id}/attachments",
    response=responses(list[AttachmentOut], 201),
    description="Multipart: one or more parts named `files`.",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            }
                        },
                        "required": ["files"],
                    }
                }
            }
        }
    },
)
def add_attachments(
    request: HttpRequest, ticket_id: int, params: Query[AttachParams]
) -> HttpStatus[list[Attachment]]:
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id, capability=DeskCapability.OPEN)
    require_write(request)
    if params.internal and not is_staff(user):
        raise ValidationError({"internal": "Only provider staff attach internal files."})
    if request.content_type != "multipart/form-data":
        raise HttpError(400, "Send the files as multipart/form-data parts named 'files'.")
    uploads = request.FILES.getlist("files")
    if not uploads:
        raise ValidationError({"files": "Attach at least one file, in parts named 'files'."})
    made = desk_attachments.attach(ticket, uploads, actor=user, internal=params.internal)
    return HttpStatus(201, made)


@router.get("/attachments/{attachment_id}/content", response=responses(None))
def download_attachment(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    """The file itself, always as a download."""
    return attachment_response(get_attachment_for(current_user(request), attachment_id))
