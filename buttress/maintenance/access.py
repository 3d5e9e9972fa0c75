"""Fetching maintenance windows with tenancy and permission applied in one call.

Windows are about an organisation's assets and monitors, so they follow the CMDB's rights:
whoever sees the organisation's assets sees its windows, and provider admins and agents (who
change assets) change them. A window pauses SLA clocks, which are the provider's promise, so
customers do not edit windows. The iCalendar feed needs only the organisation: every user of
it may subscribe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404

from buttress.maintenance.models import MaintenanceWindow, MaintenanceWindowQuerySet
from buttress.tenancy.access import (
    Capability,
    can,
    get_organization_by_slug_for,
    get_organization_for,
    organizations_for,
    require,
    sees_all_organizations,
)

# The widest id a row can have (a signed 64-bit key).
MAX_ID = 2**63 - 1

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization


def can_change(user: User) -> bool:
    return can(user, Capability.EDIT_CMDB)


def require_change(user: User) -> None:
    if not can_change(user):
        raise PermissionDenied("Your role may not change maintenance windows.")


def windows_for(user: User) -> MaintenanceWindowQuerySet:
    """The windows ``user`` may see; none for a role without the CMDB."""
    if not can(user, Capability.VIEW_CMDB):
        return MaintenanceWindow.objects.none()
    if sees_all_organizations(user):
        return MaintenanceWindow.objects.all()
    return MaintenanceWindow.objects.for_orgs(organizations_for(user))


def get_window_for(user: User, pk: int | str, *, write: bool = False) -> MaintenanceWindow:
    if not user.is_authenticated or not user.is_active:
        raise Http404("Maintenance window not found.")
    try:
        window = (
            MaintenanceWindow.objects.for_orgs(organizations_for(user))
            .select_related("organization", "created_by")
            .get(pk=pk)
        )
    except (MaintenanceWindow.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Maintenance window not found.") from exc
    require(user, Capability.VIEW_CMDB)
    if write:
        require_change(user)
    return window


def get_organization_for_windows(user: User, pk: int | str, *, write: bool = False) -> Organization:
    """An organisation whose windows ``user`` may list (or, with ``write``, change)."""
    if not _is_id(pk):
        raise Http404("Organization not found.")
    organization = get_organization_for(user, pk, capability=Capability.VIEW_CMDB)
    if write:
        require_change(user)
    return organization


def get_organization_for_calendar(
    user: User, *, pk: int | str | None = None, slug: str | None = None
) -> Organization:
    """An organisation whose maintenance calendar ``user`` may read: its own users' and staff."""
    if slug is not None:
        return get_organization_by_slug_for(user, slug)
    if pk is None or not _is_id(pk):
        raise Http404("Organization not found.")
    return get_organization_for(user, pk)


def _is_id(pk: int | str) -> bool:
    """Whether ``pk`` can name a row: a tampered huge number would fail the query itself."""
    text = str(pk).strip()
    return text.isdigit() and int(text) <= MAX_ID
