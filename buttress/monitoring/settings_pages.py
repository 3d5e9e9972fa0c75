"""An organisation's monitoring settings page: its private-address policy and whether
recoveries resolve its incidents.

Whoever sees the organisation's monitors reads it; provider admins change it. A save answers
the settings block for HTMX (errors included) or redirects back to the page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from buttress.monitoring import services
from buttress.monitoring.access import can_set_policy, get_organization_for_policy
from buttress.monitoring.forms import MonitoringSettingsForm, resolve_choice, resolve_value
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
    resolve = services.resolve_incidents_choice(organization)
    form = MonitoringSettingsForm(
        request.POST if write else None,
        initial={"private_targets": current, "resolve_incidents": resolve_choice(resolve)},
        resolves_by_default=services.resolves_with(None),
    )
    saved = ""
    if write and form.is_valid():
        policy = form.cleaned_data["private_targets"]
        chosen = resolve_value(form.cleaned_data["resolve_incidents"])
        try:
            with transaction.atomic():
                services.set_private_targets(organization, actor=user, policy=policy)
                if chosen != resolve:
                    services.set_resolve_incidents(organization, actor=user, resolve=chosen)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            current, resolve = policy, chosen
            outcome = "resolves" if services.resolves_with(chosen) else "keeps"
            saved = (
                f"Private targets: {PrivateTargets(policy).label.lower()}. "
                f"A monitor's recovery {outcome} its incident"
                + (" open." if outcome == "keeps" else ".")
            )
            if not is_htmx(request):
                messages.success(request, saved)
                return redirect("monitoring:settings", org_id=organization.pk)
    context = {
        "organization": organization,
        "form": form,
        "current": PrivateTargets(current).label,
        "resolving": services.resolves_with(resolve),
        "resolve_chosen": resolve is not None,
        "can_change": can_set_policy(user),
        "saved": saved,
    }
    template = f"{TEMPLATE}#settings" if is_htmx(request) else TEMPLATE
    return vary_on_htmx(render(request, template, context))
