"""What every workspace view checks first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from buttress.desk.access import DeskCapability, get_ticket_for, is_staff, require
from buttress.web.users import current_user

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.desk.models import Ticket


def workspace_user(request: HttpRequest) -> User:
    """The signed-in provider staff member; customers have the portal, not this."""
    user = current_user(request)
    if not is_staff(user):
        raise PermissionDenied("The agent workspace is for provider staff.")
    require(user, DeskCapability.VIEW)
    return user


def ticket_for_request(request: HttpRequest, pk: int) -> tuple[User, Ticket]:
    """The ticket named in the URL (another organisation's: 404, before any role check)."""
    user = current_user(request)
    ticket = get_ticket_for(user, pk)
    workspace_user(request)
    if request.method == "POST":
        require(user, DeskCapability.WORK)
    return user, ticket
