"""``{% catalogue_answers ticket %}``: the catalogue form's answers on a ticket's page."""

from __future__ import annotations

from typing import Any

from django import template

from buttress.catalogue import access
from buttress.catalogue.answers import display

register = template.Library()


@register.inclusion_tag("catalogue/_answers.html", takes_context=True)
def catalogue_answers(context: dict[str, Any], ticket: Any) -> dict[str, Any]:
    """Call with a ticket the page's user was given through the desk's access layer."""
    request = context.get("request")
    user = getattr(request, "user", None)
    found = access.request_for_ticket(user, ticket) if user is not None else None
    answers = []
    if found is not None:
        answers = [
            {"label": a.get("label", a.get("key")), "text": display(a)}
            for a in found.answers
            if isinstance(a, dict)
        ]
    return {"catalogue_request": found, "answers": answers}
