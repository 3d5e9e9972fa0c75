"""Incident work from a ticket's page (the incident panel, redrawn in place with HTMX) and the
postmortem page. The ticket is fetched through the desk's access layer first, so another
organisation's ticket answers 404 whatever the method; every change goes through services.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from buttress.response import access, services
from buttress.response.forms import (
    ActionForm,
    ConvertForm,
    PostmortemForm,
    RoleForm,
    SeverityForm,
    UpdateForm,
)
from buttress.response.models import Incident
from buttress.response.panel import panel_context
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.desk.models import Ticket


def _panel(
    request: HttpRequest, user: User, ticket: Ticket, key: str, form: BaseForm | None = None
) -> HttpResponse:
    """The panel for HTMX; otherwise back to the ticket's page (errors as a message)."""
    if is_htmx(request):
        forms = {key: form} if form is not None and form.errors else None
        context = panel_context(user, ticket, forms)
        return vary_on_htmx(render(request, "response/_panel.html", context))
    if form is not None and form.errors:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("desk:detail", pk=ticket.pk)


def _act(
    request: HttpRequest,
    ticket_id: int,
    key: str,
    make_form: Callable[[HttpRequest, Ticket], BaseForm],
    perform: Callable[[User, Ticket, BaseForm], None],
) -> HttpResponse:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = make_form(request, ticket)
    if form.is_valid():
        try:
            perform(user, ticket, form)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _panel(request, user, ticket, key, form)


@login_required
def set_severity(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def perform(user: User, ticket: Ticket, form: BaseForm) -> None:
        data = form.cleaned_data
        services.set_severity(ticket, data["severity"], actor=user, reason=data["reason"])

    return _act(request, ticket_id, "severity", lambda r, t: SeverityForm(r.POST), perform)


@login_required
def assign_role(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def perform(user: User, ticket: Ticket, form: BaseForm) -> None:
        data = form.cleaned_data
        services.assign_role(
            ticket, role=data["role"], user=data["user"], title=data["title"], actor=user
        )

    def make(r: HttpRequest, t: Ticket) -> BaseForm:
        return RoleForm(r.POST, responders=access.responders_for(t))

    return _act(request, ticket_id, "role", make, perform)


@login_required
def release_role(request: HttpRequest, ticket_id: int, assignment_id: int) -> HttpResponse:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    assignment = access.get_assignment_for(ticket, assignment_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    services.unassign_role(assignment, actor=user)
    return _panel(request, user, ticket, "role")


@login_required
def post_update(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def perform(user: User, ticket: Ticket, form: BaseForm) -> None:
        data = form.cleaned_data
        services.post_status_update(
            ticket,
            body=data["body"],
            visibility=data["visibility"],
            phase=data["phase"],
            actor=user,
        )

    return _act(request, ticket_id, "update", lambda r, t: UpdateForm(r.POST), perform)


def _postmortem_page(
    request: HttpRequest,
    user: User,
    ticket: Ticket,
    *,
    form: PostmortemForm | None = None,
    action_form: ActionForm | None = None,
) -> HttpResponse:
    incident = Incident.objects.filter(ticket=ticket).first()
    postmortem = getattr(incident, "postmortem", None) if incident is not None else None
    initial = (
        {name: getattr(postmortem, name) for name in services.POSTMORTEM_TEXT} if postmortem else {}
    )
    if not initial.get("timeline_excerpt") and incident is not None:
        initial["timeline_excerpt"] = services.excerpt(incident)
    context = {
        "ticket": ticket,
        "incident": incident,
        "postmortem": postmortem,
        "actions": list(postmortem.action_items.select_related("owner", "ticket"))
        if postmortem
        else [],
        "form": form or PostmortemForm(initial=initial),
        "action_form": action_form or ActionForm(responders=access.responders_for(ticket)),
        "convert_form": ConvertForm(),
        "can_respond": access.can_work(user),
    }
    return render(request, "response/postmortem.html", context)


@login_required
def postmortem(request: HttpRequest, ticket_id: int) -> HttpResponse:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=request.method == "POST")
    if request.method == "GET":
        return _postmortem_page(request, user, ticket)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    form = PostmortemForm(request.POST)
    if form.is_valid():
        try:
            services.save_postmortem(ticket, actor=user, **form.sections())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Postmortem saved.")
            return redirect("response:postmortem", ticket_id=ticket.pk)
    return _postmortem_page(request, user, ticket, form=form)


@login_required
def add_action(request: HttpRequest, ticket_id: int) -> HttpResponse:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = ActionForm(request.POST, responders=access.responders_for(ticket))
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.add_action_item(
                ticket,
                description=data["description"],
                owner=data["owner"],
                due_on=data["due_on"],
                actor=user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Action item added.")
            return redirect("response:postmortem", ticket_id=ticket.pk)
    return _postmortem_page(request, user, ticket, action_form=form)


@login_required
def convert_action(request: HttpRequest, ticket_id: int, action_id: int) -> HttpResponse:
    user = current_user(request)
    ticket = access.get_incident_ticket_for(user, ticket_id, write=True)
    item = access.get_action_for(ticket, action_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = ConvertForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether the action item becomes a ticket or a problem.")
        return redirect("response:postmortem", ticket_id=ticket.pk)
    try:
        opened = services.convert_action_item(item, kind=form.cleaned_data["kind"], actor=user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"Action item opened as {opened.reference}.")
    return redirect("response:postmortem", ticket_id=ticket.pk)
