"""Fetching SLA configuration with tenancy and permission applied in one call.

Provider staff read the calendars and policies of the organisations they see plus the shared
ones; admins change them, and only unrestricted admins change shared ones and the rule list
(its order decides for every organisation). Customers see none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from buttress.accounts.models import STAFF_ROLES, Role
from buttress.sla.models import Calendar, PolicyRule, SlaPolicy
from buttress.tenancy.access import (
    Capability,
    has_unrestricted_scope,
    organizations_for,
    require,
)

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization


def _visible() -> Q:
    return Q(organization__isnull=True)


def require_read(user: User) -> None:
    require(user, Capability.VIEW_ORG)
    if user.role not in STAFF_ROLES:
        raise PermissionDenied("Service levels are managed by the provider's staff.")


def require_write(user: User, organization: Organization | None) -> None:
    """Admins change an organisation's configuration; unrestricted admins the shared one."""
    require_read(user)
    if user.role != Role.ADMIN:
        raise PermissionDenied("Only admins change service levels.")
    if organization is None and not has_unrestricted_scope(user):
        raise PermissionDenied("Only admins limited to no organisation change shared ones.")


def calendars_for(user: User) -> QuerySet[Calendar]:
    if not user.is_authenticated or user.role not in STAFF_ROLES:
        return Calendar.objects.none()
    return Calendar.objects.filter(_visible() | Q(organization__in=organizations_for(user)))


def policies_for(user: User) -> QuerySet[SlaPolicy]:
    if not user.is_authenticated or user.role not in STAFF_ROLES:
        return SlaPolicy.objects.none()
    return SlaPolicy.objects.filter(_visible() | Q(organization__in=organizations_for(user)))


def rules_for(user: User) -> QuerySet[PolicyRule]:
    if not user.is_authenticated or user.role not in STAFF_ROLES:
        return PolicyRule.objects.none()
    return PolicyRule.objects.filter(_visible() | Q(organization__in=organizations_for(user)))


def _customer_visible[M: (Calendar, SlaPolicy, PolicyRule)](
    user: User, queryset: QuerySet[M]
) -> QuerySet[M]:
    """Rows a customer's organisation owns: found (then refused, 403) rather than hidden."""
    return queryset.filter(_visible() | Q(organization__in=organizations_for(user)))


def _get[M: (Calendar, SlaPolicy, PolicyRule)](
    user: User, queryset: QuerySet[M], pk: int | str, label: str, *, write: bool
) -> M:
    if not user.is_authenticated or not user.is_active:
        raise Http404(f"{label} not found.")
    try:
        found = _customer_visible(user, queryset).select_related("organization").get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"{label} not found.") from exc
    if write:
        require_write(user, found.organization)
    else:
        require_read(user)
    return found


def get_calendar_for(user: User, pk: int | str, *, write: bool = False) -> Calendar:
    return _get(user, Calendar.objects.all(), pk, "Calendar", write=write)


def get_policy_for(user: User, pk: int | str, *, write: bool = False) -> SlaPolicy:
    return _get(user, SlaPolicy.objects.select_related("calendar"), pk, "Policy", write=write)


def get_rule_for(user: User, pk: int | str, *, write: bool = False) -> PolicyRule:
    rule = _get(user, PolicyRule.objects.select_related("policy"), pk, "Rule", write=write)
    if write and not has_unrestricted_scope(user):
        raise PermissionDenied("Only admins limited to no organisation change the rule list.")
    return rule
