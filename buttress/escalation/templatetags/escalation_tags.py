"""``{% escalation_panel ticket %}``: the ticket page's escalation box, for staff."""

from __future__ import annotations

from typing import Any

from django import template

from buttress.escalation import access
from buttress.escalation.forms import StartForm
from buttress.escalation.models import Escalation, Page

register = template.Library()


@register.inclusion_tag("escalation/_ticket_panel.html", takes_context=True)
def escalation_panel(context: dict[str, Any], ticket: Any) -> dict[str, Any]:
    user = context["request"].user
    if not user.is_authenticated or not user.is_provider_staff:
        return {"show": False}
    latest = (
        Escalation.objects.filter(ticket=ticket)
        .select_related("policy", "acknowledged_by")
        .order_by("-started_at", "-id")
        .first()
    )
    pages = (
        list(
            Page.objects.filter(escalation=latest, cycle=latest.cycle)
            .select_related("user")
            .prefetch_related("notifications")
            .order_by("at", "id")
        )
        if latest is not None
        else []
    )
    policies = access.policies_for(user).filter(organization__in=[None, ticket.organization_id])
    return {
        "show": True,
        "ticket": ticket,
        "escalation": latest,
        "pages": pages,
        "start_form": StartForm(policies=policies),
        "csrf_token": context.get("csrf_token"),
    }
