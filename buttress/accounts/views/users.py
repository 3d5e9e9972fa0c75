"""Managing accounts (provider admins: everyone; organisation admins: their own users) and
teams of provider staff (admins change them; all staff see them)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from buttress.accounts import access, services, tasks
from buttress.accounts.forms import TeamForm, UserFilterForm, UserForm, apply_errors
from buttress.accounts.models import User
from buttress.lib import pagination

PAGE_SIZE = 50


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _require_user_manager(actor: User) -> None:
    if not access.can_manage_users(actor):
        raise PermissionDenied("Your role may not manage users.")


@login_required
def users(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _require_user_manager(actor)
    filters = UserFilterForm(request.GET or None, actor=actor)
    queryset = access.users_for(actor).select_related("organization")
    if filters.is_valid():
        if q := filters.cleaned_data.get("q"):
            queryset = queryset.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
        if role := filters.cleaned_data.get("role"):
            queryset = queryset.filter(role=role)
        if org := filters.cleaned_data.get("organization"):
            queryset = queryset.filter(organization=org)
    try:
        page = pagination.paginate(
            queryset, order=("email", "id"), cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except pagination.InvalidCursor:
        messages.warning(request, "That page link is out of date; showing the first page.")
        page = pagination.paginate(queryset, order=("email", "id"), limit=PAGE_SIZE)
    with_2fa = set(
        TOTPDevice.objects.filter(user__in=[u.pk for u in page.items], confirmed=True).values_list(
            "user_id", flat=True
        )
    )
    return render(
        request,
        "accounts/users.html",
        {"filters": filters, "page": page, "with_2fa": with_2fa},
    )


@sensitive_post_parameters("password")
@login_required
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _require_user_manager(actor)
    form = UserForm(request.POST if request.method == "POST" else None, actor=actor)
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        access.check_assignment(
            actor,
            role=fields["role"],
            organization=fields["organization"],
            limited_to=fields.get("limited_to"),
        )
        try:
            user = services.create_user(
                actor=actor, password=form.cleaned_data.get("password") or None, **fields
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{user.email} can now sign in.")
            return redirect("accounts:user_edit", pk=user.pk)
    return render(request, "accounts/user_form.html", {"form": form, "target": None})


@login_required
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    target = access.get_user_for(actor, pk)
    form = UserForm(actor=actor, instance=target)
    if request.method == "POST":
        form = UserForm(request.POST, actor=actor, instance=target)
        if form.is_valid():
            fields = form.service_fields()
            access.check_assignment(
                actor,
                role=fields["role"],
                organization=fields["organization"],
                limited_to=fields.get("limited_to"),
            )
            try:
                services.update_user(target, actor=actor, **fields)
            except ValidationError as exc:
                apply_errors(form, exc)
                target.refresh_from_db()
            else:
                messages.success(request, f"{target.email} is saved.")
                return redirect("accounts:user_edit", pk=target.pk)
    return render(
        request,
        "accounts/user_form.html",
        {
            "form": form,
            "target": target,
            "has_2fa": services.has_two_factor(target),
            "is_self": target.pk == actor.pk,
        },
    )


@login_required
@require_POST
def user_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate, reactivate, mail a password link, or remove a lost second factor."""
    actor = _actor(request)
    target = access.get_user_for(actor, pk)
    action = request.POST.get("action")
    try:
        if action in ("deactivate", "activate"):
            services.update_user(target, actor=actor, is_active=action == "activate")
            messages.success(
                request,
                f"{target.email} is {'active again' if target.is_active else 'deactivated'}.",
            )
        elif action == "send_reset":
            if not target.is_active:
                raise ValidationError("Reactivate the account first.")
            tasks.send_password_reset.enqueue(target.pk)
            messages.success(request, f"A password link is on its way to {target.email}.")
        elif action == "remove_2fa":
            services.disable_two_factor(target, actor=actor)
            messages.success(request, f"{target.email} can now sign in with a password alone.")
        else:
            messages.error(request, "Unknown action.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("accounts:user_edit", pk=target.pk)


# --- teams -----------------------------------------------------------------------------------


@login_required
def teams(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not access.can_view_teams(actor):
        raise PermissionDenied("Teams are for provider staff.")
    rows = (
        access.teams_for(actor)
        .annotate(member_count=Count("members"))
        .prefetch_related("members")
        .order_by("name", "id")
    )
    return render(
        request,
        "accounts/teams.html",
        {"teams": rows, "can_manage": access.can_manage_teams(actor)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not access.can_manage_teams(actor):
        raise PermissionDenied("Only provider admins change teams.")
    form = TeamForm(request.POST if request.method == "POST" else None, actor=actor)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.create_team(actor=actor, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Team “{team.name}” created.")
            return redirect("accounts:teams")
    return render(request, "accounts/team_form.html", {"form": form, "team": None})


@login_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    team = access.get_team_for(actor, pk, manage=True)
    initial = {
        "name": team.name,
        "description": team.description,
        "members": list(team.members.all()),
    }
    form = TeamForm(
        request.POST if request.method == "POST" else None,
        actor=actor,
        team=team,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_team(team, actor=actor, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Team “{team.name}” saved.")
            return redirect("accounts:teams")
    return render(request, "accounts/team_form.html", {"form": form, "team": team})


@login_required
@require_POST
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    team = access.get_team_for(actor, pk, manage=True)
    name = team.name
    services.delete_team(team, actor=actor)
    messages.success(request, f"Team “{name}” deleted.")
    return redirect("accounts:teams")
