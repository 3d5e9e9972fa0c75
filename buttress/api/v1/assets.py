"""/assets: configuration items of the CMDB."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.accounts.models import User
from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    optional_organization,
    organization_param,
    paginated,
    require_write,
    responses,
    team_param,
)
from buttress.assets import services
from buttress.assets.access import assets_for, get_asset_for
from buttress.assets.models import Asset, AssetQuerySet, Criticality, Kind, Lifecycle
from buttress.tenancy import access
from buttress.tenancy.access import Capability
from buttress.tenancy.models import Organization, Site

router = Router(tags=["assets"])

AttributeValue = str | int | float | bool | None


class AssetOut(Schema):
    id: int
    organization: int = Field(validation_alias="organization_id")
    site: int | None = Field(validation_alias="site_id")
    name: str
    kind: str
    criticality: str
    status: str
    owner_team: int | None = Field(validation_alias="owner_team_id")
    description: str
    tags: list[str] = Field(description="Tag names, sorted.")
    attributes: dict[str, Any] = Field(description="Free key/value attributes.")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_tags(obj: Asset) -> list[str]:
        # .all() reads the page's prefetch; sorting in Python keeps it at one query.
        return sorted(tag.name for tag in obj.tags.all())


class AssetIn(Schema):
    organization: int
    name: str = Field(min_length=1, max_length=200)
    kind: Kind = Kind.SERVER
    criticality: Criticality = Criticality.MEDIUM
    status: Lifecycle = Lifecycle.ACTIVE
    site: int | None = Field(None, description="A site of the same organisation.")
    owner_team: int | None = Field(None, description="The id of the team that owns it.")
    description: str = ""
    tags: list[str] = Field(default_factory=list, max_length=services.MAX_TAGS)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


class AssetPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: Kind | None = None
    criticality: Criticality | None = None
    status: Lifecycle | None = None
    site: int | None = None
    owner_team: int | None = None
    description: str | None = None
    tags: list[str] | None = Field(None, max_length=services.MAX_TAGS)
    attributes: dict[str, AttributeValue] | None = None


class AssetFilters(Schema):
    organization: int | None = None
    site: int | None = None
    kind: Kind | None = None
    status: Lifecycle | None = None
    criticality: Criticality | None = None
    tag: str | None = Field(None, description="A tag name.")
    owner_team: int | None = Field(None, description="A team id.")
    q: str | None = Field(None, description="Name contains (case-insensitive).")


def filtered_assets(request: HttpRequest, filters: AssetFilters) -> AssetQuerySet:
    """The assets the user may see, narrowed by the list filters (shared with the export)."""
    user = current_user(request)
    org = optional_organization(request, filters.organization, capability=Capability.VIEW_CMDB)
    access.require(user, Capability.VIEW_CMDB)
    queryset = assets_for(user) if org is None else Asset.objects.for_org(org)
    if filters.site is not None:
        queryset = queryset.filter(site_id=filters.site)
    if filters.kind is not None:
        queryset = queryset.filter(kind=filters.kind)
    if filters.status is not None:
        queryset = queryset.filter(status=filters.status)
    if filters.criticality is not None:
        queryset = queryset.filter(criticality=filters.criticality)
    if filters.tag:
        queryset = queryset.filter(tags__name=filters.tag.strip().lower())
    if filters.owner_team is not None:
        queryset = queryset.filter(owner_team_id=filters.owner_team)
    if filters.q:
        queryset = queryset.filter(name__icontains=filters.q)
    return queryset


def _site(organization: Organization, pk: int | None) -> Site | None:
    if pk is None:
        return None
    site = Site.objects.for_org(organization).filter(pk=pk).first()
    if site is None:
        raise ValidationError({"site": f"There is no site {pk} in this organisation."})
    return site


def _resolve_refs(organization: Organization, fields: dict[str, Any]) -> dict[str, Any]:
    if "site" in fields:
        fields["site"] = _site(organization, fields["site"])
    if "owner_team" in fields:
        fields["owner_team"] = team_param(fields["owner_team"], field="owner_team")
    return fields


def _fresh(asset: Asset) -> Asset:
    """The asset re-read with what its schema shows, after a change."""
    return Asset.objects.with_list_relations().get(pk=asset.pk)


# AssetOut's fields in the order it declares them, read as plain columns: the list builds its
# items from these rows directly (see list_assets), so a field added to AssetOut goes here too.
LIST_COLUMNS = (
    "id",
    "organization_id",
    "site_id",
    "name",
    "kind",
    "criticality",
    "status",
    "owner_team_id",
    "description",
    "attributes",
    "created_at",
    "updated_at",
)


def list_items(rows: list[Any]) -> list[dict[str, Any]]:
    """AssetOut dicts for a page of ``LIST_COLUMNS`` rows, with the page's tags in one query."""
    ids = [row.id for row in rows]
    tags: defaultdict[int, list[str]] = defaultdict(list)
    if ids:
        links = Asset.tags.through.objects.filter(asset_id__in=ids).values_list(
            "asset_id", "tag__name"
        )
        for asset_id, name in links:
            tags[asset_id].append(name)
    return [
        {
            "id": row.id,
            "organization": row.organization_id,
            "site": row.site_id,
            "name": row.name,
            "kind": row.kind,
            "criticality": row.criticality,
            "status": row.status,
            "owner_team": row.owner_team_id,
            "description": row.description,
            "tags": sorted(tags.get(row.id, ())),
            "attributes": row.attributes,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
        for row in rows
    ]


@router.get("/assets", response=responses(CursorPage[AssetOut]))
def list_assets(
    request: HttpRequest, filters: Query[AssetFilters], page: Query[PageParams]
) -> HttpResponse:
    # The hot path of the API. Model instances, related managers and the response schema's
    # validation of each row cost about ten times the database's work for a page, so the page
    # is read as plain rows and written as JSON here; ``response=`` still documents it, and a
    # test holds these items equal to AssetOut's. DjangoJSONEncoder is the encoder django-ninja
    # uses, so dates are written exactly as by the other endpoints.
    rows = filtered_assets(request, filters).values_list(*LIST_COLUMNS, named=True)
    body = paginated(rows, page, serialize=list_items)
    return HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder), content_type="application/json; charset=utf-8"
    )


@router.post("/assets", response=responses(AssetOut, 201))
def create_asset(request: HttpRequest, body: AssetIn) -> Status[Asset]:
    require_write(request)
    user = current_user(request)
    org = organization_param(request, body.organization, capability=Capability.EDIT_CMDB)
    fields = _resolve_refs(org, body.model_dump(mode="json", exclude={"organization"}))
    asset = services.create_asset(org, actor=user, **fields)
    return Status(201, _fresh(asset))


@router.get("/assets/{asset_id}", response=responses(AssetOut))
def get_asset(request: HttpRequest, asset_id: int) -> Asset:
    return _fresh(get_asset_for(current_user(request), asset_id))


@router.patch("/assets/{asset_id}", response=responses(AssetOut))
def update_asset(request: HttpRequest, asset_id: int, body: AssetPatch) -> Asset:
    require_write(request)
    user: User = current_user(request)
    asset = get_asset_for(user, asset_id, capability=Capability.EDIT_CMDB)
    changes = _resolve_refs(asset.organization, body.model_dump(mode="json", exclude_unset=True))
    for field in ("name", "kind", "criticality", "status", "description", "attributes"):
        if field in changes and changes[field] is None:
            raise ValidationError({field: "This field cannot be null."})
    return _fresh(services.update_asset(asset, actor=user, **changes))


@router.delete("/assets/{asset_id}", response=responses(None, 204))
def delete_asset(request: HttpRequest, asset_id: int) -> Status[None]:
    require_write(request)
    user = current_user(request)
    asset = get_asset_for(user, asset_id, capability=Capability.EDIT_CMDB)
    services.delete_asset(asset, actor=user)
    return Status(204, None)
