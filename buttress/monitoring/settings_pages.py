"""An organisation's monitoring settings page: its private-address policy.

Whoever sees the organisation's monitors reads it; provider admins change it. A save answers
the settings block for HTMX (errors included) or redirects back to the page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from buttress.monitoring import services
from buttress.monitoring.access import can_set_policy, get_organization_for_policy
from buttress.monitoring.forms import MonitoringSettingsForm
from buttress.monitoring.models import PrivateTargets
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx
from buttress.web.users import current_user

TEMPLATE = "monitoring/settings.html"


@login_required
def organization_settings(request: HttpRequest, org_id: int) -> HttpResponse:
    user = current_user(request)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    write = request.method == "POST"
    organization = get_organization_for_policy(user, org_id, write=write)
    current = services.private_targets_policy(organization)
    form = MonitoringSettingsForm(
        request.POST if write else None, initial={"private_targets": current}
    )
    saved = ""
    if write and form.is_valid():
        policy = form.cleaned_data["private_targets"]
        try:
            services.set_private_targets(organization, actor=user, policy=policy)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            current = policy
            saved = f"Private targets: {PrivateTargets(policy).label.lower()}."
            if not is_htmx(request):
                messages.success(request, saved)
                return redirect("monitoring:settings", org_id=organization.pk)
    context = {
        "organization": organization,
        "form": form,
        "current": PrivateTargets(current).label,
        "can_change": can_set_policy(user),
        "saved": saved,
    }
    template = f"{TEMPLATE}#settings" if is_htmx(request) else TEMPLATE
    return vary_on_htmx(render(request, template, context))
