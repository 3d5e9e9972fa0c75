"""The priority matrix page: staff read it, admins limited to no organisation change it.

A save answers the matrix's block for HTMX (errors included) or redirects back to the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from buttress.desk.access import may_change_priority_matrix, require_priority_admin
from buttress.desk.forms import PriorityMatrixForm
from buttress.desk.models import DEFAULT_MATRIX, Level
from buttress.desk.services import priority
from buttress.desk.views.common import workspace_user
from buttress.web.forms import add_service_errors
from buttress.web.htmx import is_htmx, vary_on_htmx


def _changed_text(changed: list[tuple[str, str]]) -> str:
    if not changed:
        return "Nothing changed."
    cells = ", ".join(f"{impact} x {urgency}" for impact, urgency in changed)
    return f"Priority matrix saved ({cells}). Tickets follow it from their next change."


def _context(form: PriorityMatrixForm, *, can_change: bool, saved: str = "") -> dict[str, Any]:
    matrix = priority.priority_matrix()
    return {
        "form": form,
        "can_change": can_change,
        "urgencies": [label for _, label in Level.choices],
        "rows": [
            (
                label,
                [
                    {
                        "priority": matrix[(impact, urgency)],
                        "default": str(DEFAULT_MATRIX[(impact, urgency)]),
                        "field": form[f"{impact}_{urgency}"],
                    }
                    for urgency in Level.values
                ],
            )
            for impact, label in Level.choices
        ],
        "saved": saved,
    }


@login_required
def priority_matrix(request: HttpRequest) -> HttpResponse:
    user = workspace_user(request)
    can_change = may_change_priority_matrix(user)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if request.method == "GET":
        form = PriorityMatrixForm(matrix=priority.priority_matrix())
        return vary_on_htmx(
            render(request, "desk/priority_matrix.html", _context(form, can_change=can_change))
        )
    require_priority_admin(user)
    form = PriorityMatrixForm(request.POST, matrix=priority.priority_matrix())
    saved = ""
    if form.is_valid():
        try:
            changed = priority.set_priority_matrix(actor=user, matrix=form.matrix())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            saved = _changed_text(changed)
            if not is_htmx(request):
                messages.success(request, saved)
                return redirect("desk:priority_matrix")
            # A fresh form, so the cells show what is now stored.
            form = PriorityMatrixForm(matrix=priority.priority_matrix())
    template = (
        "desk/priority_matrix.html#matrix" if is_htmx(request) else "desk/priority_matrix.html"
    )
    context = _context(form, can_change=can_change, saved=saved)
    return vary_on_htmx(render(request, template, context))
