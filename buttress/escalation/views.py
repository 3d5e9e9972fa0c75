"""Pages for escalation policies, and the ticket page's escalation actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse

from buttress.accounts.models import Role, User
from buttress.escalation import access, services
from buttress.escalation.forms import PolicyForm, StartForm
from buttress.escalation.models import EscalationPolicy
from buttress.oncall import access as oncall_access
from buttress.tenancy.access import has_unrestricted_scope, organizations_for
from buttress.tenancy.models import Organization
from buttress.web.forms import add_service_errors
from buttress.web.users import current_user


def _may_write(user: User, organization: Organization | None) -> bool:
    try:
        access.require_write(user, organization)
    except PermissionDenied:
        return False
    return True


def _may_add(user: User) -> bool:
    return user.role == Role.ADMIN and (
        has_unrestricted_scope(user) or organizations_for(user).exists()
    )


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    policies = list(
        access.policies_for(user)
        .select_related("organization")
        .prefetch_related("steps__users", "steps__teams", "steps__schedules")
    )
    rows = [(policy, _may_write(user, policy.organization)) for policy in policies]
    context = {"policies": rows, "can_create": _may_add(user)}
    return render(request, "escalation/policy_list.html", context)


def _owner(form: PolicyForm, user: User) -> tuple[bool, Organization | None]:
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


@login_required
def policy_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    if not _may_add(user):
        raise PermissionDenied("Only admins change escalation policies.")
    form = PolicyForm(
        request.POST or None,
        organizations=organizations_for(user),
        schedules=oncall_access.schedules_for(user),
    )
    if request.method == "POST" and form.is_valid():
        allowed, org = _owner(form, user)
        if allowed:
            try:
                policy = services.create_policy(
                    org, actor=user, steps=form.steps(), **form.fields_for_service()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Policy {policy.name} added.")
                return redirect("escalation:policy_list")
    return render(request, "escalation/policy_form.html", {"form": form, "policy": None})


@login_required
def policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    user = current_user(request)
    policy = access.get_policy_for(user, policy_id, write=True)
    form = PolicyForm(
        request.POST or None,
        organizations=organizations_for(user),
        schedules=oncall_access.schedules_for(user).filter(
            organization__in=[None, policy.organization_id]
        ),
        initial=PolicyForm.initial_for(policy),
        editing=True,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_policy(
                policy, actor=user, steps=form.steps(), **form.fields_for_service()
            )
        except ValidationError as exc:
            policy.refresh_from_db()
            add_service_errors(form, exc)
        else:
            messages.success(request, "Policy saved.")
            return redirect("escalation:policy_list")
    return render(request, "escalation/policy_form.html", {"form": form, "policy": policy})


@login_required
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    user = current_user(request)
    policy = access.get_policy_for(user, policy_id, write=True)
    back = reverse("escalation:policy_list")
    if request.method == "POST":
        name = policy.name
        try:
            services.delete_policy(policy, actor=user)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"Policy {name} deleted.")
        return redirect(back)
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete policy {policy.name}?",
            "warning": "A policy that escalated tickets cannot be deleted. This cannot be undone.",
            "cancel_url": back,
        },
    )


# --- on the ticket page ----------------------------------------------------------------------


def _back(ticket_id: int) -> HttpResponse:
    return redirect(reverse("desk:detail", kwargs={"pk": ticket_id}) + "#escalation")


def _report(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@login_required
def start(request: HttpRequest, ticket_id: int) -> HttpResponse:
    user = current_user(request)
    # The ticket first: another organisation's is not found, whatever the method.
    ticket = access.get_ticket_to_escalate(user, ticket_id, write=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    policies = access.policies_for(user).filter(organization__in=[None, ticket.organization_id])
    form = StartForm(request.POST, policies=policies)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed escalation policies.")
        return _back(ticket.pk)
    policy = EscalationPolicy.objects.get(pk=form.cleaned_data["policy"])
    try:
        services.start(ticket, policy, actor=user)
    except ValidationError as exc:
        _report(request, exc)
    else:
        messages.success(request, f"Escalation started: {policy.name}.")
    return _back(ticket.pk)


@login_required
def acknowledge(request: HttpRequest, ticket_id: int) -> HttpResponse:
    user = current_user(request)
    # The ticket first: another organisation's is not found, whatever the method.
    ticket = access.get_ticket_to_escalate(user, ticket_id, write=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        services.acknowledge(ticket, actor=user, via="page")
    except ValidationError as exc:
        _report(request, exc)
    else:
        messages.success(request, "Acknowledged: paging stopped.")
    return _back(ticket.pk)


@login_required
def cancel(request: HttpRequest, ticket_id: int) -> HttpResponse:
    user = current_user(request)
    # The ticket first: another organisation's is not found, whatever the method.
    ticket = access.get_ticket_to_escalate(user, ticket_id, write=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        services.cancel(ticket, actor=user)
    except ValidationError as exc:
        _report(request, exc)
    else:
        messages.success(request, "Escalation cancelled.")
    return _back(ticket.pk)
