"""The staff member's chosen organisation: a default filter kept in the session.

It is not a tenant context. Every use re-checks it through ``organizations_for``, so an
organisation the user has lost access to silently stops being the default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from buttress.accounts.models import User
from buttress.tenancy.access import organizations_for
from buttress.tenancy.models import Organization

if TYPE_CHECKING:
    from django.http import HttpRequest

SESSION_KEY = "org_filter"
_CACHE_ATTR = "_buttress_org_filter"
_VISIBLE_ATTR = "_buttress_visible_organizations"


def visible_organizations(request: HttpRequest, user: User) -> list[Organization]:
    """The organisations ``user`` may see (id and name, by name), read once per request: the
    header's switcher and a list's organisation filter show the same ones."""
    cached: tuple[int, list[Organization]] | None = getattr(request, _VISIBLE_ATTR, None)
    if cached is not None and cached[0] == user.pk:
        return cached[1]
    organizations = list(organizations_for(user).only("id", "name"))
    setattr(request, _VISIBLE_ATTR, (user.pk, organizations))
    return organizations


def selected_organization(request: HttpRequest) -> Organization | None:
    if hasattr(request, _CACHE_ATTR):
        cached: Organization | None = getattr(request, _CACHE_ATTR)
        return cached
    org = _load(request)
    setattr(request, _CACHE_ATTR, org)
    return org


def _load(request: HttpRequest) -> Organization | None:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated or not user.is_provider_staff:
        return None
    pk = request.session.get(SESSION_KEY)
    if pk is None:
        return None
    org = organizations_for(user).filter(pk=pk).first() if isinstance(pk, int) else None
    if org is None:
        request.session.pop(SESSION_KEY, None)
    return org


def select_organization(request: HttpRequest, org: Organization | None) -> None:
    """Remember ``org`` (already fetched through access.py) as the default filter."""
    if org is None:
        request.session.pop(SESSION_KEY, None)
    else:
        request.session[SESSION_KEY] = org.pk
    setattr(request, _CACHE_ATTR, org)
