"""Fetching on-call schedules with tenancy and permission applied in one call.

Schedules are the provider's: its staff see those of the organisations they see plus the
shared (provider-wide) ones; customers see none. Admins and agents change them (agents take
overrides and swaps for each other); a shared schedule, which may cover any customer, is
changed only by staff limited to no organisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from buttress.accounts.models import STAFF_ROLES, Role
from buttress.oncall.models import Layer, Override, Schedule, ScheduleQuerySet
from buttress.tenancy.access import get_organization_for, organizations_for, sees_all_organizations

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization

# The widest id a row can have (a signed 64-bit key).
MAX_ID = 2**63 - 1
EDITORS = frozenset({Role.ADMIN, Role.AGENT})


def is_staff(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role in STAFF_ROLES)


def can_change(
    user: User, organization: Organization | None = None, *, shared: bool = False
) -> bool:
    if not is_staff(user) or user.role not in EDITORS:
        return False
    return not shared or sees_all_organizations(user)


def require_change(user: User, organization: Organization | None, *, shared: bool) -> None:
    if not is_staff(user) or user.role not in EDITORS:
        raise PermissionDenied("Only admins and agents change on-call schedules.")
    if shared and not sees_all_organizations(user):
        raise PermissionDenied("Only staff limited to no organisation change shared schedules.")


def schedules_for(user: User) -> ScheduleQuerySet:
    if not is_staff(user):
        return Schedule.objects.none()
    if sees_all_organizations(user):
        return Schedule.objects.all()
    return Schedule.objects.filter(
        Q(organization__isnull=True) | Q(organization__in=organizations_for(user))
    )


def get_schedule_for(user: User, pk: int | str, *, write: bool = False) -> Schedule:
    if not _is_id(pk):
        raise Http404("Schedule not found.")
    try:
        schedule = schedules_for(user).select_related("organization", "team").get(pk=pk)
    except Schedule.DoesNotExist as exc:
        raise Http404("Schedule not found.") from exc
    if write:
        require_change(user, schedule.organization, shared=schedule.organization_id is None)
    return schedule


def get_layer_for(user: User, pk: int | str, *, write: bool = False) -> Layer:
    if not _is_id(pk):
        raise Http404("Layer not found.")
    try:
        layer = (
            Layer.objects.filter(schedule__in=schedules_for(user))
            .select_related("schedule", "schedule__organization")
            .get(pk=pk)
        )
    except Layer.DoesNotExist as exc:
        raise Http404("Layer not found.") from exc
    if write:
        schedule = layer.schedule
        require_change(user, schedule.organization, shared=schedule.organization_id is None)
    return layer


def get_override_for(user: User, pk: int | str, *, write: bool = False) -> Override:
    if not _is_id(pk):
        raise Http404("Override not found.")
    try:
        override = (
            Override.objects.filter(schedule__in=schedules_for(user))
            .select_related("schedule", "schedule__organization", "user", "replaces")
            .get(pk=pk)
        )
    except Override.DoesNotExist as exc:
        raise Http404("Override not found.") from exc
    if write:
        schedule = override.schedule
        require_change(user, schedule.organization, shared=schedule.organization_id is None)
    return override


def get_organization_for_schedules(
    user: User, pk: int | str, *, write: bool = False
) -> Organization:
    """An organisation whose schedules ``user`` may list (or, with ``write``, add)."""
    if not _is_id(pk) or not is_staff(user):
        raise Http404("Organization not found.")
    organization = get_organization_for(user, pk)
    if write:
        require_change(user, organization, shared=False)
    return organization


def _is_id(pk: int | str) -> bool:
    text = str(pk).strip()
    return text.isdigit() and int(text) <= MAX_ID
