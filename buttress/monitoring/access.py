"""Fetching monitors with tenancy and permission applied in one call.

Monitors watch an organisation's services, so they follow the CMDB's reading rights: whoever
sees the organisation's assets sees its monitors. Changing them is for provider admins and
agents and for the customer's own organisation admins (who manage their organisation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404

from buttress.accounts.models import Role
from buttress.monitoring.models import Monitor, MonitorQuerySet
from buttress.tenancy.access import (
    Capability,
    can,
    get_organization_for,
    organizations_for,
    require,
    sees_all_organizations,
)

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization


def can_change(user: User) -> bool:
    return can(user, Capability.EDIT_CMDB) or can(user, Capability.MANAGE_ORG)


def require_change(user: User) -> None:
    if not can_change(user):
        raise PermissionDenied("Your role may not change monitors.")


def monitors_for(user: User) -> MonitorQuerySet:
    """The monitors ``user`` may see; none for a role without the CMDB."""
    if not can(user, Capability.VIEW_CMDB):
        return Monitor.objects.none()
    if sees_all_organizations(user):
        return Monitor.objects.all()
    return Monitor.objects.for_orgs(organizations_for(user))


def get_monitor_for(user: User, pk: int | str, *, write: bool = False) -> Monitor:
    if not user.is_authenticated or not user.is_active:
        raise Http404("Monitor not found.")
    try:
        monitor = (
            Monitor.objects.for_orgs(organizations_for(user))
            .select_related("organization")
            .get(pk=pk)
        )
    except (Monitor.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Monitor not found.") from exc
    require(user, Capability.VIEW_CMDB)
    if write:
        require_change(user)
    return monitor


def get_organization_for_monitors(
    user: User, pk: int | str, *, write: bool = False
) -> Organization:
    """An organisation whose monitors ``user`` may list (or, with ``write``, change)."""
    organization = get_organization_for(user, pk, capability=Capability.VIEW_CMDB)
    if write:
        require_change(user)
    return organization


def can_set_policy(user: User) -> bool:
    """The private-address policy decides what the provider's network may be probed for:
    provider admins set it (for the organisations they see), customers never."""
    return user.is_authenticated and user.is_active and user.role == Role.ADMIN


def get_organization_for_policy(user: User, pk: int | str, *, write: bool = False) -> Organization:
    """An organisation whose monitoring policy ``user`` may read (or, with ``write``, set)."""
    organization = get_organization_for(user, pk, capability=Capability.VIEW_CMDB)
    if write and not can_set_policy(user):
        raise PermissionDenied("Only provider admins set an organisation's monitoring policy.")
    return organization
