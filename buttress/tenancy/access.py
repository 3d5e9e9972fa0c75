"""Who may see and change what, in one place.

Every view, API endpoint and command fetches customer-owned objects through these functions.
An object of an organisation the user cannot see is *not found* (404), never *forbidden*:
its existence is not disclosed. Forbidden (403) is kept for an action the user's role lacks
on something they can see.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from buttress.accounts.models import CUSTOMER_ROLES, STAFF_ROLES, Role
from buttress.tenancy.models import Contact, Organization, Site

if TYPE_CHECKING:
    from buttress.accounts.models import User


class Capability(StrEnum):
    VIEW_ORG = "view_org"  # see the organisation, its sites and contacts
    MANAGE_ORG = "manage_org"  # change sites and contacts
    VIEW_CMDB = "view_cmdb"  # see assets and relations
    EDIT_CMDB = "edit_cmdb"  # change assets and relations, import CSV
    MANAGE_USERS = "manage_users"  # invite, change and deactivate users of the organisation
    VIEW_AUDIT = "view_audit"  # read the audit log


_GRANTS: dict[str, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.AGENT: frozenset(
        {
            Capability.VIEW_ORG,
            Capability.MANAGE_ORG,
            Capability.VIEW_CMDB,
            Capability.EDIT_CMDB,
            Capability.VIEW_AUDIT,
        }
    ),
    Role.VIEWER: frozenset({Capability.VIEW_ORG, Capability.VIEW_CMDB, Capability.VIEW_AUDIT}),
    Role.ORG_ADMIN: frozenset(
        {
            Capability.VIEW_ORG,
            Capability.MANAGE_ORG,
            Capability.VIEW_CMDB,
            Capability.MANAGE_USERS,
        }
    ),
    Role.END_USER: frozenset({Capability.VIEW_ORG}),
}


def _authenticated(user: User) -> User:
    if not user.is_authenticated or not user.is_active:
        raise Http404
    return user


def _limited_ids(user: User) -> list[int] | None:
    """The ids a staff user is limited to, or None when unlimited; cached on the user object.

    A request asks this several times (lists, switcher, permission checks); one query is enough.
    """
    cached: list[int] | bool | None = getattr(user, "_buttress_limited_ids", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    ids = list(user.limited_to.values_list("pk", flat=True))
    result = ids or None
    user._buttress_limited_ids = result  # type: ignore[attr-defined]
    return result


def sees_all_organizations(user: User) -> bool:
    """Unlimited provider staff: list queries may skip the organisation filter entirely."""
    return (
        user.is_authenticated
        and user.is_active
        and user.role in STAFF_ROLES
        and _limited_ids(user) is None
    )


def organizations_for(user: User) -> QuerySet[Organization]:
    """The organisations ``user`` may see at all."""
    if not user.is_authenticated or not user.is_active:
        return Organization.objects.none()
    if user.role in CUSTOMER_ROLES:
        if user.organization_id is None:
            return Organization.objects.none()
        return Organization.objects.filter(pk=user.organization_id)
    if user.role in STAFF_ROLES:
        limited = _limited_ids(user)
        if limited is not None:
            return Organization.objects.filter(pk__in=limited)
        return Organization.objects.all()
    return Organization.objects.none()


def has_unrestricted_scope(user: User) -> bool:
    """A provider admin limited to no organisation: may create and delete organisations."""
    return (
        user.is_authenticated
        and user.is_active
        and user.role == Role.ADMIN
        and _limited_ids(user) is None
    )


def can(user: User, capability: Capability) -> bool:
    """Whether the role grants ``capability`` in the organisations the user can see."""
    if not user.is_authenticated or not user.is_active:
        return False
    return capability in _GRANTS.get(user.role, frozenset())


def require(user: User, capability: Capability) -> None:
    if not can(user, capability):
        raise PermissionDenied(f"Your role may not {capability.value.replace('_', ' ')}.")


def get_organization_for(
    user: User, pk: int | str, *, capability: Capability = Capability.VIEW_ORG
) -> Organization:
    _authenticated(user)
    try:
        org = organizations_for(user).get(pk=pk)
    except (Organization.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Organization not found.") from exc
    require(user, capability)
    return org


def get_organization_by_slug_for(
    user: User, slug: str, *, capability: Capability = Capability.VIEW_ORG
) -> Organization:
    _authenticated(user)
    try:
        org = organizations_for(user).get(slug=slug)
    except Organization.DoesNotExist as exc:
        raise Http404("Organization not found.") from exc
    require(user, capability)
    return org


def sites_for(user: User) -> QuerySet[Site]:
    return Site.objects.filter(organization__in=organizations_for(user))


def get_site_for(
    user: User, pk: int | str, *, capability: Capability = Capability.VIEW_ORG
) -> Site:
    _authenticated(user)
    try:
        site = sites_for(user).select_related("organization").get(pk=pk)
    except (Site.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Site not found.") from exc
    require(user, capability)
    return site


def contacts_for(user: User) -> QuerySet[Contact]:
    return Contact.objects.filter(organization__in=organizations_for(user))


def get_contact_for(
    user: User, pk: int | str, *, capability: Capability = Capability.VIEW_ORG
) -> Contact:
    _authenticated(user)
    try:
        contact = contacts_for(user).select_related("organization", "site").get(pk=pk)
    except (Contact.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Contact not found.") from exc
    require(user, capability)
    return contact
