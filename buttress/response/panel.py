"""What the incident panel on a ticket's page shows: shared by the template tag that puts it
on the desk's page and the views that redraw it after a change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.forms import BaseForm

from buttress.desk.access import DeskCapability, can
from buttress.response import access
from buttress.response.forms import RoleForm, SeverityForm, UpdateForm
from buttress.response.models import Incident
from buttress.response.services import describe

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.desk.models import Ticket

UPDATES_SHOWN = 50
EVENTS_SHOWN = 200


def panel_context(
    user: User, ticket: Ticket, forms: dict[str, BaseForm] | None = None
) -> dict[str, Any]:
    """Call with an incident ticket fetched for provider staff ``user``."""
    forms = forms or {}
    incident = Incident.objects.filter(ticket=ticket).first()
    roles: list[Any] = []
    updates: list[Any] = []
    log: list[dict[str, Any]] = []
    postmortem = None
    if incident is not None:
        roles = list(incident.roles.select_related("user").order_by("role", "assigned_at", "id"))
        updates = list(incident.updates.select_related("author")[:UPDATES_SHOWN])
        events = list(
            access.events_for(user, incident)
            .select_related("actor")
            .order_by("-at", "-id")[:EVENTS_SHOWN]
        )
        events.reverse()
        log = [{"event": e, "text": describe(e)} for e in events]
        postmortem = getattr(incident, "postmortem", None)
    responders = access.responders_for(ticket)
    return {
        "ticket": ticket,
        "incident": incident,
        "roles": roles,
        "updates": updates,
        "log": log,
        "postmortem": postmortem,
        "can_respond": can(user, DeskCapability.WORK),
        "severity_form": forms.get("severity")
        or SeverityForm(initial={"severity": incident.severity if incident else ""}),
        "role_form": forms.get("role") or RoleForm(responders=responders),
        "update_form": forms.get("update") or UpdateForm(),
    }
