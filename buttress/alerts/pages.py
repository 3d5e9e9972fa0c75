"""Alert pages under /alerts/: integrations (with their URL, key rotation and routing rules),
silences, recent alerts, and the alerts partial of an incident's ticket page.

(The endpoints senders post to are in views.py, mounted at the site root.) Objects are
fetched through access.py, so another organisation's is a 404 and a role that may not change
it a 403; every change goes through the services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from buttress.alerts import access, services
from buttress.alerts.forms import (
    FIELD_OF,
    IntegrationForm,
    IntegrationPolicyForm,
    RoutingRuleForm,
    SilenceForm,
)
from buttress.alerts.models import Alert, AlertStatus, Integration, IntegrationKind, RoutingRule
from buttress.alerts.services import routing, silences
from buttress.desk.access import get_ticket_for
from buttress.lib.pagination import InvalidCursor, Page, paginate
from buttress.lib.timeutil import now
from buttress.tenancy.access import organizations_for
from buttress.web.forms import add_service_errors
from buttress.web.htmx import vary_on_htmx
from buttress.web.orgfilter import selected_organization
from buttress.web.users import current_user

if TYPE_CHECKING:
    from django import forms

    from buttress.accounts.models import User
    from buttress.alerts.services.integrations import IssuedKey

PAGE_SIZE = 50
RECENT_ON_INTEGRATION = 20
INCIDENT_ALERTS = 100


def _errors(form: forms.BaseForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        exc = ValidationError(
            {FIELD_OF.get(field, field): errors for field, errors in exc.error_dict.items()}
        )
    add_service_errors(form, exc)


def _page(request: HttpRequest, queryset: Any, order: tuple[str, ...]) -> Page[Any]:
    try:
        return paginate(
            queryset, order=order, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except InvalidCursor:
        return paginate(queryset, order=order, limit=PAGE_SIZE)


def _query(request: HttpRequest) -> Any:
    query = request.GET.copy()
    query.pop("cursor", None)
    return query


def _scoped(request: HttpRequest, user: User, queryset: Any) -> Any:
    """Limited to the organisation of the header's switcher, when one is chosen."""
    chosen = selected_organization(request)
    if chosen is not None and organizations_for(user).filter(pk=chosen.pk).exists():
        return queryset.filter(organization=chosen)
    return queryset


# --- integrations ----------------------------------------------------------------------------


@login_required
def integration_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_view(user)
    integrations = _scoped(
        request,
        user,
        access.integrations_for(user)
        .select_related("organization")
        .annotate(rule_count=Count("routing_rules")),
    )
    page = _page(request, integrations, ("name", "id"))
    rows = [(integration, services.url_for(integration)) for integration in page.items]
    context = {
        "page": page,
        "rows": rows,
        "query": _query(request),
        "can_manage": access.can_view(user) and user.role in access.MANAGERS,
    }
    return render(request, "alerts/integration_list.html", context)


@login_required
def integration_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_manage(user)
    form = IntegrationForm(request.POST or None, organizations=organizations_for(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issued = services.create_integration(
                data["organization"],
                actor=user,
                name=data["name"],
                kind=data["kind"],
                escalation_policy=data["escalation_policy"],
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            return _detail(request, user, issued.integration, issued=issued)
    return render(request, "alerts/integration_form.html", {"form": form})


def _detail(
    request: HttpRequest,
    user: User,
    integration: Integration,
    *,
    issued: IssuedKey | None = None,
    rule_form: RoutingRuleForm | None = None,
    policy_form: IntegrationPolicyForm | None = None,
) -> HttpResponse:
    rules = list(
        integration.routing_rules.select_related("asset", "escalation_policy").order_by(
            "position", "pk"
        )
    )
    recent = list(
        Alert.objects.filter(integration=integration)
        .select_related("incident", "silence", "maintenance_window")
        .order_by("-created_at", "-id")[:RECENT_ON_INTEGRATION]
    )
    context = {
        "integration": integration,
        "url": issued.url if issued is not None else services.url_for(integration),
        "key": issued.key if issued is not None else None,
        "rules": rules,
        "recent": recent,
        "rule_form": rule_form or RoutingRuleForm(organization=integration.organization),
        "policy_form": policy_form
        or IntegrationPolicyForm(
            organization=integration.organization,
            initial={"escalation_policy": integration.escalation_policy_id},
        ),
        "is_builtin": integration.kind == IntegrationKind.MONITORING,
        "can_manage": user.role in access.MANAGERS,
    }
    return render(request, "alerts/integration_detail.html", context)


@login_required
def integration_detail(request: HttpRequest, integration_id: int) -> HttpResponse:
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return _detail(request, user, integration)


@login_required
def rotate_key(request: HttpRequest, integration_id: int) -> HttpResponse:
    """The new key is shown on the answer to this request only."""
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        issued = services.rotate_key(integration, actor=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("alerting:integration", integration_id=integration.pk)
    messages.success(request, "A new key was issued; the old one no longer works.")
    return _detail(request, user, issued.integration, issued=issued)


@login_required
def integration_policy(request: HttpRequest, integration_id: int) -> HttpResponse:
    """Change which escalation policy pages for the integration's incidents."""
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = IntegrationPolicyForm(request.POST, organization=integration.organization)
    if form.is_valid():
        try:
            services.update_integration(
                integration,
                actor=user,
                escalation_policy=form.cleaned_data["escalation_policy"],
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, "Escalation policy saved.")
            return redirect("alerting:integration", integration_id=integration.pk)
    return _detail(request, user, integration, policy_form=form)


# --- routing rules ---------------------------------------------------------------------------


@login_required
def rule_create(request: HttpRequest, integration_id: int) -> HttpResponse:
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    form = RoutingRuleForm(request.POST or None, organization=integration.organization)
    if request.method == "POST" and form.is_valid():
        try:
            rule = routing.create_rule(integration, actor=user, **form.service_fields())
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, f"Routing rule {rule.name} added.")
            return redirect("alerting:integration", integration_id=integration.pk)
    return render(
        request, "alerts/rule_form.html", {"form": form, "integration": integration, "rule": None}
    )


def _rule_initial(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "matchers": "\n".join(rule.matchers),
        "is_enabled": rule.is_enabled,
        "continue_matching": rule.continue_matching,
        "asset": rule.asset_id,
        "category": rule.category,
        "impact": rule.impact,
        "urgency": rule.urgency,
        "group_by": ", ".join(rule.group_by),
        "group_window_minutes": rule.group_window_minutes,
        "escalation_policy": rule.escalation_policy_id,
    }


@login_required
def rule_edit(request: HttpRequest, integration_id: int, routing_rule_id: int) -> HttpResponse:
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    rule = access.get_rule_for(user, integration, routing_rule_id, manage=True)
    form = RoutingRuleForm(
        request.POST or None, organization=integration.organization, initial=_rule_initial(rule)
    )
    if request.method == "POST" and form.is_valid():
        try:
            routing.update_rule(rule, actor=user, **form.service_fields())
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, f"Routing rule {rule.name} saved.")
            return redirect("alerting:integration", integration_id=integration.pk)
    return render(
        request, "alerts/rule_form.html", {"form": form, "integration": integration, "rule": rule}
    )


@login_required
def rule_delete(request: HttpRequest, integration_id: int, routing_rule_id: int) -> HttpResponse:
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    rule = access.get_rule_for(user, integration, routing_rule_id, manage=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    routing.delete_rule(rule, actor=user)
    messages.success(request, f"Routing rule {rule.name} deleted.")
    return redirect("alerting:integration", integration_id=integration.pk)


@login_required
def rule_move(request: HttpRequest, integration_id: int, routing_rule_id: int) -> HttpResponse:
    """Swap the rule with the one before it (``direction=up``) or after it (``down``)."""
    user = current_user(request)
    integration = access.get_integration_for(user, integration_id, manage=True)
    rule = access.get_rule_for(user, integration, routing_rule_id, manage=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    order = list(integration.routing_rules.order_by("position", "pk").values_list("pk", flat=True))
    index = order.index(rule.pk)
    other = index - 1 if request.POST.get("direction") == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
        routing.reorder_rules(integration, actor=user, order=order)
    return redirect("alerting:integration", integration_id=integration.pk)


# --- silences --------------------------------------------------------------------------------


@login_required
def silence_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_view(user)
    at = now()
    show = request.GET.get("show", "active")
    queryset = _scoped(request, user, access.silences_for(user)).select_related(
        "organization", "created_by"
    )
    queryset = queryset.annotate(
        held=Count(
            "alerts",
            filter=Q(alerts__status=AlertStatus.FIRING, alerts__incident__isnull=True),
        )
    )
    if show == "active":
        queryset = queryset.filter(ends_at__gt=at)
    else:
        show = "ended"
        queryset = queryset.filter(ends_at__lte=at)
    page = _page(request, queryset, ("-ends_at", "-id"))
    form = SilenceForm(organizations=organizations_for(user))
    chosen = selected_organization(request)
    if chosen is not None:
        form.initial["organization"] = chosen.pk
    context = {
        "page": page,
        "rows": [(silence, silences.is_active(silence, at)) for silence in page.items],
        "query": _query(request),
        "show": show,
        "form": form,
        "can_manage": user.role in access.MANAGERS,
    }
    return render(request, "alerts/silence_list.html", context)


@login_required
def silence_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_manage(user)
    form = SilenceForm(request.POST or None, organizations=organizations_for(user))
    if request.method == "POST" and form.is_valid():
        try:
            silences.create_silence(
                form.cleaned_data["organization"], actor=user, **form.service_fields(now())
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, "Silence added.")
            return redirect("alerting:silences")
    return render(request, "alerts/silence_form.html", {"form": form})


@login_required
def silence_expire(request: HttpRequest, silence_id: int) -> HttpResponse:
    user = current_user(request)
    silence = access.get_silence_for(user, silence_id, manage=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    silences.expire_silence(silence, actor=user)
    messages.success(request, "Silence expired; the alerts it held back are processed now.")
    return redirect("alerting:silences")


# --- alerts ----------------------------------------------------------------------------------


@login_required
def recent_alerts(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_view(user)
    queryset = _scoped(request, user, access.alerts_for(user)).select_related(
        "organization", "integration", "incident", "silence", "maintenance_window"
    )
    if request.GET.get("suppressed") == "1":
        queryset = queryset.filter(incident__isnull=True).exclude(
            silence__isnull=True, maintenance_window__isnull=True
        )
    page = _page(request, queryset, ("-created_at", "-id"))
    context = {"page": page, "query": _query(request), "suppressed": request.GET.get("suppressed")}
    return render(request, "alerts/recent.html", context)


@login_required
def incident_alerts(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The ticket page's alerts section (an HTMX fragment): each alert with its links."""
    user = current_user(request)
    ticket = get_ticket_for(user, ticket_id)
    alerts = list(
        access.alerts_of(user, ticket)
        .select_related("asset")
        .order_by("-created_at", "-id")[: INCIDENT_ALERTS + 1]
    )
    context = {
        "ticket": ticket,
        "alerts": alerts[:INCIDENT_ALERTS],
        "more": len(alerts) > INCIDENT_ALERTS,
        "firing": sum(1 for alert in alerts if alert.status == AlertStatus.FIRING),
    }
    return vary_on_htmx(render(request, "alerts/_incident_alerts.html", context))
