"""The macro pages: list, add, edit, delete (admins); agents apply macros on the ticket page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from buttress.accounts.models import Role, User
from buttress.desk.access import get_macro_for, manageable_macros, require_macro_admin
from buttress.desk.forms import MacroForm
from buttress.desk.models import Macro
from buttress.desk.services import macros
from buttress.desk.views.common import workspace_user
from buttress.tenancy.access import get_organization_for, organizations_for
from buttress.web.forms import add_service_errors
from buttress.web.users import current_user

# Changes the form does not edit, kept as they are when a macro is saved from the form.
KEPT_CHANGES = ("category",)


def _may_manage(user: User) -> bool:
    return user.role == Role.ADMIN


@login_required
def macro_list(request: HttpRequest) -> HttpResponse:
    user = workspace_user(request)
    rows = list(manageable_macros(user).select_related("organization"))
    return render(
        request, "desk/macro_list.html", {"macros": rows, "can_manage": _may_manage(user)}
    )


def _organization(user: User, form: MacroForm) -> Any:
    chosen = form.cleaned_data.get("organization")
    if not chosen:
        return None
    try:
        return get_organization_for(user, chosen)
    except Http404:
        form.add_error("organization", "Choose one of the listed organisations.")
        raise


def _fields(form: MacroForm, macro: Macro | None) -> dict[str, Any]:
    changes = form.changes()
    if macro is not None:
        for key in KEPT_CHANGES:
            if key in macro.changes:
                changes.setdefault(key, macro.changes[key])
        if "assignee" not in changes and isinstance(macro.changes.get("assignee"), int):
            changes["assignee"] = macro.changes["assignee"]
    data = form.cleaned_data
    return {
        "name": data["name"],
        "body": data["body"],
        "internal": data["internal"],
        "changes": changes,
        "is_active": data["is_active"],
    }


@login_required
def macro_create(request: HttpRequest) -> HttpResponse:
    user = workspace_user(request)
    if not _may_manage(user):
        raise PermissionDenied("Only admins manage macros.")
    form = MacroForm(request.POST or None, organizations=organizations_for(user))
    if request.method == "POST" and form.is_valid():
        try:
            organization = _organization(user, form)
            require_macro_admin(user, organization.pk if organization else None)
            macro = macros.create_macro(
                actor=user, organization=organization, **_fields(form, None)
            )
        except Http404:
            pass
        except PermissionDenied as exc:
            form.add_error("organization", str(exc))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Macro {macro.name} added.")
            return redirect("desk:macro_list")
    return render(request, "desk/macro_form.html", {"form": form, "macro": None})


@login_required
def macro_edit(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = get_macro_for(current_user(request), macro_id, write=True)
    user = workspace_user(request)
    form = MacroForm(
        request.POST or None,
        initial=MacroForm.initial_for(macro),
        organizations=organizations_for(user),
        editing=True,
    )
    if request.method == "POST" and form.is_valid():
        try:
            macros.update_macro(macro, actor=user, **_fields(form, macro))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Macro {macro.name} saved.")
            return redirect("desk:macro_list")
    return render(request, "desk/macro_form.html", {"form": form, "macro": macro})


@login_required
def macro_delete(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = get_macro_for(current_user(request), macro_id, write=True)
    user = workspace_user(request)
    if request.method == "POST":
        macros.delete_macro(macro, actor=user)
        messages.success(request, f"Macro {macro.name} deleted.")
        return redirect("desk:macro_list")
    return render(
        request,
        "web/confirm_delete.html",
        {
            "title": f"Delete the macro {macro.name}?",
            "warning": "Tickets it was applied to keep what it did.",
            "cancel_url": reverse("desk:macro_list"),
        },
    )
