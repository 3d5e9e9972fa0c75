"""Opening a ticket on a customer's behalf (a phone call, by default)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from buttress.assets.access import assets_for
from buttress.assets.models import Asset
from buttress.desk import services
from buttress.desk.access import DeskCapability, require
from buttress.desk.forms import TicketCreateForm
from buttress.desk.views.common import workspace_user
from buttress.tenancy.access import contacts_for, organizations_for
from buttress.tenancy.models import Contact, Organization
from buttress.web.forms import MAX_ID, add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.orgfilter import selected_organization


def _chosen_organization(request: HttpRequest) -> Organization | None:
    orgs = organizations_for(workspace_user(request))
    raw = request.POST.get("organization") or request.GET.get("organization")
    if raw:
        try:
            pk = int(raw)
        except ValueError:
            return None
        return orgs.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    only = list(orgs[:2])
    return only[0] if len(only) == 1 else selected_organization(request)


@login_required
def ticket_create(request: HttpRequest) -> HttpResponse:
    user = workspace_user(request)
    require(user, DeskCapability.WORK)
    org = _chosen_organization(request)
    # Requesters, assignees and assets depend on the organisation; without one they are empty
    # until it is chosen (HTMX reloads the form when it changes).
    contacts = (
        contacts_for(user).filter(organization=org, is_active=True).order_by("name")
        if org
        else Contact.objects.none()
    )
    assets = assets_for(user).filter(organization=org).order_by("name") if org else None
    form = TicketCreateForm(
        request.POST or None,
        organizations=organizations_for(user).order_by("name"),
        contacts=contacts,
        assets=assets if assets is not None else Asset.objects.none(),
        organization=org,
        initial={"organization": org.pk if org else None},
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        target: Organization = data.pop("organization")
        try:
            ticket = services.create_ticket(target, actor=user, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Ticket {ticket.reference} opened.")
            return redirect("desk:detail", pk=ticket.pk)
    context = {"form": form, "organization": org}
    if is_htmx(request) and request.method == "GET":
        return vary_on_htmx(render(request, "desk/create.html#create-form", context))
    return vary_on_htmx(render(request, "desk/create.html", context))
