"""SLA configuration pages: calendars, policies and the ordered rule list.

Objects are fetched through access.py (another organisation's object is a 404, a role that may
not change it a 403) and every change goes through services.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.sla import access, services
from buttress.sla.forms import (
    CLOCK_LABELS,
    CalendarForm,
    PolicyForm,
    RuleForm,
    TryForm,
    add_sla_errors,
)
from buttress.sla.models import (
    CLOCKS,
    PRIORITIES,
    Calendar,
    PolicyRule,
    SlaPolicy,
    default_paused_clocks,
    engine_years,
)
from buttress.tenancy.access import has_unrestricted_scope, organizations_for
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization


def _may_write(user: User, organization: Organization | None) -> bool:
    try:
        access.require_write(user, organization)
    except PermissionDenied:
        return False
    return True


def _may_add(user: User) -> bool:
    """Whether the user may add a calendar or policy, shared or for some organisation."""
    return user.role == Role.ADMIN and (
        has_unrestricted_scope(user) or organizations_for(user).exists()
    )


def _owner(form: Any, user: User) -> tuple[bool, Organization | None]:
    """The organisation chosen on ``form``, if the user may write for it."""
    pk = form.cleaned_data.get("organization") or ""
    org = organizations_for(user).filter(pk=pk).first() if pk else None
    if pk and org is None:
        form.add_error("organization", "Choose one of the listed organisations.")
        return False, None
    try:
        access.require_write(user, org)
    except PermissionDenied as exc:
        form.add_error("organization", str(exc))
        return False, None
    return True, org


def _with_flags[M: (Calendar, SlaPolicy)](user: User, rows: list[M]) -> list[tuple[M, bool]]:
    """Each row with whether the user may change it (its edit and delete links)."""
    return [(row, _may_write(user, row.organization)) for row in rows]


# Calendars -----------------------------------------------------------------------------------


@login_required
def calendar_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    calendars = list(access.calendars_for(user).select_related("organization"))
    context = {"calendars": _with_flags(user, calendars), "can_create": _may_add(user)}
    return render(request, "sla/calendar_list.html", context)


@login_required
def calendar_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    if not _may_add(user):
        raise PermissionDenied("Only admins change service levels.")
    form = CalendarForm(request.POST or None, organizations=organizations_for(user))
    if request.method == "POST" and form.is_valid():
        allowed, org = _owner(form, user)
        if allowed:
            try:
                calendar = services.create_calendar(
                    actor=user, organization=org, **form.service_fields()
                )
            except ValidationError as exc:
                add_sla_errors(form, exc)
            else:
                messages.success(request, f"Calendar {calendar.name} added.")
                return redirect("sla:calendar_detail", calendar_id=calendar.pk)
    return render(request, "sla/calendar_form.html", {"form": form, "calendar": None})


@login_required
def calendar_detail(request: HttpRequest, calendar_id: int) -> HttpResponse:
    user = current_user(request)
    calendar = access.get_calendar_for(user, calendar_id)
    form = TryForm(request.GET if "start" in request.GET else None, timezone=calendar.timezone)
    due = None
    if form.is_bound and form.is_valid():
        start = form.cleaned_data["start"]
        try:
            due = calendar.engine(engine_years(start)).add(
                start, timedelta(minutes=form.cleaned_data["minutes"])
            )
        except (ValueError, OverflowError) as exc:
            form.add_error(None, str(exc))
    days = [
        (label, calendar.weekly.get(str(day), []))
        for day, label in enumerate(
            ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        )
    ]
    context = {
        "calendar": calendar,
        "days": days,
        "form": form,
        "due": due,
        "policies": calendar.policies.all(),
        "can_write": _may_write(user, calendar.organization),
    }
    return render(request, "sla/calendar_detail.html", context)


@login_required
def calendar_edit(request: HttpRequest, calendar_id: int) -> HttpResponse:
    user = current_user(request)
    calendar = access.get_calendar_for(user, calendar_id, write=True)
    form = CalendarForm(
        request.POST or None,
        initial=CalendarForm.initial_for(calendar),
        organizations=organizations_for(user),
        editing=True,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_calendar(calendar, actor=user, **form.service_fields())
        except ValidationError as exc:
            calendar.refresh_from_db()
            add_sla_errors(form, exc)
        else:
            messages.success(request, "Calendar saved.")
            return redirect("sla:calendar_detail", calendar_id=calendar.pk)
    return render(request, "sla/calendar_form.html", {"form": form, "calendar": calendar})


def _confirm_delete(
    request: HttpRequest,
    *,
    kind: str,
    obj: Calendar | SlaPolicy,
    delete: Callable[[], None],
    detail: str,
    done: str,
    warning: str,
) -> HttpResponse:
    """The confirm page, then the delete; a refusal from the service goes back to the object."""
    if request.method == "POST":
        name = obj.name
        try:
            delete()
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect(detail)
        messages.success(request, f"{kind.capitalize()} {name} deleted.")
        return redirect(done)
    return render(
        request,
        "web/confirm_delete.html",
        {"title": f"Delete {kind} {obj.name}?", "warning": warning, "cancel_url": detail},
    )


@login_required
def calendar_delete(request: HttpRequest, calendar_id: int) -> HttpResponse:
    user = current_user(request)
    calendar = access.get_calendar_for(user, calendar_id, write=True)
    return _confirm_delete(
        request,
        kind="calendar",
        obj=calendar,
        delete=lambda: services.delete_calendar(calendar, actor=user),
        detail=reverse("sla:calendar_detail", kwargs={"calendar_id": calendar.pk}),
        done="sla:index",
        warning="A calendar used by a policy cannot be deleted. This cannot be undone.",
    )


# Policies ------------------------------------------------------------------------------------


def _policy_form(request: HttpRequest, user: User, **kwargs: Any) -> PolicyForm:
    return PolicyForm(
        request.POST or None,
        organizations=organizations_for(user),
        calendars=access.calendars_for(user).select_related("organization"),
        **kwargs,
    )


def _calendar_of(form: PolicyForm, user: User) -> Calendar | None:
    try:
        return access.get_calendar_for(user, form.cleaned_data["calendar"])
    except (Http404, PermissionDenied):
        form.add_error("calendar", "Choose one of the listed calendars.")
        return None


def _policy_fields(form: PolicyForm, calendar: Calendar) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "calendar": calendar,
        "targets": form.targets(),
        "pausing_statuses": list(data["pausing_statuses"]),
        "paused_clocks": list(data["paused_clocks"]),
        "pause_on_maintenance": data["pause_on_maintenance"],
        "warnings": data["warnings"],
    }


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    policies = list(access.policies_for(user).select_related("organization", "calendar"))
    context = {"policies": _with_flags(user, policies), "can_create": _may_add(user)}
    return render(request, "sla/policy_list.html", context)


@login_required
def policy_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    if not _may_add(user):
        raise PermissionDenied("Only admins change service levels.")
    form = _policy_form(
        request,
        user,
        initial={
            "pausing_statuses": services.DEFAULT_PAUSING,
            "paused_clocks": default_paused_clocks(),
        },
    )
    if request.method == "POST" and form.is_valid():
        allowed, org = _owner(form, user)
        calendar = _calendar_of(form, user) if allowed else None
        if calendar is not None:
            try:
                policy = services.create_policy(
                    actor=user, organization=org, **_policy_fields(form, calendar)
                )
            except ValidationError as exc:
                add_sla_errors(form, exc)
            else:
                messages.success(request, f"Policy {policy.name} added.")
                return redirect("sla:policy_detail", policy_id=policy.pk)
    return render(request, "sla/policy_form.html", {"form": form, "policy": None})


@login_required
def policy_detail(request: HttpRequest, policy_id: int) -> HttpResponse:
    user = current_user(request)
    policy = access.get_policy_for(user, policy_id)
    rows = [(p, [policy.targets.get(p, {}).get(c) for c in CLOCKS]) for p in PRIORITIES]
    context = {
        "policy": policy,
        "rows": rows,
        "clocks": [CLOCK_LABELS[clock] for clock in CLOCKS],
        "can_write": _may_write(user, policy.organization),
    }
    return render(request, "sla/policy_detail.html", context)


@login_required
def policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    user = current_user(request)
    policy = access.get_policy_for(user, policy_id, write=True)
    form = _policy_form(request, user, initial=PolicyForm.initial_for(policy), editing=True)
    if request.method == "POST" and form.is_valid():
        calendar = _calendar_of(form, user)
        if calendar is not None:
            try:
                services.update_policy(policy, actor=user, **_policy_fields(form, calendar))
            except ValidationError as exc:
                policy.refresh_from_db()
                add_sla_errors(form, exc)
            else:
                messages.success(request, "Policy saved.")
                return redirect("sla:policy_detail", policy_id=policy.pk)
    return render(request, "sla/policy_form.html", {"form": form, "policy": policy})


@login_required
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    user = current_user(request)
    policy = access.get_policy_for(user, policy_id, write=True)
    return _confirm_delete(
        request,
        kind="policy",
        obj=policy,
        delete=lambda: services.delete_policy(policy, actor=user),
        detail=reverse("sla:policy_detail", kwargs={"policy_id": policy.pk}),
        done="sla:policy_list",
        warning="A policy chosen by a rule cannot be deleted. This cannot be undone.",
    )


# Rules ---------------------------------------------------------------------------------------


def _may_change_rules(user: User) -> bool:
    return _may_write(user, None)


@transaction.atomic
def _add_rule(
    user: User, policy: SlaPolicy, organization: Organization | None, **conditions: str
) -> None:
    """Add a rule at the end, but before a default rule, which must stay last."""
    default = PolicyRule.objects.filter(
        organization__isnull=True, ticket_type="", category="", priority=""
    ).first()
    position = None
    if default is not None and (organization or any(conditions.values())):
        # Renumbering leaves room between rules: the slot before the default is then free.
        services.reorder_rules(list(PolicyRule.objects.values_list("pk", flat=True)), actor=user)
        default.refresh_from_db()
        position = default.position - 1
    services.create_rule(
        actor=user, policy=policy, position=position, organization=organization, **conditions
    )


@login_required
def rule_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    can_write = _may_change_rules(user)
    if request.method == "POST" and not can_write:
        raise PermissionDenied("Only admins limited to no organisation change the rule list.")
    policies = access.policies_for(user).select_related("organization")
    form = RuleForm(request.POST or None, organizations=organizations_for(user), policies=policies)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = (
            organizations_for(user).filter(pk=data["organization"]).first()
            if data["organization"]
            else None
        )
        policy = policies.filter(pk=data["policy"]).first()
        if data["organization"] and org is None:
            form.add_error("organization", "Choose one of the listed organisations.")
        elif policy is None:
            form.add_error("policy", "Choose one of the listed policies.")
        else:
            try:
                _add_rule(
                    user,
                    policy=policy,
                    organization=org,
                    ticket_type=data["ticket_type"],
                    category=data["category"],
                    priority=data["priority"],
                )
            except ValidationError as exc:
                add_sla_errors(form, exc)
            else:
                messages.success(request, "Rule added.")
                return redirect("sla:rule_list")
    rules = list(access.rules_for(user).select_related("organization", "policy"))
    context = {"rules": rules, "form": form, "can_write": can_write}
    return render(request, "sla/rule_list.html", context)


@login_required
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = current_user(request)
    rule = access.get_rule_for(user, rule_id, write=True)
    if request.method == "POST":
        services.delete_rule(rule, actor=user)
        messages.success(request, "Rule deleted.")
        return redirect("sla:rule_list")
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete rule {rule}?",
            "warning": "Tickets it matched fall through to the rules after it.",
            "cancel_url": reverse("sla:rule_list"),
        },
    )


@login_required
def rule_move(request: HttpRequest, rule_id: int, direction: str) -> HttpResponse:
    user = current_user(request)
    rule = access.get_rule_for(user, rule_id, write=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    order = list(PolicyRule.objects.values_list("pk", flat=True))
    index = order.index(rule.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
        try:
            services.reorder_rules(order, actor=user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, "Rule moved.")
    return redirect("sla:rule_list")
