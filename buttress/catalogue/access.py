"""Fetching catalogue items with tenancy and permission applied in one call.

Provider staff see the shared items and those of the organisations they see; admins and
agents change them (a shared item only by staff limited to no organisation, since it is
offered to every customer). Customers see the active items offered to their organisation:
its own and the shared ones. Another organisation's item answers 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from buttress.accounts.models import STAFF_ROLES, Role
from buttress.catalogue.models import (
    CatalogueField,
    CatalogueItem,
    CatalogueItemQuerySet,
    CatalogueRequest,
)
from buttress.desk.access import DeskCapability, can, sees_internal
from buttress.tenancy.access import organizations_for, sees_all_organizations

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.desk.models import Ticket

MAX_ID = 2**63 - 1
MANAGER_ROLES = frozenset({Role.ADMIN, Role.AGENT})


def _is_id(pk: int | str) -> bool:
    text = str(pk).strip()
    return text.isdigit() and int(text) <= MAX_ID


def is_staff(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.role in STAFF_ROLES


def items_for(user: User) -> CatalogueItemQuerySet:
    """Every item ``user`` may see: for staff to manage, for customers to request."""
    if not user.is_authenticated or not user.is_active:
        return CatalogueItem.objects.none()
    if is_staff(user):
        if sees_all_organizations(user):
            return CatalogueItem.objects.all()
        return CatalogueItem.objects.filter(
            Q(organization__isnull=True) | Q(organization__in=organizations_for(user))
        )
    return offered_items_for(user)


def offered_items_for(user: User) -> CatalogueItemQuerySet:
    """The active items the customer ``user`` may request (none for staff and for accounts
    without an organisation or without the right to open tickets)."""
    if is_staff(user) or user.organization_id is None or not can(user, DeskCapability.OPEN):
        return CatalogueItem.objects.none()
    return CatalogueItem.objects.offered_to(user.organization_id)


def can_manage(user: User, organization_id: int | None) -> bool:
    if not is_staff(user) or user.role not in MANAGER_ROLES:
        return False
    if organization_id is None:
        return sees_all_organizations(user)
    return organizations_for(user).filter(pk=organization_id).exists()


def require_manage(user: User, organization_id: int | None) -> None:
    if user.role not in MANAGER_ROLES:
        raise PermissionDenied("Only admins and agents manage the service catalogue.")
    if not can_manage(user, organization_id):
        raise PermissionDenied(
            "Only staff limited to no organisation change items offered to every organisation."
        )


def get_item_for(user: User, pk: int | str, *, write: bool = False) -> CatalogueItem:
    item = (
        items_for(user).select_related("organization", "team").filter(pk=pk).first()
        if _is_id(pk)
        else None
    )
    if item is None:
        raise Http404("No such catalogue item.")
    if write:
        require_manage(user, item.organization_id)
    return item


def get_field_for(
    user: User, item: CatalogueItem, pk: int | str, *, write: bool = False
) -> CatalogueField:
    """A field of ``item`` (fetched through :func:`get_item_for`)."""
    field = CatalogueField.objects.filter(item=item, pk=pk).first() if _is_id(pk) else None
    if field is None:
        raise Http404("No such field.")
    if write:
        require_manage(user, item.organization_id)
    field.item = item
    return field


def request_for_ticket(user: User, ticket: Ticket) -> CatalogueRequest | None:
    """The catalogue answers of a ticket ``user`` sees (call with a ticket from the desk's
    ``get_ticket_for``); customers see the answers they gave as well."""
    if not user.is_authenticated:
        return None
    if not sees_internal(user) and not can(user, DeskCapability.VIEW):
        return None
    return (
        CatalogueRequest.objects.for_org(ticket.organization_id)
        .filter(ticket=ticket)
        .select_related("item")
        .first()
    )
