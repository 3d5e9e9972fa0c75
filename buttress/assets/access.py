"""Fetching assets with tenancy and permission applied in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from buttress.assets.models import Asset, AssetQuerySet, AssetRelation
from buttress.tenancy.access import (
    Capability,
    can,
    organizations_for,
    require,
    sees_all_organizations,
)

if TYPE_CHECKING:
    from buttress.accounts.models import User


def assets_for(user: User) -> AssetQuerySet:
    """The assets ``user`` may see; none for a role without the CMDB."""
    if not can(user, Capability.VIEW_CMDB):
        return Asset.objects.none()
    if sees_all_organizations(user):
        # No "organization IN (...)" at all: the planner can then walk the (name, id) index.
        return Asset.objects.all()
    return Asset.objects.for_orgs(organizations_for(user))


def get_asset_for(
    user: User, pk: int | str, *, capability: Capability = Capability.VIEW_CMDB
) -> Asset:
    if not user.is_authenticated:
        raise Http404("Asset not found.")
    try:
        asset = (
            Asset.objects.for_orgs(organizations_for(user))
            .select_related("organization", "site", "owner_team")
            .get(pk=pk)
        )
    except (Asset.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Asset not found.") from exc
    require(user, Capability.VIEW_CMDB)
    require(user, capability)
    return asset


def get_relation_for(
    user: User, pk: int | str, *, capability: Capability = Capability.VIEW_CMDB
) -> AssetRelation:
    if not user.is_authenticated:
        raise Http404("Relation not found.")
    try:
        relation = (
            AssetRelation.objects.for_orgs(organizations_for(user))
            .select_related("source", "target", "organization")
            .get(pk=pk)
        )
    except (AssetRelation.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Relation not found.") from exc
    require(user, Capability.VIEW_CMDB)
    require(user, capability)
    return relation
