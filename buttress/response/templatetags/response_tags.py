"""``{% incident_panel ticket %}`` on the agent's ticket page and ``{% customer_updates ticket %}``
on the customer's request page."""

from __future__ import annotations

from typing import Any

from django import template

from buttress.desk.access import is_staff
from buttress.desk.models import TicketType
from buttress.response import access
from buttress.response.panel import panel_context

register = template.Library()


def _user(context: Any) -> Any:
    request = context.get("request")
    return getattr(request, "user", None)


@register.inclusion_tag("response/_panel_slot.html", takes_context=True)
def incident_panel(context: Any, ticket: Any) -> dict[str, Any]:
    """The incident panel of an incident ticket, for staff; nothing otherwise. Call with a
    ticket the page's user was given through the desk's access layer."""
    user = _user(context)
    if user is None or not is_staff(user) or ticket.type != TicketType.INCIDENT:
        return {"show": False}
    return {"show": True, "csrf_token": context.get("csrf_token"), **panel_context(user, ticket)}


@register.inclusion_tag("response/_customer_updates.html", takes_context=True)
def customer_updates(context: Any, ticket: Any) -> dict[str, Any]:
    """The customer-facing status updates of a request, newest first."""
    user = _user(context)
    if user is None or ticket.type != TicketType.INCIDENT:
        return {"updates": []}
    updates = access.customer_updates_for(user, ticket).filter(visibility="customer")[:50]
    return {"updates": list(updates)}
