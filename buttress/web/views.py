from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from buttress.accounts.models import Role
from buttress.audit.views import visible_entries
from buttress.tenancy.access import Capability, can, get_organization_for, organizations_for
from buttress.web.counts import with_counts
from buttress.web.forms import OrganizationSwitchForm
from buttress.web.htmx import is_htmx
from buttress.web.orgfilter import select_organization
from buttress.web.users import current_user

# The dashboard is a summary, not a directory: past this many organisations it links to the list.
HOME_ORG_LIMIT = 50
RECENT_AUDIT = 10


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    orgs = organizations_for(user)
    context: dict[str, object] = {
        "show_counts": user.role != Role.END_USER,
        "show_assets": can(user, Capability.VIEW_CMDB),
    }
    if user.is_provider_staff:
        rows = list(with_counts(orgs)[: HOME_ORG_LIMIT + 1])
        context["organizations"] = rows[:HOME_ORG_LIMIT]
        context["more_organizations"] = len(rows) > HOME_ORG_LIMIT
    else:
        context["organization"] = with_counts(orgs).first()
    if can(user, Capability.VIEW_AUDIT):
        context["recent"] = list(visible_entries(user)[:RECENT_AUDIT])
    return render(request, "web/home.html", context)


@require_POST
@login_required
def org_filter(request: HttpRequest) -> HttpResponse:
    """Choose the organisation the asset list and audit log start filtered to."""
    form = OrganizationSwitchForm(request.POST)
    form.is_valid()
    chosen = form.cleaned_data.get("organization") or ""
    org = get_organization_for(current_user(request), chosen) if chosen else None
    select_organization(request, org)
    target = form.cleaned_data.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("web:home")
    if is_htmx(request):
        # A new default changes the whole page (lists, counts), so load it afresh.
        response = HttpResponse(status=200)
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)
