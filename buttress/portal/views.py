"""The customer portal: a customer's own tickets, opening a request, and one ticket's public
conversation with its service-level targets. Provider staff use the workspace instead."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from buttress.desk import services as desk
from buttress.desk import survey as survey_links
from buttress.desk.access import (
    DeskCapability,
    attachments_for,
    can,
    events_for,
    get_ticket_for,
    is_staff,
    replies_for,
    require,
    tickets_for,
)
from buttress.desk.models import (
    DONE_STATUSES,
    Attachment,
    EventKind,
    Level,
    Source,
    Status,
    Ticket,
)
from buttress.desk.services import attachments
from buttress.lib.pagination import InvalidCursor, paginate
from buttress.notify.forms import ChatTargetForm, RequesterMailForm
from buttress.notify.models import ContactMethod, DeliveryStatus, MethodKind
from buttress.notify.services import people, sending
from buttress.portal.forms import (
    CloseRequestForm,
    NewRequestForm,
    PortalFilterForm,
    PortalReplyForm,
)
from buttress.sla import clocks
from buttress.web.forms import add_service_errors
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User

PAGE_SIZE = 25
# What a customer's timeline shows besides the conversation.
SHOWN_EVENTS = (EventKind.CREATED, EventKind.STATUS_CHANGED, EventKind.REOPENED)


def portal_user(request: HttpRequest) -> User:
    """The signed-in customer; provider staff are sent to the workspace."""
    user = current_user(request)
    if is_staff(user):
        raise PermissionDenied("The portal is for customers; staff use the ticket workspace.")
    require(user, DeskCapability.VIEW)
    return user


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    user = portal_user(request)
    data = request.GET.copy()
    data.setdefault("status", "open")
    form = PortalFilterForm(data)
    form.is_valid()
    tickets = tickets_for(user).select_related("requester")
    shown = form.cleaned_data.get("status")
    if shown == "open":
        tickets = tickets.exclude(status__in=DONE_STATUSES)
    elif shown == "done":
        tickets = tickets.filter(status__in=DONE_STATUSES)
    order = ("-updated_at", "-id")
    try:
        page = paginate(tickets, order=order, cursor=request.GET.get("cursor"), limit=PAGE_SIZE)
    except InvalidCursor:
        messages.warning(request, "That page link is no longer valid; showing the first page.")
        page = paginate(tickets, order=order, limit=PAGE_SIZE)
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "form": form,
        "page": page,
        "query": query,
        "can_open": _may_open(user),
    }
    return render(request, "portal/list.html", context)


def _may_open(user: User) -> bool:
    return user.organization_id is not None and can(user, DeskCapability.OPEN)


@login_required
def ticket_create(request: HttpRequest) -> HttpResponse:
    user = portal_user(request)
    require(user, DeskCapability.OPEN)
    if user.organization is None:
        raise PermissionDenied("Your account belongs to no organisation.")
    form = NewRequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                ticket = _open_request(user, data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Your request {ticket.reference} is open.")
            return redirect("portal:detail", pk=ticket.pk)
    return render(request, "portal/create.html", {"form": form})


def _open_request(user: User, data: dict[str, Any]) -> Ticket:
    assert user.organization is not None
    ticket = desk.create_ticket(
        user.organization,
        actor=user,
        subject=data["subject"],
        description=data["description"],
        type=data["type"],
        impact=Level.MEDIUM,
        urgency=data["urgency"],
        requester=user.contact,
        source=Source.PORTAL,
    )
    attachments.attach(ticket, data["upload"], actor=user)
    return ticket


def _conversation(user: User, ticket: Ticket) -> list[dict[str, Any]]:
    replies = {
        r.pk: r for r in replies_for(user, ticket).select_related("author", "author_contact")
    }
    files: dict[int | None, list[Attachment]] = {}
    for attachment in attachments_for(user, ticket):
        files.setdefault(attachment.reply_id, []).append(attachment)
    entries: list[dict[str, Any]] = []
    for event in (
        events_for(user, ticket)
        .filter(kind__in=(*SHOWN_EVENTS, EventKind.REPLIED))
        .order_by("at", "id")
    ):
        detail = event.detail if isinstance(event.detail, dict) else {}
        entry: dict[str, Any] = {"event": event}
        if event.kind == EventKind.REPLIED:
            reply_id = detail.get("reply")
            reply = replies.get(reply_id) if isinstance(reply_id, int) else None
            if reply is None:
                continue
            entry["reply"] = reply
            entry["files"] = files.get(reply.pk, [])
            entry["by_staff"] = detail.get("by") == "agent"
        entry["to"] = detail.get("to")
        entry["reason"] = detail.get("reason")
        entries.append(entry)
    return entries


def _targets(ticket: Ticket) -> list[dict[str, object]]:
    return [clocks.clock_view(c) for c in clocks.current_clocks([ticket]).get(ticket.pk, [])]


@login_required
def ticket_detail(
    request: HttpRequest, pk: int, close_form: CloseRequestForm | None = None
) -> HttpResponse:
    user = current_user(request)
    ticket = get_ticket_for(user, pk)
    portal_user(request)
    form = PortalReplyForm(
        request.POST if close_form is None and request.POST else None,
        request.FILES if close_form is None and request.FILES else None,
    )
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if request.method == "POST" and close_form is None:
        require(user, DeskCapability.OPEN)
        if form.is_valid():
            try:
                with transaction.atomic():
                    reply = desk.add_reply(ticket, actor=user, body=form.cleaned_data["body"])
                    attachments.attach(ticket, form.cleaned_data["upload"], actor=user, reply=reply)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Your reply was sent.")
                return redirect("portal:detail", pk=ticket.pk)
    rated = ticket.survey_responses.filter(round=ticket.reopened_count).first()
    context = {
        "ticket": ticket,
        "request_files": [a for a in attachments_for(user, ticket) if a.reply_id is None],
        "rating": rated,
        "survey_path": reverse("desk:survey", kwargs={"token": survey_links.make_token(ticket)})
        if ticket.resolved_at is not None
        else None,
        "conversation": _conversation(user, ticket),
        "targets": _targets(ticket),
        "form": form,
        "can_reply": can(user, DeskCapability.OPEN)
        and ticket.merged_into_id is None
        and ticket.status != Status.CLOSED,
        "close_form": close_form or CloseRequestForm(),
        "can_close": _may_close(user, ticket),
    }
    return render(request, "portal/detail.html", context)


def _may_close(user: User, ticket: Ticket) -> bool:
    return can(user, DeskCapability.OPEN) and bool(desk.customer_close_path(ticket))


@login_required
def ticket_close(request: HttpRequest, pk: int) -> HttpResponse:
    """The requester (or their organisation's admin) closes the request, optionally with a
    closing comment that is sent as a public reply."""
    user = current_user(request)
    # Another organisation's request is not found, whatever the method.
    ticket = get_ticket_for(user, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    portal_user(request)
    require(user, DeskCapability.OPEN)
    form = CloseRequestForm(request.POST)
    if form.is_valid():
        try:
            desk.close_by_customer(ticket, actor=user, comment=form.cleaned_data["comment"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Your request {ticket.reference} is closed.")
            return redirect("portal:detail", pk=ticket.pk)
    return ticket_detail(request, pk, close_form=form)


@login_required
def mail_preferences(request: HttpRequest) -> HttpResponse:
    """The signed-in customer chooses which mail they get about their requests (the same
    choice as the link at the foot of that mail)."""
    user = portal_user(request)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    contact = user.contact
    if contact is None:
        return render(request, "portal/mail.html", {"form": None}, status=404)
    form = RequesterMailForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.save(actor=user, via="portal"):
        messages.success(request, "Your mail choices are saved.")
        return redirect("portal:mail")
    return _mail_page(request, user, form=form)


def _mail_page(
    request: HttpRequest,
    user: User,
    *,
    form: RequesterMailForm | None = None,
    target_form: ChatTargetForm | None = None,
) -> HttpResponse:
    contact = user.contact
    assert contact is not None
    if form is None:
        form = RequesterMailForm(contact=contact)
    target_form = target_form or ChatTargetForm()
    return render(
        request,
        "portal/mail.html",
        {
            "form": form,
            "contact": contact,
            "target_form": target_form,
            "targets": ContactMethod.objects.filter(user=user, kind=MethodKind.APPRISE),
        },
        status=400 if form.errors or target_form.errors else 200,
    )


def _own_target(request: HttpRequest, method_id: int) -> tuple[User, ContactMethod]:
    """The signed-in customer and one of their Apprise targets. Another's target is not found
    (404) whoever asks and however, before the portal role is checked."""
    user = current_user(request)
    method = ContactMethod.objects.filter(pk=method_id, user=user, kind=MethodKind.APPRISE).first()
    if method is None:
        raise Http404
    portal_user(request)
    return user, method


@login_required
@require_POST
def chat_target_add(request: HttpRequest) -> HttpResponse:
    """Add an Apprise target that gets the same ticket messages as the customer's mail."""
    user = portal_user(request)
    if user.contact is None:
        raise Http404
    target_form = ChatTargetForm(request.POST)
    if target_form.is_valid():
        try:
            people.add_contact_method(
                user, actor=user, kind=MethodKind.APPRISE, **target_form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(target_form, exc)
        else:
            messages.success(request, "Added. Send it a test message to check it.")
            return redirect("portal:mail")
    return _mail_page(request, user, target_form=target_form)


@login_required
def chat_target_test(request: HttpRequest, method_id: int) -> HttpResponse:
    user, method = _own_target(request, method_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    sent = sending.send_test(method, actor=user)
    if sent.status == DeliveryStatus.SENT:
        messages.success(request, f"A test message went to {method.label}.")
    else:
        messages.error(request, f"{method.label} did not take the test message: {sent.last_error}")
    return redirect("portal:mail")


@login_required
def chat_target_delete(request: HttpRequest, method_id: int) -> HttpResponse:
    user, method = _own_target(request, method_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    people.delete_contact_method(method, actor=user)
    messages.success(request, f"{method.label} gets no more messages.")
    return redirect("portal:mail")
